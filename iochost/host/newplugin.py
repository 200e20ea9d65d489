"""``iochost new-plugin NAME``: write a complete, installable plugin distribution.

The files come from ``iochost/data/plugin_template`` (package data, so a pip-installed
iochost has them): each ``X.tmpl`` becomes ``X`` with its ``{{key}}`` placeholders filled
from NAME, and the ``package`` folder takes the Python package's name. The result is a
project a user can ``pip install`` as it is: the entry point, a PVGroup IOC with a putter
and a scan hook, a test that serves it in a host and uses it over CA, a README and a host
config that mounts it on 127.0.0.1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

TEMPLATE = "plugin_template"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
#: a plugin name: letters and digits in words joined by '-' or '_' (a PyPI-safe name)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*")


class NewPluginError(Exception):
    """NAME or the target directory cannot be used; the message says why."""


@dataclass(frozen=True)
class PluginNames:
    """Every name NAME implies (``oven-ctl`` -> iochost-oven-ctl, iochost_oven_ctl, ...)."""

    name: str        # as given
    dist: str        # distribution (pip) name: iochost-<name>
    package: str     # Python package: iochost_<name>
    ioc: str         # the name mounts use (``ioc: oven-ctl``) and the entry point's name
    cls: str         # the IOC class: OvenCtlIOC
    pv: str          # the PV prefix's last part: OVEN-CTL

    @classmethod
    def from_name(cls, name: str) -> PluginNames:
        if not _NAME.fullmatch(name):
            raise NewPluginError(
                f"plugin name {name!r}: use letters and digits, words joined by '-' or '_', "
                "starting with a letter (e.g. 'oven' or 'vacuum-gauge')")
        ioc = name.lower().replace("_", "-")
        ioc = ioc.removeprefix("iochost-") or ioc
        dist = f"iochost-{ioc}"
        return cls(name=name, dist=dist, package=dist.replace("-", "_"), ioc=ioc,
                   cls="".join(word.capitalize() for word in ioc.split("-")) + "IOC",
                   pv=ioc.upper())

    def fill(self, text: str, source: str) -> str:
        def value(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in self.__dataclass_fields__:
                raise KeyError(f"{source}: unknown placeholder {{{{{key}}}}}")
            return str(getattr(self, key))

        return _PLACEHOLDER.sub(value, text)


def _files(folder: Traversable, relative: Path = Path()):
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _files(entry, relative / entry.name)
        elif entry.name.endswith(".tmpl"):
            yield relative / entry.name.removesuffix(".tmpl"), entry


def write_plugin(name: str, directory: str | Path | None = None) -> tuple[Path, list[Path]]:
    """Write the plugin project for ``name`` into ``directory`` (default: ./<dist name>).

    Returns the directory and the files written (relative to it). Raises NewPluginError
    for a bad name or a directory that already exists (nothing is overwritten).
    """
    names = PluginNames.from_name(name)
    target = Path(directory) if directory else Path(names.dist)
    if target.exists():
        raise NewPluginError(f"{target} already exists: choose another --dir (nothing "
                             "was written)")
    template = resources.files("iochost").joinpath("data", TEMPLATE)
    written = []
    for relative, source in _files(template):
        relative = Path(*(names.package if part == "package" else part
                          for part in relative.parts))
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(names.fill(source.read_text(), str(relative)))
        written.append(relative)
    return target, written
