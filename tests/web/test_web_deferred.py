"""The deferred web page: it listens at once, imports aiohttp and builds the app only when
the first browser connects, and loses no connection that waited meanwhile."""
from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from iochost.server import PVDatabase
from iochost.web import DeferredWebServer, HostSummary, make_app


class BareView:
    """The page's view of nothing: no server, no PVs, no mounts."""

    server = None
    database = PVDatabase()

    def summary(self) -> HostSummary:
        return HostSummary(name="bare", version="", uptime=0.0, cpu_percent=0.0, memory_mb=0.0)

    def mounts(self) -> list:
        return []

    def mount_pvnames(self, name: str) -> None:
        return None

    def plugins(self) -> list:
        return []

    async def reload_access(self) -> None:
        return None


def _app_answering_n() -> web.Application:
    """The web page, plus ``/n?n=...`` answering ``...``."""
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.query["n"])

    app = make_app(BareView(), writable=False, version="")
    app.router.add_get("/n", echo)
    return app


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read()


def _port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections the server closed may wait in TIME_WAIT)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_nothing_of_aiohttp_is_imported_until_the_first_connection():
    script = textwrap.dedent("""
        import asyncio, sys, urllib.request
        from iochost.web import DeferredWebServer

        async def build():
            from aiohttp import web
            from iochost.web import make_app
            from test_web_deferred import BareView
            return make_app(BareView(), writable=False, version="")

        async def main():
            page = DeferredWebServer(build, "127.0.0.1", 0)
            await page.start()
            await asyncio.sleep(0.2)
            print("aiohttp" in sys.modules)
            body = await asyncio.to_thread(
                lambda: urllib.request.urlopen(page.url + "healthz").read())
            print("aiohttp" in sys.modules, body.decode())
            await page.stop()

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", '{"status":"ok"}']


async def test_connections_that_wait_during_the_build_are_all_served():
    built = []

    async def build() -> web.Application:
        built.append(1)
        await asyncio.sleep(0.3)     # a slow build: the browsers' connections wait meanwhile
        return _app_answering_n()

    page = DeferredWebServer(build, "127.0.0.1", 0)
    await page.start()
    assert page.server is None and page.port > 0
    try:
        bodies = await asyncio.gather(*(asyncio.to_thread(_get, f"{page.url}n?n={n}")
                                        for n in range(8)))
        assert bodies == [str(n).encode() for n in range(8)]
        assert built == [1] and page.server is not None
        assert await asyncio.to_thread(_get, f"{page.url}n?n=x") == b"x"
    finally:
        await page.stop()
    assert _port_is_free(page.port)


async def _never_built() -> web.Application:
    raise AssertionError("not to be built")


async def test_stop_before_any_browser_frees_the_port_and_builds_nothing():
    page = DeferredWebServer(_never_built, "127.0.0.1", 0)
    await page.start()
    assert not _port_is_free(page.port)
    await page.stop()
    assert _port_is_free(page.port)


async def test_a_port_in_use_is_an_error_at_start():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        page = DeferredWebServer(_never_built, "127.0.0.1", taken.getsockname()[1])
        with pytest.raises(OSError):
            await page.start()


async def test_a_build_that_fails_is_logged_and_closes_the_page(caplog):
    async def build() -> web.Application:
        raise RuntimeError("no page today")

    page = DeferredWebServer(build, "127.0.0.1", 0)
    await page.start()
    # the waiting connection is refused, not left hanging
    with caplog.at_level(logging.ERROR, logger="iochost.web"), pytest.raises(OSError):
        await asyncio.to_thread(_get, page.url)
    assert "could not be built" in caplog.text and "no page today" in caplog.text
    assert _port_is_free(page.port)
    await page.stop()
