"""iochost.ca stays sans-I/O and is the bottom layer; its package re-exports every public name."""
import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import iochost.ca

CA_DIR = Path(iochost.ca.__file__).parent
# I/O, concurrency and clocks belong to the layers above the protocol core
FORBIDDEN = frozenset({
    "socket", "ssl", "select", "selectors", "asyncio", "threading", "_thread",
    "multiprocessing", "concurrent", "subprocess", "signal", "time", "sched",
    "trio", "curio", "anyio", "uvloop", "gevent", "twisted", "aiohttp", "http", "urllib",
    "logging.handlers", "caproto", "epics", "softioc",
})


def imported_modules(source: str) -> set[str]:
    """Absolute names of every module imported anywhere in ``source`` (relative ones as
    '.'*level + name)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
            if node.level == 0 and node.module:
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant)):
            found.add(str(node.args[0].value))
    return found


def violations(source: str) -> list[str]:
    bad = []
    for name in imported_modules(source):
        parts = name.split(".")
        if any(".".join(parts[:i]) in FORBIDDEN for i in range(1, len(parts) + 1)):
            bad.append(f"imports {name}")
        elif name.startswith("..") or (parts[0] == "iochost" and parts[1:2] != ["ca"]):
            bad.append(f"imports {name} from a layer above iochost.ca")
    return sorted(bad)


@pytest.mark.parametrize("source, expected", [
    ("import socket", ["imports socket"]),
    ("import os, time as t", ["imports time"]),
    ("from asyncio import Queue", ["imports asyncio", "imports asyncio.Queue"]),
    ("from concurrent.futures import Future",
     ["imports concurrent.futures", "imports concurrent.futures.Future"]),
    ("def f():\n    import threading", ["imports threading"]),
    ("from logging import handlers", ["imports logging.handlers"]),
    ("importlib.import_module('selectors')", ["imports selectors"]),
    ("from ..server import x", ["imports ..server from a layer above iochost.ca"]),
    ("import iochost.pv", ["imports iochost.pv from a layer above iochost.ca"]),
    ("import struct, ipaddress\nfrom .errors import CaError\nimport iochost.ca.eca\n"
     "import numpy as np\nfrom logging import getLogger", []),
])
def test_the_checker_itself(source, expected):
    assert violations(source) == expected


MODULES = sorted(CA_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CA_DIR)))
def test_module_is_sans_io(path):
    assert violations(path.read_text()) == []


def test_every_module_is_checked():
    assert {p.stem for p in MODULES} >= {"__init__", "errors", "eca", "header", "commands",
                                         "parser", "codes", "packers"}


def test_package_re_exports_every_public_name():
    exported = set(iochost.ca.__all__)
    assert len(exported) == len(iochost.ca.__all__), "a name is exported twice"
    for info in pkgutil.iter_modules(iochost.ca.__path__):
        module = importlib.import_module(f"iochost.ca.{info.name}")
        public = getattr(module, "__all__", None)
        if public is None or info.name.startswith("dbr_"):  # dbr_* are dbr's private parts
            continue
        if info.name == "packers":  # a namespace by design: packers.read_notify_request(...)
            assert iochost.ca.packers is module
            continue
        missing = set(public) - exported
        assert not missing, f"iochost.ca does not re-export {sorted(missing)} of {info.name}"
    for name in iochost.ca.__all__:
        assert getattr(iochost.ca, name) is not None
