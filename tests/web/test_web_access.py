"""Access security on the web side: each CA client's rights on /api/clients, /clients and
/clients/ID, and reloading the rules from the API (only when the web is writable).

The clients are raw CA circuits naming their user (CLIENT_NAME) and host (HOST_NAME), so
the rules decide differently for each; answers are validated against the OpenAPI document.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_web_api import OpenApi

from iochost.testing import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from ca_raw_client import RawCircuit

RULES = """\
UAG(ops) { operator }
UAG(nobody) { nobody }
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) }
}
ASG(HIDDEN) { RULE(1, READ) { UAG(nobody) } }
"""
READ_ONLY_RULES = "ASG(DEFAULT) { RULE(1, READ) }\nASG(HIDDEN) { RULE(1, READ) }\n"


@pytest.fixture
def secured(web_host, unique_prefix, tmp_path):
    """``secured(writable) -> (WebHost, rules file)``: the demo IOC in DEFAULT, a second
    mount of it in HIDDEN (no access but for 'nobody')."""
    rules = tmp_path / "site.acf"
    rules.write_text(RULES)

    def make(writable: bool):
        return web_host(text=f"""\
            host: {{name: secured, status_prefix: null}}
            web: {{listen: "127.0.0.1:8080", writable: {str(writable).lower()}}}
            access: {{file: {rules}}}
            mounts:
              - {{name: demo, ioc: web-demo, prefix: "{unique_prefix}DEMO:"}}
              - {{name: secret, ioc: web-demo, prefix: "{unique_prefix}SECRET:", asg: HIDDEN}}
            """), rules
    return make


def _client(clients: list[dict], user: str) -> dict:
    (found,) = [c for c in clients if c["user"] == user]
    return found


def test_each_clients_rights_are_shown(secured, ca_server, unique_prefix):
    demo, _ = secured(writable=False)
    openapi = OpenApi(demo.get_json("/api/openapi.json"))
    temp, secret = unique_prefix + "DEMO:TEMP", unique_prefix + "SECRET:TEMP"
    with RawCircuit(ca_server.tcp_port, user=b"operator", host=b"console1") as operator, \
            RawCircuit(ca_server.tcp_port, user=b"visitor", host=b"laptop") as visitor:
        assert operator.create_channel(temp)[0].access_rights == 3
        assert operator.create_channel(secret)[0].access_rights == 0
        assert visitor.create_channel(temp)[0].access_rights == 1
        assert wait_until(lambda: {"operator", "visitor"} <= {
            c["user"] for c in demo.get_json("/api/clients")}, 5)
        clients = demo.get_json("/api/clients")
        openapi.check("/api/clients", "get", 200, clients)
        mine = _client(clients, "operator")
        assert mine["rights"] == {"read-write": 1, "read-only": 0, "no-access": 1}
        assert _client(clients, "visitor")["rights"] == {
            "read-write": 0, "read-only": 1, "no-access": 0}

        detail = demo.get_json(f"/api/clients/{mine['client_id']}")
        openapi.check("/api/clients/{client_id}", "get", 200, detail)
        assert sorted((c["name"], c["rights"]) for c in detail["channel_list"]) == [
            (temp, "read-write"), (secret, "no-access")]
        status, _, missing = demo.request("/api/clients/999999")
        assert status == 404
        openapi.check("/api/clients/{client_id}", "get", 404, missing)

        page = demo.request("/clients")[2]
        assert "read-write 1, no-access 1" in page and "read-only 1" in page
        assert f'href="/clients/{mine["client_id"]}"' in page
        page = demo.request(f"/clients/{mine['client_id']}")[2]
        assert secret in page and 'class="rights rights-no-access">no-access' in page
        assert demo.request("/clients/999999")[0] == 404


def test_access_reload_from_the_api_needs_a_writable_web(secured, web_host, ca_server,
                                                         unique_prefix, caplog):
    temp = unique_prefix + "DEMO:TEMP"

    def operator_rights() -> int:
        with RawCircuit(ca_server.tcp_port, user=b"operator", host=b"console1") as raw:
            return raw.create_channel(temp)[0].access_rights

    closed, rules = secured(writable=False)
    rules.write_text(READ_ONLY_RULES)
    status, _, answer = closed.request("/api/access/reload", "POST", {})
    assert status == 403 and "web.writable: false" in answer["error"]
    OpenApi(closed.get_json("/api/openapi.json")).check("/api/access/reload", "post", 403,
                                                        answer)
    assert operator_rights() == 3                    # not reloaded: the old rules stand
    ca_server.call(closed.host.stop())

    rules.write_text(RULES)
    demo, rules = secured(writable=True)
    openapi = OpenApi(demo.get_json("/api/openapi.json"))
    assert operator_rights() == 3
    rules.write_text(READ_ONLY_RULES)
    status, _, answer = demo.request("/api/access/reload", "POST", {})
    assert (status, answer) == (200, {"reloaded": True})
    openapi.check("/api/access/reload", "post", 200, answer)
    assert operator_rights() == 1                    # the new rules: write denied

    rules.write_text("ASG(DEFAULT) {\n  RULE(1, WRITE) { UAG(missing) }\n}\n")
    status, _, answer = demo.request("/api/access/reload", "POST", {})
    assert status == 422 and f"{rules}:2" in answer["error"], answer
    openapi.check("/api/access/reload", "post", 422, answer)
    assert operator_rights() == 1                    # a bad file keeps the rules in force

    plain = web_host(writable=True)                  # no access: section
    status, _, answer = plain.request("/api/access/reload", "POST", {})
    assert status == 409 and "no access rules" in answer["error"]
    openapi.check("/api/access/reload", "post", 409, answer)
