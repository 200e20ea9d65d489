"""The JSON API of a real host over HTTP, every answer validated against /api/openapi.json.

Also: /healthz, /metrics, the pages' HTML, PV puts through the CA put path (checked with
pyepics, EPICS' libca), and a plugin's route added through ``iochost_web_routes``.
"""
from __future__ import annotations

import re
import time
import urllib.parse

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from iochost.testing import wait_until


class OpenApi:
    """Validates answers against the schemas of the served OpenAPI document."""

    def __init__(self, document):
        validate_openapi(document)       # a well-formed OpenAPI 3.1 document
        self.document = document

    def check(self, path: str, method: str, status: int, data) -> None:
        answer = self.document["paths"][path][method]["responses"][str(status)]
        schema = answer["content"]["application/json"]["schema"]
        # the components travel with the schema, so its "#/components/..." refs resolve
        jsonschema.Draft202012Validator(
            {**schema, "components": self.document["components"]}).validate(data)


@pytest.fixture
def demo(web_host):
    return web_host()


@pytest.fixture
def openapi(demo):
    return OpenApi(demo.get_json("/api/openapi.json"))


def test_every_api_answer_matches_the_openapi_document(demo, openapi):
    answers = {
        "/api/host": demo.request("/api/host"),
        "/api/mounts": demo.request("/api/mounts"),
        "/api/mounts/{name}": demo.request("/api/mounts/demo"),
        "/api/mounts/{name}/pvs": demo.request("/api/mounts/demo/pvs"),
        "/api/clients": demo.request("/api/clients"),
        "/api/plugins": demo.request("/api/plugins"),
        "/api/pvs/{name}": demo.request(f"/api/pvs/{demo.pv('TEMP')}"),
        "/healthz": demo.request("/healthz"),
    }
    for path, (status, kind, data) in answers.items():
        assert kind == "application/json", path
        openapi.check(path, "get", status, data)
    status, _, missing = demo.request("/api/mounts/nonesuch")
    assert status == 404
    openapi.check("/api/mounts/{name}", "get", 404, missing)
    status, _, missing = demo.request("/api/pvs/NOT:SERVED")
    assert status == 404 and "NOT:SERVED" in missing["error"]
    openapi.check("/api/pvs/{name}", "get", 404, missing)


def test_api_reports_the_host_its_mounts_and_pvs(demo, pyepics):
    host = demo.get_json("/api/host")
    assert host["name"] == "webtest" and host["web_writable"] is False
    assert host["ca_port"] == demo.host.server.tcp_port
    mounts = {m["name"]: m for m in demo.get_json("/api/mounts")}
    assert mounts["demo"]["state"] == "running" and mounts["demo"]["pvs"] == 14
    assert mounts["demo"]["plugin"] == "webtest"
    assert mounts["demo"]["description"] == "the web test IOC"
    assert mounts["broken"]["state"] == "failed"
    assert mounts["broken"]["error"] == "RuntimeError: sensor offline"
    assert mounts["spare"]["state"] == "disabled"
    detail = demo.get_json("/api/mounts/demo")
    assert detail["pvnames"][0] == demo.pv("TEMP")
    pvs = {pv["name"]: pv for pv in demo.get_json("/api/mounts/demo/pvs")}
    temp = pvs[demo.pv("TEMP")]
    assert (temp["type"], temp["value"], temp["units"], temp["precision"], temp["severity"]) \
        == ("DOUBLE", 20.0, "degC", 2, "NONE")
    assert pvs[demo.pv("MODE")]["text"] == "on" and pvs[demo.pv("MODE")]["value"] == 1
    assert pvs[demo.pv("NOTE")]["value"] == "hello"
    assert pvs[demo.pv("WAVE")]["count"] == 64
    assert pvs[demo.pv("LONGS")]["value"] == [1, -2, 70000]
    # a value changed over CA is what the API reads next (no cache in between)
    assert pyepics.caput(demo.pv("TEMP"), 55.5, wait=True, timeout=5) == 1
    temp = demo.get_json(f"/api/pvs/{demo.pv('TEMP')}")
    assert (temp["value"], temp["severity"]) == (55.5, "MAJOR")


