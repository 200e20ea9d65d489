"""What the web app needs of the host: one narrow Protocol, implemented by the host layer.

The web layer sits below ``iochost.host`` (data flows downward), so it never imports it: the
host hands the app a :class:`HostView`, as the framework hands the server a
``ServedChannel``. Everything here is plain data; the app turns it into JSON and HTML.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from iochost.server import PVDatabase, Server

__all__ = ["HostSummary", "HostView", "MountSummary"]


@dataclass(frozen=True)
class HostSummary:
    """The host at a glance (CA figures come from the server's own introspection)."""

    name: str
    version: str
    uptime: float            #: seconds since the host started
    cpu_percent: float       #: of one core, since the previous summary
    memory_mb: float         #: resident set size
    loop_blocks: int = 0     #: event-loop blocks the host's watchdog saw
    loop_max_block: float = 0.0   #: the longest, seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MountSummary:
    """One configured mount and what runs in it."""

    name: str
    ioc: str
    prefix: str
    state: str               #: running / failed / unmounted / disabled (and any the host adds)
    error: str | None        #: why it failed, when it did
    pvs: int
    plugin: str | None       #: the plugin that registered the IOC
    distribution: str | None
    version: str | None
    helpers: tuple[str, ...]
    description: str
    loop_blocks: int = 0     #: event-loop blocks attributed to its code

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["helpers"] = list(self.helpers)
        return data


class HostView(Protocol):
    """The host as the web app sees it (read-only, except PV puts through the database)."""

    @property
    def server(self) -> Server | None: ...

    @property
    def database(self) -> PVDatabase: ...

    def summary(self) -> HostSummary: ...

    def mounts(self) -> list[MountSummary]: ...

    def mount_pvnames(self, name: str) -> list[str] | None:
        """The PV names of mount ``name``; None when there is no such mount."""

    def plugins(self) -> list[dict[str, Any]]:
        """What ``iochost list-plugins --json`` prints (load errors included)."""

    async def reload_access(self) -> tuple[bool, str | None] | None:
        """Read the access rules file again: None when the host has no access rules;
        ``(True, None)`` when the new rules are in force; ``(False, error)`` when the file
        is bad and the old rules stay."""
