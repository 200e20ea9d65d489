"""However TCP cuts a client's request stream into chunks, a circuit answers it with the same
bytes: the fast paths (runs of gets and creates, the few other messages served between
them) take whole messages at a chunk's start and leave the rest -- a message cut in two
among it -- to the parser, which must join them exactly as if the stream came whole."""
import asyncio
import struct

from hypothesis import given, settings, strategies as st
from test_server_sids import _Sink

from iochost.ca import commands as ca
from iochost.ca.header import pack_header
from iochost.ca.parser import StreamParser
from iochost.pv.data import ChannelDouble
from iochost.server import Server, ServerConfig
from iochost.server.circuit import VirtualCircuit

DOUBLE = 6
NAMES = [f"CHUNK:{i}" for i in range(6)]


def _stream() -> bytes:
    """A client's whole conversation, as libca and others pipeline it."""
    creates = [ca.CreateChanRequest(name=name.encode(), cid=i + 1, version=13)
               for i, name in enumerate(NAMES)]
    creates += [ca.CreateChanRequest(name=b'CHUNK:0.{"dbnd":{"abs":0.5}}', cid=7,  # filtered
                                     version=13),
                ca.CreateChanRequest(name=b"CHUNK:NOPE", cid=8, version=13)]     # unknown
    gets = [ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=sid, ioid=100 + sid)
            for sid in (1, 2, 3, 4, 5, 6, 7)]
    messages = [
        ca.VersionRequest(priority=0, version=13), ca.HostNameRequest(name=b"chunker"),
        ca.ClientNameRequest(name=b"tester"), *creates, *gets,
        ca.WriteNotifyRequest(data_type=DOUBLE, data_count=1, sid=1, ioid=200,
                              payload=struct.pack(">d", 3.5)),
        *gets[:4],
        ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=2, subscriptionid=300, low=0,
                           high=0, to=0, mask=5),
        ca.EchoRequest(),
        ca.ClearChannelRequest(sid=3, cid=3),
        ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=3, ioid=400),  # cleared
        ca.EventCancelRequest(data_type=DOUBLE, sid=2, subscriptionid=300),
        *gets[3:],
    ]
    return b"".join(m.to_bytes() for m in messages) + pack_header(23, 0, 0, 0, 0, 0)


STREAM = _stream()


def _answers(chunks: list[bytes]) -> bytes:
    """What a fresh circuit writes for ``chunks``, given in turn, the loop running between."""
    async def run() -> bytes:
        pvdb = {name: ChannelDouble(value=float(i), precision=2) for i, name in enumerate(NAMES)}
        server = Server(pvdb, ServerConfig(interfaces=("127.0.0.1",), port=0,
                                           auto_beacon=False))
        sink = _Sink()
        circuit = VirtualCircuit(server)
        circuit.connection_made(sink)
        for chunk in chunks:
            circuit.data_received(chunk)
            await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not circuit.closed
        circuit.connection_lost(None)
        return bytes(sink.data)

    return asyncio.run(run())


WHOLE = _answers([STREAM])


def _cut(sizes: list[int]) -> list[bytes]:
    chunks, offset = [], 0
    for size in sizes:
        if offset >= len(STREAM):
            break
        chunks.append(STREAM[offset:offset + size])
        offset += size
    if offset < len(STREAM):
        chunks.append(STREAM[offset:])
    return chunks


def test_the_whole_stream_is_answered_in_full():
    parsed = StreamParser(ca.Role.CLIENT).feed(WHOLE)
    kinds = [type(m).__name__ for m in parsed]
    assert kinds.count("CreateChanResponse") == 7 and kinds.count("CreateChFailResponse") == 1
    assert kinds.count("ReadNotifyResponse") == 7 + 4 + 4 and "WriteNotifyResponse" in kinds
    assert kinds.count("EchoResponse") == 2 and kinds.count("EventCancelResponse") == 1
    assert kinds.count("ErrorResponse") == 1   # the read on the cleared channel


def test_byte_by_byte_and_message_by_message_give_the_same_answers():
    assert _answers([STREAM[i:i + 1] for i in range(len(STREAM))]) == WHOLE
    assert _answers(_cut([16] * (len(STREAM) // 16))) == WHOLE


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=180), min_size=1, max_size=60))
def test_any_chunking_gives_the_same_answers(sizes):
    assert _answers(_cut(sizes)) == WHOLE
