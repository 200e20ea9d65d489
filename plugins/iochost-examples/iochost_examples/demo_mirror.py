"""The demo's own PVs served again under another prefix, by iochost's built-in ``mirror`` IOC.

Mounted by the demo host config as ``DEMO:MIRROR:``: ``DEMO:MIRROR:A:SIMPLE:B`` follows
``DEMO:A:SIMPLE:B`` (value, alarm, time stamp, units, limits), and a put to it is a put to
the source, completed when the source's put completed.  The sources are served by the same
host, so the mirror reads them in process, without a circuit to itself::

    iochost serve --demo
    iochost put --wait DEMO:MIRROR:A:SIMPLE:B 7.5 ; iochost get DEMO:A:SIMPLE:B

A subclass is all a plugin needs to ship a ready-made mirror: the ``pvs`` are fixed here
and the mount only says where the sources live.
"""
from __future__ import annotations

from iochost.helpers.mirror import MirrorIOC

#: The demo PVs mirrored (names after the source prefix).
DEMO_PVS = ["A:SIMPLE:A", "A:SIMPLE:B", "A:SIMPLE:C", "BL:current", "BL:shutter"]


class DemoMirror(MirrorIOC):
    """The demo's SIMPLE PVs of area A and two beamline PVs, again under this prefix.

    Args:
        source_prefix: prefix of the demo host's PVs (its ``$(SITE):``)
        writable: pass puts through to the demo PVs
    """

    def __init__(self, prefix: str = "", *, macros: dict[str, str] | None = None,
                 source_prefix: str = "DEMO:", writable: bool = True) -> None:
        super().__init__(prefix, macros=macros, source_prefix=source_prefix,
                         pvs=list(DEMO_PVS), writable=writable)
