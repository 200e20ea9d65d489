"""One TCP virtual circuit: a client's channels, subscriptions and outgoing byte stream.

Design, for speed and fairness:

* an :class:`asyncio.Protocol` (no streams); ``StreamParser.feed_raw`` splits the input into
  ``(header, payload)`` pairs and a table dispatches them by command to one ``_on_<command>``
  method each, no message objects.  Replies are packed by one method per reply kind
  (``_read_notify_reply``, ``_read_notify_failed``, ``_read_reply``, ``_write_notify_done``,
  ...) with :mod:`iochost.ca.packers`; requests that share checks (reads, writes) pass the
  reply methods of their kind down instead of a flag;
* a run of plain gets (header-only READ_NOTIFYs, which is how libca pipelines them) is
  answered by :meth:`VirtualCircuit._serve_gets` without any of that: numpy parses the run
  and assembles the replies of each stretch of one type and size; a run of CREATE_CHANs
  of exactly served names (a client connecting many channels) likewise by
  :meth:`VirtualCircuit._serve_creates`;
* every reply is appended to one list; the replies to one ``data_received`` leave in one
  write at its end, and monitor updates that keep streaming at most once per millisecond;
  before appending anything, a circuit has the server's batcher (:mod:`.batch`) deliver
  the monitor updates it queued, which keeps the output in post order;
* writes run inline and in order per channel (see :mod:`.writes`);
* flow control: when the transport's buffer passes the high-water mark (``pause_writing``),
  or the client sent EVENTS_OFF, subscription updates go to a per-circuit backlog holding the
  newest update per subscription (older ones are replaced: coalesced, never the newest
  dropped); reading from the client pauses too, so a client that does not read cannot make
  us buffer its replies without bound.  The backlog drains when writing resumes.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import socket
import struct
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import numpy as np
from iochost.ca import packers
from iochost.ca.codes import (ACCESS_READ, ACCESS_WRITE, CA_PROTO_ACCESS_RIGHTS,
                              CA_PROTO_CLEAR_CHANNEL, CA_PROTO_CLIENT_NAME,
                              CA_PROTO_CREATE_CHAN, CA_PROTO_ECHO,
                              CA_PROTO_EVENT_ADD, CA_PROTO_EVENT_CANCEL, CA_PROTO_EVENTS_OFF,
                              CA_PROTO_EVENTS_ON, CA_PROTO_HOST_NAME, CA_PROTO_READ,
                              CA_PROTO_READ_NOTIFY, CA_PROTO_READ_SYNC, CA_PROTO_SEARCH,
                              CA_PROTO_VERSION, CA_PROTO_WRITE, CA_PROTO_WRITE_NOTIFY, DBE_ALARM,
                              DBE_LOG, DBE_VALUE,
                              DO_REPLY, ELEMENT_SIZES, LAST_DBR_TYPE, MAX_PRIORITY,
                              MIN_CLIENT_VERSION, UNKNOWN_CID, Command)
from iochost.ca.parser import Role
from iochost.ca.dbr import payload_size
from iochost.ca.dbr_layouts import LAYOUTS
from iochost.ca.dbr_types import ChannelType
from iochost.ca.eca import (ECA_ADDFAIL, ECA_BADCHID, ECA_BADMASK, ECA_BADMONID,
                            ECA_BADTYPE, ECA_GETFAIL, ECA_INTERNAL, ECA_NORDACCESS, ECA_NORMAL,
                            ECA_NOWTACCESS, ECA_PUTFAIL, ECA_TOLARGE, eca_message, get_refusal)
from iochost.ca.errors import CaProtocolError, CaStatusError
from iochost.ca.header import HEADER_STRUCT, Header, pack_header
from iochost.ca.parser import StreamParser

from .subscription import Subscription
from .writes import ChannelWriter

if TYPE_CHECKING:
    from .server import Server

__all__ = ["VirtualCircuit", "CircuitChannel", "WriteDone"]

#: A request's payload as the parser hands it out.
Payload = bytes | memoryview
#: The reply functions of one read kind: data ``(channel, header, body, count sent)``, and
#: failure ``(channel, header, ECA status)``.
ReadReply = Callable[["CircuitChannel", Header, bytes, int], None]
ReadFailed = Callable[["CircuitChannel", Header, int], None]
#: The reply function of one write kind, called when the write finished: ``(channel, header,
#: ECA status, why the channel refused the value or None)``.
WriteDone = Callable[["CircuitChannel", Header, int, "str | None"], None]

logger = logging.getLogger("iochost.server")

#: How many server-disconnected SIDs a circuit remembers to ignore late requests on.
MAX_REMEMBERED_DISCONNECTS = 65536
_SMALL = 0xFFFF
_JOIN_BELOW = 1 << 16
#: Requests handled between two writes when a client pipelines many (CREATE_CHANs, gets).
REPLY_BATCH = 256
#: Scalar gets of a pipelined run answered in one batch (see _serve_gets).
SCALAR_GETS = 1024
#: messages of other kinds served one by one between fast runs in one chunk (beyond that,
#: the general path takes the rest: a mixed pipeline is not copied again and again)
FAST_PATH_STEPS = 4
#: While monitor updates stream, a circuit sends them at most this often (seconds).
EVENT_FLUSH_INTERVAL = 0.001
_ZEROS8 = bytes(8)
_MASK = struct.Struct(">H")
_DOUBLE, _PUT_ACKT = int(ChannelType.DOUBLE), int(ChannelType.PUT_ACKT)
_pack = HEADER_STRUCT.pack
_GET_MARK = bytes([CA_PROTO_READ_NOTIFY])
_CREATE_MARK = CA_PROTO_CREATE_CHAN.to_bytes(2, "big")
_unpack_header = HEADER_STRUCT.unpack_from
#: The first 32-bit words of an ACCESS_RIGHTS and of a CREATE_CHAN reply (command, size 0).
_ACCESS_RIGHTS_WORD = CA_PROTO_ACCESS_RIGHTS << 16
_CREATE_CHAN_WORD = CA_PROTO_CREATE_CHAN << 16
_GET = np.dtype([("command", ">u2"), ("size", ">u2"), ("type", ">u2"), ("count", ">u2"),
                 ("sid", ">u4"), ("ioid", ">u4")])


@functools.lru_cache(maxsize=64)
def _get_reply_dtype(size: int) -> np.dtype:
    """A READ_NOTIFY reply with a ``size``-byte body: command/size, type/count, status
    (one ``>u4`` each), ioid, body."""
    return np.dtype([("head", ">u4", 3), ("ioid", ">u4"), ("body", f"V{size}")])


def _name_bytes(payload: bytes | memoryview) -> bytes:
    """A requested name as it arrived: the payload up to its first NUL."""
    if type(payload) is not bytes:
        payload = bytes(payload)
    end = payload.find(b"\0")
    return payload if end < 0 else payload[:end]


def _zeroed_payload(header: Header) -> bytes:
    """The data of a failed read or subscription reply: zeros of the size the request asked
    for (``dbr_size_n``; for count 0, the type's fields without a value), as RSRV fills it."""
    try:
        return bytes(payload_size(header[2], header[3]))
    except CaStatusError:  # a type outside the DBR table
        return _ZEROS8


def _decode_name(payload: bytes | memoryview) -> str:
    """A client or host name from its payload (bytes that are not UTF-8 kept as surrogates:
    the rules compare names byte for byte, as base does)."""
    return _name_bytes(payload).decode("utf-8", "surrogateescape")


class _NoSubscriptions(dict):  # type: ignore[type-arg]
    """The subscriptions of every channel that has none, one shared empty dict (most
    channels of a big connect never get one): it refuses additions, and the circuit gives
    a channel a dict of its own at its first subscription."""

    __slots__ = ()

    def _refuse(self, *args: Any) -> None:
        raise TypeError("a channel's first subscription needs a dict of its own")

    __setitem__ = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]


