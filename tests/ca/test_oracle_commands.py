"""Oracle: caproto, an independent CA implementation, agrees with our bytes and fields.

For every command: our ``to_bytes()`` equals caproto's bytes, we decode caproto's bytes to
our message, and caproto decodes ours to the same field values.  Data-carrying commands
compare raw payload bytes.  caproto names roles by *sender*: its ``CLIENT`` role parses
requests, i.e. what our ``Role.SERVER`` parses.

Deliberate differences, where we follow the spec and EPICS' C libca/RSRV instead
(each is pinned by a test below):

1. VERSION reply: RSRV sends data_type 0 and parameter1 0 over TCP, and data_type 1 with the
   request's *sequence number* in parameter1 over UDP; caproto always sends 1 and 1.
2. The EVENT_CANCEL confirmation (command 1, no payload): caproto decodes it as an
   EventAddResponse; we decode it as EventCancelResponse.
3. ERROR message text: caproto keeps the padding NULs in ``error_message``; we stop at the
   terminating NUL, as the spec says the string is NUL-terminated.
4. EVENT_CANCEL request: caproto always writes data_count 0, libca writes the count of the
   subscription; ours carries ``data_count`` (default 0, the caproto-compatible value).
5. READ_SYNC: RSRV echoes it to the client; caproto has no client-side class for it.

The last tests talk to RSRV itself (softioc on loopback) to confirm 1, 4 and 5 and the
search reply layout.
"""
import ctypes
import enum
import socket
import struct
import warnings

import caproto
import pytest
from caproto._commands import read_datagram, read_from_bytestream
from softioc_process import running_softioc

from iochost.ca import commands as c
from iochost.ca import Role, StreamParser, parse_datagram
from iochost.ca.header import pack_header

pytestmark = pytest.mark.filterwarnings("ignore:ReadResponse was deprecated:UserWarning")
CAPROTO_ROLE = {Role.SERVER: caproto.CLIENT, Role.CLIENT: caproto.SERVER}
ADDRESS = ("127.0.0.1", 5064)
INT = b"\x00\x00\x00\x07"  # caproto pads it on the wire and trims it when decoding
PADDED_INT = INT + bytes(4)
DOUBLES = bytes(range(16))



