"""Implements a hook with an argument its spec does not have."""
from iochost.host import hookimpl


@hookimpl
def iochost_register_iocs(register, device_count):
    raise AssertionError("never called: the signature is rejected at registration")
