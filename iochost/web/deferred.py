"""A web page that listens at once and is built when the first browser connects.

aiohttp and the application cost a host ~15 MB and ~0.2 s of imports, and most hosts'
pages are opened rarely. :class:`DeferredWebServer` binds its sockets in ``start()`` (so a
port that cannot be bound is an error then, and ``url`` is known), but only watches them
until a connection waits: then it builds the application (``build``, which imports
aiohttp), starts an aiohttp site on the same sockets, and that site accepts the waiting
connection. Nothing is accepted before, so no connection is lost meanwhile.

This module imports no aiohttp itself.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from .app import WebServer

log = logging.getLogger("iochost.web")

#: connections the kernel keeps waiting while the page is built (aiohttp's default too)
BACKLOG = 128


def listen_sockets(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets on every address ``host`` names (as asyncio's servers bind);
    port 0 picks one free port for all of them. Raises OSError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            if sockets and port == 0:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class DeferredWebServer:
    """Listens on ``host``:``port`` (0: a free port) from ``start()``; ``build()`` makes the
    :class:`~.app.WebServer`'s application when the first connection waits.  A build that
    fails is logged and closes the page; the host goes on."""

    def __init__(self, build: Callable[[], Awaitable[web.Application]], host: str,
                 port: int) -> None:
        self._build = build
        self.host = host
        self.requested_port = port
        self.port = 0
        self._sockets: list[socket.socket] = []
        self._watching = False
        self._building: asyncio.Task[None] | None = None
        #: the aiohttp server, once a browser has connected
        self.server: WebServer | None = None

    @property
    def built(self) -> bool:
        """Whether the application is built (or being built): plugins' routes are fixed."""
        return self._building is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Bind and listen; raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        self._sockets = await loop.run_in_executor(
            None, listen_sockets, self.host, self.requested_port)
        self.port = self._sockets[0].getsockname()[1]
        for sock in self._sockets:
            loop.add_reader(sock.fileno(), self._connection_waits)
        self._watching = True
        log.info("web page on %s (built when first opened)", self.url)

    def _connection_waits(self) -> None:
        self._unwatch()
        self._building = asyncio.ensure_future(self._serve())

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            loop = asyncio.get_running_loop()
            for sock in self._sockets:
                loop.remove_reader(sock.fileno())

    async def _serve(self) -> None:
        try:
            from .app import WebServer

            app = await self._build()
            server = WebServer(app, self.host, self.port)
            await server.start(self._sockets)
        except Exception:
            log.exception("web page on %s could not be built; it is closed", self.url)
            self._close_sockets()
            return
        self._sockets = []   # the site's now: it closes them
        self.server = server

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    async def stop(self) -> None:
        self._unwatch()
        if self._building is not None:
            if not self._building.done():
                self._building.cancel()
            await asyncio.gather(self._building, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()
            self.server = None
        self._close_sockets()
