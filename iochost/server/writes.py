"""Client writes to one channel: applied in the order received, without a task per write.

``ServedChannel.write_dbr`` is a coroutine, but most writes never wait for anything.  So a
write is started inline with ``coro.send(None)``: if it finishes there, its reply is queued
at once.  Only a write that suspends (an async putter, say) becomes a task -- and from then
on later writes to the same channel wait in a queue behind it, so the channel sees them in
the order the client sent them.  Each write runs in a context of its own (a copy of the one
the circuit reads in), as a task of its own would: a contextvar a putter sets stays its own.
"""
from __future__ import annotations

import contextvars
import logging
import types
from collections import deque
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from iochost.ca.eca import ECA_NORMAL, ECA_PUTFAIL, put_refusal
from iochost.ca.errors import CaProtocolError, CaStatusError

if TYPE_CHECKING:
    from iochost.ca.header import Header

    from .circuit import CircuitChannel, Payload, VirtualCircuit, WriteDone

__all__ = ["CLIENT_PUT", "ChannelWriter", "drive"]

logger = logging.getLogger("iochost.server")
#: The circuit channel (``.data``, ``.name``) whose client put runs in this context: bare
#: channel data has no name of its own, and the framework's refusal warnings name the PV.
CLIENT_PUT: contextvars.ContextVar[CircuitChannel | None] = contextvars.ContextVar(
    "iochost_client_put", default=None)
#: what a write may raise: its refusal, a bad payload, a putter's bug or its sys.exit
_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


@types.coroutine
def drive(coro: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Finish a coroutine that was started with ``send(None)`` and suspended on ``yielded``.

    The awaiting Task sees exactly what it would have seen had it run the coroutine from
    the start: this generator hands it the object the coroutine yielded (a future flagged by
    its own ``await``, or None for a bare yield), passes whatever the Task sends back into the
    coroutine, and throws whatever the Task throws (a failed future, a cancellation) into it.
    No extra future or loop iteration: the same wake-ups as a plain ``await``.
    """
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def _reason(exc: CaStatusError) -> str | None:
    """The text for the client when channel code refused the value (the error is raised
    from the putter's or limit check's exception); None keeps RSRV's text (the PV name)."""
    return exc.message if exc.__cause__ is not None else None


class ChannelWriter:
    """The write queue of one circuit channel (created at its first write)."""

    __slots__ = ("circuit", "channel", "_waiting", "_context")

    def __init__(self, circuit: VirtualCircuit, channel: CircuitChannel):
        self.circuit = circuit
        self.channel = channel
        #: None while no write is in flight; else the writes waiting behind the running one.
        self._waiting: deque[tuple[Header, Payload, WriteDone]] | None = None
        #: what each write's own context is copied from: the circuit's, as received, with
        #: the channel the puts go to (named in the framework's refusal warnings)
        self._context = contextvars.copy_context()
        self._context.run(CLIENT_PUT.set, channel)

    @property
    def busy(self) -> bool:
        return self._waiting is not None

    def submit(self, header: Header, payload: Payload, done: WriteDone) -> None:
        """Apply a WRITE / WRITE_NOTIFY now, or after the writes already in flight; then
        ``done(channel, header, status)`` replies."""
        if self._waiting is not None:
            self._waiting.append((header, payload, done))
        else:
            self._run(header, payload, done)

    def _run(self, header: Header, payload: Payload, done: WriteDone) -> None:
        """Apply writes in order, inline for as long as each completes at once."""
        circuit, channel = self.circuit, self.channel
        data = channel.data
        while True:
            coro = data.write_dbr(header.data_type, header.data_count, payload,
                                  circuit.host, circuit.user)
            text = None
            context = self._context.copy()
            try:
                yielded = context.run(coro.send, None)
            except StopIteration:
                status = ECA_NORMAL
            except _FAILURES as exc:
                reply = self._failed(exc)
                if reply is None:
                    return
                status, text = reply
            else:  # it suspended: finish it in a task; later writes wait behind it
                if self._waiting is None:
                    self._waiting = deque()
                # Not cancelled with the circuit: like RSRV, a put once received is applied
                # even if its client goes away.
                circuit.server.spawn(self._finish(header, done, coro, yielded), context)
                return
            done(channel, header, status, text)
            waiting = self._waiting
            if not waiting:
                self._waiting = None
                return
            header, payload, done = waiting.popleft()

    async def _finish(self, header: Header, done: WriteDone, coro: Coroutine[Any, Any, Any],
                      yielded: Any) -> None:
        text = None
        try:
            await drive(coro, yielded)
            status = ECA_NORMAL
        except _FAILURES as exc:   # (not a cancellation: the task was cancelled)
            reply = self._failed(exc)
            if reply is None:
                return
            status, text = reply
        done(self.channel, header, status, text)
        waiting = self._waiting
        if waiting:
            self._run(*waiting.popleft())
        else:
            self._waiting = None

    def _failed(self, exc: BaseException) -> tuple[int, str | None] | None:
        """A failed write's reply (status, text for the client); None when the circuit was
        closed for it (a payload shorter than its count says)."""
        if isinstance(exc, CaStatusError):
            return put_refusal(exc.status), _reason(exc)
        if isinstance(exc, CaProtocolError):
            self.circuit.close_after_replies(f"bad WRITE payload: {exc}")
            return None
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return self._exit_requested(exc), None
        logger.error("write to %r failed", self.channel.name, exc_info=exc)
        return ECA_PUTFAIL, None

    def _exit_requested(self, exc: BaseException) -> int:
        """A putter asked the process to end (``sys.exit``): the server's ``exit_requested``
        decides; without one the put is refused (ECA_PUTFAIL) and the process serves on."""
        handler = self.circuit.server.exit_requested
        if handler is not None:
            handler(exc)
        else:
            logger.error("write to %r: its putter asked the process to end (%s); refused: "
                         "this process serves other IOCs too", self.channel.name,
                         type(exc).__name__)
        return ECA_PUTFAIL
