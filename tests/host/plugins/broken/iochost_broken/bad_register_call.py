"""Calls register() with an instance instead of a class."""
from iochost.host import hookimpl


@hookimpl
def iochost_register_iocs(register):
    register("not-a-class", object())
