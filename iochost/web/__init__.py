"""The web status page, JSON API and pvws endpoint of a host (aiohttp, same event loop).

The host builds the app from a :class:`HostView` (its narrow, read-only view of itself),
lets plugins add routes (the ``iochost_web_routes`` hook), and serves it::

    app = make_app(view, writable=False, version=iochost.__version__)
    server = WebServer(app, "127.0.0.1", 8080)
    await server.start()          # server.url names the page; port 0 picks a free one

A host serves it through :class:`DeferredWebServer`, which listens at once and imports
aiohttp and builds the app only when the first browser connects.

Layering: this package uses the server's contracts (``PVDatabase``, ``ServedChannel``, the
introspection snapshots) and ``iochost.ca``; it never imports ``iochost.host`` or
``iochost.pv``. See docs/web.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .deferred import DeferredWebServer
from .puts import WEB_USER
from .view import HostSummary, HostView, MountSummary

if TYPE_CHECKING:
    from .app import WebServer, make_app

__all__ = ["WEB_USER", "DeferredWebServer", "HostSummary", "HostView", "MountSummary",
           "WebServer", "make_app"]


def __getattr__(name: str) -> Any:
    """``WebServer`` and ``make_app`` import aiohttp (~15 MB): on first use, not before."""
    if name in ("WebServer", "make_app"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
