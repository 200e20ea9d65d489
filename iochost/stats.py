"""``caproto.server.stats``'s status helpers under iochost's name (their home is
:mod:`iochost.helpers`), for IOCs ported by renaming ``caproto.server`` to ``iochost``."""
from .helpers.status_helpers import (BasicStatusHelper, MemoryTracingHelper,
                                     PeriodicStatusHelper, StatusHelper)

__all__ = ["BasicStatusHelper", "MemoryTracingHelper", "PeriodicStatusHelper", "StatusHelper"]
