"""The hot-path packers (iochost.ca.packers) and plain-int codes (iochost.ca.codes) agree with
the message classes and the DBR tables: one protocol, whichever way a message is built."""
from __future__ import annotations

from pathlib import Path

import pytest

from iochost.ca import codes, commands, eca, packers
from iochost.ca.codes import ADDRESS_OF_SENDER, DO_REPLY, DONT_REPLY, Command
from iochost.ca.dbr import ChannelType
from iochost.ca.dbr_layouts import WIRE_DTYPES
from iochost.ca.parser import Role, parse_datagram

PAYLOAD = bytes(range(13))  # not a multiple of 8: the padding is checked too

CASES = [
    # (packer bytes, message class bytes)
    (packers.version_reply(), commands.VersionResponse(13).to_bytes()),
    (packers.search_version_reply(None), commands.VersionResponse(13).to_bytes()),
    (packers.search_version_reply(77), commands.VersionResponse(13, 77).to_bytes()),
    (packers.search_reply(5064, 9), commands.SearchResponse(5064, 9).to_bytes()),
    (packers.SEARCH_REPLY_STRUCT.pack(*packers.search_reply_parts(5064)[:1], 9,
                                      packers.search_reply_parts(5064)[1]),
     commands.SearchResponse(5064, 9).to_bytes()),
    (packers.not_found_reply(13, 9), commands.NotFoundResponse(13, 9).to_bytes()),
    (packers.beacon(5064, 3), commands.RsrvIsUpResponse(13, 5064, 3).to_bytes()),
    (packers.beacon(65535, 2**32 + 3), commands.RsrvIsUpResponse(13, 65535, 3).to_bytes()),
    (packers.access_rights_reply(4, 3), commands.AccessRightsResponse(4, 3).to_bytes()),
    (packers.create_chan_reply(4, 5, 6, 70000, 1),
     commands.AccessRightsResponse(4, 1).to_bytes()
     + commands.CreateChanResponse(6, 70000, 4, 5).to_bytes()),
    (packers.create_chan_reply(4, 5, 6, 1, 3),
     commands.AccessRightsResponse(4, 3).to_bytes()
     + commands.CreateChanResponse(6, 1, 4, 5).to_bytes()),
    (packers.create_ch_fail_reply(4), commands.CreateChFailResponse(4).to_bytes()),
    (packers.clear_channel_reply(5, 4), commands.ClearChannelResponse(5, 4).to_bytes()),
    (packers.server_disconn_reply(4), commands.ServerDisconnResponse(4).to_bytes()),
    (packers.read_notify_header(16, 20, 1, 1, 8) + PAYLOAD + bytes(3),
     commands.ReadNotifyResponse(20, 1, 1, 8, PAYLOAD).to_bytes()),
    (packers.read_notify_header(800_000, 6, 100_000, 1, 8),
     commands.ReadNotifyResponse(6, 100_000, 1, 8, bytes(800_000)).to_bytes()[:24]),
    (packers.read_header(16, 20, 1, 4, 8) + PAYLOAD + bytes(3),
     commands.ReadResponse(20, 1, 4, 8, PAYLOAD).to_bytes()),
    (packers.event_add_header(16, 20, 1, 1, 8) + PAYLOAD + bytes(3),
     commands.EventAddResponse(20, 1, 1, 8, PAYLOAD).to_bytes()),
    (packers.data_reply(Command.EVENT_ADD, 20, 1, 1, 8, PAYLOAD),
     commands.EventAddResponse(20, 1, 1, 8, PAYLOAD).to_bytes()),
    (packers.event_cancel_reply(20, 3, 5, 8),
     commands.EventCancelResponse(20, 5, 8, 3).to_bytes()),
    (packers.write_notify_reply(6, 1, 160, 8),
     commands.WriteNotifyResponse(6, 1, 160, 8).to_bytes()),
    (packers.error_reply(commands.ReadNotifyRequest(6, 1, 5, 8).to_bytes(), 4, 160, b"PV:X"),
     commands.ErrorResponse(commands.ReadNotifyRequest(6, 1, 5, 8).to_bytes(), 4, 160,
                            "PV:X").to_bytes()),
    (packers.read_sync_reply(), commands.ReadSyncResponse().to_bytes()),
    (packers.echo(), commands.EchoResponse().to_bytes()),
    (packers.version_request(1), commands.VersionRequest(1, 13).to_bytes()),
    (packers.search_version_request(77), commands.VersionRequest.for_search(77).to_bytes()),
    (packers.search_request(b"IOC:ABC", 7), commands.SearchRequest(b"IOC:ABC", 7).to_bytes()),
    (packers.search_request(b"IOC:ABCDEFG", 7, DO_REPLY),
     commands.SearchRequest(b"IOC:ABCDEFG", 7, reply=True).to_bytes()),
    (packers.create_chan_request(b"IOC:ABC", 7),
     commands.CreateChanRequest(b"IOC:ABC", 7).to_bytes()),
    (packers.client_name_request(b"ann"), commands.ClientNameRequest(b"ann").to_bytes()),
    (packers.client_name_request(b""), commands.ClientNameRequest(b"").to_bytes()),
    (packers.host_name_request(b"box"), commands.HostNameRequest(b"box").to_bytes()),
    (packers.read_notify_request(20, 0, 5, 8), commands.ReadNotifyRequest(20, 0, 5, 8).to_bytes()),
    (packers.read_notify_request(6, 70000, 5, 8),
     commands.ReadNotifyRequest(6, 70000, 5, 8).to_bytes()),
    (packers.write_request(6, 1, 5, 8, PAYLOAD),
     commands.WriteRequest(6, 1, 5, 8, PAYLOAD).to_bytes()),
    (packers.write_notify_request(6, 1, 5, 8, PAYLOAD),
     commands.WriteNotifyRequest(6, 1, 5, 8, PAYLOAD).to_bytes()),
    (packers.event_add_request(20, 1, 5, 8, 5),
     commands.EventAddRequest(20, 1, 5, 8, mask=5).to_bytes()),
    (packers.event_cancel_request(20, 1, 5, 8),
     commands.EventCancelRequest(20, 5, 8, 1).to_bytes()),
    (packers.clear_channel_request(5, 4), commands.ClearChannelRequest(5, 4).to_bytes()),
    (packers.events_off_request(), commands.EventsOffRequest().to_bytes()),
    (packers.events_on_request(), commands.EventsOnRequest().to_bytes()),
]