def caproto_read_response(**fields):
    """caproto warns that READ is deprecated; the bytes are still right."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return caproto.ReadResponse(**fields)


# (ours, caproto's, receiving role, caproto attributes -> expected value after decoding ours)
ROWS = [
    (c.VersionRequest(0, 13), caproto.VersionRequest(priority=0, version=13), Role.SERVER,
     {"priority": 0, "version": 13}),
    (c.VersionRequest(1, 13), caproto.VersionRequest(priority=1, version=13), Role.SERVER,
     {"priority": 1, "version": 13}),
    (c.VersionResponse(13, sequence_id=1), caproto.VersionResponse(version=13), Role.CLIENT,
     {"version": 13}),
    (c.SearchRequest(b"IOC:ABC", 7), caproto.SearchRequest("IOC:ABC", 7, 13), Role.SERVER,
     {"name": "IOC:ABC", "cid": 7, "version": 13, "reply": caproto.NO_REPLY}),
    (c.SearchRequest(b"IOC:ABC", 7, reply=True),
     caproto.SearchRequest("IOC:ABC", 7, 13, reply=caproto.DO_REPLY), Role.SERVER,
     {"name": "IOC:ABC", "cid": 7, "reply": caproto.DO_REPLY}),
    (c.SearchResponse(5064, 7, ip="127.0.0.1"),
     caproto.SearchResponse(port=5064, ip="127.0.0.1", cid=7, version=13), Role.CLIENT,
     {"port": 5064, "ip": "127.0.0.1", "cid": 7, "version": 13}),
    (c.NotFoundResponse(13, 7), caproto.NotFoundResponse(version=13, cid=7), Role.CLIENT,
     {"version": 13, "cid": 7}),
    (c.EchoRequest(), caproto.EchoRequest(), Role.SERVER, {}),
    (c.EchoResponse(), caproto.EchoResponse(), Role.CLIENT, {}),
    (c.RsrvIsUpResponse(13, 5064, 3, "127.0.0.1"), caproto.Beacon(13, 5064, 3, "127.0.0.1"),
     Role.CLIENT, {"version": 13, "server_port": 5064, "beacon_id": 3, "address": "127.0.0.1"}),
    (c.RepeaterRegisterRequest("127.0.0.1"), caproto.RepeaterRegisterRequest("127.0.0.1"),
     Role.SERVER, {"client_address": "127.0.0.1"}),
    (c.RepeaterConfirmResponse("127.0.0.1"), caproto.RepeaterConfirmResponse("127.0.0.1"),
     Role.CLIENT, {"repeater_address": "127.0.0.1"}),
    (c.EventAddRequest(6, 1, 4, 9, 0.5, 2.0, 0.0, 5),
     caproto.EventAddRequest(6, 1, 4, 9, 0.5, 2.0, 0.0, 5), Role.SERVER,
     {"data_type": 6, "data_count": 1, "sid": 4, "subscriptionid": 9, "low": 0.5,
      "high": 2.0, "to": 0.0, "mask": 5}),
    (c.EventAddResponse(6, 2, 1, 9, DOUBLES),
     caproto.EventAddResponse(data=DOUBLES, data_type=6, data_count=2, status=1,
                              subscriptionid=9), Role.CLIENT,
     {"data_type": 6, "data_count": 2, "status": 1, "subscriptionid": 9, "payload": DOUBLES}),
    (c.EventCancelRequest(6, 4, 9), caproto.EventCancelRequest(6, 4, 9), Role.SERVER,
     {"data_type": 6, "sid": 4, "subscriptionid": 9}),
    (c.ReadRequest(6, 1, 4, 2), caproto.ReadRequest(6, 1, 4, 2), Role.SERVER,
     {"data_type": 6, "data_count": 1, "sid": 4, "ioid": 2}),
    (c.ReadResponse(6, 2, 4, 2, DOUBLES),
     caproto_read_response(data=DOUBLES, data_type=6, data_count=2, sid=4, ioid=2), Role.CLIENT,
     {"data_type": 6, "data_count": 2, "sid": 4, "ioid": 2, "payload": DOUBLES}),
    (c.WriteRequest(5, 1, 4, 2, PADDED_INT),
     caproto.WriteRequest(data=INT, data_type=5, data_count=1, sid=4, ioid=2), Role.SERVER,
     {"data_type": 5, "data_count": 1, "sid": 4, "ioid": 2, "payload": INT}),
    (c.WriteRequest(6, 70000, 4, 2, bytes(8 * 70000)),
     caproto.WriteRequest(data=bytes(8 * 70000), data_type=6, data_count=70000, sid=4, ioid=2),
     Role.SERVER, {"data_type": 6, "data_count": 70000, "payload": bytes(8 * 70000)}),
    (c.EventsOffRequest(), caproto.EventsOffRequest(), Role.SERVER, {}),
    (c.EventsOnRequest(), caproto.EventsOnRequest(), Role.SERVER, {}),
    (c.ReadSyncRequest(), caproto.ReadSyncRequest(), Role.SERVER, {}),
    (c.ErrorResponse(c.ReadNotifyRequest(6, 1, 4, 2).to_bytes(), 1, 114, "bad type"),
     caproto.ErrorResponse(caproto.ReadNotifyRequest(6, 1, 4, 2), 1, 114, "bad type"),
     Role.CLIENT, {"cid": 1, "status": 114,
                   "original_request": c.ReadNotifyRequest(6, 1, 4, 2).to_bytes()}),
    (c.ClearChannelRequest(4, 1), caproto.ClearChannelRequest(4, 1), Role.SERVER,
     {"sid": 4, "cid": 1}),
    (c.ClearChannelResponse(4, 1), caproto.ClearChannelResponse(4, 1), Role.CLIENT,
     {"sid": 4, "cid": 1}),
    (c.ReadNotifyRequest(20, 0, 4, 2), caproto.ReadNotifyRequest(20, 0, 4, 2), Role.SERVER,
     {"data_type": 20, "data_count": 0, "sid": 4, "ioid": 2}),
    (c.ReadNotifyResponse(5, 1, 1, 2, PADDED_INT),
     caproto.ReadNotifyResponse(data=INT, data_type=5, data_count=1, status=1, ioid=2),
     Role.CLIENT, {"data_type": 5, "data_count": 1, "status": 1, "ioid": 2,
                   "payload": INT}),
    (c.CreateChanRequest(b"IOC:ABC", 1, 13), caproto.CreateChanRequest("IOC:ABC", 1, 13),
     Role.SERVER, {"name": "IOC:ABC", "cid": 1, "version": 13}),
    (c.CreateChanResponse(6, 1, 1, 4), caproto.CreateChanResponse(6, 1, 1, 4), Role.CLIENT,
     {"data_type": 6, "data_count": 1, "cid": 1, "sid": 4}),
    (c.WriteNotifyRequest(6, 2, 4, 2, DOUBLES),
     caproto.WriteNotifyRequest(data=DOUBLES, data_type=6, data_count=2, sid=4, ioid=2),
     Role.SERVER, {"data_type": 6, "data_count": 2, "sid": 4, "ioid": 2, "payload": DOUBLES}),
    (c.WriteNotifyResponse(6, 1, 1, 2), caproto.WriteNotifyResponse(6, 1, 1, 2), Role.CLIENT,
     {"data_type": 6, "data_count": 1, "status": 1, "ioid": 2}),
    (c.ClientNameRequest(b"operator"), caproto.ClientNameRequest("operator"), Role.SERVER,
     {"name": "operator"}),
    (c.HostNameRequest(b"localhost"), caproto.HostNameRequest("localhost"), Role.SERVER,
     {"name": "localhost"}),
    (c.AccessRightsResponse(1, 3), caproto.AccessRightsResponse(1, 3), Role.CLIENT,
     {"cid": 1, "access_rights": 3}),
    (c.CreateChFailResponse(1), caproto.CreateChFailResponse(1), Role.CLIENT, {"cid": 1}),
    (c.ServerDisconnResponse(1), caproto.ServerDisconnResponse(1), Role.CLIENT, {"cid": 1}),
]


def normalize(value):
    """caproto's decoded field values as plain ints/bytes/str."""
    if hasattr(value, "code_with_severity"):  # CAStatusCode
        return value.code_with_severity
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, ctypes.Structure):  # a decoded header
        return bytes(value)
    return value


