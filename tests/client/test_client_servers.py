"""The client against three real CA servers over loopback sockets: iochost, RSRV (softioc)
and caproto's server.  Every DBR family, 8 MB arrays, put with completion (and its ECA
status when refused), subscription masks, and a server restart that the subscription
survives by itself."""
from __future__ import annotations

import asyncio
import importlib.util
from collections import deque

import numpy as np
import pytest
from client_servers import BIG, KINDS, PREFIX, REFUSED, start
from softioc_process import free_port

from iochost.ca.codes import DBE_ALARM, DBE_PROPERTY, DBE_VALUE
from iochost.ca.dbr import ChannelType, promote
from iochost.client import Context, RequestFailed

pytestmark = pytest.mark.skipif(importlib.util.find_spec("softioc") is None,
                                reason="softioc is not installed")

FAMILIES = ("native", "sts", "time", "gr", "ctrl")
NATIVE = {"DBL": ChannelType.DOUBLE, "LNG": ChannelType.LONG, "STR": ChannelType.STRING,
          "ENM": ChannelType.ENUM, "CHR": ChannelType.CHAR}


@pytest.fixture(scope="module", params=KINDS)
def server(request):
    """(kind, port) of a running server of each kind, shared by the module's tests."""
    port = free_port()
    handle = start(request.param, port)
    yield request.param, port
    handle.stop()


async def connected(context: Context, name: str):
    return await context.connect(PREFIX + name, timeout=10)


async def test_every_dbr_family_of_every_native_type(server, context_for):
    kind, port = server
    async with context_for(port) as context:
        for name, native in NATIVE.items():
            channel = await connected(context, name)
            assert channel.native_type is native, (kind, name)
            for fam in FAMILIES:
                if (kind, name, fam) == ("caproto", "STR", "ctrl"):
                    continue  # caproto sends a TIME_STRING layout for CTRL_STRING
                    # (tests/ca/test_dbr_caproto.py, difference 2)
                reading = await channel.get(fam, timeout=5)
                assert reading.dbr_type == promote(native, fam)
                if name == "DBL":
                    assert reading.value == 1.5
                    if fam in ("gr", "ctrl"):
                        assert reading.units == "mm" and reading.meta.precision == 3
                        assert reading.meta.upper_warning_limit == 10.0
                elif name == "LNG":
                    assert reading.value == 7
                elif name == "STR":
                    assert reading.value == "hello"
                elif name == "ENM":
                    assert reading.value == 0
                    if fam in ("gr", "ctrl"):
                        assert reading.enum_strings == ("Off", "On")
                if fam == "time":
                    assert reading.timestamp > 0
        as_text = (await (await connected(context, "DBL")).get(ChannelType.STRING)).value
        assert as_text == ("1.5" if kind == "caproto" else "1.500")  # caproto ignores PREC
        # Any type converts on the server: DBL as a STRING, LNG as a DOUBLE.
        assert (await (await connected(context, "LNG")).get(ChannelType.TIME_DOUBLE)).value \
            == 7.0
        assert (await (await connected(context, "ENM")).get(ChannelType.STRING)).value == "Off"


async def test_eight_megabyte_arrays_both_ways(server, context_for):
    _, port = server
    async with context_for(port) as context:
        channel = await connected(context, "BIG")
        assert channel.count == BIG
        data = np.arange(BIG, dtype=float)
        await channel.put(data, wait=True, timeout=30)
        reading = await channel.get(timeout=30)
        assert reading.count == BIG and reading.data.nbytes == 8_000_000
        np.testing.assert_array_equal(reading.data, data)
        head = await channel.get(count=10, timeout=10)
        np.testing.assert_array_equal(head.data, data[:10])


async def test_put_with_completion_and_refusal(server, context_for):
    kind, port = server
    async with context_for(port) as context:
        dbl = await connected(context, "DBL")
        await dbl.put(2.25, wait=True)
        assert (await dbl.get()).value == 2.25
        enm = await connected(context, "ENM")
        await enm.put("On", wait=True)
        assert (await enm.get()).value == 1
        await enm.put(0, wait=True)
        assert (await enm.get()).value == 0
        text = await connected(context, "STR")
        await text.put("world", wait=True)
        assert (await text.get()).value == "world"
        chars = await connected(context, "CHR")
        await chars.put("long text", wait=True)
        assert bytes((await chars.get()).data).rstrip(b"\0") == b"long text"
        refusing = await connected(context, "RO")
        with pytest.raises(RequestFailed) as refused:
            await refusing.put(3.0, wait=True)
        assert refused.value.status in REFUSED[kind]
        assert "put failed" in str(refused.value) and PREFIX + "RO" in str(refused.value)
        await dbl.put(1.5, wait=True)
        await text.put("hello", wait=True)


async def _next(subscription, timeout=10.0):
    return await asyncio.wait_for(subscription.__anext__(), timeout)


async def test_subscription_masks(server, context_for):
    kind, port = server
    async with context_for(port) as context:
        channel = await connected(context, "DBL")
        values = channel.subscribe(mask=DBE_VALUE)
        alarms = channel.subscribe(mask=DBE_ALARM)
        properties = channel.subscribe("ctrl", mask=DBE_PROPERTY)
        for subscription in (values, alarms, properties):
            assert (await _next(subscription)).value == 1.5   # the current value first
        await channel.put(2.0, wait=True)
        assert (await _next(values)).value == 2.0
        if kind != "caproto":  # caproto's server evaluates no limit alarms
            await channel.put(11.0, wait=True)   # above the warning limit: MINOR
            # The alarm subscription skipped 2.0 (no alarm change): its next one is 11.
            update = await _next(alarms)
            assert (update.value, update.severity) == (11.0, 1)
            assert (await _next(values)).value == 11.0
            await channel.put(1.5, wait=True)    # the alarm clears
            update = await _next(alarms)
            assert (update.value, update.severity) == (1.5, 0)
        else:
            await channel.put(1.5, wait=True)
        assert (await _next(values)).value == 1.5
        await asyncio.sleep(0.3)
        if kind != "caproto":  # caproto's server posts value changes to every mask
            assert properties._queue == deque(), "a value change reached DBE_PROPERTY"
        for subscription in (values, alarms, properties):
            subscription.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_subscription_resumes_after_a_server_restart(kind, context_for):
    port = free_port()
    handle = start(kind, port)
    try:
        async with context_for(port) as context:
            channel = await connected(context, "DBL")
            states: list[bool] = []
            channel.add_connection_callback(lambda ch, up: states.append(up))
            subscription = channel.subscribe()
            assert (await _next(subscription)).value == 1.5
            await channel.put(5.0, wait=True)
            assert (await _next(subscription)).value == 5.0
            await asyncio.to_thread(handle.stop)
            await asyncio.sleep(0.2)
            assert states == [False] and not channel.connected
            handle = await asyncio.to_thread(start, kind, port)
            # The restarted server starts from 1.5: the same subscription delivers it.
            assert (await _next(subscription, 30)).value == 1.5
            assert states == [False, True]
            await channel.put(6.0, wait=True)
            assert (await _next(subscription)).value == 6.0
    finally:
        handle.stop()
