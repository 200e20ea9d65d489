"""Which hooks the test session called through a test's own plugin (tests/conftest.py).

The host calls each plugin's implementation on its own (``impl.function(...)``), so the
record is kept there: every plugin registered with an
:class:`~iochost.host.plugins.IochostPluginManager` in the pytest process has each hook
implementation defined in a file under ``tests/`` wrapped by a recorder.  A hook counts as
called when such a wrapped implementation ran.  ``tests/host/test_hook_reference.py``
reads the record at the end of the session.
"""
from __future__ import annotations

import functools
import inspect
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent

#: hook name -> files (relative to tests/) of the test plugins whose implementation ran
CALLED: defaultdict[str, set[str]] = defaultdict(set)


def _test_source(function: Callable[..., Any]) -> str | None:
    try:
        source = Path(inspect.getsourcefile(function) or "").resolve()
    except TypeError:  # a builtin: not a test's plugin
        return None
    return str(source.relative_to(TESTS)) if source.is_relative_to(TESTS) else None


def _recording(hook: str, source: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        CALLED[hook].add(source)
        return function(*args, **kwargs)

    call.records_hook_calls = True  # type: ignore[attr-defined]
    return call


def install() -> None:
    """Wrap the test plugins' implementations of every plugin manager (once, by conftest)."""
    from iochost.host.plugins import IochostPluginManager

    original = IochostPluginManager.register
    if getattr(original, "records_hook_calls", False):
        return

    def register(self: IochostPluginManager, plugin: object, name: str | None = None
                 ) -> str | None:
        plugin_name = original(self, plugin, name)
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                source = _test_source(impl.function)
                if impl.plugin is plugin and source is not None and \
                        not getattr(impl.function, "records_hook_calls", False):
                    impl.function = _recording(caller.name, source, impl.function)
        return plugin_name

    register.records_hook_calls = True  # type: ignore[attr-defined]
    IochostPluginManager.register = register  # type: ignore[method-assign]
