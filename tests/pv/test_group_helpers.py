"""Shared fixtures of the framework tests: mount a PVGroup in the session's server
(``ca_server`` from tests/conftest.py) and a caproto client (an independent CA
implementation) to talk to it.

Imported by the ``test_group*`` / ``test_pvproperty*`` modules; it holds no tests itself.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from iochost.pv import start_group, stop_group
from iochost.testing import wait_until  # noqa: F401  (the framework tests import it from here)

TIMEOUT = 5.0


@pytest.fixture
def mount(ca_server):
    """``mount(group)``: serve the group's PVs and start its hooks; undone at teardown."""
    mounted: list[Any] = []

    def _mount(group, *, start: bool = True):
        ca_server.add(group.pvdb)
        if start:
            ca_server.call(start_group(group))
        mounted.append(group)
        return group

    yield _mount
    for group in mounted:
        ca_server.call(stop_group(group))
        ca_server.remove(list(group.pvdb))


class Client:
    """Thin synchronous helpers over caproto's threading client."""

    def __init__(self, context):
        self.context = context
        self._pvs: dict[str, Any] = {}
        self.recorders: list[Recorder] = []

    def pv(self, name: str):
        if name not in self._pvs:
            pv, = self.context.get_pvs(name, timeout=TIMEOUT)
            pv.wait_for_connection(timeout=TIMEOUT)
            self._pvs[name] = pv
        return self._pvs[name]

    def read(self, name: str, data_type: Any = None):
        return self.pv(name).read(data_type=data_type, timeout=TIMEOUT)

    def value(self, name: str) -> Any:
        """The value as a Python scalar (or list for arrays; str for strings)."""
        data = self.read(name).data
        values = [v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item")
                  else v for v in data]
        return values[0] if len(values) == 1 else values

    def write(self, name: str, value: Any, data_type: Any = None) -> str:
        """Put with completion; returns the ECA status name (e.g. 'ECA_NORMAL')."""
        response = self.pv(name).write(value, wait=True, timeout=TIMEOUT, data_type=data_type)
        return response.status.name

    def native(self, name: str) -> tuple[str, int]:
        """(native DBR type name, element count) from the CREATE_CHAN reply."""
        channel = self.pv(name).channel
        return channel.native_data_type.name, channel.native_data_count

    def monitor(self, name: str, mask: int, data_type: str = "time") -> Recorder:
        recorder = Recorder()
        sub = self.pv(name).subscribe(data_type=data_type, mask=mask)
        sub.add_callback(recorder)
        recorder.subscription = sub
        self.recorders.append(recorder)
        return recorder

    def close(self) -> None:
        for recorder in self.recorders:
            recorder.close()


class Recorder:
    """Collects subscription updates for assertions."""

    def __init__(self):
        self.events: list[Any] = []
        self.lock = threading.Lock()
        self.subscription = None

    def __call__(self, sub, response):
        with self.lock:
            self.events.append(response)

    def wait_for(self, count: int, timeout: float = TIMEOUT) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} monitor events, got {len(self.events)}")

    def settle(self, seconds: float = 0.3) -> list[Any]:
        """All events after a quiet period (to assert that no more arrive)."""
        time.sleep(seconds)
        with self.lock:
            return list(self.events)

    def close(self):
        if self.subscription is not None:
            self.subscription.clear()


@pytest.fixture
def client(caproto_context):
    """caproto's threading client (the session's context); subscriptions end with the test."""
    helper = Client(caproto_context)
    yield helper
    helper.close()


