"""Serve a PVSet with iochost's server: ``python -m benchmarks.servers.serve_iochost JSON``.

The same IOC code as for caproto (``pyioc``), on iochost's framework and server, with the
event loop iochost itself uses (uvloop when installed). As a deployed host does by default,
it also serves the web page (``iochost.web``) on a free loopback port, printed as
``web http://127.0.0.1:PORT/`` for the workloads that open it; as a host does, it listens
once Channel Access serves, and imports aiohttp and builds the page (in a thread) when the
first browser connects.
"""
from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from benchmarks.netenv import die_with_parent
from benchmarks.pvset import PVSet
from benchmarks.servers.pyioc import IocApi, build_pvdb
from iochost import PVGroup, pvproperty
from iochost.pv.data import ChannelDouble
from iochost.server import PVDatabase, Server, ServerConfig, new_event_loop
from iochost.server.process import freeze_heap
from iochost.web import DeferredWebServer

if TYPE_CHECKING:
    from aiohttp.web import Application

    from iochost.web import HostSummary, MountSummary


class BenchView:
    """The web page's view of a bare server (no Host: no mounts, no plugins)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    @property
    def database(self) -> PVDatabase:
        return self.server.database

    def summary(self) -> HostSummary:
        from iochost.web import HostSummary

        return HostSummary(name="bench", version="", uptime=0.0, cpu_percent=0.0,
                           memory_mb=0.0)

    def mounts(self) -> list[MountSummary]:
        return []

    def mount_pvnames(self, name: str) -> list[str] | None:
        return None

    def plugins(self) -> list[dict]:
        return []


async def serve(pvs: PVSet) -> None:
    server = Server(build_pvdb(pvs, IocApi(ChannelDouble, PVGroup, pvproperty)),
                    ServerConfig.from_env())
    await server.start()

    async def build() -> Application:   # as a host does: on the first connection, in a thread
        from iochost.web import make_app

        return await asyncio.to_thread(make_app, BenchView(server), writable=False, version="")

    web = DeferredWebServer(build, "127.0.0.1", 0)
    await web.start()
    print(f"web {web.url}", flush=True)
    freeze_heap()  # as a host does once it serves
    await server.serve_forever()


if __name__ == "__main__":
    die_with_parent()
    new_event_loop().run_until_complete(serve(PVSet.from_json(sys.argv[1])))