NO_SUBSCRIPTIONS: dict[int, Subscription] = _NoSubscriptions()


def _current(data: Any, sub: Subscription) -> bytes | None:
    """What ``sub`` would get from ``data`` now, as stored (None: it cannot be read)."""
    try:
        return bytes(data.read_dbr(sub.dbr_type, sub.count)[0])
    except Exception:
        return None


def _would_post(sub: Subscription, old: bytes | None, new: bytes | None) -> bool:
    """Whether a subscriber whose data went from ``old`` to ``new`` hears of it, as a post
    would tell it: a value subscriber when anything differs, an alarm-only one when the
    status or severity does (the first 4 bytes of a DBR with them), a property-only one
    never (metadata did not change: ``_interchangeable``). Unknown (None): it hears."""
    if old is None or new is None:
        return True
    if old == new:
        return False
    if sub.mask & (DBE_VALUE | DBE_LOG):
        return True
    return bool(sub.mask & DBE_ALARM) and sub.dbr_type > 6 and old[:4] != new[:4]


def _fast_reader(channel: CircuitChannel) -> Callable[[int, int], tuple[bytes, int]] | None:
    """What the hot read paths call for ``channel``: its data's ``read_dbr`` when readable
    without awaiting, else None."""
    data = channel.data
    return data.read_dbr if channel.rights & ACCESS_READ and not data.needs_async_read \
        else None


class CircuitChannel:
    """A channel a client created on this circuit (its SID maps here).

    Built once per CREATE_CHAN (a hot path when clients connect many channels): no object
    of its own beyond itself until it is used -- its subscriptions are NO_SUBSCRIPTIONS and
    its ``fast_read`` is found at its first read.  The access rights change only through
    ``VirtualCircuit.update_access``.
    """

    __slots__ = ("circuit", "cid", "sid", "name", "key", "data", "rights", "subscriptions",
                 "writer", "max_length", "fast_read")

    def __init__(self, circuit: VirtualCircuit, cid: int, sid: int, name: str, key: str,
                 data: Any, rights: int, max_length: int):
        self.circuit = circuit
        self.cid = cid
        self.sid = sid
        self.name = name
        self.key = key  # the database entry it resolved through (removal disconnects it)
        self.data = data
        #: The client's access rights (AccessRights bits) on this channel.
        self.rights = rights
        #: ``_fast_reader(self)``, or None until the first read (and when there is none)
        self.fast_read: Callable[[int, int], tuple[bytes, int]] | None = None
        self.max_length = max_length  # data.max_length, which the caller has just read
        self.subscriptions: dict[int, Subscription] = NO_SUBSCRIPTIONS
        self.writer: ChannelWriter | None = None  # created at the first write


