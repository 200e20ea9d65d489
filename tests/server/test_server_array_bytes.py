"""EPICS_CA_AUTO_ARRAY_BYTES / EPICS_CA_MAX_ARRAY_BYTES, as RSRV in EPICS 7 (issue 18).

By default (AUTO_ARRAY_BYTES=YES) the server has no fixed cap: a 16 MB image is served to
pyepics (EPICS' libca) and to caproto's client.  Only with AUTO_ARRAY_BYTES=NO does
MAX_ARRAY_BYTES cap replies; a reply refused for its size is then RSRV's ERROR (ECA_TOLARGE,
the request, RSRV's text), checked against softioc with the same settings.

Client side: libca 7 honours EPICS_CA_AUTO_ARRAY_BYTES as well (default YES: it sizes its
receive buffers itself; checked by hand with a 32 MB array and nothing set -- pyepics then
sets EPICS_CA_MAX_ARRAY_BYTES to 16 MiB, which libca ignores -- while AUTO_ARRAY_BYTES=NO
made that read time out).  The session's libca has EPICS_CA_MAX_ARRAY_BYTES=100,000,000
from tests/conftest.py and AUTO_ARRAY_BYTES unset.  caproto's client has no limit.
"""
import importlib.util
import socket
import time

import numpy as np
import pytest
from ca_raw_client import RawCircuit
from softioc_process import running_softioc

from iochost.ca import commands as ca
from iochost.ca import eca, packers
from iochost.ca.dbr import ChannelType
from iochost.pv.data import ChannelDouble, ChannelInteger
from iochost.server import ServerConfig
from iochost.testing import ServerThread

IMAGE_SIDE = 2048  # 2048 x 2048 LONG pixels: 16 MiB
IMAGE = (np.arange(IMAGE_SIDE * IMAGE_SIDE, dtype=np.int32) * 7) % 100_003


@pytest.fixture(scope="module")
def image_pv(ca_server):
    name = f"ARRAYBYTES:{time.monotonic_ns()}:IMAGE"
    ca_server.add({name: ChannelInteger(value=IMAGE, max_length=IMAGE.size)})
    yield name
    ca_server.remove([name])


def test_the_session_server_has_no_fixed_cap(ca_server):
    # conftest sets EPICS_CA_MAX_ARRAY_BYTES for the clients; with AUTO_ARRAY_BYTES unset
    # (YES) the server ignores it, as RSRV does.
    assert ServerConfig.from_env({"EPICS_CA_MAX_ARRAY_BYTES": "16384"}).max_array_bytes is None
    assert ca_server.server.config.max_array_bytes is None


def test_pyepics_reads_a_16_mb_image(pyepics, image_pv):
    ca = pyepics.ca
    chid = ca.create_channel(image_pv, connect=True, auto_cb=False)
    assert ca.connect_channel(chid, timeout=10)
    assert ca.element_count(chid) == IMAGE.size
    value = ca.get(chid, timeout=20)
    assert value.nbytes == 16 * 1024 * 1024 and np.array_equal(value, IMAGE)
    ca.clear_channel(chid)


def test_caproto_client_reads_a_16_mb_image(caproto_context, image_pv):
    from caproto import ChannelType as CT

    [pv] = caproto_context.get_pvs(image_pv, timeout=10)
    pv.wait_for_connection(timeout=10)
    response = pv.read(timeout=20)
    assert np.array_equal(response.data, IMAGE)
    response = pv.read(data_type=CT.TIME_LONG, timeout=20)  # with metadata: extended header
    assert np.array_equal(response.data, IMAGE) and response.metadata.timestamp > 0


# -- a fixed cap (AUTO_ARRAY_BYTES=NO): refusals are RSRV's ----------------------------------
CAPPED = {"EPICS_CA_AUTO_ARRAY_BYTES": "NO", "EPICS_CA_MAX_ARRAY_BYTES": "16384"}
WF_COUNT = 10_000  # 80 kB of DOUBLEs: over the cap


