"""The JSON API (``/api/...``), ``/healthz`` and ``/metrics``; shapes in :mod:`.openapi`.

Every handler reads on demand: the host's summaries, the server's introspection snapshots,
one ``read_dbr`` per PV asked for. Nothing here polls in the background except the
once-a-second rate sampler of :class:`RateMeter`, which reads one server total.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from typing import Any

from aiohttp import web

from iochost.ca import eca
from iochost.ca.dbr import AccessRights, ChannelType
from iochost.server import ClientInfo, ServedChannel, Server

from .puts import (WEB_USER, PutRefused, ReadRefused, WritesDisabled, check_read, read_failure,
                   web_put)
from .readings import aread_value, read_display, severity_name
from .view import HostView

__all__ = ["RateMeter", "api_routes", "pv_entry", "pv_json"]

log = logging.getLogger("iochost.web")

#: mounts in these states count as healthy for /healthz
HEALTHY_STATES = frozenset({"running", "disabled", "unmounted"})
VIEW: web.AppKey[HostView] = web.AppKey("iochost_view", HostView)  # type: ignore[type-abstract]
WRITABLE: web.AppKey[bool] = web.AppKey("iochost_writable", bool)
RATES: web.AppKey[RateMeter] = web.AppKey("iochost_rates", object)  # type: ignore[arg-type]


class RateMeter:
    """Monitor updates sent per second, sampled once a second from the server's totals."""

    def __init__(self) -> None:
        self.updates_per_second = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self, view: HostView) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sample(view))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _sample(self, view: HostView) -> None:
        loop = asyncio.get_running_loop()
        last_time, last_count = loop.time(), None
        while True:
            await asyncio.sleep(1.0)
            server = view.server
            if server is None:
                continue
            count, now = server.totals().updates_sent, loop.time()
            if last_count is not None:
                self.updates_per_second = max(count - last_count, 0) / (now - last_time)
            last_time, last_count = now, count


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda d: json.dumps(d, separators=(",", ":")))


def _error(status: int, text: str, **extra: Any) -> web.Response:
    return _json({"error": text, **extra}, status)


def host_json(view: HostView, server: Server | None, rates: RateMeter,
              writable: bool) -> dict[str, Any]:
    totals = server.totals() if server is not None else None
    data = view.summary().to_json()
    data.update({
        "ca_port": server.tcp_port if server is not None else None,
        "clients": totals.clients if totals else 0,
        "channels": totals.channels if totals else 0,
        "subscriptions": totals.subscriptions if totals else 0,
        "pvs": len(view.database),
        "updates_sent": totals.updates_sent if totals else 0,
        "updates_per_second": round(rates.updates_per_second, 1),
        "bytes_sent": totals.bytes_sent if totals else 0,
        "web_writable": writable,
    })
    return data


async def pv_json(name: str, channel: ServedChannel, host: str,
                  writable: bool) -> dict[str, Any]:
    """One PV as the API and the mount page show it; ReadRefused when a CA client at
    ``host`` could not read it (no read access, its getter failed)."""
    check_read(channel, host)
    try:
        reading = await aread_value(channel)
    except Exception as exc:
        log.warning("web: reading %s failed: %s", name, exc)
        raise read_failure(exc) from None
    display = read_display(channel)
    value = reading.json_value()
    text = None
    if not reading.is_array and display.enum_strings and isinstance(value, int):
        text = display.enum_strings[value] if value < len(display.enum_strings) else str(value)
    rights = channel.check_access(host, WEB_USER)
    return {
        "name": name,
        "type": reading.native_type.name,
        "count": len(value) if reading.is_array else 1,
        "value": value,
        "text": text,
        "units": display.units,
        "precision": display.precision,
        "severity": severity_name(reading.severity),
        "status": reading.status,
        "timestamp": reading.seconds + reading.nanos / 1e9 if reading.seconds else None,
        "writable": bool(writable and rights & AccessRights.WRITE),
    }


async def pv_entry(name: str, channel: ServedChannel, host: str,
                   writable: bool) -> dict[str, Any]:
    """:func:`pv_json`, or for a PV that cannot be read the PV without its value, with
    the refusal (``error``, ``eca``): one such PV never hides the others of a list."""
    try:
        return await pv_json(name, channel, host, writable)
    except ReadRefused as exc:
        rights = channel.check_access(host, WEB_USER)
        return {"name": name, "type": ChannelType(channel.native_type).name,
                "count": channel.max_length, "value": None, "text": None, "units": "",
                "precision": 0, "severity": "UNDEFINED", "status": 0, "timestamp": None,
                "writable": bool(writable and rights & AccessRights.WRITE),
                "error": str(exc), "eca": eca.eca_name(exc.status)}


