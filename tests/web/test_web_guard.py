"""Who may use the web page: pages of other sites (cross-site WebSocket hijacking, form
posts) and names that are not this host's (DNS rebinding) are refused; scripts without an
``Origin`` and the page itself are not. And a browser that stops reading never holds up
the host's shutdown."""
from __future__ import annotations

import base64
import json
import os
import socket
import time

import aiohttp
from test_pvws import run

TIMEOUT = 5.0
EVIL = "http://evil.example:8000"


def guarded_host(web_host, unique_prefix, **web_keys):
    keys = "".join(f", {key}: {json.dumps(value)}" for key, value in web_keys.items())
    return web_host(text=f"""\
        host: {{name: guarded, status_prefix: null}}
        web: {{listen: "127.0.0.1:8080", writable: true{keys}}}
        mounts:
          - {{name: demo, ioc: web-demo, prefix: "{unique_prefix}DEMO:"}}
        """)


async def handshake(web, origin: str | None) -> int:
    """The status of a pvws handshake sent with ``origin`` (101 when accepted)."""
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(web.url("/pvws/pv"), headers=headers) as ws:
                await ws.send_str(json.dumps({"type": "echo", "n": 1}))
                assert json.loads((await ws.receive(TIMEOUT)).data)["n"] == 1
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def test_pages_of_other_sites_may_not_open_pvws_nor_write(web_host, unique_prefix, pyepics):
    web = guarded_host(web_host, unique_prefix)
    own = web.base                                       # http://127.0.0.1:PORT
    statuses = run(_handshakes(web, [None, own, EVIL, "null"]))
    assert statuses == [101, 101, 403, 403]
    temp = web.pv("TEMP")
    for origin, expected in ((EVIL, 403), (own, 200)):
        status, _, answer = _request(web, f"/api/pvs/{temp}", "PUT", {"value": 11.5}, origin)
        assert status == expected, answer
    assert "web.allowed_origins" in _request(web, f"/api/pvs/{temp}", "PUT", {"value": 1},
                                             EVIL)[2]["error"]
    assert pyepics.caget(temp, use_monitor=False, timeout=TIMEOUT) == 11.5
    # reading is not changing: a GET with another Origin is answered (the browser's CORS
    # rules keep the answer from the other page)
    assert _request(web, "/api/host", "GET", None, EVIL)[0] == 200


def test_allowed_origins_and_hosts_let_a_display_runtime_and_an_alias_in(web_host,
                                                                        unique_prefix):
    web = guarded_host(web_host, unique_prefix, allowed_origins=["http://display.example:8080"],
                       allowed_hosts=["ioc-web.example"])
    assert run(_handshakes(web, ["http://display.example:8080", EVIL])) == [101, 403]
    for host, expected in (("ioc-web.example:80", 200), ("attacker.example", 403),
                           ("localhost", 200), (f"{socket.gethostname()}:1", 200),
                           ("[::1]:8080", 200), ("10.1.2.3", 200)):
        status, _, answer = _request(web, "/api/host", "GET", None, None, host)
        assert status == expected, (host, answer)
        if status == 403:
            assert "add it to web.allowed_hosts" in answer["error"]


def test_a_name_that_is_not_this_hosts_is_refused(web_host, unique_prefix):
    web = guarded_host(web_host, unique_prefix)
    for path, method, body in (("/api/host", "GET", None), ("/", "GET", None),
                               (f"/api/pvs/{web.pv('TEMP')}", "PUT", {"value": 3.0})):
        status, _, answer = _request(web, path, method, body, None, "rebound.example:8080")
        assert status == 403 and "DNS rebinding" in answer["error"], (path, answer)


def test_a_browser_that_never_reads_does_not_hold_up_the_shutdown(web_host, ca_server,
                                                                   unique_prefix):
    web = guarded_host(web_host, unique_prefix)
    port = int(web.base.rsplit(":", 1)[1])
    stuck = _stuck_socket(port)
    try:
        start = time.monotonic()
        ca_server.call(web.host.stop())
        assert time.monotonic() - start < 3.0
    finally:
        stuck.close()


# -- helpers -------------------------------------------------------------------------------
async def _handshakes(web, origins):
    return [await handshake(web, origin) for origin in origins]


def _request(web, path, method, body, origin, host=None):
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    if host:
        headers["Host"] = host
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(web.url(path), data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, kind = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers
    text = raw.decode()
    return status, kind, json.loads(text) if kind.get_content_type() == "application/json" \
        else text


def _stuck_socket(port: int) -> socket.socket:
    """A WebSocket client (by hand) that sends big echo requests and never reads, until
    its receive window and the server's send buffer are full."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /pvws/pv HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    payload = json.dumps({"type": "echo", "pad": "x" * 500_000}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0xFF]) + len(payload).to_bytes(8, "big") + mask + bytes(
        byte ^ mask[i % 4] for i, byte in enumerate(payload))
    sock.settimeout(0.5)
    for _ in range(40):       # ~20 MB of echoes: far beyond what the buffers hold
        try:
            sock.sendall(frame)
        except TimeoutError:
            break
    return sock

