"""``/pvws/pv`` speaks PV Web Socket's protocol (ornl-epics/pvws): message shapes as pvws'
``Vtype2Json`` and ``WebSocket`` produce them, driven by aiohttp's WebSocket client while
pyepics (EPICS' libca) changes the PVs over Channel Access."""
from __future__ import annotations

import asyncio
import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import numpy as np
import pytest

from iochost.web.pvws import THROTTLE

TIMEOUT = 5.0


class Browser:
    """A pvws client: one WebSocket, JSON in and out."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session, self.ws = session, ws

    @classmethod
    async def open(cls, demo, **options) -> Browser:
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(demo.url("/pvws/pv"), **options)
        return cls(session, ws)

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def send(self, **message) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, timeout: float = TIMEOUT) -> dict:
        message = await self.ws.receive(timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data, parse_constant=_not_json)

    async def update_of(self, pv: str, timeout: float = TIMEOUT, **matching) -> dict:
        """The next update of ``pv`` (with ``matching`` fields), skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(deadline - time.monotonic(), 0.01))
            if message.get("type") == "update" and message["pv"] == pv and \
                    all(message.get(k) == v for k, v in matching.items()):
                return message


def _not_json(token: str) -> None:
    raise AssertionError(f"{token} is no JSON: a browser's JSON.parse refuses the message")


def run(coro):
    """Run a client scenario on an event loop of its own thread (the test thread may hold
    another library's loop, e.g. Playwright's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, 60)).result()


def test_first_update_has_full_metadata_then_only_what_changed(web_host, pyepics):
    demo = web_host()
    name = demo.pv("TEMP")

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[name])
            first = await browser.update_of(name)
            stamp = first.pop("seconds"), first.pop("nanos")
            assert first == {"type": "update", "pv": name, "vtype": "VDouble", "units": "degC",
                             "description": "", "precision": 2, "min": -30.0, "max": 60.0,
                             "warn_low": -10.0, "warn_high": 40.0, "alarm_low": -20.0,
                             "alarm_high": 50.0,
                             "severity": "NONE", "readonly": True, "value": 20.0}
            assert abs(stamp[0] + stamp[1] / 1e9 - time.time()) < 60
            await asyncio.to_thread(pyepics.caput, name, 45.0, wait=True, timeout=TIMEOUT)
            second = await browser.update_of(name, value=45.0)
            assert set(second) == {"type", "pv", "value", "severity", "seconds", "nanos"}
            assert second["severity"] == "MINOR"
            await asyncio.to_thread(pyepics.caput, name, 46.0, wait=True, timeout=TIMEOUT)
            third = await browser.update_of(name, value=46.0)
            assert set(third) == {"type", "pv", "value", "seconds", "nanos"}  # nothing else moved

    run(scenario())


def test_unarmed_alarm_limits_are_nan_strings_as_pvws_sends_them(web_host, pyepics):
    """A record's alarm limits that arm nothing are NaN on the wire, and so is any value that
    is not finite (pvws' ``handleNumber``); the message is still JSON a browser parses (no
    bare NaN). A record's DESC is the ``description``."""
    demo = web_host()
    name = demo.pv("VOLTS")
    desc = pyepics.caget(name + ".DESC", timeout=TIMEOUT)

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[name])
            first = await browser.update_of(name)  # (receive parses strict JSON)
            assert {key: first[key] for key in ("warn_low", "warn_high", "alarm_low",
                                                 "alarm_high", "value", "units")} == \
                {"warn_low": "NaN", "warn_high": "NaN", "alarm_low": "NaN", "alarm_high": "NaN",
                 "value": 1.5, "units": "V"}
            assert first["description"].rstrip() == desc  # (pyepics strips the end)
            assert desc.startswith("a record nobody gave")
            for value in (float("inf"), float("-inf"), float("nan")):
                await asyncio.to_thread(pyepics.caput, name, value, wait=True, timeout=TIMEOUT)
                assert (await browser.update_of(name))["value"] == "NaN"

    run(scenario())


