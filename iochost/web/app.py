"""The aiohttp application and the site that serves it on the host's event loop.

``make_app(view, writable=..., version=...)`` builds the routes (pages, JSON API,
``/api/openapi.json``, ``/healthz``, ``/metrics``, ``/pvws/pv``, ``/static``); the host then
lets plugins add theirs (``iochost_web_routes``) and starts a :class:`WebServer`. Handlers
only ever await the browser or a PV put: nothing blocks the loop the CA server runs on.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path

from aiohttp import web

from .api import RATES, VIEW, WRITABLE, RateMeter, api_routes
from .guard import RequestGuard
from .openapi import openapi_document
from .pages import page_routes
from .pvws import MAX_MESSAGE, PvwsSession
from .view import HostView

__all__ = ["STATIC_DIR", "WebServer", "make_app"]

log = logging.getLogger("iochost.web")

STATIC_DIR = Path(__file__).with_name("static")
#: how long stopping waits for browsers to take the close of their sockets (seconds); a
#: browser that does not read is cut off then, so that the IOCs' shutdown never waits on it
CLOSE_TIMEOUT = 1.0
_VERSION: web.AppKey[str] = web.AppKey("iochost_version", str)
_SESSIONS: web.AppKey[set[PvwsSession]] = web.AppKey("iochost_pvws", set[PvwsSession])


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[_VERSION]))


async def _pvws(request: web.Request) -> web.WebSocketResponse:
    # pvws' JavaScript client pings when idle; aiohttp answers pings itself.
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=None)
    await ws.prepare(request)
    view = request.app[VIEW]
    session = PvwsSession(ws, view.database, writable=request.app[WRITABLE],
                          peer=request.remote or "", server=view.server)
    session.transport = request.transport
    sessions = request.app[_SESSIONS]
    sessions.add(session)
    try:
        await session.run()
    finally:
        sessions.discard(session)
    return ws


def make_app(view: HostView, *, writable: bool, version: str, listen_host: str = "127.0.0.1",
             allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = (),
             ) -> web.Application:
    """The web application for ``view``; plugins may add routes before it is started.
    ``listen_host``, ``allowed_hosts`` and ``allowed_origins`` say who may use it
    (:class:`~.guard.RequestGuard`)."""
    guard = RequestGuard(listen_host, allowed_hosts, allowed_origins)
    app = web.Application(middlewares=[guard.middleware])
    app[VIEW] = view
    app[WRITABLE] = writable
    app[RATES] = RateMeter()
    app[_VERSION] = version
    app[_SESSIONS] = set()
    app.add_routes(page_routes())
    app.add_routes(api_routes())
    app.add_routes([web.get("/api/openapi.json", _openapi), web.get("/pvws/pv", _pvws),
                    web.static("/static", STATIC_DIR)])
    return app


class WebServer:
    """Serves an application on one address; ``port`` 0 picks a free one."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self, sockets: Sequence[socket.socket] = ()) -> None:
        """Bind and serve, or serve on listening ``sockets`` (theirs then); raises OSError
        when the address cannot be bound."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=CLOSE_TIMEOUT)
        await runner.setup()
        sites = ([web.SockSite(runner, sock) for sock in sockets] if sockets else
                 [web.TCPSite(runner, self.host, self.requested_port, reuse_address=True)])
        try:
            for site in sites:
                await site.start()
            self.port = runner.addresses[0][1]
            self.app[RATES].start(self.app[VIEW])
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("web page on %s", self.url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self.app[RATES].stop()
        sessions: list[PvwsSession] = [*self.app[_SESSIONS]]
        closing = [asyncio.ensure_future(session.ws.close()) for session in sessions]
        if closing:
            _, pending = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT)
            for task in pending:
                task.cancel()
            for session in sessions:   # one that did not take the close frame: cut off
                if session.transport is not None and not session.ws.closed:
                    session.transport.abort()
        await self._runner.cleanup()
        self._runner = None
