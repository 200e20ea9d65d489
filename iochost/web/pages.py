"""The HTML pages: server-rendered, escaped, one stylesheet and one small script.

No templating library: each page is a few f-strings around ``html.escape`` and a shared
layout. The script (``static/iochost.js``) makes them live: the overview and the clients
page re-read the JSON API every second; a mount page subscribes to its PVs over the
``/pvws/pv`` WebSocket (pvws protocol) and draws sparklines and waveform plots itself.
"""
from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .api import RATES, VIEW, WRITABLE, client_detail, client_json, host_json
from .view import MountSummary

__all__ = ["MAX_PV_ROWS", "page_routes"]

#: a mount page lists (and subscribes to) at most this many PVs
MAX_PV_ROWS = 2000

_NAV = (("/", "Host"), ("/clients", "Clients"), ("/plugins", "Plugins"))


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _layout(title: str, body: str, page: str, data: dict[str, Any] | None = None) -> str:
    nav = " ".join(f'<a href="{href}">{_e(label)}</a>' for href, label in _NAV)
    config = _e(json.dumps(data or {}))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} - iochost</title>
<link rel="stylesheet" href="/static/iochost.css">
</head><body data-page="{page}" data-config="{config}">
<header><span class="brand">iochost</span> <nav>{nav}</nav>
<span id="connection" class="connection"></span></header>
<main>
<h1>{_e(title)}</h1>
{body}
</main>
<script src="/static/iochost.js"></script>
</body></html>
"""


def _table(headers: Iterable[str], rows: Iterable[str], table_id: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _state_cell(mount: MountSummary) -> str:
    error = f'<div class="error">{_e(mount.error)}</div>' if mount.error else ""
    return f'<td class="state state-{_e(mount.state)}">{_e(mount.state)}{error}</td>'


def _mount_row(mount: MountSummary) -> str:
    plugin = " ".join(p for p in (mount.distribution or mount.plugin, mount.version) if p)
    return (f'<tr data-mount="{_e(mount.name)}">'
            f'<td><a href="/mounts/{_e(mount.name)}">{_e(mount.name)}</a></td>'
            f"<td>{_e(mount.ioc)}</td><td>{_e(plugin)}</td><td><code>{_e(mount.prefix)}</code>"
            f"</td>{_state_cell(mount)}<td class=num>{mount.pvs}</td>"
            f"<td>{_e(', '.join(mount.helpers))}</td></tr>")


_HOST_FIELDS = (("name", "Host"), ("version", "Version"), ("uptime", "Uptime (s)"),
                ("cpu_percent", "CPU %"), ("memory_mb", "Memory (MB)"), ("ca_port", "CA port"),
                ("clients", "CA clients"), ("channels", "Channels"),
                ("subscriptions", "Subscriptions"), ("updates_per_second", "Updates/s"),
                ("pvs", "PVs"), ("web_writable", "Web writes"))


async def overview(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    host = host_json(view, view.server, request.app[RATES], request.app[WRITABLE])
    cards = "".join(f'<div class="card"><div class="label">{_e(label)}</div>'
                    f'<div class="value" data-field="{key}">{_e(host[key])}</div></div>'
                    for key, label in _HOST_FIELDS)
    mounts = _table(("Mount", "IOC", "Plugin", "Prefix", "State", "PVs", "Helpers"),
                    map(_mount_row, view.mounts()), "mounts")
    body = f'<section class="cards" id="host">{cards}</section><h2>Mounts</h2>{mounts}'
    return _html(_layout(host["name"], body, "overview"))


async def mount_page(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    name = request.match_info["name"]
    mount = next((m for m in view.mounts() if m.name == name), None)
    if mount is None:
        raise web.HTTPNotFound(text=_layout("Not found", f"<p>No mount named {_e(name)}.</p>",
                                            "error"), content_type="text/html")
    pvnames = view.mount_pvnames(name) or []
    shown = pvnames[:MAX_PV_ROWS]
    rows = (f'<tr data-pv="{_e(pv)}" class="sev-UNDEFINED"><td class="pvname">'
            f'{_pv_label(pv, mount.prefix)}</td>'
            '<td class="type"></td><td class="value"></td><td class="units"></td>'
            '<td class="severity"></td><td class="stamp"></td>'
            '<td class="plot"><canvas width="160" height="28"></canvas></td></tr>'
            for pv in shown)
    more = (f"<p class=note>Showing the first {MAX_PV_ROWS} of {len(pvnames)} PVs.</p>"
            if len(pvnames) > MAX_PV_ROWS else "")
    summary = (f'<p class="mount-summary">IOC <b>{_e(mount.ioc)}</b>, prefix '
               f'<code>{_e(mount.prefix)}</code>, state <span class="state '
               f'state-{_e(mount.state)}">{_e(mount.state)}</span>'
               f'{" — " + _e(mount.error) if mount.error else ""}</p>')
    error = f'<div class="error banner">{_e(mount.error)}</div>' if mount.error else ""
    table = _table(("PV", "Type", "Value", "Units", "Severity", "Time stamp", "Recent"),
                   rows, "pvs")
    writable = request.app[WRITABLE]
    body = f"{summary}{error}{more}{table}"
    return _html(_layout(f"Mount {name}", body, "mount",
                         {"mount": name, "writable": writable}))


def _pv_label(pvname: str, prefix: str) -> str:
    """The PV name with the mount's prefix dimmed (the part that tells rows apart stands out)."""
    if prefix and pvname.startswith(prefix) and pvname != prefix:
        return f'<span class="prefix">{_e(prefix)}</span>{_e(pvname[len(prefix):])}'
    return _e(pvname)


