"""The web layer codes against the server's contracts only: it never imports the host or
the IOC framework (the host hands it a HostView), and the server never imports the web."""
import ast
from pathlib import Path

import iochost.server
import iochost.web

FORBIDDEN = {"web": ("iochost.host", "iochost.pv", "iochost.records", "iochost.helpers"),
             "server": ("iochost.web", "iochost.host", "iochost.pv")}


def imported_modules(package) -> dict[str, set[str]]:
    found = {}
    for path in Path(package.__file__).parent.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path.name] = names
    return found


def test_web_and_server_import_only_downward():
    for layer, package in (("web", iochost.web), ("server", iochost.server)):
        for module, names in imported_modules(package).items():
            bad = [n for n in names if n.startswith(FORBIDDEN[layer])]
            assert bad == [], f"iochost/{layer}/{module} imports {bad}"


def test_public_names():
    assert all(hasattr(iochost.web, name) for name in iochost.web.__all__)
