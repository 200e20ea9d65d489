"""Misspells a hook name; pluggy's check_pending must catch it."""
from iochost.host import hookimpl


@hookimpl
def iochost_regster_iocs(register):
    raise AssertionError("never called")