def refusal(port: int, name: bytes) -> list:
    """Read (and subscribe to) a waveform over the cap; the replies, masked for comparison:
    (command, status, the request's header, RSRV's text up to its byte count)."""
    with RawCircuit(port) as raw:
        sid = raw.create_channel(name.decode())[1].sid
        raw.send(ca.ReadNotifyRequest(data_type=ChannelType.DOUBLE, data_count=0, sid=sid,
                                      ioid=7),
                 ca.ReadNotifyRequest(data_type=ChannelType.TIME_DOUBLE, data_count=WF_COUNT,
                                      sid=sid, ioid=8),
                 ca.EventAddRequest(data_type=ChannelType.DOUBLE, data_count=0, sid=sid,
                                    subscriptionid=9, mask=1),
                 ca.ReadNotifyRequest(data_type=ChannelType.DOUBLE, data_count=100, sid=sid,
                                      ioid=10))
        errors = [raw.recv_until(lambda m: isinstance(m, ca.ErrorResponse)) for _ in range(3)]
        small = raw.recv_until(lambda m: isinstance(m, ca.ReadNotifyResponse))
        assert (small.status, small.data_count) == (eca.ECA_NORMAL, 100)  # under the cap: served
    masked = []
    for error in errors:
        original = error.original_header
        masked.append((error.status, original.command, original.data_type,
                       original.data_count, original.parameter2,
                       # RSRV's text, up to the byte count (its buffer size, ours differ)
                       error.error_message.split(" max bytes=")[0]))
    return masked


@pytest.mark.skipif(importlib.util.find_spec("softioc") is None, reason="softioc not installed")
def test_a_refusal_for_size_is_rsrvs_error(unique_prefix):
    name = (unique_prefix + "WF").encode()
    db = (f'record(waveform, "{name.decode()}") {{ field(FTVL, "DOUBLE") '
          f'field(NELM, "{WF_COUNT}") }}\n')
    with running_softioc(db, extra_env=CAPPED) as rsrv_port:
        theirs = refusal(rsrv_port, name)
    config = ServerConfig.from_env(CAPPED, interfaces=("127.0.0.1",), port=0,
                                   auto_beacon=False)
    assert config.max_array_bytes == 16384
    channel = ChannelDouble(value=np.zeros(WF_COUNT))
    with ServerThread({name.decode(): channel}, config=config) as server:
        mine = refusal(server.tcp_port, name)
    assert mine == theirs
    assert [entry[:2] for entry in mine] == [(eca.ECA_TOLARGE, 15), (eca.ECA_TOLARGE, 15),
                                             (eca.ECA_TOLARGE, 1)]


def test_a_client_that_does_not_read_big_replies_cannot_make_us_buffer_them(ca_server,
                                                                              unique_prefix):
    """Without a cap, memory stays bounded by the flow control: once a circuit's replies
    fill its transport, the rest of its pipelined requests wait (unread) until it drains;
    then every one is answered, in order."""
    name = unique_prefix + "FLOW"
    values = np.arange(1_000_000, dtype=np.float64)  # 8 MB per reply
    ca_server.add({name: ChannelDouble(value=values)})
    try:
        with RawCircuit(ca_server.tcp_port) as raw:
            raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
            sid = raw.create_channel(name)[1].sid
            requests = 40  # 320 MB if they were all buffered
            raw.sock.sendall(b"".join(
                packers.read_notify_request(ChannelType.DOUBLE, 0, sid, ioid)
                for ioid in range(requests)))
            time.sleep(1.0)  # we do not read
            [circuit] = [c for c in list(ca_server.server.circuits)
                         if c.peer[1] == raw.sock.getsockname()[1]]
            held = circuit.transport.get_write_buffer_size() + sum(map(len, circuit._out))
            assert held < 64 * 1024 * 1024, held
            assert circuit._deferred  # the rest waits, unanswered
            ioids = []
            while len(ioids) < requests:
                reply = raw.recv_until(lambda m: isinstance(m, ca.ReadNotifyResponse),
                                       timeout=20)
                assert reply.status == eca.ECA_NORMAL and reply.data_count == values.size
                ioids.append(reply.ioid)
            assert ioids == list(range(requests))
    finally:
        ca_server.remove([name])
