"""Who may talk to the web page: the ``Host`` a request names and the ``Origin`` of a page.

Two browser attacks reach a page that listens on loopback or a control-room network:

* **Cross-site requests** -- a page of another site, open in an operator's browser, opens
  ``/pvws/pv`` (browsers apply no same-origin rule to WebSockets) or sends a form POST.
  A WebSocket handshake and every request that changes something (PUT, POST...) whose
  ``Origin`` is not the page's own, nor one of ``web.allowed_origins``, is refused with 403.
  Requests without an ``Origin`` (curl, scripts, pvws clients that are not browsers) pass.
* **DNS rebinding** -- a name the attacker controls made to resolve to this host: the page
  is then "same-origin" to the browser, but the ``Host`` header carries the attacker's name.
  A request is served only for a ``Host`` that is an IP address, ``localhost``, this
  machine's own names, the listen address, or one of ``web.allowed_hosts`` (``*``: any).
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

__all__ = ["RequestGuard"]

#: methods that only read: a cross-site one cannot change anything
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _host_name(authority: str) -> str:
    """``name:port`` / ``[v6]:port`` / ``name`` -> the lower-case name (no brackets)."""
    if authority.startswith("["):
        return authority[1:].partition("]")[0].lower()
    name, _, _ = authority.rpartition(":") if authority.count(":") == 1 else (authority, "", "")
    return name.lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class RequestGuard:
    """Both checks (see the module docstring); ``middleware`` is the aiohttp middleware."""

    def __init__(self, listen_host: str, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        hosts = {name.lower() for name in allowed_hosts}
        self.any_host = "*" in hosts
        self.hosts = hosts | {"localhost", listen_host.lower(), socket.gethostname().lower(),
                              socket.getfqdn().lower()}
        origins = {origin.rstrip("/").lower() for origin in allowed_origins}
        self.any_origin = "*" in origins
        self.origins = origins

    def host_allowed(self, authority: str) -> bool:
        name = _host_name(authority)     # no name (HTTP/1.0): nothing to rebind
        return self.any_host or not name or _is_ip(name) or name in self.hosts

    def origin_allowed(self, origin: str, authority: str) -> bool:
        """``origin`` (scheme://host[:port]) is the page's own, or allowed."""
        if self.any_origin or origin.rstrip("/").lower() in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == authority.lower()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        authority = request.headers.get(hdrs.HOST, "")
        if not self.host_allowed(authority):
            return _refused(f"this web page is not served under the name "
                            f"{_host_name(authority)!r}: add it to web.allowed_hosts "
                            f"(a protection against DNS rebinding)")
        origin = request.headers.get(hdrs.ORIGIN)
        changes = request.method not in _SAFE_METHODS \
            or request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if origin is not None and changes and not self.origin_allowed(origin, authority):
            return _refused(f"a page of {origin} may not use this web page: add that origin "
                            f"to web.allowed_origins (a protection against cross-site "
                            f"requests)")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            # the JSON API answers in JSON, a path it does not have too (not aiohttp's text)
            if not request.path.startswith("/api/") or exc.content_type == "application/json":
                raise
            return web.json_response({"error": exc.text or exc.reason}, status=exc.status,
                                     headers={key: value for key, value in exc.headers.items()
                                              if key not in (hdrs.CONTENT_TYPE,
                                                             hdrs.CONTENT_LENGTH)})


def _refused(text: str) -> web.Response:
    return web.json_response({"error": text}, status=403)