def caproto_decode(raw: bytes, role: Role):
    remaining, command, needed = read_from_bytestream(bytearray(raw), CAPROTO_ROLE[role])
    assert needed == 0 and len(remaining) == 0
    return command


def caproto_value(command, name):
    if name == "payload":  # raw DBR bytes: metadata buffer + data buffer
        return b"".join(bytes(buffer) for buffer in command.buffers)
    return normalize(getattr(command, name))


@pytest.mark.parametrize("ours, theirs, role, fields", ROWS,
                         ids=[type(row[0]).__name__ for row in ROWS])
def test_same_bytes_and_same_fields_both_ways(ours, theirs, role, fields):
    raw = ours.to_bytes()
    assert raw == bytes(theirs)
    assert StreamParser(role).feed(bytes(theirs)) == [ours]
    decoded = caproto_decode(raw, role)
    assert type(decoded) is type(theirs)
    assert {name: caproto_value(decoded, name) for name in fields} == fields


def test_every_message_class_is_compared_with_caproto():
    compared = {type(row[0]) for row in ROWS}
    # no caproto counterpart to compare against: see differences 2 and 5
    assert compared | {c.EventCancelResponse, c.ReadSyncResponse} == {
        getattr(c, name) for name in c.__all__ if name.endswith(("Request", "Response"))}


def test_search_datagrams_both_ways():
    ours = [c.VersionRequest(0, 13), c.SearchRequest(b"A", 1), c.SearchRequest(b"BB", 2)]
    theirs = [caproto.VersionRequest(0, 13), caproto.SearchRequest("A", 1, 13),
              caproto.SearchRequest("BB", 2, 13)]
    datagram = b"".join(bytes(m) for m in theirs)
    assert datagram == b"".join(m.to_bytes() for m in ours)
    assert parse_datagram(datagram, Role.SERVER) == ours
    decoded = read_datagram(datagram, ADDRESS, caproto.CLIENT)
    assert [type(m).__name__ for m in decoded] == [type(m).__name__ for m in ours]
    assert [m.name for m in decoded[1:]] == ["A", "BB"]


# --- the deliberate differences --------------------------------------------------------------
def test_difference_1_version_reply_fields():
    theirs = bytes(caproto.VersionResponse(13))
    assert theirs == pack_header(0, 0, 1, 13, 1, 0)  # caproto: always "sequence 1"
    assert c.VersionResponse(13).to_bytes() == pack_header(0, 0, 0, 13, 0, 0)  # RSRV over TCP
    assert c.VersionResponse(13, 42).to_bytes() == pack_header(0, 0, 1, 13, 42, 0)  # over UDP
    # caproto reads either form
    assert caproto_decode(c.VersionResponse(13).to_bytes(), Role.CLIENT).version == 13
    assert caproto_decode(c.VersionResponse(13, 42).to_bytes(), Role.CLIENT).version == 13


def test_difference_2_event_cancel_confirmation():
    ours = c.EventCancelResponse(6, 4, 9, data_count=1)
    theirs = caproto.EventCancelResponse(6, 4, 9, 1)
    assert ours.to_bytes() == bytes(theirs)
    assert type(caproto_decode(ours.to_bytes(), Role.CLIENT)).__name__ == "EventAddResponse"
    assert StreamParser(Role.CLIENT).feed(bytes(theirs)) == [ours]


