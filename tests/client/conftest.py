"""Fixtures of the client tests: a context aimed at one server's port only."""
from __future__ import annotations

import pytest
from client_servers import config_for

from iochost.client import Context


@pytest.fixture
def context_for():
    """``context_for(port)`` -> a Context searching that port only (use ``async with``)."""

    def make(port: int) -> Context:
        return Context(config_for(port))

    return make