def test_arrays_travel_as_little_endian_base64(web_host):
    demo = web_host()
    expected = {"WAVE": ("VDoubleArray", "b64dbl", "<f8", np.linspace(0.0, 1.0, 64)),
                "FLOATS": ("VFloatArray", "b64flt", "<f4", [1.5, -2.25, 3.0]),
                "LONGS": ("VIntArray", "b64int", "<i4", [1, -2, 70000]),
                "SHORTS": ("VShortArray", "b64srt", "<i2", [1, -2, 300]),
                "BYTES": ("VByteArray", "b64byt", "u1", [1, 2, 250])}

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[demo.pv(n) for n in expected])
            for name, (vtype, key, dtype, values) in expected.items():
                update = await browser.update_of(demo.pv(name))
                assert update["vtype"] == vtype and "value" not in update
                decoded = np.frombuffer(base64.b64decode(update[key]), dtype)
                assert np.array_equal(decoded, np.asarray(values, dtype)), name

    run(scenario())


def test_enum_text_and_the_ca_scheme(web_host):
    demo = web_host()

    async def scenario():
        async with await Browser.open(demo) as browser:
            mode, note = "ca://" + demo.pv("MODE"), demo.pv("NOTE")
            await browser.send(type="subscribe", pvs=[mode, note])
            update = await browser.update_of(mode)
            assert (update["vtype"], update["labels"], update["value"], update["text"]) == \
                ("VEnum", ["off", "on"], 1, "on")
            update = await browser.update_of(note)
            assert (update["vtype"], update["text"], update["severity"]) == \
                ("VString", "hello", "NONE")

    run(scenario())


def test_list_clear_echo_ping_and_errors(web_host):
    demo = web_host()
    temp, mode = demo.pv("TEMP"), demo.pv("MODE")

    async def scenario():
        async with await Browser.open(demo, autoping=False) as browser:
            await browser.send(type="subscribe", pvs=[temp, mode])
            await browser.update_of(temp)
            await browser.update_of(mode)
            await browser.send(type="list")
            assert await browser.receive() == {"type": "list", "pvs": [temp, mode]}
            await browser.send(type="clear", pvs=[temp])
            await browser.send(type="list")
            assert await browser.receive() == {"type": "list", "pvs": [mode]}
            await browser.send(type="echo", body="anything")
            assert await browser.receive() == {"type": "echo", "body": "anything"}
            await browser.send(type="ping")
            assert (await browser.ws.receive(TIMEOUT)).type == aiohttp.WSMsgType.PING
            await browser.send(type="dance")
            assert await browser.receive() == {"type": "error",
                                               "message": "unknown message type 'dance'"}
            await browser.send(type="subscribe")
            assert (await browser.receive())["message"] == \
                "a subscribe needs 'pvs' (a list of PV names)"
            await browser.send(type="subscribe", pvs=["NOT:SERVED:HERE"])
            update = await browser.update_of("NOT:SERVED:HERE")
            stamp = update.pop("seconds") + update.pop("nanos") * 1e-9
            assert abs(stamp - time.time()) < 5
            # Phoebus' disconnected value: NaN, UNDEFINED, stamped now
            assert update == {"type": "update", "pv": "NOT:SERVED:HERE", "severity": "UNDEFINED",
                              "readonly": True, "value": "NaN"}
            error = await browser.receive()
            assert error["type"] == "error" and "not served" in error["message"]

    run(scenario())


def test_writes_are_refused_unless_enabled(web_host, pyepics):
    demo = web_host()

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[demo.pv("TEMP")])
            assert (await browser.update_of(demo.pv("TEMP")))["readonly"] is True
            await browser.send(type="write", pv=demo.pv("TEMP"), value=12.0)
            error = await browser.receive()
            assert error["type"] == "error" and "web.writable: false" in error["message"]

    run(scenario())
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False, timeout=TIMEOUT) == 20.0