def test_difference_3_error_message_stops_at_nul():
    ours = c.ErrorResponse(c.ReadNotifyRequest(6, 1, 4, 2).to_bytes(), 1, 114, "bad type")
    decoded = caproto_decode(ours.to_bytes(), Role.CLIENT)
    assert bytes(decoded.error_message).rstrip(b"\0") == b"bad type"
    assert StreamParser(Role.CLIENT).feed(ours.to_bytes())[0].error_message == "bad type"


def test_difference_4_event_cancel_request_count():
    assert bytes(caproto.EventCancelRequest(6, 4, 9)) == c.EventCancelRequest(6, 4, 9).to_bytes()
    libca_style = c.EventCancelRequest(6, 4, 9, data_count=1).to_bytes()
    assert libca_style == pack_header(2, 0, 6, 1, 4, 9)
    assert caproto_decode(libca_style, Role.SERVER).subscriptionid == 9


def test_difference_5_read_sync_echo():
    echo = c.ReadSyncResponse().to_bytes()
    assert echo == c.ReadSyncRequest().to_bytes() == bytes(caproto.ReadSyncRequest())
    with pytest.raises(caproto.RemoteProtocolError):
        caproto_decode(echo, Role.CLIENT)
    assert StreamParser(Role.CLIENT).feed(echo) == [c.ReadSyncResponse()]


# --- RSRV itself (softioc: EPICS base's C server) agrees with what we document -----------------
PV = b"IOCHOSTCA:AI"


@pytest.fixture(scope="module")
def rsrv_port():
    """softioc serving one ai record on loopback; yields its UDP (search) port."""
    with running_softioc(f'record(ai, "{PV.decode()}") {{ field(VAL, "1.5") }}\n') as port:
        yield port


def search_rsrv(port: int, sequence: int, cid: int) -> list:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(10)
        udp.sendto(c.VersionRequest.for_search(sequence).to_bytes()
                   + c.SearchRequest(PV, cid).to_bytes(), ("127.0.0.1", port))
        return parse_datagram(udp.recv(65536), Role.CLIENT)


def test_rsrv_echoes_the_search_sequence_number(rsrv_port):
    version, reply = search_rsrv(rsrv_port, sequence=42, cid=5)
    assert version == c.VersionResponse(13, sequence_id=42)
    assert reply.cid == 5 and reply.version == 13 and reply.ip == "255.255.255.255"
    assert search_rsrv(rsrv_port, sequence=43, cid=6)[0].sequence_id == 43


def test_rsrv_circuit_speaks_our_messages(rsrv_port):
    tcp_port = search_rsrv(rsrv_port, sequence=1, cid=1)[1].port
    parser = StreamParser(Role.CLIENT)
    received: list = []

    with socket.create_connection(("127.0.0.1", tcp_port), timeout=10) as tcp:
        def until(kind):
            while not any(isinstance(m, kind) for m in received):
                data = tcp.recv(65536)
                assert data, f"RSRV closed the circuit; got {received}"
                received.extend(parser.feed(data))
            return next(m for m in received if isinstance(m, kind))

        tcp.sendall(b"".join(m.to_bytes() for m in [
            c.VersionRequest(0, 13), c.HostNameRequest(b"localhost"),
            c.ClientNameRequest(b"oracle"), c.CreateChanRequest(PV, cid=1)]))
        created = until(c.CreateChanResponse)
        sid = created.sid
        assert received[:3] == [c.VersionResponse(13), c.AccessRightsResponse(1, 3),
                                c.CreateChanResponse(6, 1, 1, sid)]
        tcp.sendall(c.EventAddRequest(6, 1, sid, 77, mask=5).to_bytes())
        until(c.EventAddResponse)  # the first update, before the cancel can overtake it
        tcp.sendall(b"".join(m.to_bytes() for m in [
            c.ReadSyncRequest(), c.EventCancelRequest(6, sid, 77, data_count=1),
            c.ReadNotifyRequest(6, 1, sid, 9),
            c.EchoRequest(), c.ClearChannelRequest(sid, 1)]))
        until(c.ClearChannelResponse)

    rest = received[3:]
    value = struct.pack(">d", 1.5)
    assert c.EventAddResponse(6, 1, 1, 77, value) in rest  # status ECA_NORMAL
    assert c.ReadSyncResponse() in rest  # echoed
    assert c.EventCancelResponse(6, sid, 77, data_count=1) in rest  # count copied
    assert c.ReadNotifyResponse(6, 1, 1, 9, value) in rest
    assert c.EchoResponse() in rest
    assert rest[-1] == c.ClearChannelResponse(sid, 1)
    assert len(rest) == 6
