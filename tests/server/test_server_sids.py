"""Server IDs: one counter per circuit that wraps at 2**32 and skips the SIDs still in use,
on both the bulk CREATE_CHAN path (a run of exact names) and the general one (a field)."""
from iochost.ca import packers
from iochost.ca.parser import Role, StreamParser
from iochost.ca.codes import CA_PROTO_CREATE_CHAN
from iochost.pv.data import ChannelDouble
from iochost.server import PVDatabase, Server, ServerConfig
from iochost.server.circuit import VirtualCircuit


class _Sink:
    """The circuit's transport: keeps what the server writes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def write(self, data):
        self.data += data

    def writelines(self, chunks):
        for chunk in chunks:
            self.data += chunk

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def abort(self):
        pass

    def close(self):
        pass


def _created(sink: _Sink) -> list[tuple[int, int]]:
    """(cid, sid) of every CREATE_CHAN reply written so far."""
    parser = StreamParser(Role.CLIENT, 1 << 20)
    return [(header[4], header[5]) for header, _ in parser.feed_raw(bytes(sink.data))
            if header[0] == CA_PROTO_CREATE_CHAN]


async def test_sids_wrap_around_and_skip_live_ones():
    database = PVDatabase({f"SID:{i}": ChannelDouble(value=0.0) for i in range(5)})
    circuit = VirtualCircuit(Server(database, ServerConfig.from_env()))
    sink = _Sink()
    circuit.connection_made(sink)  # type: ignore[arg-type]
    circuit.data_received(packers.version_request() + packers.host_name_request(b"h")
                          + packers.client_name_request(b"u"))
    circuit._next_sid = 0xFFFFFFFE
    circuit.data_received(b"".join(packers.create_chan_request(f"SID:{i}".encode(), i)
                                   for i in range(3)))          # bulk: wraps to 0
    circuit._next_sid = 0xFFFFFFFF                              # live, and so is 0
    circuit.data_received(packers.create_chan_request(b"SID:3", 3))
    circuit._next_sid = 0xFFFFFFFE                              # live: general path skips
    circuit.data_received(packers.create_chan_request(b"SID:4.VAL", 4))
    circuit._flush()
    assert _created(sink) == [(0, 0xFFFFFFFE), (1, 0xFFFFFFFF), (2, 0), (3, 1), (4, 2)]
    assert {sid: ch.name for sid, ch in circuit.channels.items()} == {
        0xFFFFFFFE: "SID:0", 0xFFFFFFFF: "SID:1", 0: "SID:2", 1: "SID:3", 2: "SID:4.VAL"}
