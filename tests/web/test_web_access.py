"""Access security on the web side: each CA client's rights on /api/clients, /clients and
/clients/ID, and reloading the rules from the API (only when the web is writable).

The clients are caproto's client naming its user (CLIENT_NAME) and host (HOST_NAME), so the
rules decide differently for each; what the API reports is checked against what the client
itself was told, and every answer is validated against the OpenAPI document.
"""
from __future__ import annotations

import re
import threading

import pytest
from test_web_api import OpenApi

from iochost.ca.eca import ECA_NOWTACCESS
from iochost.testing import wait_until

TIMEOUT = 5.0
RULES = """\
UAG(ops) { operator }
UAG(nobody) { nobody }
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) }
}
ASG(RO) { RULE(1, READ) }
ASG(HIDDEN) { RULE(1, READ) { UAG(nobody) } }
"""
#: the operator loses write access to DEFAULT
DENY_RULES = RULES.replace("    RULE(1, WRITE) { UAG(ops) }\n", "")
#: a typo on line 4: the rule's ")" is missing
BAD_RULES = RULES.replace("    RULE(1, READ)\n", "    RULE(1, READ\n", 1)


@pytest.fixture
def secured(web_host, unique_prefix, tmp_path):
    """``secured(writable) -> (WebHost, rules file)``: the demo IOC three times, in DEFAULT
    (``DEMO:``), in RO (``GAUGES:``) and in HIDDEN (``SECRET:``, no access but for
    'nobody')."""
    rules = tmp_path / "site.acf"
    rules.write_text(RULES)

    def make(writable: bool):
        return web_host(text=f"""\
            host: {{name: secured, status_prefix: null}}
            web: {{listen: "127.0.0.1:8080", writable: {str(writable).lower()}}}
            access: {{file: {rules}}}
            mounts:
              - {{name: demo, ioc: web-demo, prefix: "{unique_prefix}DEMO:"}}
              - {{name: gauges, ioc: web-demo, prefix: "{unique_prefix}GAUGES:", asg: RO}}
              - {{name: secret, ioc: web-demo, prefix: "{unique_prefix}SECRET:", asg: HIDDEN}}
            """), rules
    return make


def _connect(context, *names: str) -> list:
    pvs = context.get_pvs(*names, timeout=TIMEOUT)
    for pv in pvs:
        pv.wait_for_connection(timeout=TIMEOUT)
    return pvs


def _client(clients: list[dict], user: str) -> dict:
    (found,) = [c for c in clients if c["user"] == user]
    return found


def _channel_rights(web, client_id: int) -> dict[str, str]:
    detail = web.get_json(f"/api/clients/{client_id}")
    return {c["name"]: c["rights"] for c in detail["channel_list"]}


def test_each_clients_rights_are_shown(secured, caproto_as, unique_prefix):
    demo, _ = secured(writable=False)
    openapi = OpenApi(demo.get_json("/api/openapi.json"))
    P = unique_prefix
    temp, gauge, secret = P + "DEMO:TEMP", P + "GAUGES:TEMP", P + "SECRET:TEMP"
    operator = _connect(caproto_as("operator", "console1"), temp, gauge, secret)
    (visitor,) = _connect(caproto_as("visitor", "laptop"), temp)
    # what the server told each client, before asking the web what it thinks
    assert [int(pv.access_rights) for pv in operator] == [3, 1, 0]
    assert int(visitor.access_rights) == 1
    updates = []

    def on_update(sub, response):  # caproto keeps callbacks by weak reference
        updates.append(response)

    subscription = operator[0].subscribe()
    subscription.add_callback(on_update)
    assert wait_until(lambda: updates, TIMEOUT)

    clients = demo.get_json("/api/clients")
    openapi.check("/api/clients", "get", 200, clients)
    mine, theirs = _client(clients, "operator"), _client(clients, "visitor")
    assert (mine["host"], mine["channels"], mine["subscriptions"]) == ("console1", 3, 1)
    assert mine["rights"] == {"read-write": 1, "read-only": 1, "no-access": 1}
    assert theirs["rights"] == {"read-write": 0, "read-only": 1, "no-access": 0}

    detail = demo.get_json(f"/api/clients/{mine['client_id']}")
    openapi.check("/api/clients/{client_id}", "get", 200, detail)
    assert detail["client_id"] == mine["client_id"] and detail["rights"] == mine["rights"]
    # in the order the client created them, which its search replies decide: sort
    assert sorted(detail["channel_list"], key=lambda c: c["name"]) == [
        {"name": temp, "rights": "read-write", "subscriptions": 1},
        {"name": gauge, "rights": "read-only", "subscriptions": 0},
        {"name": secret, "rights": "no-access", "subscriptions": 0}]
    for missing in ("999999", "operator", "%C2%B2"):   # '²' is a digit to str.isdigit
        status, kind, answer = demo.request(f"/api/clients/{missing}")
        assert (status, kind) == (404, "application/json"), (missing, answer)
        assert "is not connected" in answer["error"]
        openapi.check("/api/clients/{client_id}", "get", 404, answer)

    page = demo.request("/clients")[2]
    rows = dict(re.findall(r'<tr data-client="(\d+)">(.*?)</tr>', page))
    assert 'class=rights>read-write 1, read-only 1, no-access 1<' in rows[str(mine["client_id"])]
    assert 'class=rights>read-only 1<' in rows[str(theirs["client_id"])]
    assert f'href="/clients/{mine["client_id"]}"' in rows[str(mine["client_id"])]
    page = demo.request(f"/clients/{mine['client_id']}")[2]
    shown = re.findall(r'<tr><td>([^<]*)</td><td class="rights rights-([a-z-]+)">', page)
    assert sorted(shown) == [(temp, "read-write"), (gauge, "read-only"), (secret, "no-access")]
    status, kind, page = demo.request("/clients/999999")
    assert (status, kind) == (404, "text/html") and "is not connected" in page


