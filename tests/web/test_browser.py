"""The web page in a real browser: Debian's Chromium driven by Playwright, against a real
host whose PVs change over Channel Access (pyepics, EPICS' libca).

Chromium comes from Debian's package (``/usr/bin/chromium``), installed by the session when
missing (CI runs as root); Playwright never downloads a browser here. Screenshots go to
``test-artefacts/web/`` (not committed). ``IOCHOST_DOCS_SCREENSHOT=1`` also rewrites the
screenshot in docs/ (see docs/web.md).
"""
from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# No traffic leaves 127.0.0.0/8: besides switching off what phones home (sign-in, updates,
# metrics), every host name but loopback's is unresolvable and any other request goes to a
# proxy that is not there -- Chromium asked for accounts.google.com and
# update.googleapis.com with the first flags alone.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-default-apps",
                  "--disable-domain-reliability", "--disable-breakpad", "--no-pings",
                  "--disable-client-side-phishing-detection", "--metrics-recording-only",
                  "--disable-features=OptimizationHints,MediaRouter,Translate,"
                  "AutofillServerCommunication,InterestFeedContentSuggestions",
                  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , "
                  "EXCLUDE 127.0.0.1",
                  "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost"]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web-mount.png"
TIMEOUT = 5.0


def _install_chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing; None (with the reason
    printed) when that is impossible here."""
    if Path(CHROMIUM).exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "needs /usr/bin/chromium: run 'apt-get install -y chromium' as root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "chromium"]):
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        if proc.returncode != 0:
            return f"{' '.join(command)} failed: {proc.stderr.strip()[-500:]}"
    return None if Path(CHROMIUM).exists() else "apt-get installed no /usr/bin/chromium"


@pytest.fixture(scope="module")
def chromium():
    problem = _install_chromium()
    if problem:
        pytest.skip(f"NO BROWSER TESTS: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def row(page, pv):
    return page.locator(f'#pvs tr[data-pv="{pv}"]')


def wait_for_text(locator, text, timeout):
    """Seconds until ``locator`` shows ``text`` (fails after ``timeout`` seconds)."""
    start = time.monotonic()
    locator.page.wait_for_function(
        "([element, text]) => element.textContent === text",
        arg=[locator.element_handle(), text], timeout=timeout * 1000)
    return time.monotonic() - start


def test_overview_loads_and_shows_a_failed_mount_with_its_error(web_host, page, artefacts):
    demo = web_host()
    page.goto(demo.url("/"))
    assert page.title() == "webtest - iochost"
    broken = page.locator('#mounts tr[data-mount="broken"]')
    assert broken.locator(".state").inner_text().startswith("failed")
    assert broken.locator(".error").inner_text() == "RuntimeError: sensor offline"
    assert page.locator('#mounts tr[data-mount="demo"] .state').inner_text() == "running"
    # live: the uptime card is re-read from /api/host
    uptime = page.locator('[data-field="uptime"]')
    first = uptime.inner_text()
    page.wait_for_function("(first) => document.querySelector('[data-field=uptime]')"
                           ".textContent !== first", arg=first, timeout=5000)
    page.screenshot(path=str(artefacts / "overview.png"), full_page=True)
    page.goto(demo.url("/mounts/broken"))
    assert "RuntimeError: sensor offline" in page.locator(".error.banner").inner_text()
    page.screenshot(path=str(artefacts / "mount-failed.png"))


def test_a_ca_change_appears_within_a_second_and_an_alarm_turns_the_row_red(
        web_host, page, pyepics, artefacts):
    demo = web_host()
    temp = row(page, demo.pv("TEMP"))
    page.goto(demo.url("/mounts/demo"))
    wait_for_text(temp.locator(".value"), "20.00", TIMEOUT)
    assert temp.locator(".units").inner_text() == "degC"
    assert temp.get_attribute("class") == "sev-NONE"
    assert row(page, demo.pv("MODE")).locator(".value").inner_text() == "on"
    assert row(page, demo.pv("WAVE")).locator(".value").inner_text().startswith("[64] ")

    assert pyepics.caput(demo.pv("TEMP"), 33.25, wait=True, timeout=TIMEOUT) == 1
    assert wait_for_text(temp.locator(".value"), "33.25", 1.0) < 1.0

    assert pyepics.caput(demo.pv("TEMP"), 55.0, wait=True, timeout=TIMEOUT) == 1
    page.wait_for_function("(row) => row.className === 'sev-MAJOR'",
                           arg=temp.element_handle(), timeout=1000)
    background = temp.locator("td.value").evaluate(
        "(cell) => getComputedStyle(cell).backgroundColor")
    assert background == "rgb(229, 50, 45)"              # red
    assert temp.locator(".severity").inner_text() == "MAJOR"
    assert pyepics.caput(demo.pv("TEMP"), 45.0, wait=True, timeout=TIMEOUT) == 1
    page.wait_for_function("(row) => row.className === 'sev-MINOR'",
                           arg=temp.element_handle(), timeout=1000)
    for value in (41.0, 43.5, 42.0, 44.0):  # a few points for the sparkline
        pyepics.caput(demo.pv("TEMP"), value, wait=True, timeout=TIMEOUT)
        time.sleep(0.25)
    page.screenshot(path=str(artefacts / "mount.png"), full_page=True)


def test_rows_show_undefined_while_the_host_cannot_be_reached(web_host, page, ca_server):
    demo = web_host()
    page.goto(demo.url("/mounts/demo"))
    temp = row(page, demo.pv("TEMP"))
    wait_for_text(temp.locator(".value"), "20.00", TIMEOUT)
    assert temp.get_attribute("class") == "sev-NONE"
    ca_server.call(demo.host.stop())
    page.wait_for_function("(row) => row.className === 'sev-UNDEFINED'",
                           arg=temp.element_handle(), timeout=5000)
    assert temp.locator(".severity").inner_text() == "UNDEFINED"


def test_a_web_put_is_refused_when_not_writable(web_host, page, pyepics, artefacts):
    demo = web_host()
    page.goto(demo.url("/mounts/demo"))
    temp = row(page, demo.pv("TEMP"))
    wait_for_text(temp.locator(".value"), "20.00", TIMEOUT)
    assert "writable" not in temp.locator(".value").get_attribute("class")
    answer = page.evaluate("""async (name) => {
        const response = await fetch('/api/pvs/' + name, {method: 'PUT',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({value: 1})});
        return [response.status, await response.json()];
    }""", demo.pv("TEMP"))
    assert answer == [403, {"error": "writes from the web are disabled (web.writable: false)"}]
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False, timeout=TIMEOUT) == 20.0


def test_a_web_put_from_the_page_when_writable(web_host, page, pyepics):
    demo = web_host(writable=True)
    page.goto(demo.url("/mounts/demo"))
    cell = row(page, demo.pv("TEMP")).locator(".value")
    wait_for_text(cell, "20.00", TIMEOUT)
    page.wait_for_function("(cell) => cell.classList.contains('writable')",
                           arg=cell.element_handle(), timeout=5000)
    page.once("dialog", lambda dialog: dialog.accept("12.5"))
    cell.click()
    wait_for_text(cell, "12.50", TIMEOUT)
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False, timeout=TIMEOUT) == 12.5
    # a refusal comes back as the ECA text
    guarded = row(page, demo.pv("GUARDED")).locator(".value")
    page.once("dialog", lambda dialog: dialog.accept("-3"))
    guarded.click()
    message = page.locator("#message")
    message.wait_for(timeout=5000)
    assert "Channel write request failed" in message.inner_text()


def test_integers_whole_local_time_stamps_and_text_written_as_typed(web_host, chromium,
                                                                    pyepics):
    demo = web_host(writable=True)
    context = chromium.new_context(timezone_id="Europe/Berlin")
    try:
        page = context.new_page()
        page.goto(demo.url("/mounts/demo"))
        count = row(page, demo.pv("COUNT"))
        wait_for_text(count.locator(".value"), "1234567", TIMEOUT)   # not 1234570
        # the time stamp in the browser's zone, as camonitor and Phoebus show it
        stamp = pyepics.PV(demo.pv("COUNT"), form="time").get_with_metadata(
            use_monitor=False, timeout=TIMEOUT)["timestamp"]
        offset = page.evaluate("(ms) => new Date(ms).getTimezoneOffset()", stamp * 1000)
        assert offset in (-60, -120)       # Berlin's zone, not UTC (no tzdata needed here)
        local = datetime.fromtimestamp(stamp, timezone(timedelta(minutes=-offset)))
        assert count.locator(".stamp").inner_text() == \
            local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"
        # a text PV keeps what is typed; a numeric PV takes it as a number
        for pv, typed, expected in (("NOTE", "12", "12"), ("NOTE", "0x1F", "0x1F"),
                                    ("COUNT", "2147483647", 2147483647),
                                    ("MODE", "off", "off"), ("LONGS", "4, 5 6", "[3] 4, 5, 6")):
            cell = row(page, demo.pv(pv)).locator(".value")
            page.wait_for_function("(cell) => cell.classList.contains('writable')",
                                   arg=cell.element_handle(), timeout=5000)
            page.once("dialog", lambda dialog, text=typed: dialog.accept(text))
            cell.click()
            wait_for_text(cell, str(expected), TIMEOUT)
            if pv == "LONGS":    # an array: one element per word
                assert list(pyepics.caget(demo.pv(pv), use_monitor=False)) == [4, 5, 6]
                continue
            assert pyepics.caget(demo.pv(pv), as_string=isinstance(expected, str),
                                 use_monitor=False, timeout=TIMEOUT) == expected
    finally:
        context.close()


def test_a_page_of_another_site_cannot_use_the_pvws_socket(web_host, page, pyepics):
    """Cross-site WebSocket hijacking, in the browser: a page of another origin (here
    another port of this machine), open in the operator's browser, tries to write and
    subscribe through /pvws/pv."""
    demo = web_host(writable=True)
    with _evil_site() as evil:
        page.goto(evil)
        outcome = page.evaluate("""([url, name]) => new Promise(done => {
            const ws = new WebSocket(url);
            ws.onopen = () => {
                ws.send(JSON.stringify({type: "write", pv: name, value: 66.5}));
                ws.send(JSON.stringify({type: "subscribe", pvs: [name]}));
            };
            ws.onmessage = event => done("read: " + event.data);
            ws.onerror = () => done("refused");
            setTimeout(() => done("silent"), 3000);
        })""", [demo.url("/pvws/pv").replace("http:", "ws:"), demo.pv("TEMP")])
    assert outcome == "refused"
    assert pyepics.caget(demo.pv("TEMP"), use_monitor=False, timeout=TIMEOUT) == 20.0


@contextlib.contextmanager
def _evil_site():
    """A web site of its own on a free loopback port: its URL."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body>another site</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_screenshot_for_the_docs(web_host, page, pyepics, artefacts):
    """The picture in docs/web.md: a mount page with a MINOR and a MAJOR row and a few
    sparkline points. Written to docs/ only with IOCHOST_DOCS_SCREENSHOT=1."""
    demo = web_host(text="""\
        host: {name: lab, status_prefix: null}
        mounts:
          - {name: demo, ioc: web-demo, prefix: "DOCS:DEMO:"}
        """)
    page.set_viewport_size({"width": 1100, "height": 560})
    page.goto(demo.url("/mounts/demo"))
    temp = row(page, "DOCS:DEMO:TEMP")
    wait_for_text(temp.locator(".value"), "20.00", TIMEOUT)
    for value in (31.0, 36.5, 38.0, 42.0, 41.0, 43.5, 44.25):
        assert pyepics.caput("DOCS:DEMO:TEMP", value, wait=True, timeout=TIMEOUT) == 1
        time.sleep(0.25)
    assert pyepics.caput("DOCS:DEMO:PRESSURE", 6.5, wait=True, timeout=TIMEOUT) == 1
    page.wait_for_function("(row) => row.className === 'sev-MAJOR'",
                           arg=row(page, "DOCS:DEMO:PRESSURE").element_handle(), timeout=1000)
    wait_for_text(temp.locator(".value"), "44.25", 1.0)
    page.screenshot(path=str(artefacts / "docs-mount.png"))
    if os.environ.get("IOCHOST_DOCS_SCREENSHOT") == "1":
        page.screenshot(path=str(DOCS_SCREENSHOT))
