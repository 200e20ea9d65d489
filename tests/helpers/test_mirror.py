"""The ``mirror`` IOC in a host on the session's server: a second server's PVs (iochost in a
thread, RSRV in a subprocess) and this host's own PVs, read through the mirror by our client
over real sockets."""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import os

import numpy as np
import pytest
from softioc_process import free_port, running_softioc

from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.codes import DBE_LOG, DBE_PROPERTY, DBE_VALUE
from iochost.ca.dbr import AccessRights, ChannelType
from iochost.ca.eca import ECA_NOWTACCESS, ECA_PUTFAIL
from iochost.ca.errors import CaStatusError
from iochost.client import ClientError, Context, RequestFailed
from iochost.pv.data import ChannelDouble, ChannelEnum, ChannelInteger, ChannelString
from iochost.testing import ServerThread

TIMEOUT = 10.0


class Refusing(ChannelDouble):
    async def verify_value(self, value):
        raise CaStatusError(ECA_PUTFAIL, "refused")


def source_pvs(prefix: str) -> dict:
    return {
        prefix + "DBL": ChannelDouble(value=1.5, units="mm", precision=3,
                                      upper_warning_limit=10.0, lower_warning_limit=-10.0),
        prefix + "MODE": ChannelEnum(value="Auto", enum_strings=["Manual", "Auto"]),
        prefix + "ARR": ChannelInteger(value=np.arange(10, dtype=np.int32)),
        prefix + "TXT": ChannelString(value="hello"),
        prefix + "REFUSE": Refusing(value=0.0),
    }


def test_a_name_yaml_reads_as_a_boolean_is_refused_clearly():
    from iochost.helpers.mirror import MirrorIOC

    with pytest.raises(TypeError, match=r"pvs: False is not a PV name .*quote it"):
        MirrorIOC("M:", source_prefix="S:", pvs=["A", False])


@pytest.fixture
def searchable(monkeypatch):
    """Make the mirror's client (and ours) search the given ports too."""
    def add(port: int) -> None:
        monkeypatch.setenv("EPICS_CA_ADDR_LIST",
                           f"{os.environ['EPICS_CA_ADDR_LIST']} 127.0.0.1:{port}")
    return add


needs_softioc = pytest.mark.skipif(importlib.util.find_spec("softioc") is None,
                                   reason="softioc is not installed")


def mirror_of_softioc(start_host, unique_prefix, searchable, name: str, pvs: str,
                      options: str = "") -> int:
    """A host mounting ``ioc: mirror`` as ``$(P)<name>:`` of the source prefix ``<name>:``
    (``pvs``, a YAML list, and more ``options``), searching a free port for the softioc the
    test runs there; returns that port."""
    port = free_port()
    searchable(port)
    start_host(f"""
        mounts:
          - {{name: {name.lower()}, ioc: mirror, prefix: '$(P){name}:',
             options: {{source_prefix: '{name}:', pvs: {pvs}{options}}}}}
    """, unique_prefix)
    return port


async def next_update(subscription, timeout=TIMEOUT):
    return await asyncio.wait_for(subscription.__anext__(), timeout)


async def wait_for(channel, predicate, timeout=TIMEOUT):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            reading = await channel.get()
        except ClientError as exc:   # a mirrored PV reconnects when it takes its type
            reading = exc
        if not isinstance(reading, Exception) and predicate(reading):
            return reading
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{channel.name}: last reading {reading}")
        await asyncio.sleep(0.05)


