"""The PV set every server serves, identically named, and the control PVs that drive it.

Control PVs (each server implements them the way its users would):

* ``GO``: a put of ``s`` makes the server post ``FAST`` flat out for ``s`` seconds with a
  counter (previous value + 1, + 2, ...), then publish the final counter value on ``COUNT``.
* ``DISPLAY``: 1 starts, 0 stops updating every display PV ``D0000...`` at ``display_hz``
  with a shared tick counter (the classic display load); a gap in a PV's sequence is a
  lost update.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: A GO put asks for at most this many seconds of posting.
MAX_POST_SECONDS = 30.0


@dataclass(frozen=True)
class PVSet:
    prefix: str = "BENCH:"
    scalars: int = 10_000           # DOUBLE PVs S000000..., writable
    ai_records: int = 0             # ai records AI000000... (record-flavoured PVs)
    #: DOUBLE PVs P000000... declared as users write IOCs: one PVGroup class of pvproperties
    #: with precision and units (RSRV: ao records with PREC/EGU; pcaspy: prec/unit)
    pvproperties: int = 0
    waveform: int = 1_000_000       # elements of the DOUBLE waveform WF (0, 1, 2, ...); 0 = none
    display: int = 1_000            # display PVs D0000...
    display_hz: float = 10.0
    controls: bool = True           # GO / FAST / COUNT / DISPLAY

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PVSet:
        return cls(**json.loads(text))

    # Names.  Patterns are printf formats, for the C client.
    @property
    def scalar_pattern(self) -> str:
        return f"{self.prefix}S%06d"

    @property
    def ai_pattern(self) -> str:
        return f"{self.prefix}AI%06d"

    @property
    def pvproperty_pattern(self) -> str:
        return f"{self.prefix}P%06d"

    @property
    def display_pattern(self) -> str:
        return f"{self.prefix}D%04d"

    def scalar_names(self) -> list[str]:
        return [self.scalar_pattern % i for i in range(self.scalars)]

    def ai_names(self) -> list[str]:
        return [self.ai_pattern % i for i in range(self.ai_records)]

    def pvproperty_names(self) -> list[str]:
        return [self.pvproperty_pattern % i for i in range(self.pvproperties)]

    def display_names(self) -> list[str]:
        return [self.display_pattern % i for i in range(self.display)]

    def control(self, name: str) -> str:
        """Full name of a control PV: 'GO', 'FAST', 'COUNT', 'DISPLAY', or 'WF'."""
        return self.prefix + name

    def last_name(self) -> str:
        """A PV created last by every server script: searchable means fully loaded."""
        if self.ai_records:
            return self.ai_pattern % (self.ai_records - 1)
        if self.pvproperties:
            return self.pvproperty_pattern % (self.pvproperties - 1)
        if self.scalars:
            return self.scalar_pattern % (self.scalars - 1)
        return self.control("GO")