def test_writes_take_the_ca_put_path_when_enabled(web_host, pyepics):
    demo = web_host(writable=True)
    temp, guarded = demo.pv("TEMP"), demo.pv("GUARDED")

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[temp, guarded, demo.pv("RO")])
            assert (await browser.update_of(temp))["readonly"] is False
            assert (await browser.update_of(demo.pv("RO")))["readonly"] is True  # no CA write
            # a number no DOUBLE holds is refused; the socket goes on
            await browser.send(type="write", pv=temp, value=10 ** 400)
            error = await browser.receive()
            assert error["type"] == "error" and "beyond the range" in error["message"]
            await browser.send(type="write", pv=temp, value=12.5)
            assert (await browser.update_of(temp, value=12.5))["value"] == 12.5
            await browser.send(type="write", pv=guarded, value=-5)
            error = await browser.receive()
            assert error["type"] == "error"
            assert error["message"].startswith(f"write to {guarded} refused: Channel write "
                                               "request failed")       # the ECA text
            assert "GUARDED refuses negative values" in error["message"]
            # as pvws: a socket writes only the PVs it subscribed to
            await browser.send(type="clear", pvs=[temp])
            await browser.send(type="write", pv=temp, value=99.0)
            error = await browser.receive()
            assert error == {"type": "error",
                             "message": f"cannot write {temp}: not subscribed (subscribe to "
                                        "it first)"}

    run(scenario())
    assert pyepics.caget(temp, use_monitor=False, timeout=TIMEOUT) == 12.5
    assert pyepics.caget(guarded, use_monitor=False, timeout=TIMEOUT) == 1.0


def test_updates_are_throttled_per_pv(web_host, ca_server):
    """1,000 changes in about a second reach a browser as a few updates per second, the
    last value always among them."""
    demo = web_host()
    name = demo.pv("GUARDED")
    channel = demo.host.database[name]

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[name])
            await browser.update_of(name)
            start = time.monotonic()
            for value in range(1001, 1, -1):
                await asyncio.to_thread(ca_server.call, channel.write(float(value)))
            elapsed = time.monotonic() - start
            updates = []
            while not updates or updates[-1]["value"] != 2.0:
                updates.append(await browser.update_of(name))
        return elapsed, updates

    elapsed, updates = run(scenario())
    assert len(updates) <= elapsed / THROTTLE + 3, (len(updates), elapsed)


@pytest.mark.slow
def test_a_browser_that_does_not_read_never_slows_ca_clients(web_host, ca_server, pyepics):
    """A browser that subscribes and then stops reading: CA monitor updates still flow at
    full rate, and what the browser finally reads is the newest value, coalesced."""
    demo = web_host()
    name = demo.pv("BIG")
    channel = demo.host.database[name]
    received = []
    pv = pyepics.PV(name, auto_monitor=True,
                    callback=lambda value=None, **kw: received.append(value[0]))
    assert pv.wait_for_connection(timeout=TIMEOUT)
    big = np.zeros(20000)

    async def scenario():
        async with await Browser.open(demo) as stalled:
            await stalled.send(type="subscribe", pvs=[name])
            await asyncio.sleep(0.5)              # it never reads from here on
            start = time.monotonic()
            for value in range(1, 301):
                big[0] = value
                await asyncio.to_thread(ca_server.call, channel.write(big.copy()))
            while not received or received[-1] != 300.0:
                await asyncio.sleep(0.01)
                assert time.monotonic() - start < 30
            ca_time = time.monotonic() - start
            messages = []
            while True:
                update = await stalled.update_of(name)
                messages.append(update)
                values = np.frombuffer(base64.b64decode(update["b64dbl"]), "<f8")
                if values[0] == 300.0:
                    break
        return ca_time, messages

    try:
        ca_time, messages = run(scenario())
    finally:
        pv.disconnect()
    assert len(messages) < 30      # coalesced: a handful, not 300
    assert ca_time < 20
