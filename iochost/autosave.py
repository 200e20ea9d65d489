"""``caproto.server.autosave``'s names under iochost's: an IOC ported by renaming
``caproto.server`` to ``iochost`` finds them here. Their home is :mod:`iochost.helpers`;
the files are synApps ``.sav`` sets, not caproto's JSON (``docs/helpers.md``)."""
from .helpers.autosave import autosaved
from .helpers.autosave_group import AutosaveHelper

__all__ = ["AutosaveHelper", "autosaved"]