@pytest.mark.parametrize("packed, expected", CASES)
def test_packer_is_byte_identical_to_its_message_class(packed: bytes, expected: bytes) -> None:
    assert packed == expected
    assert len(packed) % 8 == 0


def test_every_packer_is_covered() -> None:
    source = Path(__file__).read_text()
    untested = [name for name in packers.__all__ if f"packers.{name}(" not in source
                and f"packers.{name}." not in source]
    assert not untested


def test_tcp_search_reply_decodes_as_a_search_response_without_version() -> None:
    [message] = parse_datagram(packers.tcp_search_reply(5064, 9), Role.CLIENT)
    assert message == commands.SearchResponse(5064, 9, version=0)
    assert ADDRESS_OF_SENDER == 0xFFFFFFFF and DONT_REPLY != DO_REPLY


def test_command_enum_is_the_plain_int_codes() -> None:
    for member in Command:
        assert getattr(codes, f"CA_PROTO_{member.name}") == member
        assert type(getattr(codes, f"CA_PROTO_{member.name}")) is int
    assert len(Command) == 28


def test_sizes_and_type_bounds_agree_with_the_dbr_tables() -> None:
    assert tuple(WIRE_DTYPES[ChannelType(i)].itemsize for i in range(7)) == codes.ELEMENT_SIZES
    assert max(ChannelType) == codes.LAST_DBR_TYPE
    assert codes.DBE_ANY == 0x0F


def test_eca_codes_are_plain_distinct_ints_with_texts() -> None:
    names = [name for name in eca.__all__ if name.startswith("ECA_")]
    values = [getattr(eca, name) for name in names]
    assert len(names) == 61 and len(set(values)) == 61
    assert all(type(value) is int for value in values)
    assert eca.ECA_NORMAL == 1 and eca.ECA_TOLARGE == 72 and eca.ECA_PUTFAIL == 160
    assert all(not eca.eca_message(value).startswith("unknown") for value in values)
    assert eca.eca_name(eca.ECA_BADCHID) == "ECA_BADCHID"
    assert eca.EcaStatus.ECA_BADCHID == eca.ECA_BADCHID