async def test_mirror_follows_a_second_server_and_shows_link_alarms(
        start_host, unique_prefix, searchable):
    port = free_port()
    searchable(port)
    source = ServerThread(source_pvs("SRC:"), port=port)
    source.start()
    try:
        start_host("""
            mounts:
              - {name: m, ioc: mirror, prefix: '$(P)M:',
                 options: {source_prefix: 'SRC:', pvs: [DBL, MODE, ARR, TXT, REFUSE]}}
        """, unique_prefix)
        async with Context() as context:
            dbl = await context.connect(unique_prefix + "M:DBL", TIMEOUT)
            await wait_for(dbl, lambda r: r.value == 1.5 and r.severity == 0)
            ctrl = await dbl.get("ctrl")
            assert (ctrl.units, ctrl.meta.precision, ctrl.meta.upper_warning_limit) == \
                ("mm", 3, 10.0)
            source_stamp = source.database["SRC:DBL"].timestamp
            assert (await dbl.get()).timestamp == pytest.approx(source_stamp, abs=1e-6)
            # Native type and count are the source's (the placeholder was a DOUBLE).
            mode = context.channel(unique_prefix + "M:MODE")
            await wait_for_connected_type(mode, ChannelType.ENUM)
            assert (await mode.get("ctrl")).enum_strings == ("Manual", "Auto")
            assert (await mode.get(ChannelType.STRING)).value == "Auto"
            arr = context.channel(unique_prefix + "M:ARR")
            await wait_for_connected_type(arr, ChannelType.LONG)
            assert arr.count == 10
            np.testing.assert_array_equal((await arr.get()).data, np.arange(10))
            txt = context.channel(unique_prefix + "M:TXT")
            await wait_for_connected_type(txt, ChannelType.STRING)
            assert (await txt.get()).value == "hello"
            # Follows within one update: value, alarm and stamp.
            updates = dbl.subscribe()
            assert (await next_update(updates)).value == 1.5
            source.call(source.database["SRC:DBL"].write(12.0))
            update = await next_update(updates)
            assert (update.value, update.severity, update.status) == (12.0, 1, AlarmStatus.HIGH)
            assert update.timestamp == pytest.approx(source.database["SRC:DBL"].timestamp,
                                                     abs=1e-6)
            # Read-only by default.
            with pytest.raises(RequestFailed) as refused:
                await dbl.put(3.0, wait=True)
            assert refused.value.status == ECA_NOWTACCESS
            # The source stops: INVALID/LINK, still served.
            source.stop()
            update = await next_update(updates)
            assert (update.severity, update.status) == (AlarmSeverity.INVALID, AlarmStatus.LINK)
            assert dbl.connected and (await dbl.get()).value == 12.0
            # It comes back (fresh values): the mirror recovers by itself.
            source = ServerThread(source_pvs("SRC:"), port=port)
            source.start()
            update = await next_update(updates, 30)
            assert (update.value, update.severity) == (1.5, 0)
    finally:
        source.stop()


async def test_clients_of_a_mirrored_double_stay_connected_when_its_source_appears(
        start_host, unique_prefix, searchable):
    """The placeholder served before the source connects is a DOUBLE scalar: a source of
    that type takes it over, so its clients are not dropped (new channel data for any
    other type or count replace it, and clients reconnect to those)."""
    port = free_port()
    searchable(port)
    start_host("""
        mounts:
          - {name: m, ioc: mirror, prefix: '$(P)M:', options: {source_prefix: 'LATE:',
             pvs: [DBL]}}
    """, unique_prefix)
    async with Context() as context:
        dbl = await context.connect(unique_prefix + "M:DBL", TIMEOUT)
        links: list[bool] = []
        dbl.add_connection_callback(lambda channel, up: links.append(up))
        properties = dbl.subscribe("ctrl", mask=DBE_PROPERTY)
        assert (await next_update(properties)).units == ""
        updates = dbl.subscribe()
        assert (await next_update(updates)).severity == AlarmSeverity.INVALID
        source = ServerThread(source_pvs("LATE:"), port=port)
        source.start()
        try:
            update = await next_update(updates, 30)
            assert (update.value, update.severity) == (1.5, 0)
            assert (await next_update(properties)).units == "mm"
            assert links == [] and dbl.connected
        finally:
            source.stop()


async def wait_for_connected_type(channel, native, timeout=TIMEOUT):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (channel.connected and channel.native_type is native):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{channel.name}: {channel.native_type} {channel.state}")
        await asyncio.sleep(0.05)


