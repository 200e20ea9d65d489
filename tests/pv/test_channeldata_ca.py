"""Channel-data semantics seen by real CA clients over loopback (the in-process test server).

pyepics is EPICS' own libca; caproto's threading client is used where pyepics cannot send
the request (PUT_ACKS, STSACK_STRING).  The server's own protocol tests live in
``tests/server``; these check what the data layer promises.
"""
import time

import numpy as np
import pytest

from iochost.ca.dbr import DBE_ALARM, DBE_VALUE, ChannelType
from iochost.ca.eca import ECA_PUTFAIL
from iochost.pv.alarms import AlarmSeverity, AlarmStatus, ChannelAlarm
from iochost.pv.data import ChannelChar, ChannelDouble, ChannelEnum, ChannelString
from iochost.testing import wait_until




def connect(ca, name):
    chid = ca.create_channel(name, connect=False, auto_cb=False)
    assert ca.connect_channel(chid, timeout=10), name
    return chid


def test_long_string_view_over_ca(pyepics, serve_pvs):
    text = "a text longer than the forty bytes of a DBR_STRING, kept whole"
    chan = ChannelString(value=text, long_string_max_length=100)
    names = serve_pvs({"LS": chan})
    ca = pyepics.ca
    plain, long_view = connect(ca, names["LS"]), connect(ca, names["LS"] + ".$")
    assert ca.field_type(long_view) == ChannelType.CHAR
    assert ca.element_count(long_view) == 100
    assert ca.get(plain) == text[:39]
    assert ca.get(long_view, as_string=True) == text
    written = "written through NAME.$, " * 3
    ca.put(long_view, written, wait=True, timeout=10)
    assert chan.value == written
    assert ca.get(plain) == written[:39]
    for chid in (plain, long_view):
        ca.clear_channel(chid)


def test_char_string_and_enum_puts(pyepics, serve_pvs):
    char = ChannelChar(value="abc", max_length=20)
    enum = ChannelEnum(enum_strings=["Off", "On", "Auto"], value="Off")
    names = serve_pvs({"CHAR": char, "ENUM": enum})
    ca = pyepics.ca
    char_id, enum_id = connect(ca, names["CHAR"]), connect(ca, names["ENUM"])
    ca.put(char_id, "hello there", wait=True)   # libca sends the chars and a NUL
    assert char.value == "hello there"
    assert ca.get(char_id, as_string=True) == "hello there"
    # bytes with NULs inside are kept whole, as RSRV keeps them (NORD = the count sent);
    # only the NULs that end a put go
    ca.put(char_id, np.array([1, 0, 2, 0, 0], dtype=np.uint8), wait=True)
    assert char.value == "\x01\x00\x02"
    assert ca.get(char_id, count=0).tolist() == [1, 0, 2]
    ca.put(enum_id, 2, wait=True)
    assert (enum.value, ca.get(enum_id, ftype=int(ChannelType.STRING))) == ("Auto", "Auto")
    ca.put(enum_id, "On", ftype=int(ChannelType.STRING), wait=True)
    assert (enum.value, ca.get(enum_id)) == ("On", 1)
    for chid in (char_id, enum_id):
        ca.clear_channel(chid)


def test_enum_states_with_the_same_text_keep_their_index(pyepics, serve_pvs):
    """An mbbo's unused states are all '': an index put is stored as that index, as EPICS
    stores it (the string detour stored the first state with that text)."""
    enum = ChannelEnum(enum_strings=["Off", "On", "", ""], value="Off")
    name = serve_pvs({"STATES": enum})["STATES"]
    ca = pyepics.ca
    chid = connect(ca, name)
    ca.put(chid, 3, wait=True)
    assert (enum.raw_value, ca.get(chid)) == (3, 3) and enum.value == ""
    ca.put(chid, 2, wait=True)
    assert ca.get(chid) == 2
    ca.clear_channel(chid)


def test_shared_alarm_reaches_each_subscriber_once(pyepics, serve_pvs, ca_server):
    alarm = ChannelAlarm()
    volts = ChannelDouble(value=0.0, alarm=alarm, upper_alarm_limit=10.0,
                          lower_alarm_limit=-10.0)
    label = ChannelString(value="supply", alarm=alarm)
    names = serve_pvs({"VOLTS": volts, "LABEL": label})
    ca = pyepics.ca
    seen = {"VOLTS": [], "LABEL": []}
    subscriptions = []
    for key, out in seen.items():
        chid = connect(ca, names[key])
        subscriptions.append((chid, ca.create_subscription(
            chid, use_time=True, mask=DBE_ALARM | DBE_VALUE,
            callback=lambda severity=None, value=None, out=out, **kw:
            out.append((value, severity)))))
    assert wait_until(lambda: all(seen.values()))  # the initial update of each
    ca_server.call(volts.write(20.0))
    assert wait_until(lambda: len(seen["VOLTS"]) >= 2 and len(seen["LABEL"]) >= 2)
    time.sleep(0.2)  # any duplicate would have arrived by now
    assert seen["VOLTS"] == [(0.0, 0), (20.0, AlarmSeverity.MAJOR)]
    assert seen["LABEL"] == [("supply", 0), ("supply", AlarmSeverity.MAJOR)]
    for chid, (_, _, event_id) in subscriptions:
        ca.clear_subscription(event_id)
        ca.clear_channel(chid)


def test_acknowledge_over_ca(caproto_context, serve_pvs):
    chan = ChannelDouble(value=0.0, upper_alarm_limit=1.0, lower_alarm_limit=-1.0)
    names = serve_pvs({"ACK": chan})
    pv, = caproto_context.get_pvs(names["ACK"])
    pv.wait_for_connection(timeout=10)
    pv.write([5.0], wait=True)
    pv.write([0.0], wait=True)
    reading = pv.read(data_type=ChannelType.STSACK_STRING)
    assert (reading.metadata.status, reading.metadata.severity) == (0, 0)
    assert (reading.metadata.ackt, reading.metadata.acks) == (1, AlarmSeverity.MAJOR)
    pv.write([AlarmSeverity.MAJOR], data_type=ChannelType.PUT_ACKS, wait=True)
    assert chan.alarm.severity_to_acknowledge == AlarmSeverity.NO_ALARM
    pv.write([0], data_type=ChannelType.PUT_ACKT, wait=True)
    assert chan.alarm.must_acknowledge_transient is False
    assert chan.status == AlarmStatus.NO_ALARM


@pytest.mark.parametrize("value, data_type, status", [
    (100.0, ChannelType.DOUBLE, ECA_PUTFAIL),    # outside the control limits
    (b"text", ChannelType.STRING, ECA_PUTFAIL),    # no conversion: PUTFAIL, as RSRV
])
def test_refused_puts_answer_with_their_eca(caproto_context, serve_pvs, value, data_type,
                                            status):
    chan = ChannelDouble(value=1.0, lower_ctrl_limit=0.0, upper_ctrl_limit=10.0)
    names = serve_pvs({"LIM": chan})
    pv, = caproto_context.get_pvs(names["LIM"])
    pv.wait_for_connection(timeout=10)
    response = pv.write(value if isinstance(value, list) else [value], data_type=data_type,
                        wait=True)
    assert response.header.parameter1 == status
    assert chan.value == 1.0
