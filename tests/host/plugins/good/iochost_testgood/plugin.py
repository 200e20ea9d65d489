"""Hook implementations of the test plugin: one IOC, one helper, every lifecycle hook.

Lifecycle calls are appended to ``EVENTS`` and, when ``IOCHOST_TESTGOOD_LOG`` names a file,
written to it one per line (so a test can see what a subprocess host did).
"""
from __future__ import annotations

import asyncio
import os

from iochost.host import hookimpl

from .ioc import CounterIOC

EVENTS: list[str] = []


def record(event: str) -> None:
    EVENTS.append(event)
    path = os.environ.get("IOCHOST_TESTGOOD_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(event + "\n")


class Recorder:
    """The ``test-recorder`` helper: records its start and stop."""

    def __init__(self, mount, tag: str = "") -> None:
        self.mount = mount
        self.tag = tag

    async def start(self) -> None:
        record(f"helper-start {self.mount.name} {self.tag}")

    async def stop(self) -> None:
        record(f"helper-stop {self.mount.name} {self.tag}")


@hookimpl
def iochost_register_iocs(register):
    register("test-counter", CounterIOC)


@hookimpl
def iochost_register_helpers(register):
    register("test-recorder", Recorder)


@hookimpl
def iochost_host_started(host):
    async def started():
        await asyncio.sleep(0)
        record(f"host-started {len(host.mounts)}")
    return started()


@hookimpl
def iochost_host_stopping(host):
    record("host-stopping")


@hookimpl
def iochost_ioc_mounted(host, mount):
    record(f"mounted {mount.name}")


@hookimpl
def iochost_ioc_unmounted(host, mount):
    record(f"unmounted {mount.name}")


@hookimpl
def iochost_trapwrite(host, event):
    record(f"trapwrite {event.pv} {event.user}@{event.host} {event.old!r} -> {event.new!r}")


@hookimpl
def iochost_web_routes(app):
    """A page of the plugin's own on the host's web server."""
    from aiohttp import web

    async def hello(request):
        return web.Response(text="hello from testgood")

    app.router.add_get("/plugins/testgood/hello", hello)
    record("web-routes")