async def test_writable_mirror_passes_puts_through_with_the_source_status(
        start_host, unique_prefix, searchable):
    port = free_port()
    searchable(port)
    with ServerThread(source_pvs("SRCW:"), port=port) as source:
        start_host("""
            mounts:
              - {name: w, ioc: mirror, prefix: '$(P)W:',
                 options: {source_prefix: 'SRCW:', pvs: [DBL, MODE, REFUSE], writable: true}}
        """, unique_prefix)
        async with Context() as context:
            dbl = await context.connect(unique_prefix + "W:DBL", TIMEOUT)
            await wait_for(dbl, lambda r: r.value == 1.5 and r.severity == 0)
            await dbl.put(4.25, wait=True)
            assert source.database["SRCW:DBL"].value == 4.25
            assert (await dbl.get()).value == 4.25
            mode = context.channel(unique_prefix + "W:MODE")
            await wait_for_connected_type(mode, ChannelType.ENUM)
            await mode.put("Manual", wait=True)
            assert source.database["SRCW:MODE"].value == "Manual"
            refusing = context.channel(unique_prefix + "W:REFUSE")
            await wait_for_connected_type(refusing, ChannelType.DOUBLE)
            await wait_for(refusing, lambda r: r.severity == 0)
            with pytest.raises(RequestFailed) as refused:
                await refusing.put(1.0, wait=True)
            assert refused.value.status == ECA_PUTFAIL     # the source's own status
            assert (await refusing.get()).value == 0.0


async def test_mirror_of_this_hosts_own_pvs_reads_them_in_process(start_host, unique_prefix,
                                                                   ca_server):
    host = start_host("""
        mounts:
          - {name: m, ioc: mirror, prefix: '$(P)COPY:',
             options: {source_prefix: '$(P)', pvs: [OWN]}}
    """, unique_prefix)
    own = ChannelDouble(value=7.0, units="V")
    ca_server.add({unique_prefix + "OWN": own})   # the host's database: served, and local
    async with Context() as context:
        copy = await context.connect(unique_prefix + "COPY:OWN", TIMEOUT)
        await wait_for(copy, lambda r: r.value == 7.0 and r.severity == 0)
        mirrored = host.mounts["m"].ioc.mirrored[unique_prefix + "COPY:OWN"]
        assert mirrored.source.server == "local"
        updates = copy.subscribe()
        assert (await next_update(updates)).value == 7.0
        await asyncio.to_thread(ca_server.call, own.write(8.5))
        assert (await next_update(updates)).value == 8.5
    ca_server.remove([unique_prefix + "OWN"])


@needs_softioc
async def test_mirror_of_an_epics_ioc_with_fields_across_its_restart(
        start_host, unique_prefix, searchable):
    db = ('record(ai, "RS:TEMP") { field(VAL, "21.5") field(EGU, "degC") field(PREC, "1") '
          'field(DESC, "room") field(PINI, "YES") }\n')
    port = free_port()
    searchable(port)
    start_host("""
        mounts:
          - {name: r, ioc: mirror, prefix: '$(P)R:',
             options: {source_prefix: 'RS:', pvs: [TEMP], fields: [.EGU, DESC]}}
    """, unique_prefix)
    async with Context() as context:
        temp = context.channel(unique_prefix + "R:TEMP")
        with running_softioc(db, port):
            await wait_for_connected_type(temp, ChannelType.DOUBLE)
            await wait_for(temp, lambda r: r.value == 21.5 and r.severity == 0)
            assert (await temp.get("ctrl")).units == "degC"
            egu = await context.connect(unique_prefix + "R:TEMP.EGU", TIMEOUT)
            desc = await context.connect(unique_prefix + "R:TEMP.DESC", TIMEOUT)
            await wait_for(egu, lambda r: r.value == "degC")
            await wait_for(desc, lambda r: r.value == "room")
        # RSRV gone: LINK/INVALID on every mirrored PV, fields included.
        for channel in (temp, egu):
            await wait_for(channel, lambda r: (r.status, r.severity) ==
                           (AlarmStatus.LINK, AlarmSeverity.INVALID))
        with running_softioc(db, port):
            await wait_for(temp, lambda r: r.value == 21.5 and r.severity == 0, 40)


