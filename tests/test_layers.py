"""Data flow downward only: no module imports a layer above its own (docs/internals.md,
"Layers").  Every import counts -- at module level, inside functions and under
TYPE_CHECKING -- because each one couples the lower layer to the upper one."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import iochost

PACKAGE = Path(iochost.__file__).parent
#: Layer -> the layers it may import (besides itself).  ``logs`` imports nothing of iochost and
#: may be imported by every layer; ``facade`` is ``iochost/__init__.py`` (pv + records).
BELOW_SERVER = {"ca", "logs"}
FRAMEWORK = {*BELOW_SERVER, "access", "server", "pv", "records", "facade"}
#: The plugin API a built-in plugin (helpers, web) registers through (docs/hooks.md).
PLUGIN_API = {"host.hookspecs", "host.hostconfig", "host.macros", "host.problems"}
ALLOWED: dict[str, set[str]] = {
    "logs": set(),
    "ca": set(),
    "calc": set(),
    "access": {"ca", "logs", "calc"},
    "server": {"ca", "logs"},
    "client": {"ca", "logs"},
    "pv": {*BELOW_SERVER, "server"},
    "records": {*BELOW_SERVER, "server", "pv", "calc"},
    # the facade only re-exports (lazily): the framework, and caproto's helper classes
    "facade": {"pv", "records", "helpers"},
    "testing": {*FRAMEWORK, "client"},
    "helpers": {*FRAMEWORK, "client", *PLUGIN_API},
    "web": {*FRAMEWORK, "client", *PLUGIN_API},
    "host": {*FRAMEWORK, "client", "helpers", "web", "testing"},
    # the client verbs' command line: argparse, then the client's verbs
    "cli_client": {"client"},
    "cli": {*FRAMEWORK, "client", "helpers", "web", "host", "cli_client"},
    "__main__": {"cli"},
}


#: caproto's server submodules under their caproto names (``iochost.menus`` for
#: ``caproto.server.menus``): re-exports, part of the facade
CAPROTO_NAMESAKES = {"autosave", "conversion", "menus", "stats"}


def layer_of(module: str) -> str:
    """``iochost.pv.types`` -> ``pv``; ``iochost`` and ``iochost.menus`` -> ``facade``;
    ``iochost.logs`` -> ``logs``."""
    parts = module.split(".")
    if parts == ["iochost"] or parts[1] == "__init__" or parts[1] in CAPROTO_NAMESAKES:
        return "facade"
    return parts[1]


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, source: str | None = None) -> set[str]:
    """Absolute iochost module names imported anywhere in the file at ``path``."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            if module == "iochost" and names == ["__version__"]:
                continue   # the version string is a constant of the package, not a layer
            found.add(module)
            found.update(f"{module}.{name}" for name in names if is_module(f"{module}.{name}"))
    return {name for name in found if name == "iochost" or name.startswith("iochost.")}


def upward_imports(path: Path, source: str | None = None) -> list[str]:
    where = path.relative_to(PACKAGE.parent)
    own = layer_of(".".join(where.with_suffix("").parts))
    if own not in ALLOWED:
        return [f"{where} is in a layer ({own!r}) that tests/test_layers.py does not know: "
                f"add it to ALLOWED there and to docs/internals.md ('Layers')"]
    allowed = ALLOWED[own]
    bad = []
    for name in sorted(imports_of(path, source)):
        target = layer_of(name)
        if target == own or target in allowed or ".".join(name.split(".")[1:3]) in allowed:
            continue
        bad.append(f"{where}: layer {own!r} imports {name} (layer {target!r}); it may "
                   f"import {sorted(allowed) or 'no iochost layer'} (docs/internals.md)")
    return bad


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path):
    assert upward_imports(path) == []


def test_the_checker_finds_an_upward_import():
    """A pv module importing records, or a server module importing pv, is reported."""
    for where, source, expected in [
        ("pv/bad.py", "import iochost.records\n", "layer 'pv' imports iochost.records"),
        ("pv/bad.py", "def f():\n    from ..records import tables\n",
         "layer 'pv' imports iochost.records"),
        ("server/bad.py", "from iochost.pv.data import ChannelData\n",
         "layer 'server' imports iochost.pv"),
        ("ca/bad.py", "from ..server import Server\n", "layer 'ca' imports iochost.server"),
        ("client/bad.py", "from iochost.server import Server\n",
         "layer 'client' imports iochost.server"),
    ]:
        found = upward_imports(PACKAGE / where, source)
        assert any(expected in line for line in found), (where, source, found)
    assert upward_imports(PACKAGE / "pv" / "bad.py", "from iochost.server import x\n") == []


def test_every_layer_is_known():
    layers = {layer_of(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts))
              for p in MODULES}
    assert layers <= set(ALLOWED)


def test_record_without_record_support_is_a_clear_error():
    """iochost.pv alone (nothing installed record support) refuses record= with a message
    that says what to do, in a fresh interpreter."""
    script = textwrap.dedent("""\
        import sys
        from iochost.pv import PVGroup, pvproperty
        from iochost.pv.hooks import IocDefinitionError

        class Records(PVGroup):
            x = pvproperty(value=1.0, record="ai")

        assert "iochost.records" not in sys.modules
        try:
            Records(prefix="T:")
        except IocDefinitionError as error:
            print(error)
        else:
            print("no error")
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "PV 'T:x': record= needs record support" in result.stdout
    assert "from iochost import pvproperty" in result.stdout


def test_the_facade_installs_record_support():
    script = ("import iochost, sys\nassert 'iochost.records' not in sys.modules\n"
              "iochost.PVGroup\nfrom iochost.pv.types import record_support\n"
              "print(record_support() is not None)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "True", result.stderr


def test_a_server_builds_no_message_classes_or_filters_until_asked():
    """A server process imports neither the protocol core's message classes (a server only
    splits raw messages) nor the channel filters (until a client names one): each costs
    start-up time of every IOC.  Asking ``iochost.ca`` for a message class still works."""
    script = textwrap.dedent("""\
        import sys
        import iochost, iochost.server
        from iochost.server import PVDatabase
        from iochost.pv.data import ChannelDouble
        database = PVDatabase({"T:A": ChannelDouble(value=1.0)})
        assert database.resolve("T:A") is not None and database.resolve("T:B") is None
        print(sorted(m for m in ("iochost.ca.commands", "iochost.server.filters")
                     if m in sys.modules))
        assert database.resolve('T:A.{"dec":{"n":2}}') is not None
        import iochost.ca as ca
        print(ca.SearchRequest.__name__, "SearchRequest" in ca.__all__,
              sorted(m for m in ("iochost.ca.commands", "iochost.server.filters")
                     if m in sys.modules))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[]", "SearchRequest True ['iochost.ca.commands', 'iochost.server.filters']"]
