"""Fixtures of the web tests: a real Host (on the session's CA server) with its web page.

``web_host(writable=False)`` starts a host whose config mounts the test plugin's
``web-demo`` IOC twice -- once healthy (``demo``), once with a helper that fails its start
(``broken``) -- on a free loopback port (``IOCHOST_WEB_LISTEN=127.0.0.1:0`` from the
session). ``WebHost.url(path)`` and ``get_json`` talk to it over real HTTP.
"""
from __future__ import annotations

import json
import sys
import textwrap
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import webtest_plugin

from iochost.host import Host, load_config_text, load_plugins

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "web"


@dataclass
class WebHost:
    host: Host
    prefix: str

    @property
    def base(self) -> str:
        return self.host.web.url.rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def pv(self, name: str) -> str:
        return f"{self.prefix}DEMO:{name}"

    def request(self, path: str, method: str = "GET", body: Any = None,
                ) -> tuple[int, str, Any]:
        """(status, content type, decoded JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, kind, raw = response.status, response.headers.get_content_type(), \
                    response.read()
        except urllib.error.HTTPError as error:
            status, kind, raw = error.code, error.headers.get_content_type(), error.read()
        text = raw.decode()
        return status, kind, json.loads(text) if kind == "application/json" else text

    def get_json(self, path: str) -> Any:
        status, kind, data = self.request(path)
        assert (status, kind) == (200, "application/json"), (path, status, data)
        return data


HOST_CONFIG = """\
host: {{name: webtest, status_prefix: "$(P)HOST:"}}
macros: {{P: "{prefix}"}}
web: {{listen: "127.0.0.1:8080", writable: {writable}}}
mounts:
  - {{name: demo, ioc: web-demo, prefix: "$(P)DEMO:", description: the web test IOC}}
  - {{name: broken, ioc: web-demo, prefix: "$(P)BROKEN:",
     helpers: {{web-broken-sensor: {{}}}}}}
  - {{name: spare, ioc: web-demo, prefix: "$(P)SPARE:", enabled: false}}
"""


@pytest.fixture
def web_host(ca_server, unique_prefix):
    """``web_host(writable=False) -> WebHost``: started now, stopped at teardown."""
    hosts: list[Host] = []

    def make(writable: bool = False, text: str | None = None) -> WebHost:
        yaml = text or HOST_CONFIG.format(prefix=unique_prefix,
                                          writable=str(writable).lower())
        config = load_config_text(textwrap.dedent(yaml), "web.yaml", environ={})
        catalog = load_plugins(extra_plugins={"webtest": webtest_plugin})
        host = Host(config, catalog, server=ca_server.server)
        ca_server.call(host.start())
        hosts.append(host)
        return WebHost(host, unique_prefix)

    yield make
    for host in hosts:
        ca_server.call(host.stop())


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where tests leave screenshots (ignored by git; CI may keep them)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS
