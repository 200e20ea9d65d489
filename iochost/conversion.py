"""``caproto.server.conversion``'s ``group_to_device`` under iochost's name (its home is
:mod:`iochost.pv.conversion`), for IOCs ported by renaming ``caproto.server`` to
``iochost``."""
from .pv.conversion import group_to_device

__all__ = ["group_to_device"]
