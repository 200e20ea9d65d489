"""Registers one IOC, then raises: nothing it registered may be used."""
from iochost.host import hookimpl


class DoomedIOC:
    """An IOC class that never gets mounted."""

    def __init__(self, prefix="", *, macros=None):
        self.pvdb = {}


@hookimpl
def iochost_register_iocs(register):
    register("doomed", DoomedIOC)
    raise RuntimeError("device table is corrupt")
