"""What a channel asks about a client's access rights: the ``AccessGate`` seam.

A channel data may hold an access gate (``ChannelData.access_gate``): the member object
of its access security group, which ``iochost.access`` provides and the host hands out.
The framework knows only this Protocol, so ``iochost.pv`` does not import the access
layer (nor the reverse).  Record fields ask their record's gate at their own access
security level (a field's ASL, from the record type's dbd).
"""
from __future__ import annotations

from typing import Any, Protocol

__all__ = ["AccessGate"]


class AccessGate(Protocol):
    """The rules of one access security group, as a channel asks them."""

    #: the group's name (a record's ASG field reads it)
    group: str

    def rights(self, level: int, host: str, user: str) -> int:
        """CA access-rights bits (1 read, 2 write) for a channel of level ``level``."""
        ...

    def traps_write(self, level: int, host: str, user: str) -> bool:
        """Whether this client's put is granted by a TRAPWRITE rule (then report it)."""
        ...

    def write_trapped(self, pv: str, host: str, user: str, old: Any, new: Any) -> None:
        """A trapped put finished: who, which PV, the value before and after."""
        ...

    def member_of(self, group: str) -> AccessGate:
        """The gate of another group of the same rules ('' -> DEFAULT): a record's ASG
        put moves the record there."""
        ...

    def changed(self) -> None:
        """Tell whoever re-evaluates open channels that this group's members changed."""
        ...
