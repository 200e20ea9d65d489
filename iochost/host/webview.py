"""The host's side of the web page: a ``HostView`` over a running Host, and its start-up.

``start_web(host)`` listens on ``web.listen`` at once (``IOCHOST_WEB_LISTEN`` overrides the
config, so a test session or a second host can pick ``127.0.0.1:0``); when the first browser
connects it builds the app (``iochost.web.make_app``), lets every plugin add routes through
``iochost_web_routes(app)`` and serves it. A web page that cannot bind is logged as an
error; the host keeps serving Channel Access.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import iochost

from .hostconfig import WebConfig, parse_listen

if TYPE_CHECKING:
    from iochost.server import PVDatabase, Server
    from aiohttp.web import Application

    from iochost.web import DeferredWebServer, HostSummary, MountSummary

    from .host import Host

log = logging.getLogger("iochost.host")

#: overrides ``web.listen`` (HOST:PORT)
ENV_WEB_LISTEN = "IOCHOST_WEB_LISTEN"


class HostWebView:
    """:class:`iochost.web.HostView` of one Host."""

    def __init__(self, host: Host) -> None:
        from .status import CpuMeter

        self.host = host
        self._cpu = CpuMeter()

    @property
    def server(self) -> Server | None:
        return self.host.server

    @property
    def database(self) -> PVDatabase:
        return self.host.database

    def summary(self) -> HostSummary:
        from iochost.web import HostSummary

        from .status import _rss_megabytes

        return HostSummary(name=self.host.config.host.name, version=iochost.__version__,
                           uptime=round(self.host.uptime, 3),
                           cpu_percent=round(self._cpu.percent(), 2),
                           memory_mb=round(_rss_megabytes(), 2),
                           loop_blocks=self.host.loop_blocks,
                           loop_max_block=round(self.host.loop_max_block, 3))

    def mounts(self) -> list[MountSummary]:
        from iochost.web import MountSummary

        catalog = self.host.catalog
        result = []
        for mount in self.host.mounts.values():
            provider = catalog.provider_of("iocs", mount.config.ioc)
            result.append(MountSummary(
                name=mount.name, ioc=mount.config.ioc, prefix=mount.config.prefix,
                state=mount.state, error=mount.error, pvs=len(mount.pvnames),
                plugin=provider.name if provider else None,
                distribution=provider.distribution if provider else None,
                version=provider.version if provider else None,
                helpers=tuple(mount.config.helpers), description=mount.config.description,
                loop_blocks=mount.loop_blocks))
        return result

    def mount_pvnames(self, name: str) -> list[str] | None:
        mount = self.host.mounts.get(name)
        return None if mount is None else list(mount.pvnames)

    def plugins(self) -> list[dict[str, Any]]:
        return self.host.catalog.to_json()

    async def reload_access(self) -> tuple[bool, str | None] | None:
        access = self.host.access
        if access is None:
            return None
        if await self.host.reload_access():
            return True, None
        return False, access.security.last_error


def web_address(config: WebConfig, environ: dict[str, str] | None = None) -> tuple[str, int]:
    """Where to listen: ``IOCHOST_WEB_LISTEN`` if set, else the config's ``web.listen``."""
    override = (os.environ if environ is None else environ).get(ENV_WEB_LISTEN)
    if override:
        return parse_listen(override)
    return config.host, config.port


async def start_web(host: Host, call_hook: Callable[..., Awaitable[None]],
                    ) -> DeferredWebServer | None:
    """Serve the web page of ``host``; None when the config turns it off or it cannot bind.
    It listens at once; aiohttp is imported and the app built (and ``iochost_web_routes``
    called) when the first browser connects."""
    config = host.config.web
    if config is None:
        return None
    from iochost.web import DeferredWebServer

    try:
        address, port = web_address(config, dict(host.environ) if host.environ else None)
    except ValueError as exc:
        log.error("web page not started: %s: %s", ENV_WEB_LISTEN, exc)
        return None

    async def build() -> Application:
        # aiohttp takes ~0.2 s to import, and the request guard looks up this machine's
        # names (getfqdn: DNS): in a thread, so that CA goes on meanwhile
        from iochost.web import make_app

        app = await asyncio.to_thread(
            make_app, HostWebView(host), writable=config.writable,
            version=iochost.__version__, listen_host=address,
            allowed_hosts=config.allowed_hosts, allowed_origins=config.allowed_origins)
        await call_hook("iochost_web_routes", app=app)
        return app

    server = DeferredWebServer(build, address, port)
    try:
        await server.start()
    except OSError as exc:
        log.error("web page not started: cannot listen on %s:%d: %s", address, port, exc)
        return None
    return server