@needs_softioc
async def test_a_writable_mirror_of_an_epics_ioc_puts_as_the_source_takes_them(
        start_host, unique_prefix, searchable):
    db = ('record(ao, "RW:AO") { field(VAL, "2.5") field(DRVH, "20") field(DRVL, "-20") }\n'
          'record(waveform, "RW:SWF") { field(FTVL, "STRING") field(NELM, "3") }\n')
    port = mirror_of_softioc(start_host, unique_prefix, searchable, "RW", "[AO, SWF]",
                             ", writable: true")
    async with Context() as context:
        ao = context.channel(unique_prefix + "RW:AO")
        swf = context.channel(unique_prefix + "RW:SWF")
        with running_softioc(db, port):
            await wait_for_connected_type(ao, ChannelType.DOUBLE)
            await wait_for(ao, lambda r: r.value == 2.5)
            # the ao clamps a put beyond DRVH and succeeds: so does the mirror's put
            await ao.put(50.0, wait=True)
            assert (await ao.get()).value == 20.0
            source = await context.connect("RW:AO", TIMEOUT)
            assert (await source.get()).value == 20.0
            # a put gives a monitor of the mirror one update: the source's own value, time
            # stamp and alarm (not a local store first, then the source's update)
            updates: list = []
            subscription = ao.subscribe()
            subscription.add_callback(updates.append)
            await wait_for(ao, lambda r: len(updates) == 1)
            await ao.put(-7.5, wait=True)
            await asyncio.sleep(0.5)
            subscription.close()
            stamped = await source.get()
            assert [r.value for r in updates] == [20.0, -7.5]
            served = await ao.get()
            for reading in (updates[-1], served):
                assert (reading.meta.secs, reading.meta.nsecs) == \
                    (stamped.meta.secs, stamped.meta.nsecs)
            # a string waveform: every element, not the first alone
            await wait_for_connected_type(swf, ChannelType.STRING)
            await swf.put(["a", "bb", "ccc"], wait=True)
            await wait_for(swf, lambda r: list(r.data) == [b"a", b"bb", b"ccc"])


@needs_softioc
async def test_a_mirror_follows_enum_states_without_strings_and_empty_texts(
        start_host, unique_prefix, searchable):
    """An mbbo may hold any index up to 65535 (a state without a string, or an Illegal
    Value alarm): the mirror follows it, and passes such a put through (it froze at the
    last named state, refusing the update). An empty long string is followed too."""
    db = ('record(mbbo, "EN:MB") { field(ZRST, "Zero") field(ONST, "One") field(VAL, "1") }\n'
          'record(lsi, "EN:LS") { field(SIZV, "64") }\n')
    port = mirror_of_softioc(start_host, unique_prefix, searchable, "EN", "[MB, LS]",
                             ", writable: true")
    async with Context() as context:
        mirrored = context.channel(unique_prefix + "EN:MB")
        with running_softioc(db, port):
            await wait_for_connected_type(mirrored, ChannelType.ENUM)
            await wait_for(mirrored, lambda r: r.value == 1)
            source = await context.connect("EN:MB", TIMEOUT)
            await source.put(7, wait=True)
            await wait_for(mirrored, lambda r: r.value == 7)
            await source.put(20, wait=True)      # beyond 15: INVALID "Illegal Value"
            await wait_for(mirrored, lambda r: (r.value, r.severity) ==
                           (20, AlarmSeverity.INVALID))
            await mirrored.put(5, wait=True)
            assert (await source.get()).value == 5
            await wait_for(mirrored, lambda r: r.value == 5)
            # an lsi never written has no element (count 0) and a UDF alarm: served as ""
            # with that alarm (it was left out, and the mirror showed no alarm)
            text = context.channel(unique_prefix + "EN:LS")
            await wait_for(text, lambda r: (r.status, r.severity) ==
                           (AlarmStatus.UDF, AlarmSeverity.INVALID))