class VirtualCircuit(asyncio.Protocol):
    """Server side of one client's TCP connection."""

    def __init__(self, server: Server):
        self.server = server
        self.database = server.database
        self._stats = server.counters
        self._batcher = server.batcher
        #: this circuit's index in the batcher's table (set by ``Server.circuit_opened``)
        self.ordinal = -1
        self._max_payload = server.max_payload
        #: Replies below this size take the 16-byte header and are within the cap.
        self._small_reply = min(_SMALL, self._max_payload + 1)
        self._max_padding = server.max_padding
        self._high_water = server.config.write_high_water
        self._loop = asyncio.get_running_loop()
        self._parser = StreamParser(Role.SERVER, self._max_payload)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("?", 0)
        self.host = ""
        self.user = ""
        self.priority = 0
        self.client_version = 0
        self.channels: dict[int, CircuitChannel] = {}
        #: open channels counted by their access rights bits (0 none, 1 read, 2 write,
        #: 3 read-write): the web's per-client summary, kept here so that it costs a
        #: snapshot nothing per channel
        self.channels_by_rights = [0, 0, 0, 0]
        self._gone: dict[int, bool] = {}  # SIDs we disconnected (SERVER_DISCONN), oldest first
        self._next_sid = 1
        self._out: list[bytes | memoryview] = []
        self._out_bytes = 0
        self._flush_pending = False
        self._last_flush = 0.0
        self._paused = False
        self._events_on = True
        self.backlog: dict[Subscription, tuple[bytes, int]] = {}
        self.closed = False
        #: Stop handling requests: the circuit closed, or its replies fill the transport
        #: (then the rest of the chunk waits in ``_deferred`` until writing resumes).
        self._hold = False
        self._deferred: list[tuple[Header, Payload]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        # Introspection counters (see .introspection): plain attribute increments on the hot
        # paths; read only when somebody asks for a snapshot.
        self.client_id = 0  # set by Server.circuit_opened
        self.connected_at = time.time()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.updates_sent = 0
        self._handlers: dict[int, Callable[[Any, Any], None]] = {
            CA_PROTO_VERSION: self._on_version,
            CA_PROTO_EVENT_ADD: self._on_event_add,
            CA_PROTO_EVENT_CANCEL: self._on_event_cancel,
            CA_PROTO_READ: self._on_read,
            CA_PROTO_WRITE: self._on_write,
            CA_PROTO_SEARCH: self._on_search,
            CA_PROTO_EVENTS_OFF: self._on_events_off,
            CA_PROTO_EVENTS_ON: self._on_events_on,
            CA_PROTO_READ_SYNC: self._on_read_sync,
            CA_PROTO_CLEAR_CHANNEL: self._on_clear_channel,
            CA_PROTO_READ_NOTIFY: self._on_read_notify,
            CA_PROTO_CREATE_CHAN: self._on_create_chan,
            CA_PROTO_WRITE_NOTIFY: self._on_write_notify,
            CA_PROTO_CLIENT_NAME: self._on_client_name,
            CA_PROTO_HOST_NAME: self._on_host_name,
            CA_PROTO_ECHO: self._on_echo,
        }

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer = (peer[0], peer[1])
        # as RSRV: the host is what the client claims (none: ""), or, with
        # use_host_names off (asCheckClientIP), its address
        self.host = "" if self.server.config.use_host_names else peer[0]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # as RSRV: replies leave at once, and keepalive probes find a client whose host
            # vanished (crashed, unplugged), so its circuit, channels and subscriptions go
            # instead of lingering for the life of the host
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass
        self.transport.set_write_buffer_limits(high=self._high_water)  # type: ignore[union-attr]
        self.server.circuit_opened(self)
        self._queue(packers.version_reply())

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        # Replies to this whole chunk leave in one write, at the end (even if a delayed
        # flush of monitor updates is pending: a request's reply is never held back).
        self._flush_pending = True
        if not (self._deferred or self._hold or self._parser.buffered):
            data = self._serve_fast(data)
            if self.closed:
                return
            if not data:
                self._flush()
                return
            # the rest as usual (kept in _deferred if writing paused)
        try:
            messages = self._parser.feed_raw(data)
        except CaProtocolError as exc:
            self.abort(str(exc))
            return
        if self._deferred or self._hold:  # still waiting to serve an earlier chunk
            self._deferred.extend(messages)
        else:
            self._serve(messages)
        if self.closed:
            return
        # An incomplete message that started in this chunk: judge its command now rather
        # than wait (perhaps forever) for a payload that garbage announced.
        pending = self._parser.buffered
        if 2 <= pending <= len(data):
            command = data[-pending] << 8 | data[1 - pending]
            if command not in self._handlers:
                self.abort(f"unexpected CA command {command}")
                return
        self._flush()

    def _serve_fast(self, data: bytes) -> bytes:
        """Serve the runs of gets and creates of a chunk by the fast paths; return the rest.

        Up to FAST_PATH_STEPS messages of another kind between runs (a circuit's first
        chunk from libca is VERSION, HOST_NAME and CLIENT_NAME, then as many CREATE_CHANs
        as fitted) are served one by one by the general path, so the run behind them is
        fast too; the rest is left to the general path at the first one more.
        """
        steps = 0
        while data and not self._hold:
            served = self._serve_gets(data) or self._serve_creates(data)
            if not served:
                if steps == FAST_PATH_STEPS or len(data) < 16:
                    break
                size = data[2] << 8 | data[3]
                served = 16 + size
                if size == _SMALL or served > len(data):  # extended or incomplete
                    break
                steps += 1
                try:
                    messages = self._parser.feed_raw(data[:served])
                except CaProtocolError as exc:
                    self.abort(str(exc))
                    return b""
                self._serve(messages)
                if self.closed:
                    return b""
            data = data[served:]
        return data

    def _serve(self, messages: list[tuple[Header, Payload]]) -> None:
        """Handle requests in order, flushing every REPLY_BATCH; stop when the circuit
        closes, or keep the rest in ``_deferred`` when the replies fill the transport."""
        handlers = self._handlers
        try:
            for start in range(0, len(messages), REPLY_BATCH):
                if start:  # a big pipeline: let the client start on the first replies
                    self._flush_now()
                    if self._hold:
                        self._defer(messages[start:])
                        return
                batch = messages[start:start + REPLY_BATCH]
                for header, payload in batch:
                    handler = handlers.get(header[0])
                    if handler is None or header[1] & 7:
                        self._refuse(header)
                        return
                    handler(header, payload)
                    if self._hold:  # (each header is its own tuple: found by identity)
                        done = next(i for i, item in enumerate(batch) if item[0] is header)
                        self._defer(batch[done + 1:] + messages[start + REPLY_BATCH:])
                        return
        except CaProtocolError as exc:  # (the earlier requests' replies still leave)
            self.close_after_replies(str(exc))
        except Exception:
            logger.exception("closing circuit from %s:%d: internal error", *self.peer)
            self.abort(None)

    def _serve_gets(self, data: bytes) -> int:
        """Serve the run of plain gets a chunk starts with; return how many bytes.

        A pipelined get is a header-only READ_NOTIFY, 16 bytes, so such a run is found by
        looking at every 16th byte (C loops), parsed by numpy and answered without a
        parser ``Header``, a dispatch or a ``struct`` call per get: 30 % of the general
        path's CPU.  Anything unusual (another command, an unknown SID, a failing read, a
        big reply) ends the run there, and the general path takes the rest of the chunk,
        from that message on.
        """
        end = len(data) & ~15
        # the run's length: how many 16-byte blocks start with 00 0F 00 00 (command, size)
        n = end >> 4
        n -= max(len(data[0:end:16].lstrip(b"\0")), len(data[1:end:16].lstrip(_GET_MARK)),
                 len(data[2:end:16].lstrip(b"\0")), len(data[3:end:16].lstrip(b"\0")))
        if n < 4:
            return 0
        gets = np.frombuffer(data, _GET, n)
        counts = gets["count"]
        served = unflushed = 0
        while served < n and not self._hold:
            # numpy's cost is per batch: scalars (count 1, replies of at most ~440 bytes) go
            # SCALAR_GETS at a time, others (arrays) REPLY_BATCH
            batch = SCALAR_GETS if counts[served] == 1 else REPLY_BATCH
            done = self._serve_get_batch(gets[served:served + batch])
            if not done:
                break
            served += done
            unflushed += done
            if unflushed >= REPLY_BATCH and served < n:  # replies leave in batches, as _serve
                self._flush_now()
                unflushed = 0
        return served << 4

    def _serve_creates(self, data: bytes) -> int:
        """Serve the run of CREATE_CHANs of exactly served names a chunk starts with (how a
        client connecting many channels pipelines them); return how many bytes.

        Each is handled as :meth:`_on_create_chan` would, without a parser ``Header``, a
        dispatch or a ``struct`` call per request: the replies of up to REPLY_BATCH are
        packed in one call.  Anything else -- another command, an old client's request, a
        name that is not an exact entry (a field, a filter, an unknown name), an access check
        that raises, an element count that needs the extended header -- ends the run there,
        and the general path takes the rest of the chunk from that message on.
        """
        if data[:2] != _CREATE_MARK:
            return 0
        entries = self.database.exact_entries()
        unpack, find = _unpack_header, data.find
        channels, by_rights = self.channels, self.channels_by_rights
        host, user = self.host, self.user
        end = len(data)
        offset: int = 0
        words: list[int] = []
        while offset + 16 <= end:
            command, size, _type, _count, cid, version = unpack(data, offset)
            start = offset + 16
            following = start + size
            if command != CA_PROTO_CREATE_CHAN or size & 7 or size == _SMALL \
                    or following > end or version < MIN_CLIENT_VERSION:
                break
            nul = find(b"\0", start, following)
            try:
                key = data[start:following if nul < 0 else nul].decode()
            except UnicodeDecodeError:
                break
            served = entries.get(key)
            if served is None:
                break
            count = served.max_length
            if count >= _SMALL:
                break
            try:
                rights = int(served.check_access(host, user))
            except Exception:
                break
            sid = self._next_sid
            if sid in channels:  # only once SIDs have wrapped around 2**32
                sid = self._allocate_sid()
            else:
                self._next_sid = (sid + 1) & 0xFFFFFFFF
            channels[sid] = CircuitChannel(self, cid, sid, key, key, served, rights, count)
            by_rights[rights & 3] += 1
            # packers.create_chan_reply's two headers, as 32-bit words
            words += (_ACCESS_RIGHTS_WORD, 0, cid, rights, _CREATE_CHAN_WORD,
                      served.native_type << 16 | count, cid, sid)
            offset = following
            if len(words) >= 8 * REPLY_BATCH:  # replies leave in batches, as _serve's
                self._append_words(words)
                words = []
                self._flush_now()
                if self._hold:
                    return offset
        if words:
            self._append_words(words)
        return offset

    def _append_words(self, words: list[int]) -> None:
        """Queue replies given as their big-endian 32-bit words (one struct call)."""
        if self._batcher.pending:
            self._batcher.deliver()
        packed = struct.pack(f">{len(words)}I", *words)
        self._out.append(packed)
        self._out_bytes += len(packed)

    def _serve_get_batch(self, gets: np.ndarray) -> int:
        """Reply to the gets of ``gets`` up to the first of another type or count, or one
        the general path must answer; return how many were answered.  The replies are
        assembled by numpy from their bodies, which must all have the first one's size
        and element count (as gets of one type and count of scalars do)."""
        types, counts = gets["type"], gets["count"]
        dbr_type, count = int(types[0]), int(counts[0])
        other = np.flatnonzero((types != dbr_type) | (counts != count))
        if len(other):  # up to the first get of another type or count
            gets = gets[:other[0]]
        channels = self.channels
        bodies: list[bytes] = []
        add = bodies.append
        size = sent = -1
        for sid in gets["sid"].tolist():
            channel = channels.get(sid)
            if channel is None:
                break
            read = channel.fast_read
            if read is None:
                read = channel.fast_read = _fast_reader(channel)
            if read is None or count > channel.max_length:
                break
            try:
                body, got = read(dbr_type, count)
            except Exception:  # the general path answers it as it should
                break
            if len(body) != size or got != sent:
                # (an empty body, an empty array's, has no numpy field: the general path)
                if bodies or not body or len(body) >= self._small_reply or got >= _SMALL:
                    break
                size, sent = len(body), got
            add(body)
        done = len(bodies)
        if done:
            replies = np.empty(done, _get_reply_dtype(size))
            replies["head"] = (CA_PROTO_READ_NOTIFY << 16 | size, dbr_type << 16 | sent,
                               ECA_NORMAL)
            replies["ioid"] = gets["ioid"][:done]
            replies["body"] = np.frombuffer(b"".join(bodies), replies.dtype["body"])
            if self._batcher.pending:
                self._batcher.deliver()
            self._out.append(replies.tobytes())
            self._out_bytes += replies.nbytes
        return done

    def _defer(self, messages: list[tuple[Header, Payload]]) -> None:
        """Keep requests until writing resumes (nothing, if the circuit closed)."""
        if not self.closed:
            self._deferred = messages

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = self._hold = True
        self._out.clear()
        self._deferred = []
        self.backlog.clear()
        for task in self._tasks:  # reads and first monitor updates nobody will receive
            task.cancel()
        for channel in self.channels.values():
            self._release(channel)
        self.channels.clear()
        # No cycle may hold a closed circuit: the heap is frozen at every reload
        # (freeze_heap), and a frozen cycle is never collected. The handler table's bound
        # methods were one; reference counting frees the circuit now.
        self._handlers = {}
        self.server.circuit_closed(self)

    def pause_writing(self) -> None:
        self._paused = self._hold = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = self._hold = False
        if self.closed:
            return
        # subscription updates first: serving the held-back requests may fill the pipe
        # again, and a client that keeps it full would hear none (at most one per
        # subscription is waiting, so this is bounded)
        self._drain_backlog()
        if self._deferred:  # requests held back while the transport was full
            messages, self._deferred = self._deferred, []
            self._flush_pending = True
            self._serve(messages)
            self._flush()
            if self.closed:
                return
        if self.transport is not None and not self._paused:
            self.transport.resume_reading()
        self._drain_backlog()

    # -- output ------------------------------------------------------------------------------
    def _queue(self, data: bytes) -> None:
        if self._batcher.pending:  # queued monitor updates were posted first: they go first
            self._batcher.deliver()
        self._out.append(data)
        self._out_bytes += len(data)
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._batcher.pending:  # what was posted before this write goes with it
            self._batcher.deliver()
        self._flush_pending = False
        out = self._out
        if not out or self.closed:
            return
        self._last_flush = self._loop.time()
        self._out = []
        size = self._out_bytes
        self.bytes_sent += size
        self._out_bytes = 0
        if size < _JOIN_BELOW:  # one small buffer beats many: join is cheap here
            self.transport.write(b"".join(out))  # type: ignore[union-attr]
        else:  # big payloads are not copied into a joined buffer
            self.transport.writelines(out)  # type: ignore[union-attr]
        if self.backlog:
            self._drain_backlog()

    def _flush_now(self) -> None:
        """Write the replies queued so far now, in the middle of a chunk: a big pipeline
        lets the client start on the first ones, and replies past the high-water mark go
        before more pile up, so that the transport's flow control (``pause_writing``) stops
        further requests (memory per circuit stays bounded by a batch of replies)."""
        pending = self._flush_pending
        self._flush()
        self._flush_pending = pending  # inside data_received its closing flush still comes

    def send_event(self, sub: Subscription, update: tuple[bytes, int]) -> None:
        """Deliver one subscription update now, or coalesce it while congested."""
        if self.closed:
            return
        if self._batcher.pending:
            self._batcher.deliver()
        backlog = self.backlog
        if backlog or self._paused or not self._events_on or self._out_bytes > self._high_water:
            # One pending update per subscription: a newer one replaces (drops) the older,
            # never the reverse.  So the backlog is bounded by the subscriptions, and the
            # bytes it holds are shared with every other subscriber of the same update.
            if sub in backlog:
                self._stats["events_coalesced"] += 1
            backlog[sub] = update
            return
        payload, count = update
        size = len(payload)
        out = self._out
        # sub.message_header(size, count), inlined: this runs once per update per subscriber
        if sub.header_size == size and sub.header_count == count:
            out.append(sub.header)
        else:
            out.append(sub.message_header(size, count))
        out.append(payload)
        self._out_bytes += 16 + size
        self.updates_sent += 1
        if not self._flush_pending:
            self._schedule_event_flush()

    def take_events(self, chunk: memoryview, count: int) -> bool:
        """``count`` monitor updates built by the batcher, unless congested (False: the
        caller hands them to :meth:`send_event` one by one, to be coalesced)."""
        if self.backlog or self._paused or not self._events_on or \
                self._out_bytes + len(chunk) > self._high_water:
            return False
        self._out.append(chunk)
        self._out_bytes += len(chunk)
        self.updates_sent += count
        if not self._flush_pending:
            self._schedule_event_flush()
        return True

    def _schedule_event_flush(self) -> None:
        """Flush monitor updates soon, but at most once per EVENT_FLUSH_INTERVAL while they
        keep coming: a flat-out poster then costs one send per interval, not per update."""
        self._flush_pending = True
        loop = self._loop
        delay = self._last_flush + EVENT_FLUSH_INTERVAL - loop.time()
        if delay > 0:
            loop.call_later(delay, self._flush)
        else:
            loop.call_soon(self._flush)

    def _drain_backlog(self) -> None:
        backlog = self.backlog
        if self.closed:
            backlog.clear()
            return
        if self._batcher.pending:
            self._batcher.deliver()
        out = self._out
        high_water = self._high_water
        while backlog and not self._paused and self._events_on and self._out_bytes <= high_water:
            sub = next(iter(backlog))
            payload, count = backlog.pop(sub)
            out.append(sub.message_header(len(payload), count))
            out.append(payload)
            self._out_bytes += 16 + len(payload)
            self.updates_sent += 1
        if out and not self._flush_pending:
            self._schedule_event_flush()

    def abort(self, reason: str | None) -> None:
        """Drop this circuit at once (the peer broke the protocol); queued replies are lost.
        ``reason`` is logged (None: already logged)."""
        if self._shut_down(reason) and self.transport is not None:
            self.transport.abort()
        self.connection_lost(None)

    def close_after_replies(self, reason: str) -> None:
        """Send what is queued (the ERROR that explains why, say), then close the circuit."""
        if self._shut_down(reason) and self.transport is not None:
            self._flush()
            self.transport.close()
        self.connection_lost(None)

    def _shut_down(self, reason: str | None) -> bool:
        """Log and count a closing by us; False if the circuit is closed already."""
        self._hold = True
        if self.closed:
            return False
        if reason is not None:
            logger.warning("closing circuit from %s:%d (host %r, user %r): %s",
                           self.peer[0], self.peer[1], self.host, self.user, reason)
        self._stats["circuits_aborted"] += 1
        return True

    def _invalid_type(self, header: Header, channel: CircuitChannel) -> None:
        """A request for a DBR type outside 0..LAST_DBR_TYPE: RSRV drops the circuit (after
        what is queued, the request's own reply included where RSRV sends one)."""
        self.close_after_replies(f"{Command(header[0]).name} of {channel.name!r} with "
                                 f"invalid DBR type {header[2]}")

    def _refuse(self, header: Header) -> None:
        """A command a server does not take (unknown, obsolete, or a reply's), or a payload
        not padded to a multiple of 8 bytes: as RSRV, an ERROR saying which, then the
        circuit closes."""
        if header[0] in self._handlers:
            self._send_error(header, UNKNOWN_CID, ECA_INTERNAL,
                             "CAS: Missaligned protocol rejected")
            self.close_after_replies(f"payload of {header[1]} bytes, not padded to 8")
            return
        self._send_error(header, UNKNOWN_CID, ECA_INTERNAL,
                         "invalid (damaged?) request code from TCP")
        self.close_after_replies(f"unexpected CA command {header[0]}")

    def _send_error(self, header: Header, cid: int, status: int, text: str | None = None) -> None:
        """An ERROR carrying the offending request's header; RSRV's text is the PV
        name when the request names a channel, so callers pass ``channel.name``."""
        original = pack_header(header.command, header.payload_size, header.data_type,
                               header.data_count, header.parameter1, header.parameter2)
        message = (text or eca_message(status)).encode("latin-1", "replace")
        self._queue(packers.error_reply(original, cid, status, message))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- handshake and housekeeping --------------------------------------------------------
    def _on_version(self, header: Header, payload: Payload) -> None:
        if header[2] > MAX_PRIORITY or header[3] < MIN_CLIENT_VERSION:
            # as RSRV: a priority beyond 0..99, or a client older than v4.4, is dropped
            self.close_after_replies(f"VERSION with priority {header[2]}, minor version "
                                     f"{header[3]}: not served")
            return
        self.priority = header.data_type
        self.client_version = header.data_count

    def _on_echo(self, header: Header, payload: Payload) -> None:
        # Echoed as received, payload included, as RSRV does.
        self._queue(pack_header(*header) + bytes(payload))

    def _on_read_sync(self, header: Header, payload: Payload) -> None:
        # its header fields echoed, as RSRV does (libca's are all zero)
        self._queue(pack_header(header.command, 0, *header[2:]))

    def _on_client_name(self, header: Header, payload: Payload) -> None:
        if self._identity_fixed(header, "user"):
            return
        self.user = _decode_name(payload)

    def _on_host_name(self, header: Header, payload: Payload) -> None:
        if self._identity_fixed(header, "host"):
            return
        if not self.server.config.use_host_names:
            return  # as RSRV with asCheckClientIP: the peer's address stays the host
        self.host = _decode_name(payload)

    def _identity_fixed(self, header: Header, what: str) -> bool:
        """As RSRV: once a channel exists, the client's names (which its access rights were
        computed from) can no longer change; the attempt is refused with an ERROR."""
        if not self.channels:
            return False
        self._send_error(header, UNKNOWN_CID, ECA_INTERNAL,
                         f"attempts to use protocol to set {what} name after creating first "
                         f"channel ignored by server")
        return True

    def _on_search(self, header: Header, payload: Payload) -> None:
        """SEARCH over TCP (a name-server client asking this circuit)."""
        cid = header.parameter1
        if self.database.resolve_bytes(_name_bytes(payload)) is not None:
            # Over TCP RSRV sends the header alone (no minor-version payload).
            self._queue(packers.tcp_search_reply(self.server.tcp_port, cid))
        elif header.data_type == DO_REPLY:
            self._queue(packers.not_found_reply(header.data_count, cid))

    # -- channels ------------------------------------------------------------------------------
    def _on_create_chan(self, header: Header, payload: Payload) -> None:
        if header[5] < MIN_CLIENT_VERSION:  # its minor version: as RSRV, not served
            self.close_after_replies(f"CREATE_CHAN from minor version {header[5]}: not served")
            return
        cid = header[4]
        raw = _name_bytes(payload)
        found = self.database.resolve_bytes(raw) if raw else None
        if found is None:
            self._queue(packers.create_ch_fail_reply(cid))
            return
        name, key, data = found
        try:
            rights = int(data.check_access(self.host, self.user))
        except Exception:
            logger.exception("access check of %r failed; denying access", name)
            rights = 0
        sid = self._allocate_sid()
        channel = CircuitChannel(self, cid, sid, name, key, data, rights, data.max_length)
        self.channels[sid] = channel
        self.channels_by_rights[rights & 3] += 1
        self._queue(packers.create_chan_reply(cid, sid, data.native_type, channel.max_length,
                                              rights))

    def _allocate_sid(self) -> int:
        """The next free 32-bit SID (a counter; wraps only after 2**32, skipping live ones)."""
        sid = self._next_sid
        channels = self.channels
        while sid in channels:
            sid = (sid + 1) & 0xFFFFFFFF
        self._next_sid = (sid + 1) & 0xFFFFFFFF
        return sid

    def _on_clear_channel(self, header: Header, payload: Payload) -> None:
        sid, cid = header.parameter1, header.parameter2
        channel = self.channels.pop(sid, None)
        if channel is None:
            if self._gone.pop(sid, False):
                self._queue(packers.clear_channel_reply(sid, cid))
            else:
                self._send_error(header, UNKNOWN_CID, ECA_BADCHID)
            return
        self._release(channel)
        self._queue(packers.clear_channel_reply(sid, cid, header[2], header[3]))

    def _release(self, channel: CircuitChannel) -> None:
        """Drop a channel's subscriptions (it was taken out of ``channels``)."""
        self.channels_by_rights[channel.rights & 3] -= 1
        server = self.server
        backlog = self.backlog
        for sub in channel.subscriptions.values():
            backlog.pop(sub, None)
            server.unsubscribe(sub)
        channel.subscriptions.clear()
        # Queued writes stay: they were received, so they are applied (replies are dropped).
        # The writer holds them (its task, while it works); the channel lets go of it, as
        # the two would otherwise be a cycle holding the circuit (see connection_lost).
        channel.writer = None

    def _unknown_sid(self, header: Header, sid: int) -> None:
        """A request names a SID we do not have: ERROR BADCHID, unless we disconnected that
        channel ourselves -- the client may have sent the request before it learnt that (libca
        flushes queued requests after SERVER_DISCONN and treats BADCHID as fatal)."""
        if sid not in self._gone:
            self._send_error(header, UNKNOWN_CID, ECA_BADCHID)

    def server_disconnect(self, channel: CircuitChannel) -> None:
        """The PV behind ``channel`` went away: tell the client (it will search again)."""
        if self.channels.pop(channel.sid, None) is None:
            return
        gone = self._gone
        gone[channel.sid] = True
        if len(gone) > MAX_REMEMBERED_DISCONNECTS:
            del gone[next(iter(gone))]
        self._release(channel)
        if not self.closed:
            self._queue(packers.server_disconn_reply(channel.cid))

    # -- reads ----------------------------------------------------------------------------------
    def _on_read_notify(self, header: Header, payload: Payload) -> None:
        """READ_NOTIFY (a get), the hottest request: a readable channel read without awaiting
        for at most its own element count goes straight to the reply; anything else takes
        :meth:`_read_checked`.  Failures travel back in the reply's status."""
        try:
            channel = self.channels[header[4]]
        except KeyError:
            self._unknown_sid(header, header[4])
            return
        read = channel.fast_read
        if read is None:
            read = channel.fast_read = _fast_reader(channel)
        if read is None or header[3] > channel.max_length:
            if header[2] > LAST_DBR_TYPE:  # RSRV drops the circuit, no reply
                self._invalid_type(header, channel)
            else:
                self._read_checked(channel, header, self._read_notify_reply,
                                   self._read_notify_failed)
            return
        try:
            body, sent = read(header[2], header[3])
        except Exception as exc:  # (an invalid type lands here: the hot path tests nothing)
            if header[2] > LAST_DBR_TYPE:
                self._invalid_type(header, channel)
            else:
                self._read_notify_failed(channel, header, self._read_failure(channel, exc))
            return
        size = len(body)
        if size < self._small_reply and sent < _SMALL:
            # _read_notify_reply's common case, unrolled: a million gets a second pay for
            # every call and attribute look-up (only data_received calls this, and flushes)
            if self._batcher.pending:
                self._batcher.deliver()
            out = self._out
            out.append(_pack(CA_PROTO_READ_NOTIFY, size, header[2], sent, ECA_NORMAL, header[5]))
            out.append(body)
            self._out_bytes += 16 + size
        else:
            self._read_notify_reply(channel, header, body, sent)

    def _on_read(self, header: Header, payload: Payload) -> None:
        """The deprecated READ: no status field, so failures are ERROR messages."""
        channel = self.channels.get(header[4])
        if channel is None:
            self._unknown_sid(header, header[4])
            return
        if header[2] > LAST_DBR_TYPE:  # RSRV: an ERROR, then it drops the circuit
            self._read_failed(channel, header, ECA_BADTYPE)
            self._invalid_type(header, channel)
            return
        self._read_checked(channel, header,
                           self._read_reply if header[3] else self._read_head_reply,
                           self._read_failed)

    def _read_checked(self, channel: CircuitChannel, header: Header, reply: ReadReply,
                      failed: ReadFailed) -> None:
        """A read with every check: access, a count beyond the channel's, an (asynchronous)
        getter; answered with ``reply`` or ``failed`` (the reply functions of its kind)."""
        data_type, count = header[2], header[3]
        if count > channel.max_length and self._too_large(channel, data_type, count):
            self._too_large_error(channel, header)
        elif not channel.rights & ACCESS_READ:
            failed(channel, header, ECA_NORDACCESS)
        elif channel.data.needs_async_read:
            self._spawn(self._read_async(channel, header, reply, failed))
        else:
            try:
                body, sent = channel.data.read_dbr(data_type, count)
            except Exception as exc:
                failed(channel, header, self._read_failure(channel, exc))
                return
            reply(channel, header, body, sent)

    async def _read_async(self, channel: CircuitChannel, header: Header, reply: ReadReply,
                          failed: ReadFailed) -> None:
        """A read of a channel that needs an (asynchronous) getter."""
        try:
            body, sent = await channel.data.aread_dbr(header[2], header[3])
        except Exception as exc:
            failed(channel, header, self._read_failure(channel, exc))
            return
        reply(channel, header, body, sent)

    @staticmethod
    def _read_failure(channel: CircuitChannel, exc: Exception) -> int:
        """The ECA status a failed read reports (an unexpected error is logged first)."""
        if isinstance(exc, CaStatusError):
            return get_refusal(exc.status)
        logger.error("reading %r failed", channel.name, exc_info=exc)
        return ECA_GETFAIL

    def _too_large(self, channel: CircuitChannel, data_type: int, count: int) -> bool:
        """Would a read of ``count`` elements, more than ``channel`` has, be too large?  RSRV
        pads such reads with zeros; asked before encoding, so that a request for 2**32
        elements never allocates: too large beyond the fixed cap (EPICS_CA_MAX_ARRAY_BYTES
        with EPICS_CA_AUTO_ARRAY_BYTES=NO), or for more than ``max_padding`` zero bytes."""
        native = data_type % 7 if data_type <= 34 else 0  # STSACK_STRING, CLASS_NAME: text
        size = ELEMENT_SIZES[native]
        return (count * size > self._max_payload
                or (count - channel.max_length) * size > self._max_padding)

    def _too_large_error(self, channel: CircuitChannel, header: Header) -> None:
        """A read (or a subscription's first update) that cannot be sent for its size: as
        RSRV, an ERROR (ECA_TOLARGE) carrying the request and RSRV's text -- not a reply
        with zeroed data, which a client would take for (short) data."""
        what = ("read response" if header[0] == CA_PROTO_READ
                else "read (or subscription update) response")
        self._send_error(header, channel.cid, ECA_TOLARGE,
                         f'server unable to load {what} into protocol buffer '
                         f'PV="{channel.name}" dbf={header[2]} '
                         f'count={header[3] or channel.max_length} avail={header[5]} '
                         f'max bytes={self._max_payload}')

    # -- read replies: one function per reply kind ------------------------------------------------
    def _read_notify_reply(self, channel: CircuitChannel, header: Header, body: bytes,
                           sent: int) -> None:
        """READ_NOTIFY's data reply (ECA_NORMAL), or its TOLARGE failure."""
        size = len(body)
        if self._batcher.pending:
            self._batcher.deliver()
        out = self._out
        if size < _SMALL and sent < _SMALL and size <= self._max_payload:
            out.append(_pack(CA_PROTO_READ_NOTIFY, size, header[2], sent, ECA_NORMAL, header[5]))
        elif size > self._max_payload:
            self._too_large_error(channel, header)
            return
        else:
            out.append(packers.read_notify_header(size, header[2], sent, ECA_NORMAL, header[5]))
        out.append(body)
        self._out_bytes += 16 + size
        if self._out_bytes > self._high_water:
            self._flush_now()
        elif not self._flush_pending:  # not inside data_received (an asynchronous read)
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _read_notify_failed(self, channel: CircuitChannel, header: Header, status: int) -> None:
        """READ_NOTIFY failed: the status travels in the reply, with zeroed data of the size
        asked for, as RSRV sends it (clients may decode it: caproto's does)."""
        zeros = _zeroed_payload(header)
        self._queue(packers.read_notify_header(len(zeros), header[2], header[3], status,
                                               header[5]) + zeros)

    def _read_reply(self, channel: CircuitChannel, header: Header, body: bytes,
                    sent: int) -> None:
        """READ's data reply; RSRV puts the channel's CID (not the SID the spec names) in
        parameter 1."""
        if len(body) > self._max_payload:
            self._too_large_error(channel, header)
            return
        self._queue(packers.read_header(len(body), header[2], sent, channel.cid, header[5]))
        self._queue(body)
        if self._out_bytes > self._high_water:
            self._flush_now()

    def _read_head_reply(self, channel: CircuitChannel, header: Header, body: bytes,
                         sent: int) -> None:
        """READ of count 0: as RSRV (``dbr_size_n(type, 0)``), the type's metadata without
        a value, count 0 (READ_NOTIFY's count 0 means the current length; READ's does not)."""
        head = body[:LAYOUTS[header[2]].prefix_size]
        self._read_reply(channel, header, head + bytes(-len(head) % 8), 0)

    def _read_failed(self, channel: CircuitChannel, header: Header, status: int) -> None:
        """READ failed: an ERROR naming the channel (READ has no status field)."""
        self._send_error(header, channel.cid, status, channel.name)

    # -- writes -----------------------------------------------------------------------------------
    def _on_write(self, header: Header, payload: Payload) -> None:
        self._write(header, payload, self._write_done)

    def _on_write_notify(self, header: Header, payload: Payload) -> None:
        self._write(header, payload, self._write_notify_done)

    def _write(self, header: Header, payload: Payload, done: WriteDone) -> None:
        """Check a WRITE / WRITE_NOTIFY and hand it to the channel's writer, which applies
        it in order and then calls ``done`` (the reply function of its kind)."""
        channel = self.channels.get(header[4])
        if channel is None:
            self._unknown_sid(header, header[4])
            return
        if header[2] > LAST_DBR_TYPE:  # RSRV: the reply of the kind (BADTYPE), then it drops
            done(channel, header, ECA_BADTYPE, None)  # the circuit
            self._invalid_type(header, channel)
            return
        if not channel.rights & ACCESS_WRITE:
            done(channel, header, ECA_NOWTACCESS, None)
            return
        if header[0] == CA_PROTO_WRITE_NOTIFY and _DOUBLE < header[2] < _PUT_ACKT:
            # RSRV's put callback takes the plain types (and PUT_ACK*) only: a STS, TIME,
            # GR or CTRL put fails there, where a plain WRITE of one stores its value
            done(channel, header, ECA_PUTFAIL, None)
            return
        writer = channel.writer
        if writer is None:
            writer = channel.writer = ChannelWriter(self, channel)
        writer.submit(header, payload, done)

    def _write_done(self, channel: CircuitChannel, header: Header, status: int,
                    text: str | None = None) -> None:
        """A plain WRITE finished: no reply, unless it failed (then an ERROR, as RSRV).
        RSRV's ERROR text for a failed WRITE is the PV name; ``text`` (why the channel
        refused it) is added after the name when given, so libca's exception handler prints
        the reason."""
        if status != ECA_NORMAL and not self.closed:
            self._send_error(header, channel.cid, status,
                             f"{channel.name}: {text}" if text else channel.name)

    def _write_notify_done(self, channel: CircuitChannel, header: Header, status: int,
                           text: str | None = None) -> None:
        """A WRITE_NOTIFY finished: its reply carries the status (a code, nothing more)."""
        if not self.closed:
            self._queue(packers.write_notify_reply(header[2], header[3], status, header[5]))

    # -- subscriptions ----------------------------------------------------------------------------
    def _on_event_add(self, header: Header, payload: Payload) -> None:
        channel = self.channels.get(header.parameter1)
        if channel is None:
            self._unknown_sid(header, header.parameter1)
            return
        if header[2] > LAST_DBR_TYPE:  # RSRV drops the circuit, no reply
            self._invalid_type(header, channel)
            return
        if len(payload) < 14:
            raise CaProtocolError(f"EVENT_ADD with a {len(payload)}-byte payload (needs 16)")
        mask = _MASK.unpack_from(payload, 12)[0]
        subscriptionid = header.parameter2
        if not 0 < mask <= 0xFF:  # RSRV's db_add_event takes 1..255 (bits beyond DBE_* unused)
            self._send_error(header, channel.cid, ECA_BADMASK, channel.name)
            return
        data_type, count = header.data_type, header.data_count
        subscriptions = channel.subscriptions
        if subscriptions is NO_SUBSCRIPTIONS:
            subscriptions = channel.subscriptions = {}
        previous = subscriptions.pop(subscriptionid, None)
        if previous is not None:  # a re-used id replaces the old subscription
            self.backlog.pop(previous, None)
            self.server.unsubscribe(previous)
        if count > channel.max_length and self._too_large(channel, data_type, count):
            self._too_large_error(channel, header)
            return
        sub = Subscription(self, channel, subscriptionid, data_type, count, mask)
        if not channel.rights & ACCESS_READ:
            # As RSRV: the subscription exists but stays disabled (not fanned out to) until
            # read access is granted; the client hears NORDACCESS now.
            subscriptions[subscriptionid] = sub
            self._event_failed(header, ECA_NORDACCESS)
            return
        data = channel.data
        try:
            # the value as stored, also of a PV with a getter: as RSRV (which does not
            # process the record) and caproto's server send it (running the getter here
            # delayed the first update by the getter's time, and sent it twice)
            update = data.read_dbr(data_type, count)
        except CaStatusError as exc:
            self._event_failed(header, get_refusal(exc.status))
            return
        except Exception:
            logger.exception("reading %r for a new subscription failed", channel.name)
            self._event_failed(header, ECA_ADDFAIL)
            return
        if len(update[0]) > self._max_payload:
            self._too_large_error(channel, header)
            return
        subscriptions[subscriptionid] = sub
        self.server.subscribe(sub)
        self.send_event(sub, update)

    def _send_current(self, sub: Subscription) -> None:
        """The current value to a subscription whose read access was just granted (as
        stored, as its first update)."""
        try:
            update = sub.channel.data.read_dbr(sub.dbr_type, sub.count)
        except Exception:
            logger.exception("reading %r for a subscription failed", sub.channel.name)
            return
        self.send_event(sub, update)

    # -- access rights changing while channels are open ------------------------------------
    def update_access(self, channel: CircuitChannel) -> bool:
        """Ask the channel's rights again; when they changed, send ACCESS_RIGHTS and, as
        RSRV's casAccessRightsCB does, tell each subscription: read access lost -> one
        NORDACCESS update, then silence; regained -> the current value, then updates; only
        write access changed -> the current value once more."""
        try:
            rights = int(channel.data.check_access(self.host, self.user))
        except Exception:
            logger.exception("access check of %r failed; denying access", channel.name)
            rights = 0
        previous = channel.rights
        if rights == previous or self.closed:
            return False
        channel.rights = rights
        self.channels_by_rights[previous & 3] -= 1
        self.channels_by_rights[rights & 3] += 1
        channel.fast_read = _fast_reader(channel)
        self._queue(packers.access_rights_reply(channel.cid, rights))
        if (previous ^ rights) & ACCESS_READ:
            for sub in channel.subscriptions.values():
                if rights & ACCESS_READ:
                    self.server.subscribe(sub)
                    self._send_current(sub)
                else:
                    self.backlog.pop(sub, None)
                    self.server.unsubscribe(sub)
                    # the request as it was: the update has its type, count and id
                    self._event_failed(Header(CA_PROTO_EVENT_ADD, 16, sub.dbr_type,
                                              sub.count, channel.sid, sub.subscriptionid),
                                       ECA_NORDACCESS)
        elif rights & ACCESS_READ:
            for sub in channel.subscriptions.values():
                self._send_current(sub)
        return True

    def rebind(self, channel: CircuitChannel, data: Any) -> None:
        """Serve ``channel`` from ``data`` from now on: its PV was replaced by one the
        client cannot tell apart (same type, element count and metadata; a remount).
        Its subscriptions move over and get the current value, and ACCESS_RIGHTS goes out
        if the new PV grants other rights -- the client stays connected."""
        readable = channel.rights & ACCESS_READ
        subs = list(channel.subscriptions.values())
        before = {sub: _current(channel.data, sub) for sub in subs}
        for sub in subs:
            self.backlog.pop(sub, None)
            if readable:
                self.server.unsubscribe(sub)
        channel.data = data
        channel.fast_read = None
        if readable:
            for sub in subs:
                self.server.subscribe(sub)
        if self.update_access(channel) or not readable:
            return
        for sub in subs:
            if _would_post(sub, before[sub], _current(data, sub)):
                self._send_current(sub)

    def _event_failed(self, header: Header, status: int) -> None:
        """A subscription that could not start: its (first) update carries the status and
        zeroed data of the size asked for, as RSRV sends it (libca ignores an EVENT_ADD
        reply without payload)."""
        zeros = _zeroed_payload(header)
        self._queue(packers.event_add_header(len(zeros), header[2], header[3], status,
                                             header[5]) + zeros)

    def _on_event_cancel(self, header: Header, payload: Payload) -> None:
        channel = self.channels.get(header.parameter1)
        if channel is None:
            self._unknown_sid(header, header.parameter1)
            return
        sub = channel.subscriptions.pop(header.parameter2, None)
        if sub is None:
            self._send_error(header, channel.cid, ECA_BADMONID, channel.name)
            return
        self.backlog.pop(sub, None)
        self.server.unsubscribe(sub)
        # As RSRV: the confirmation carries the subscription's own type and count.
        self._queue(packers.event_cancel_reply(sub.dbr_type, sub.count, header.parameter1,
                                               header.parameter2))

    def _on_events_off(self, header: Header, payload: Payload) -> None:
        self._events_on = False

    def _on_events_on(self, header: Header, payload: Payload) -> None:
        self._events_on = True
        self._drain_backlog()

    # -- introspection -----------------------------------------------------------------------------
    @property
    def subscription_count(self) -> int:
        return sum(len(channel.subscriptions) for channel in self.channels.values())

    def __repr__(self) -> str:
        return (f"<VirtualCircuit {self.peer[0]}:{self.peer[1]} host={self.host!r} "
                f"user={self.user!r} channels={len(self.channels)}>")
