"""Meta-test: every hookspec has an entry in docs/hooks.md, and a test plugin that the host
actually calls during the test session (not a test that only names the hook)."""
import re
from pathlib import Path

import pytest

from iochost.host import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOK_DOCS = ROOT / "docs" / "hooks.md"
SPECS = sorted(name for name, value in vars(hookspecs).items()
               if name.startswith("iochost_") and callable(value))


def documented_hooks() -> set[str]:
    return set(re.findall(r"^### (iochost_\w+)\s*$", HOOK_DOCS.read_text(), re.MULTILINE))


def test_the_spec_list_is_not_empty():
    assert "iochost_register_iocs" in SPECS and len(SPECS) >= 5


@pytest.mark.parametrize("hook", SPECS)
def test_hook_is_documented(hook):
    assert hook in documented_hooks(), f"add a '### {hook}' entry to docs/hooks.md"


def implementing_test_files(hook: str) -> list[Path]:
    """Test files (and the test plugins they use) that define ``def <hook>(...)``."""
    this = Path(__file__).resolve()
    return sorted(path for path in (ROOT / "tests").rglob("*.py") if path.resolve() != this
                  and re.search(rf"^\s*(async )?def {hook}\(", path.read_text(), re.MULTILINE))


@pytest.mark.parametrize("hook", SPECS)
def test_hook_has_a_test_plugin(hook):
    assert implementing_test_files(hook), (
        f"no test implements {hook}: add a test that registers a plugin with "
        f"'@hookimpl def {hook}(...)' (e.g. through load_plugins(extra_plugins={{...}}) or "
        f"Host(...)), makes the host call it, and asserts what the plugin saw or did "
        f"(see tests/host/test_host.py)")


@pytest.mark.parametrize("hook", SPECS)
def test_hook_is_called_through_a_test_plugin(hook, request):
    """Runs after every other test (tests/conftest.py); the record is tests/hookcalls.py.

    A test that merely names a hook does not count: the host must have called a test
    plugin's implementation of it during this session."""
    import hookcalls

    collected = {Path(str(item.fspath)).resolve() for item in request.session.items}
    files = implementing_test_files(hook)
    if not any(path.resolve() in collected for path in files) and hook not in hookcalls.CALLED:
        pytest.skip(f"the tests implementing {hook} were not collected in this run")
    assert hook in hookcalls.CALLED, (
        f"{hook} was never called through a test's plugin in this session: a test in "
        f"tests/ must register a plugin implementing '@hookimpl def {hook}(...)' in the "
        f"pytest process (not only in a subprocess), make the host call it, and assert on "
        f"the result; defined (but not called) in: "
        f"{', '.join(str(p.relative_to(ROOT)) for p in files) or 'no test file'}")


def test_docs_describe_no_hook_that_does_not_exist():
    assert documented_hooks() <= set(SPECS)


@pytest.mark.parametrize("hook", SPECS)
def test_hookspec_has_docstring_and_types(hook):
    spec = getattr(hookspecs, hook)
    assert spec.__doc__ and len(spec.__doc__.split()) > 15
    assert spec.__annotations__.get("return") is not None
    assert set(spec.__annotations__) - {"return"}, "every argument is annotated"
