"""iochost's asyncio Channel Access client, on the sans-I/O core :mod:`iochost.ca`.

Public API (``docs/client.md``): :class:`Context` (one per event loop: search, circuits,
repeater registration), :class:`Channel` (connect callbacks, ``get``, ``put``,
``subscribe``), :class:`Subscription` (async iterator and callbacks), :class:`Reading`
(value + metadata + timestamp), :class:`LocalPVs` (PVs of this process, read in place),
:class:`ClientConfig` (the ``EPICS_CA_*`` environment), the errors, and the one-shot
coroutines :func:`caget`, :func:`caput` and :func:`camonitor`.
"""
from __future__ import annotations

from .channel import DEFAULT_TIMEOUT, Channel, ChannelState, DbrSpec, Subscription
from .config import ClientConfig
from .context import Context, Identity
from .errors import ChannelNotFound, ClientError, ClientTimeout, Disconnected, RequestFailed
from .local import LocalPVs
from .oneshot import caget, camonitor, caput
from .reading import Reading

__all__ = [
    "DEFAULT_TIMEOUT",
    "Channel",
    "ChannelNotFound",
    "ChannelState",
    "ClientConfig",
    "ClientError",
    "ClientTimeout",
    "Context",
    "DbrSpec",
    "Disconnected",
    "Identity",
    "LocalPVs",
    "Reading",
    "RequestFailed",
    "Subscription",
    "caget",
    "camonitor",
    "caput",
]