def _rights_summary(counts: dict[str, int]) -> str:
    """'read-write 5, no-access 1': the non-zero counts of a client's channels by rights."""
    return ", ".join(f"{rights} {n}" for rights, n in counts.items() if n) or "-"


async def clients_page(request: web.Request) -> web.Response:
    server = request.app[VIEW].server
    clients = [client_json(c) for c in server.clients()] if server is not None else []
    rows = (f'<tr data-client="{c["client_id"]}">'
            f'<td><a href="/clients/{c["client_id"]}">{_e(c["host"])}</a></td>'
            f'<td>{_e(c["user"])}</td><td>{_e(c["peer"])}</td>'
            f'<td class=num>{c["channels"]}</td><td class=num>{c["subscriptions"]}</td>'
            f'<td class=rights>{_e(_rights_summary(c["rights"]))}</td>'
            f'<td class=num>{c["bytes_sent"]}</td><td class=num>{c["updates_sent"]}</td></tr>'
            for c in clients)
    table = _table(("Host", "User", "Peer", "Channels", "Subscriptions", "Rights",
                    "Bytes sent", "Updates sent"), rows, "clients")
    return _html(_layout("CA clients", table, "clients"))


async def client_page(request: web.Request) -> web.Response:
    """One client's channels and the rights access security gives it on each."""
    text = request.match_info["client_id"]
    client = client_detail(request.app[VIEW].server, text)
    if client is None:
        raise web.HTTPNotFound(text=_layout("Not found", f"<p>Client {_e(text)} is not "
                                            "connected.</p>", "error"),
                               content_type="text/html")
    rows = (f'<tr><td>{_e(c["name"])}</td>'
            f'<td class="rights rights-{_e(c["rights"])}">{_e(c["rights"])}</td>'
            f'<td class=num>{c["subscriptions"]}</td></tr>' for c in client["channel_list"])
    body = (f'<p>{_e(client["user"])} on {_e(client["host"])} ({_e(client["peer"])}): '
            f'{_e(_rights_summary(client["rights"]))}</p>'
            + _table(("Channel", "Rights", "Subscriptions"), rows, "channels"))
    return _html(_layout(f"CA client {client['client_id']}", body, "client"))


async def plugins_page(request: web.Request) -> web.Response:
    rows = []
    for plugin in request.app[VIEW].plugins():
        provides = ", ".join([*plugin.get("iocs", []), *plugin.get("record_types", []),
                              *plugin.get("helpers", [])])
        state = ("disabled" if plugin.get("disabled") else
                 "loaded" if plugin.get("loaded") else "failed")
        error = f'<div class="error">{_e(plugin.get("error"))}</div>' \
            if plugin.get("error") else ""
        rows.append(f'<tr><td>{_e(plugin["name"])}</td><td>{_e(plugin.get("distribution"))}'
                    f' {_e(plugin.get("version"))}</td>'
                    f'<td class="state state-{state}">{state}{error}</td>'
                    f"<td>{_e(provides)}</td></tr>")
    table = _table(("Plugin", "Distribution", "State", "Provides"), rows, "plugins")
    return _html(_layout("Plugins", table, "plugins"))


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def page_routes() -> list[web.AbstractRouteDef]:
    return [web.get("/", overview), web.get("/mounts/{name}", mount_page),
            web.get("/clients", clients_page), web.get("/clients/{client_id}", client_page),
            web.get("/plugins", plugins_page)]
