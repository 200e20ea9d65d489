"""A warning before the process runs out of file descriptors for client circuits.

An event loop on libuv (uvloop) that cannot accept a connection for want of a descriptor
closes it at once and reports nothing: the client sees its circuit close, the operator sees
nothing at all. The server therefore estimates the files it has open -- those open when it
started plus one per circuit -- and, once that nears the process's limit, counts them and
logs one warning that says what to do; the warning comes again after the count has fallen
well below the limit and risen again.
"""
from __future__ import annotations

import logging
import os

__all__ = ["OpenFilesWatch"]

logger = logging.getLogger("iochost.server")

#: warn at this fraction of the limit; warn again only after falling below REARM_AT
WARN_AT, REARM_AT = 0.9, 0.8


def _open_files() -> int | None:
    """How many files this process has open, where the system says (Linux: /proc)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _soft_limit() -> int | None:
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


class OpenFilesWatch:
    """Call :meth:`circuits_changed` with the number of open circuits as it changes."""

    def __init__(self) -> None:
        limit, files = _soft_limit(), _open_files()
        self.limit = limit if files is not None else None
        self._base = files or 0     # what is open besides the circuits
        self._warned = False

    def circuits_changed(self, circuits: int) -> None:
        limit = self.limit
        if limit is None:
            return
        estimate = self._base + circuits
        if self._warned:
            if estimate < REARM_AT * limit:
                self._warned = False
            return
        if estimate < WARN_AT * limit:
            return
        files = _open_files()
        if files is None:
            return
        self._base = max(files - circuits, 0)   # other files come and go: count again
        if files >= WARN_AT * limit:
            self._warned = True
            logger.warning(
                "%d of the %d files this process may open are open (%d client circuits): "
                "when none is left, new clients are refused without an error. Raise the "
                "limit: LimitNOFILE= in the systemd unit, ulimit -n in a shell.",
                files, limit, circuits)
