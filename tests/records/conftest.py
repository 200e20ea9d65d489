"""Fixtures of the record tests: the framework tests' helpers (mount a PVGroup in the
session's server, a caproto client), and the softioc reference module on the path."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "pv"))
from test_group_helpers import TIMEOUT, Client, client, mount, wait_until  # noqa: E402

__all__ = ["TIMEOUT", "Client", "client", "mount", "wait_until"]