@needs_softioc
async def test_archive_monitors_of_a_mirror_see_the_sources_archive_deadband(
        start_host, unique_prefix, searchable):
    """A DBE_LOG subscription to the mirror gets what one to the source gets (its ADEL),
    not every change (the mirror posted DBE_LOG with each value); DBE_VALUE is unchanged."""
    db = 'record(ai, "AR:AI") { field(VAL, "20") field(ADEL, "5") field(PINI, "YES") }\n'
    port = mirror_of_softioc(start_host, unique_prefix, searchable, "AR", "[AI]")
    async with Context() as context:
        mirrored = context.channel(unique_prefix + "AR:AI")
        with running_softioc(db, port):
            await wait_for_connected_type(mirrored, ChannelType.DOUBLE)
            await wait_for(mirrored, lambda r: r.value == 20.0)
            source = await context.connect("AR:AI", TIMEOUT)
            seen: dict[str, list[float]] = {"log": [], "value": [], "source log": [],
                                            "both": [], "source both": []}
            for key, channel, mask in (("log", mirrored, DBE_LOG),
                                       ("value", mirrored, DBE_VALUE),
                                       ("source log", source, DBE_LOG),
                                       ("both", mirrored, DBE_VALUE | DBE_LOG),
                                       ("source both", source, DBE_VALUE | DBE_LOG)):
                channel.subscribe(mask=mask).add_callback(
                    lambda reading, key=key: seen[key].append(reading.value))
            await wait_for(mirrored, lambda r: all(seen.values()))
            for value in (21.0, 22.0, 23.0, 26.0, 27.0):
                await source.put(value, wait=True)
            await wait_for(mirrored, lambda r: seen["value"][-1:] == [27.0])
            await asyncio.sleep(0.3)
        assert seen["source log"] == [20.0, 26.0]
        assert seen["log"] == seen["source log"]
        assert seen["value"] == [20.0, 21.0, 22.0, 23.0, 26.0, 27.0]
        # one event per source post, as the source's own VALUE|LOG subscriber gets (26.0
        # used to come twice: with DBE_VALUE, then again with DBE_LOG)
        assert seen["both"] == seen["source both"] == [20.0, 21.0, 22.0, 23.0, 26.0, 27.0]


async def test_monitors_of_a_mirror_get_the_events_the_source_posts(
        start_host, unique_prefix, searchable):
    """The mirror posts what the source posted, not what its own comparison of values
    finds: a heartbeat record (MDEL -1) processed with the same value posts each time,
    and a bi whose alarm alone changes posts DBE_ALARM, not DBE_VALUE."""
    db = ('record(ai, "EV:BEAT") { field(VAL, "5") field(MDEL, "-1") field(PINI, "YES") }\n'
          'record(bi, "EV:BI") { field(VAL, "0") field(ZNAM, "off") field(ONAM, "on") '
          'field(PINI, "YES") }\n')
    port = mirror_of_softioc(start_host, unique_prefix, searchable, "EV", "[BEAT, BI]")
    async with Context() as context:
        with running_softioc(db, port):
            seen: dict[str, list[object]] = {}
            channels = {}
            for name in ("BEAT", "BI"):
                channels[name] = context.channel(unique_prefix + "EV:" + name)
                await wait_for_connected_type(
                    channels[name], ChannelType.DOUBLE if name == "BEAT" else ChannelType.ENUM)
                # the source's value, not the placeholder's (a DOUBLE too, INVALID)
                await wait_for(channels[name], lambda r: r.severity == 0)
                source = await context.connect("EV:" + name, TIMEOUT)
                for key, channel in (("mirror", channels[name]), ("source", source)):
                    seen[f"{key} {name}"] = []
                    channel.subscribe(mask=DBE_VALUE).add_callback(
                        lambda reading, key=f"{key} {name}": seen[key].append(
                            (reading.value, reading.severity)))
            await wait_for(channels["BI"], lambda r: all(seen.values()))
            beat = await context.connect("EV:BEAT.PROC", TIMEOUT)
            for _ in range(3):
                await beat.put(1, wait=True)
            await (await context.connect("EV:BI.ZSV", TIMEOUT)).put("MAJOR", wait=True)
            await (await context.connect("EV:BI.PROC", TIMEOUT)).put(1, wait=True)
            await wait_for(channels["BEAT"], lambda r: len(seen["source BEAT"]) == 4)
            await wait_for(channels["BI"], lambda r: r.severity == AlarmSeverity.MAJOR)
            await asyncio.sleep(0.5)
        assert seen["source BEAT"] == [(5.0, 0)] * 4
        assert seen["mirror BEAT"] == seen["source BEAT"]     # was one: the value never moved
        assert seen["source BI"] == [(0, 0)]                   # the alarm went, no value event
        assert seen["mirror BI"] == seen["source BI"]


