"""Busy records (``record="busy"``) and fields that post only on change (caproto's client)."""
import asyncio
import time

import pytest

from iochost import ChannelType, PVGroup, pvproperty
from iochost.ca.dbr import DBE_VALUE
from iochost.pv.data import SkipWrite
from iochost.testing import wait_until


class Detector(PVGroup):
    acquire = pvproperty(value="Done", enum_strings=["Done", "Acquire"], record="busy",
                         dtype=ChannelType.ENUM)
    held = pvproperty(value="Idle", enum_strings=["Idle", "Busy"], record="busy",
                      dtype=ChannelType.ENUM)
    plain = pvproperty(value=0.0, record="ai")

    @acquire.putter
    async def acquire(self, instance, value):
        await self.exposure_done()

    async def exposure_done(self):
        await asyncio.sleep(0.3)

    @held.putter
    async def held(self, instance, value):
        if value == "Busy":
            raise SkipWrite   # started: the device clears it itself later
        return value


@pytest.fixture
def ioc(mount, unique_prefix):
    return mount(Detector(prefix=unique_prefix))


def test_a_busy_put_is_seen_at_once_and_done_at_the_end(ioc, client):
    name = ioc.prefix + "acquire"
    assert client.value(name + ".RTYP") == "busy"
    states = client.monitor(name, DBE_VALUE)
    states.wait_for(1)
    client.pv(name).write(1, wait=False)
    wait_until(lambda: client.value(name) == 1, timeout=0.2, what="busy at once")
    wait_until(lambda: client.value(name) == 0, what="done")
    started = time.monotonic()
    assert client.write(name, "Acquire", data_type=ChannelType.STRING) == "ECA_NORMAL"
    assert time.monotonic() - started >= 0.3   # completion when the work is done
    assert client.value(name) == 0
    assert [event.data[0] for event in states.settle(0.1)] == [0, 1, 0, 1, 0]


def test_a_busy_putter_may_leave_clearing_to_the_ioc(ioc, client, ca_server):
    name = ioc.prefix + "held"
    assert client.write(name, 1) == "ECA_NORMAL"
    assert client.value(name) == 1
    ca_server.call(ioc.held.write(0))
    assert client.value(name) == 0


def test_a_put_to_a_field_posts_it_changed_or_not(ioc, client):
    # dbPut posts the field a client wrote (test_catools_rsrv compares with softIoc)
    name = ioc.prefix + "plain.HYST"
    posts = client.monitor(name, DBE_VALUE)
    posts.wait_for(1)
    for value in (1.0, 1.0, 2.0):
        assert client.write(name, value) == "ECA_NORMAL"
    assert [event.data[0] for event in posts.settle(0.2)] == [0.0, 1.0, 1.0, 2.0]
