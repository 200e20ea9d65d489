"""Helpers for tests that need a real CA server (for plugin authors and our own suite).

:class:`ServerThread` runs a :class:`~iochost.server.Server` on its own event loop in a
background thread, so synchronous clients (pyepics, caproto's threading client) can talk to
it from the test's thread::

    with ServerThread({"TEST:PV": ChannelDouble(value=1.0)}) as server:
        assert epics.caget("TEST:PV") == 1.0
        server.add({"TEST:OTHER": ChannelDouble(value=2.0)})

It binds ``127.0.0.1`` by default, on ``EPICS_CAS_SERVER_PORT`` (then
``EPICS_CA_SERVER_PORT``) unless ``port`` is given.  Run one server per port: servers share
a UDP search port, but the kernel hands each unicast search to only one of them (in our
suite, use the session fixture ``ca_server`` and add PVs to it).  Keep CA on loopback in tests:
put :data:`LOOPBACK_ENV` in the environment before any CA library is imported, and in the
environment of every process a test starts.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import iochost
from iochost.server import PVDatabase, ServedChannel, Server, ServerConfig, new_event_loop

iochost._install_record_support()   # IOCs under test may use record= (records load on demand)

__all__ = ["LOOPBACK_ENV", "ServerThread", "wait_until"]

#: The CA variables that keep clients and servers on 127.0.0.1 (by default CA broadcasts
#: its searches and beacons on every interface).
LOOPBACK_ENV: Mapping[str, str] = MappingProxyType({
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
})

_TIMEOUT = 30.0


class ServerThread:
    """A real CA server in a background thread with its own event loop (a context manager)."""

    def __init__(self, pvdb: PVDatabase | Mapping[str, ServedChannel] | None = None, *,
                 port: int | None = None, interfaces: Iterable[str] = ("127.0.0.1",),
                 config: ServerConfig | None = None):
        overrides: dict[str, Any] = {"interfaces": tuple(interfaces)}
        if port is not None:
            overrides["port"] = port
        if config is None:
            config = ServerConfig.from_env(**overrides)
        self.database = pvdb if isinstance(pvdb, PVDatabase) else PVDatabase(pvdb)
        self.server = Server(self.database, config)
        self.loop: asyncio.AbstractEventLoop = new_event_loop()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Run the loop in a daemon thread and start the server (returns when searchable)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.loop.run_forever, name="iochost-server",
                                        daemon=True)
        self._thread.start()
        try:
            self.call(self.server.start())
        except BaseException:
            self._shutdown_loop()
            raise

    def stop(self) -> None:
        """Stop the server, then the loop and its thread."""
        if self._thread is None:
            return
        try:
            self.call(self.server.stop())
        finally:
            self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        thread, self._thread = self._thread, None
        self.loop.call_soon_threadsafe(self.loop.stop)
        if thread is not None:
            thread.join(_TIMEOUT)
        if not self.loop.is_running():
            self.loop.close()

    def call(self, coro_or_callable: Any, timeout: float = _TIMEOUT) -> Any:
        """Run a coroutine or a plain callable in the server's loop; return its result."""
        if asyncio.iscoroutine(coro_or_callable):
            return asyncio.run_coroutine_threadsafe(coro_or_callable, self.loop).result(timeout)
        if not callable(coro_or_callable):
            raise TypeError(f"call() needs a coroutine or a callable, "
                            f"not {type(coro_or_callable).__name__}")
        function: Callable[[], Any] = coro_or_callable

        async def invoke() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(timeout)

    def add(self, mapping: Mapping[str, ServedChannel]) -> None:
        """Add (or replace) PVs while serving; they are searchable when this returns."""
        items = dict(mapping)
        self.call(lambda: self.database.update(items))

    def remove(self, names: Iterable[str]) -> None:
        """Remove PVs while serving; clients' channels on them get SERVER_DISCONN."""
        names = list(names)
        self.call(lambda: self.database.remove_many(names))

    @property
    def tcp_port(self) -> int:
        return self.server.tcp_port

    @property
    def udp_port(self) -> int:
        return self.server.udp_port

    def stats(self) -> dict[str, Any]:
        """The server's statistics, read in its loop."""
        return self.call(self.server.stats)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that.

    For clients whose answers arrive on their own threads (pyepics callbacks, monitors).
    Raises ``AssertionError`` naming ``what`` (or the predicate) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.005)