async def test_a_mirrored_pv_stays_under_the_access_rules_once_its_source_connects(
        start_host, unique_prefix, searchable, tmp_path):
    """The mirror builds new channel data for the source's type: they keep the gate the
    host gave the PV (a writable mirror in a read-only group is read-only to clients)."""
    rules = tmp_path / "site.acf"
    rules.write_text("ASG(DEFAULT) { RULE(1, READ) }\n")
    port = free_port()
    searchable(port)
    with ServerThread(source_pvs("SRCA:"), port=port) as source:
        start_host(f"""
            access: {{file: {rules}}}
            mounts:
              - {{name: w, ioc: mirror, prefix: '$(P)W:',
                 options: {{source_prefix: 'SRCA:', pvs: [DBL, ARR], writable: true}}}}
        """, unique_prefix)
        async with Context() as context:
            for name, native in (("DBL", ChannelType.DOUBLE), ("ARR", ChannelType.LONG)):
                channel = context.channel(unique_prefix + "W:" + name)
                await wait_for_connected_type(channel, native)
                await wait_for(channel, lambda r: r.severity == 0)   # followed: the source's
                assert channel.access == AccessRights.READ, name
                with pytest.raises(RequestFailed) as refused:
                    await channel.put(1, wait=True)
                assert refused.value.status == ECA_NOWTACCESS
            assert source.database["SRCA:DBL"].value == 1.5


async def test_a_trapped_put_through_a_writable_mirror_names_the_mirrored_pv(
        start_host, unique_prefix, searchable, tmp_path, caplog):
    rules = tmp_path / "site.acf"
    rules.write_text("ASG(DEFAULT) { RULE(1, WRITE, TRAPWRITE) }\n")
    port = free_port()
    searchable(port)
    with ServerThread(source_pvs("SRCT:"), port=port):
        start_host(f"""
            access: {{file: {rules}}}
            mounts:
              - {{name: w, ioc: mirror, prefix: '$(P)W:',
                 options: {{source_prefix: 'SRCT:', pvs: [DBL], writable: true}}}}
        """, unique_prefix)
        async with Context() as context:
            channel = context.channel(unique_prefix + "W:DBL")
            # the placeholder (a DOUBLE too) grants no write until the source is followed
            await wait_for_connected_type(channel, ChannelType.DOUBLE)
            await wait_for(channel, lambda r: r.value == 1.5 and r.severity == 0)
            await wait_for_access(channel, AccessRights.READ_WRITE)
            with caplog.at_level(logging.INFO, "iochost.access"):
                await channel.put(2.5, wait=True)
            assert f" {unique_prefix}W:DBL: 1.5 -> 2.5" in caplog.text


async def put_past_the_client_check(channel, value):
    """A put with completion sent whatever rights our client holds (it, as libca, refuses
    a put without write access itself): the mirror's server must refuse it too."""
    from iochost.client.channel import encode_put

    dbr_type, payload, count = encode_put(channel.native_type, value)
    await channel.link.write(channel, dbr_type, count, payload, True, TIMEOUT)


async def wait_for_access(channel, rights, timeout=TIMEOUT):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (channel.connected and channel.access == rights):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{channel.name}: {channel.access!r}, not {rights!r}")
        await asyncio.sleep(0.02)


