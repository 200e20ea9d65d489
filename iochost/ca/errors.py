"""The error types of the protocol core.

Two kinds of failure must never be confused (as in h11):

* :class:`CaProtocolError` -- the *peer* broke the protocol (garbage bytes, absurd sizes,
  a command that makes no sense in this direction).  A server answers it by closing that
  one circuit; nothing else is affected.
* :class:`LocalProtocolError` -- *we* called the core wrongly (a field out of range when
  encoding, an unknown DBR type passed by our own code).  That is a bug on our side.

:class:`CaStatusError` is neither: a well-formed request that cannot be honoured (a value
that does not convert, a write to a read-only PV).  It carries the ECA status code that
goes back to the client in a *_NOTIFY reply or an ERROR message.
"""
from __future__ import annotations

__all__ = ["CaError", "CaProtocolError", "LocalProtocolError", "CaStatusError"]


class CaError(Exception):
    """Base class of every error raised by :mod:`iochost.ca`."""


class CaProtocolError(CaError):
    """The peer sent bytes that break the Channel Access protocol."""


class LocalProtocolError(CaError):
    """Our own code asked the protocol core for something invalid."""


class CaStatusError(CaError):
    """A valid request that fails with an ECA status code (see :mod:`iochost.ca.eca`)."""

    def __init__(self, status: int, message: str | None = None):
        from .eca import eca_message

        self.status = status
        self.message = message or eca_message(status)
        super().__init__(self.message)