# -- handlers ----------------------------------------------------------------------------------
async def get_host(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    return _json(host_json(view, view.server, request.app[RATES], request.app[WRITABLE]))


async def get_mounts(request: web.Request) -> web.Response:
    return _json([mount.to_json() for mount in request.app[VIEW].mounts()])


def _mount(request: web.Request) -> tuple[dict[str, Any], list[str]]:
    view = request.app[VIEW]
    name = request.match_info["name"]
    for mount in view.mounts():
        if mount.name == name:
            return mount.to_json(), view.mount_pvnames(name) or []
    raise web.HTTPNotFound(text=json.dumps({"error": f"no mount named {name!r}"},
                                           separators=(",", ":")),
                           content_type="application/json")


async def get_mount(request: web.Request) -> web.Response:
    mount, pvnames = _mount(request)
    return _json({**mount, "pvnames": pvnames})


async def get_mount_pvs(request: web.Request) -> web.Response:
    _, pvnames = _mount(request)
    database = request.app[VIEW].database
    host = request.remote or ""
    writable = request.app[WRITABLE]
    result = []
    for name in pvnames:
        channel = database.resolve(name)
        if channel is not None:
            result.append(await pv_entry(name, channel, host, writable))
    return _json(result)


#: how the API and the pages name a channel's access rights
RIGHTS_TEXT = {AccessRights.READ | AccessRights.WRITE: "read-write",
               AccessRights.READ: "read-only", AccessRights.WRITE: "write-only",
               AccessRights.NONE: "no-access"}


def rights_text(rights: AccessRights) -> str:
    return RIGHTS_TEXT[rights & (AccessRights.READ | AccessRights.WRITE)]


def client_json(client: ClientInfo) -> dict[str, Any]:
    """A CA client, with how many of its channels it may read and write (access security
    decides per client: its user, host and each channel's group)."""
    data = asdict(client)
    counts = dict.fromkeys(("read-write", "read-only", "no-access"), 0)
    for bits, n in enumerate(data.pop("channels_by_rights")):
        if n:
            counts[rights_text(AccessRights(bits))] = n
    data["rights"] = counts
    return data


async def get_clients(request: web.Request) -> web.Response:
    server = request.app[VIEW].server
    if server is None:
        return _json([])
    return _json([client_json(client) for client in server.clients()])


def client_detail(server: Server | None, text: str) -> dict[str, Any] | None:
    """Client ``text`` (its id) with each channel it has open and its rights; None when
    no such client is connected."""
    # isdigit() alone lets '²' through, which int() refuses
    client_id = int(text) if text.isascii() and text.isdigit() else -1
    client = server.client(client_id) if server else None
    channels = server.client_channels(client_id) if server else None
    if client is None or channels is None:
        return None
    data = client_json(client)
    data["channel_list"] = [{"name": c.name, "rights": rights_text(c.rights),
                             "subscriptions": c.subscriptions} for c in channels]
    return data


async def get_client(request: web.Request) -> web.Response:
    """One CA client and each channel it has open, with its rights."""
    text = request.match_info["client_id"]
    data = client_detail(request.app[VIEW].server, text)
    return _json(data) if data is not None else _error(404, f"client {text} is not connected")


async def reload_access(request: web.Request) -> web.Response:
    """Read the access rules file again (only with ``web.writable: true``), as SIGHUP and
    the iocStats READACF PV do."""
    if not request.app[WRITABLE]:
        return _error(403, f"{WritesDisabled()}: the access rules can be reloaded with "
                           "SIGHUP or the READACF PV")
    outcome = await request.app[VIEW].reload_access()
    if outcome is None:
        return _error(409, "this host has no access rules (no access: section in its "
                           "config)")
    reloaded, error = outcome
    if not reloaded:
        return _error(422, f"the rules file has errors; the rules in force stay: {error}")
    return _json({"reloaded": True})


async def get_plugins(request: web.Request) -> web.Response:
    return _json(request.app[VIEW].plugins())


async def get_pv(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    channel = request.app[VIEW].database.resolve(name)
    if channel is None:
        return _error(404, f"PV {name!r} is not served by this host")
    try:
        return _json(await pv_json(name, channel, request.remote or "", request.app[WRITABLE]))
    except ReadRefused as exc:
        return _json(exc.to_json(), 403 if exc.status == eca.ECA_NORDACCESS else 500)


async def put_pv(request: web.Request) -> web.Response:
    """Write a PV: 403 when web writes are off or the PV refuses this client; 400 when the
    value is refused (the body names the ECA status, as a CA client would see it)."""
    name = request.match_info["name"]
    channel = request.app[VIEW].database.resolve(name)
    if channel is None:
        return _error(404, f"PV {name!r} is not served by this host")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, 'the body must be JSON: {"value": ...}')
    if not isinstance(body, dict) or "value" not in body:
        return _error(400, 'the body must be JSON: {"value": ...}')
    host = request.remote or ""
    try:
        if not request.app[WRITABLE]:
            raise WritesDisabled()
        await web_put(channel, body["value"], host)
    except WritesDisabled as exc:
        return _error(403, str(exc))
    except PutRefused as exc:
        status = 403 if exc.to_json()["eca"] == "ECA_NOWTACCESS" else 400
        return _json(exc.to_json(), status)
    return _json(await pv_entry(name, channel, host, True))


async def healthz(request: web.Request) -> web.Response:
    """200 when every enabled mount runs; 503 naming the ones that do not."""
    unhealthy = [{"name": m.name, "state": m.state, "error": m.error}
                 for m in request.app[VIEW].mounts() if m.state not in HEALTHY_STATES]
    if unhealthy:
        return _json({"status": "unhealthy", "mounts": unhealthy}, 503)
    return _json({"status": "ok"})


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition format 0.0.4."""
    view = request.app[VIEW]
    server = view.server
    totals = server.totals() if server is not None else None
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    summary = view.summary()
    metric("iochost_uptime_seconds", "gauge", "Seconds since the host started.",
           [("", round(summary.uptime, 3))])
    metric("iochost_loop_blocks_total", "counter",
           "Times code blocked the event loop longer than host.loop_watchdog.",
           [("", summary.loop_blocks)])
    if totals is not None:
        metric("iochost_ca_clients", "gauge", "Connected CA clients.", [("", totals.clients)])
        metric("iochost_ca_channels", "gauge", "Open CA channels.", [("", totals.channels)])
        metric("iochost_ca_subscriptions", "gauge", "Live CA subscriptions.",
               [("", totals.subscriptions)])
        metric("iochost_ca_updates_sent_total", "counter", "Monitor updates sent.",
               [("", totals.updates_sent)])
        metric("iochost_ca_bytes_sent_total", "counter", "Bytes sent to CA clients.",
               [("", totals.bytes_sent)])
        metric("iochost_ca_bytes_received_total", "counter", "Bytes received from CA clients.",
               [("", totals.bytes_received)])
    metric("iochost_pvs", "gauge", "PV names served.", [("", len(view.database))])
    mounts = view.mounts()
    metric("iochost_mount_up", "gauge", "1 when the mount is running, else 0.",
           [(f'{{mount="{_label(m.name)}",state="{_label(m.state)}"}}',
             int(m.state == "running")) for m in mounts])
    metric("iochost_mount_pvs", "gauge", "PVs a mount serves.",
           [(f'{{mount="{_label(m.name)}"}}', m.pvs) for m in mounts])
    metric("iochost_mount_loop_blocks_total", "counter",
           "Event-loop blocks attributed to a mount's code.",
           [(f'{{mount="{_label(m.name)}"}}', m.loop_blocks) for m in mounts])
    return web.Response(text="\n".join(lines) + "\n",
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Prometheus-Format": "0.0.4"})


def api_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/api/host", get_host),
        web.get("/api/mounts", get_mounts),
        web.get("/api/mounts/{name}", get_mount),
        web.get("/api/mounts/{name}/pvs", get_mount_pvs),
        web.get("/api/clients", get_clients),
        web.get("/api/clients/{client_id}", get_client),
        web.post("/api/access/reload", reload_access),
        web.get("/api/plugins", get_plugins),
        # any channel name: JSON filters (NAME.{"dec":{"n":4}}) carry braces and slashes
        web.get("/api/pvs/{name:.+}", get_pv),
        web.put("/api/pvs/{name:.+}", put_pv),
        web.get("/healthz", healthz),
        web.get("/metrics", metrics),
    ]
