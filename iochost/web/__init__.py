"""The web status page, JSON API and pvws endpoint of a host (aiohttp, same event loop).

The host builds the app from a :class:`HostView` (its narrow, read-only view of itself),
lets plugins add routes (the ``iochost_web_routes`` hook), and serves it::

    app = make_app(view, writable=False, version=iochost.__version__)
    server = WebServer(app, "127.0.0.1", 8080)
    await server.start()          # server.url names the page; port 0 picks a free one

Layering: this package uses the server's contracts (``PVDatabase``, ``ServedChannel``, the
introspection snapshots) and ``iochost.ca``; it never imports ``iochost.host`` or
``iochost.pv``. See docs/web.md.
"""
from .app import WebServer, make_app
from .puts import WEB_USER
from .view import HostSummary, HostView, MountSummary

__all__ = ["WEB_USER", "HostSummary", "HostView", "MountSummary", "WebServer", "make_app"]