def test_clients_lists_a_ca_client_with_its_channels(demo, pyepics):
    pv = pyepics.PV(demo.pv("TEMP"), auto_monitor=True)
    assert pv.wait_for_connection(timeout=5)
    try:
        clients = demo.get_json("/api/clients")
        assert clients, "the libca circuit is listed"
        assert any(c["channels"] >= 1 and c["subscriptions"] >= 1 and c["bytes_sent"] > 0
                   for c in clients)
        assert all(c["peer"].startswith("127.0.0.1:") for c in clients)
    finally:
        pv.disconnect()


def test_healthz_names_the_failed_mount(demo, openapi):
    status, _, health = demo.request("/healthz")
    assert status == 503
    openapi.check("/healthz", "get", 503, health)
    assert health == {"status": "unhealthy", "mounts": [
        {"name": "broken", "state": "failed", "error": "RuntimeError: sensor offline"}]}


def test_healthz_is_ok_when_every_enabled_mount_runs(web_host, unique_prefix):
    healthy = web_host(text=f"""\
        host: {{name: ok, status_prefix: null}}
        mounts:
          - {{name: only, ioc: web-demo, prefix: "{unique_prefix}OK:"}}
        """)
    assert healthy.request("/healthz")[::2] == (200, {"status": "ok"})


def test_metrics_are_prometheus_text(demo, pyepics):
    assert pyepics.caget(demo.pv("TEMP"), timeout=5) is not None
    status, kind, text = demo.request("/metrics")
    assert (status, kind) == (200, "text/plain")
    samples = dict(re.findall(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.MULTILINE))
    for family in ("iochost_ca_clients", "iochost_ca_channels", "iochost_ca_subscriptions",
                   "iochost_ca_updates_sent_total", "iochost_ca_bytes_sent_total",
                   "iochost_uptime_seconds", "iochost_pvs"):
        assert f"# TYPE {family} " in text and family in samples, family
    assert float(samples["iochost_ca_clients"]) >= 1
    assert samples['iochost_mount_up{mount="demo",state="running"}'] == "1"
    assert samples['iochost_mount_up{mount="broken",state="failed"}'] == "0"
    assert samples['iochost_mount_pvs{mount="demo"}'] == "14"


def test_put_is_refused_when_the_web_is_not_writable(demo, openapi, pyepics):
    status, _, answer = demo.request(f"/api/pvs/{demo.pv('TEMP')}", "PUT", {"value": 1.0})
    assert status == 403
    openapi.check("/api/pvs/{name}", "put", 403, answer)
    assert "web.writable: false" in answer["error"]
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False, timeout=5) == 20.0


def test_a_web_put_takes_the_ca_put_path(web_host, pyepics):
    demo = web_host(writable=True)
    openapi = OpenApi(demo.get_json("/api/openapi.json"))
    path = f"/api/pvs/{demo.pv('TEMP')}"
    status, _, answer = demo.request(path, "PUT", {"value": 42.5})
    assert status == 200, answer
    openapi.check("/api/pvs/{name}", "put", 200, answer)
    assert (answer["value"], answer["severity"]) == (42.5, "MINOR")
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False, timeout=5) == 42.5
    # an enum by its state string, text, an array
    assert demo.request(f"/api/pvs/{demo.pv('MODE')}", "PUT", {"value": "off"})[0] == 200
    assert pyepics.caget(demo.pv("MODE"), as_string=True, use_monitor=False) == "off"
    assert demo.request(f"/api/pvs/{demo.pv('NOTE')}", "PUT", {"value": "from web"})[0] == 200
    assert pyepics.caget(demo.pv("NOTE"), as_string=True, use_monitor=False) == "from web"
    assert demo.request(f"/api/pvs/{demo.pv('LONGS')}", "PUT", {"value": [4, 5, 6]})[0] == 200
    assert list(pyepics.caget(demo.pv("LONGS"), use_monitor=False)) == [4, 5, 6]

    refusals = [
        ("GUARDED", -1.0, 400, "ECA_PUTFAIL"),      # the putter refuses
        ("TEMP", 500.0, 400, "ECA_PUTFAIL"),        # beyond the control limits
        ("RO", 1, 403, "ECA_NOWTACCESS"),           # read-only
        ("LONGS", [1, 2, 3, 4], 400, "ECA_BADCOUNT"),
        ("NOTE", "x" * 50, 400, "ECA_BADCOUNT"),    # 50 bytes into a 40-byte CHAR array
        ("MODE", "x" * 50, 400, "ECA_BADSTR"),      # no DBR_STRING holds 50 bytes
        ("TEMP", 10 ** 400, 400, "ECA_BADTYPE"),    # no DOUBLE holds it
        ("TEMP", True, 400, "ECA_NOCONVERT"),       # "true", as pvws writes a non-number
    ]
    for name, value, want_status, eca in refusals:
        status, _, answer = demo.request(f"/api/pvs/{demo.pv(name)}", "PUT", {"value": value})
        assert (status, answer.get("eca")) == (want_status, eca), (name, answer)
        openapi.check("/api/pvs/{name}", "put", status, answer)
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False) == 42.5      # kept
    assert pyepics.caget(demo.pv("GUARDED"), use_monitor=False) == 1.0
    # text the PV's encoding cannot hold is refused, not altered; a text channel takes one
    for value, eca in (("snow \u2603", "ECA_BADSTR"), (["ab", "cd"], "ECA_BADCOUNT")):
        status, _, answer = demo.request(f"/api/pvs/{demo.pv('NOTE')}", "PUT",
                                         {"value": value})
        assert (status, answer.get("eca")) == (400, eca), answer
    assert pyepics.caget(demo.pv("NOTE"), as_string=True, use_monitor=False) == "from web"
    # any channel name the server serves, a JSON filter's braces included
    filtered = urllib.parse.quote(demo.pv("LONGS") + '.{"arr":{"s":1}}', safe=":")
    assert demo.get_json(f"/api/pvs/{filtered}")["value"] == [5, 6]
    # a step of 0 is 1 (as RSRV); a filter leaving no element is an empty array
    for modifiers, values in ("[1:0:2]", [5, 6]), ('{"arr":{"s":100}}', []):
        filtered = urllib.parse.quote(demo.pv("LONGS") + "." + modifiers, safe=":")
        answer = demo.get_json(f"/api/pvs/{filtered}")
        assert (answer["value"], answer["count"]) == (values, len(values))
    status, _, answer = demo.request(path, "PUT", {"wrong": 1})
    assert status == 400 and "value" in answer["error"]


