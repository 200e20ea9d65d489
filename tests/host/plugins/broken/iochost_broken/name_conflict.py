"""Registers an IOC name another plugin already owns."""
from iochost.host import hookimpl


class Impostor:
    def __init__(self, prefix="", *, macros=None):
        self.pvdb = {}


@hookimpl
def iochost_register_iocs(register):
    register("test-counter", Impostor)