async def test_a_writable_mirror_grants_write_only_as_its_source_does(
        start_host, unique_prefix, searchable):
    """A read-only source PV is read-only through the mirror (it was announced writable,
    and a put was accepted, then failed at the source); the source's changes of rights,
    its disconnection included, reach the mirror's connected clients as ACCESS_RIGHTS."""
    granted = [AccessRights.READ]
    pvs = {"SRCR:RO": ChannelDouble(value=1.0, read_only=True),
           "SRCR:RW": ChannelDouble(value=2.0),
           "SRCR:GATED": ChannelDouble(value=3.0, access_check=lambda host, user: granted[0])}
    port = free_port()
    searchable(port)
    source = ServerThread(pvs, port=port)
    source.start()
    try:
        start_host("""
            mounts:
              - {name: w, ioc: mirror, prefix: '$(P)W:',
                 options: {source_prefix: 'SRCR:', pvs: [RO, RW, GATED], writable: true}}
        """, unique_prefix)
        async with Context() as context:
            ro, rw, gated = (context.channel(unique_prefix + "W:" + name)
                             for name in ("RO", "RW", "GATED"))
            for channel, value in ((ro, 1.0), (rw, 2.0), (gated, 3.0)):
                await wait_for_connected_type(channel, ChannelType.DOUBLE)
                await wait_for(channel, lambda r, value=value: r.value == value)
            assert (ro.access, rw.access, gated.access) == \
                (AccessRights.READ, AccessRights.READ_WRITE, AccessRights.READ)
            # refused by the mirror's server as RSRV refuses it, and nothing changes
            with pytest.raises(RequestFailed) as refused:
                await put_past_the_client_check(ro, 5.0)
            assert refused.value.status == ECA_NOWTACCESS
            await rw.put(6.0, wait=True)
            assert (pvs["SRCR:RO"].value, pvs["SRCR:RW"].value) == (1.0, 6.0)
            assert (await ro.get()).value == 1.0
            # the source's rights change under connected clients of the mirror
            seen: list[AccessRights] = []
            gated.add_access_callback(lambda channel, rights: seen.append(rights))
            granted[0] = AccessRights.READ_WRITE
            assert source.call(lambda: source.server.refresh_access()) == 1
            await wait_for_access(gated, AccessRights.READ_WRITE)
            assert seen == [AccessRights.READ, AccessRights.READ_WRITE]
            await gated.put(7.0, wait=True)
            assert pvs["SRCR:GATED"].value == 7.0
            granted[0] = AccessRights.READ
            source.call(lambda: source.server.refresh_access())
            await wait_for_access(gated, AccessRights.READ)
            with pytest.raises(RequestFailed) as refused:
                await put_past_the_client_check(gated, 8.0)
            assert refused.value.status == ECA_NOWTACCESS
            assert pvs["SRCR:GATED"].value == 7.0
            # the source goes: no write through the mirror (still readable); it comes back
            source.stop()
            await wait_for_access(rw, AccessRights.READ)
            source = ServerThread(pvs, port=port)
            source.start()
            await wait_for_access(rw, AccessRights.READ_WRITE, 30)
    finally:
        source.stop()


async def test_a_writable_mirror_of_this_hosts_own_pv_follows_its_rights(
        start_host, unique_prefix, ca_server):
    """A source of this same host is read in process (no circuit, no ACCESS_RIGHTS): when
    its rights change (the server's refresh_access, as an access rules reload calls it),
    the mirror's clients see the change too."""
    granted = [AccessRights.READ]
    own = ChannelDouble(value=3.0, access_check=lambda host, user: granted[0])
    ca_server.add({unique_prefix + "OWNED": own})
    try:
        host = start_host("""
            mounts:
              - {name: m, ioc: mirror, prefix: '$(P)COPY:',
                 options: {source_prefix: '$(P)', pvs: [OWNED], writable: true}}
        """, unique_prefix)
        async with Context() as context:
            copy = context.channel(unique_prefix + "COPY:OWNED")
            await wait_for_connected_type(copy, ChannelType.DOUBLE)
            await wait_for(copy, lambda r: r.value == 3.0)
            mirrored = host.mounts["m"].ioc.mirrored[unique_prefix + "COPY:OWNED"]
            assert mirrored.source.server == "local"
            assert copy.access == AccessRights.READ
            granted[0] = AccessRights.READ_WRITE
            ca_server.call(lambda: ca_server.server.refresh_access())
            await wait_for_access(copy, AccessRights.READ_WRITE)
            await copy.put(4.0, wait=True)
            assert own.value == 4.0
            granted[0] = AccessRights.READ
            ca_server.call(lambda: ca_server.server.refresh_access())
            await wait_for_access(copy, AccessRights.READ)
    finally:
        ca_server.remove([unique_prefix + "OWNED"])