def test_the_api_answers_json_for_paths_it_does_not_have(demo):
    status, kind, answer = demo.request("/api/nonesuch")
    assert (status, kind) == (404, "application/json") and answer["error"]
    status, kind, answer = demo.request("/api/mounts/nonesuch")
    assert (status, kind, answer) == (404, "application/json",
                                      {"error": "no mount named 'nonesuch'"})
    assert demo.request("/api/pvs/X", "DELETE")[:2] == (405, "application/json")
    assert demo.request("/nonesuch")[:2] == (404, "text/plain")   # pages stay pages


def test_pages_render_the_host(demo):
    status, kind, page = demo.request("/")
    assert (status, kind) == (200, "text/html")
    assert "webtest" in page and 'href="/mounts/demo"' in page
    assert "RuntimeError: sensor offline" in page          # the failed mount's error
    status, _, page = demo.request("/mounts/demo")
    assert status == 200 and f'data-pv="{demo.pv("TEMP")}"' in page
    assert demo.request("/mounts/nonesuch")[0] == 404
    assert "webtest" in demo.request("/plugins")[2]
    assert demo.request("/clients")[0] == 200
    status, kind, script = demo.request("/static/iochost.js")
    assert status == 200 and "pvws" in script


def test_a_plugin_adds_its_own_route(demo):
    assert demo.request("/plugins/webtest/hello")[::2] == (200, "hello from webtest")


def test_web_false_serves_no_page(web_host, unique_prefix):
    quiet = web_host(text=f"""\
        host: {{name: quiet, status_prefix: null}}
        web: false
        mounts:
          - {{name: only, ioc: web-demo, prefix: "{unique_prefix}Q:"}}
        """)
    assert quiet.host.web is None
    assert wait_until(lambda: quiet.host.mounts["only"].state == "running")


def test_cpu_percent_does_not_depend_on_how_many_read_it(web_host):
    """The host's CPU figure is measured over a window of at least a second: a second
    reader right after the first gets the same figure, not the cost of its own request."""
    from iochost.host.status import CpuMeter

    meter = CpuMeter(window=0.2)
    deadline = time.monotonic() + 0.25
    while time.monotonic() < deadline:      # busy: ~100 % of a core
        pass
    first = meter.percent()
    assert first > 50.0
    time.sleep(0.05)                        # idle, but within the window
    assert meter.percent() == first
    demo = web_host()
    readings = [demo.get_json("/api/host")["cpu_percent"] for _ in range(6)]
    assert len(set(readings)) <= 2, readings     # two if a window ended in between
