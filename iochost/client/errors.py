"""The errors a client call raises; each says what failed, on which PV, and why.

* :class:`ChannelNotFound` -- no server answered a search for the name in time;
* :class:`ClientTimeout` -- a connected channel's request got no answer in time;
* :class:`Disconnected` -- the channel lost its server before the answer came;
* :class:`RequestFailed` -- the server refused the request with an ECA status
  (``.status``; ``str()`` carries the EPICS text, e.g. "Write access denied").
"""
from __future__ import annotations

from iochost.ca.eca import eca_message, eca_name

__all__ = [
    "ChannelNotFound",
    "ClientError",
    "ClientTimeout",
    "Disconnected",
    "RequestFailed",
]


class ClientError(Exception):
    """Base class of the client's errors."""

    def __init__(self, pv: str, message: str):
        self.pv = pv
        super().__init__(f"{pv}: {message}")


class ChannelNotFound(ClientError, TimeoutError):
    """Not connected in time: no server answered the search or, when ``failure`` says
    why, one did but the channel was not created on it."""

    def __init__(self, pv: str, timeout: float, failure: str | None = None):
        if failure is None:
            why = f"not found (no server answered within {timeout:g} s)"
        else:
            why = f"not connected within {timeout:g} s: found, but {failure}"
        super().__init__(pv, why)


class ClientTimeout(ClientError, TimeoutError):
    """A request on a connected channel got no answer in time."""

    def __init__(self, pv: str, what: str, timeout: float | None):
        after = "" if timeout is None else f" after {timeout:g} s"
        super().__init__(pv, f"{what} timed out{after}")


class Disconnected(ClientError):
    """The channel is (or went) disconnected."""

    def __init__(self, pv: str, what: str = "request"):
        super().__init__(pv, f"{what} failed: channel disconnected")


class RequestFailed(ClientError):
    """The server answered with an ECA error status."""

    def __init__(self, pv: str, what: str, status: int, detail: str = ""):
        self.status = status
        text = detail or eca_message(status)
        super().__init__(pv, f"{what} failed: {text} ({eca_name(status)})")
