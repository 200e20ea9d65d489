"""Meta-test: every hookspec has an entry in docs/hooks.md and a test that names it."""
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


@pytest.mark.parametrize("hook", SPECS)
def test_hook_has_a_test(hook):
    this = Path(__file__).resolve()
    tests = [path for path in (ROOT / "tests").rglob("test_*.py") if path.resolve() != this]
    assert any(re.search(rf"\b{hook}\b", path.read_text()) for path in tests), \
        f"no test under tests/ names {hook}"


def test_docs_describe_no_hook_that_does_not_exist():
    assert documented_hooks() <= set(SPECS)


@pytest.mark.parametrize("hook", SPECS)
def test_hookspec_has_docstring_and_types(hook):
    spec = getattr(hookspecs, hook)
    assert spec.__doc__ and len(spec.__doc__.split()) > 15
    assert spec.__annotations__.get("return") is not None
    assert set(spec.__annotations__) - {"return"}, "every argument is annotated"