class RightsWatch:
    """``changed`` is set when the server sends a PV new access rights (ACCESS_RIGHTS).

    caproto holds callbacks by weak reference: the test keeps this object alive."""

    def __init__(self, pv) -> None:
        self.changed = threading.Event()
        pv.access_rights_callback.add_callback(self._on_rights)

    def _on_rights(self, pv, rights) -> None:
        self.changed.set()


def test_access_reload_is_refused_when_the_web_is_not_writable(secured, caproto_as,
                                                                unique_prefix):
    closed, rules = secured(writable=False)
    (temp,) = _connect(caproto_as("operator", "console1"), unique_prefix + "DEMO:TEMP")
    rules.write_text(DENY_RULES)
    status, _, answer = closed.request("/api/access/reload", "POST", {})
    assert status == 403 and "web.writable: false" in answer["error"]
    assert "SIGHUP" in answer["error"]               # it says what still works
    OpenApi(closed.get_json("/api/openapi.json")).check("/api/access/reload", "post", 403,
                                                        answer)
    # not reloaded: the operator still writes
    assert int(temp.access_rights) == 3
    temp.write([21.0], wait=True, timeout=TIMEOUT)
    assert temp.read(timeout=TIMEOUT).data[0] == 21.0


def test_access_reload_from_the_api(secured, caproto_as, unique_prefix):
    demo, rules = secured(writable=True)
    openapi = OpenApi(demo.get_json("/api/openapi.json"))
    name = unique_prefix + "DEMO:TEMP"
    (temp,) = _connect(caproto_as("operator", "console1"), name)
    (me,) = [c for c in demo.get_json("/api/clients") if c["user"] == "operator"]
    watch = RightsWatch(temp)
    temp.write([21.0], wait=True, timeout=TIMEOUT)

    # a bad file: 422 naming file:line, and the rules in force (which let the operator
    # write) stay -- not a fallback to read-only
    rules.write_text(BAD_RULES)
    status, _, answer = demo.request("/api/access/reload", "POST", {})
    assert status == 422 and f"{rules}:5:" in answer["error"] and "')'" in answer["error"]
    openapi.check("/api/access/reload", "post", 422, answer)
    assert not watch.changed.wait(0.3)
    temp.write([22.0], wait=True, timeout=TIMEOUT)
    assert temp.read(timeout=TIMEOUT).data[0] == 22.0
    assert _channel_rights(demo, me["client_id"]) == {name: "read-write"}

    # a good file that denies the write: in force at once, for the connected client too
    rules.write_text(DENY_RULES)
    status, _, answer = demo.request("/api/access/reload", "POST", {})
    assert (status, answer) == (200, {"reloaded": True})
    openapi.check("/api/access/reload", "post", 200, answer)
    assert watch.changed.wait(TIMEOUT), "no ACCESS_RIGHTS after the reload"
    assert int(temp.access_rights) == 1
    refused = temp.write([23.0], wait=True, timeout=TIMEOUT)
    assert refused.status.code_with_severity == ECA_NOWTACCESS
    assert temp.read(timeout=TIMEOUT).data[0] == 22.0
    assert _channel_rights(demo, me["client_id"]) == {name: "read-only"}


def test_access_reload_without_access_rules(web_host):
    plain = web_host(writable=True)                  # no access: section
    status, _, answer = plain.request("/api/access/reload", "POST", {})
    assert status == 409 and "no access rules" in answer["error"]
    OpenApi(plain.get_json("/api/openapi.json")).check("/api/access/reload", "post", 409,
                                                       answer)


def test_a_pvws_socket_is_told_at_once_when_its_write_access_changes(secured, unique_prefix):
    """As pvws sends an update on an access-rights event: the page's click-to-write follows
    the rules in force, with no change of value needed."""
    from test_pvws import Browser, run

    demo, rules = secured(writable=True)
    name = unique_prefix + "DEMO:TEMP"
    web_may_write = RULES.replace("UAG(ops) { operator }", "UAG(ops) { operator, web }")

    async def scenario():
        async with await Browser.open(demo) as browser:
            await browser.send(type="subscribe", pvs=[name])
            assert (await browser.update_of(name))["readonly"] is True
            rules.write_text(web_may_write)
            assert demo.request("/api/access/reload", "POST", {})[0] == 200
            granted = await browser.update_of(name, timeout=2.0)
            assert granted["readonly"] is False and granted["value"] == 20.0
            rules.write_text(RULES)
            assert demo.request("/api/access/reload", "POST", {})[0] == 200
            assert (await browser.update_of(name, timeout=2.0))["readonly"] is True

    run(scenario())