@needs_softioc
async def test_a_libca_client_of_a_mirror_sees_the_epics_iocs_access_rules(
        start_host, unique_prefix, searchable, pyepics):
    """RSRV as the source, its ACF deciding: pyepics (libca) sees no write access on the
    mirror of a read-only record, so libca refuses a put itself (ECA_NOWTACCESS: the mirror
    announced write access, and the put failed at the source); a CALC rule's input flips
    write access on RSRV, and libca's access rights handler on the mirror sees it."""
    db = ('record(ao, "AC:RO") { field(VAL, "1") field(ASG, "RO") }\n'
          'record(ao, "AC:RW") { field(VAL, "2") }\n'
          'record(ao, "AC:GATED") { field(VAL, "3") field(ASG, "GATED") }\n'
          'record(bo, "AC:EN") { field(VAL, "0") field(PINI, "YES") }\n')
    acf = ('ASG(DEFAULT) { RULE(1, WRITE) }\n'
           'ASG(RO) { RULE(1, READ) }\n'
           'ASG(GATED) { INPA("AC:EN") RULE(1, READ) RULE(1, WRITE) { CALC("A=1") } }\n')
    port = mirror_of_softioc(start_host, unique_prefix, searchable, "AC", "[RO, RW, GATED]",
                             ", writable: true")
    names = {name: unique_prefix + "AC:" + name for name in ("RO", "RW", "GATED")}
    async with Context() as context:
        mirrored = {name: context.channel(full) for name, full in names.items()}
        with running_softioc(db, port, acf=acf):
            # an ao's mirror keeps its DOUBLE placeholder: connected is not yet followed;
            # its rights are settled once the source's have reached the mirror's clients
            for name, rights in (("RO", AccessRights.READ), ("RW", AccessRights.READ_WRITE),
                                 ("GATED", AccessRights.READ)):
                await wait_for_connected_type(mirrored[name], ChannelType.DOUBLE)
                await wait_for(mirrored[name], lambda r: r.severity == AlarmSeverity.NO_ALARM)
                await wait_for_access(mirrored[name], rights)
            pvs = {name: pyepics.PV(full) for name, full in names.items()}
            try:
                for pv in pvs.values():
                    assert await asyncio.to_thread(pv.wait_for_connection, TIMEOUT)
                assert {name: pv.write_access for name, pv in pvs.items()} == \
                    {"RO": False, "RW": True, "GATED": False}
                assert all(pv.read_access for pv in pvs.values())
                with pytest.raises(pyepics.ca.CASeverityException,
                                   match="Write access denied"):
                    await asyncio.to_thread(pvs["RO"].put, 5.0, wait=True, timeout=TIMEOUT)
                source = await context.connect("AC:RO", TIMEOUT)
                assert (await source.get()).value == 1.0
                assert await asyncio.to_thread(pvs["RW"].put, 6.0, wait=True,
                                               timeout=TIMEOUT) == 1
                # RSRV's rules change under the mirror's clients (its CALC input)
                events: list[tuple[bool, bool]] = []
                pvs["GATED"].access_callbacks.append(   # libca's access rights handler
                    lambda read_access, write_access, pv: events.append((read_access,
                                                                         write_access)))
                enable = await context.connect("AC:EN", TIMEOUT)
                await enable.put(1, wait=True)
                await wait_for_access(mirrored["GATED"], AccessRights.READ_WRITE)
                await wait_for(mirrored["GATED"], lambda r: pvs["GATED"].write_access)
                assert events[-1] == (True, True)
                assert await asyncio.to_thread(pvs["GATED"].put, 7.0, wait=True,
                                               timeout=TIMEOUT) == 1
                gated = await context.connect("AC:GATED", TIMEOUT)
                assert (await gated.get()).value == 7.0
                await enable.put(0, wait=True)
                await wait_for(mirrored["GATED"], lambda r: not pvs["GATED"].write_access)
                assert events[-1] == (True, False)
            finally:
                for pv in pvs.values():
                    pv.disconnect()
