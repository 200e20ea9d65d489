"""systemd's readiness protocol, heard on a real ``AF_UNIX`` datagram socket standing in for
systemd's ``$NOTIFY_SOCKET``: READY=1 once every mount is searchable, STATUS= lines,
WATCHDOG=1 every half ``$WATCHDOG_USEC``, RELOADING=1/READY=1 around a SIGHUP reload,
STOPPING=1 on SIGTERM -- from a real ``iochost serve`` process, read back with caproto."""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from iochost.host.sdnotify import Notifier

STARTUP_TIMEOUT = 30.0


class FakeSystemd:
    """The receiving end of ``$NOTIFY_SOCKET``: every datagram, parsed into a dict."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.address = address
        self.messages: list[dict[str, str]] = []

    def close(self) -> None:
        self.sock.close()

    def receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        message = dict(line.split("=", 1) for line in data.decode().splitlines())
        self.messages.append(message)
        return message

    def wait_for(self, key: str, value: str = "1", timeout: float = STARTUP_TIMEOUT,
                 on_message=None) -> dict[str, str]:
        """The next message with ``key=value`` (others are kept in ``messages``)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if on_message is not None and message is not None:
                on_message(message)
            if message is not None and message.get(key) == value:
                return message
        raise AssertionError(f"no {key}={value} within {timeout} s; got {self.messages}")


@pytest.fixture
def systemd():
    """A fake systemd listening in the abstract namespace (``@name``, as systemd does)."""
    fake = FakeSystemd(f"@iochost-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    yield fake
    fake.close()


def test_each_message_is_one_datagram_of_key_value_lines(tmp_path):
    path = str(tmp_path / "notify")          # a filesystem socket this time
    fake = FakeSystemd(path)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": path})
        notifier.ready("serving 3 PVs")
        assert fake.receive(5) == {"READY": "1", "STATUS": "serving 3 PVs"}
        notifier.reloading()
        message = fake.receive(5)
        assert message["RELOADING"] == "1" and int(message["MONOTONIC_USEC"]) > 0
        notifier.stopping()
        assert fake.receive(5) == {"STOPPING": "1", "STATUS": "shutting down"}
    finally:
        fake.close()
    notifier.send(READY="1")             # systemd gone: logged, never raised


def test_without_notify_socket_nothing_is_sent_and_the_watchdog_is_off():
    quiet = Notifier({})
    assert not quiet.enabled and quiet.watchdog_interval is None
    quiet.ready("x")                     # a no-op
    # WatchdogSec: pet every half period, only if the watchdog is meant for this process
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "3000000"}).watchdog_interval \
        == 1.5
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "3000000",
                     "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "3000000",
                     "WATCHDOG_PID": str(os.getpid())}).watchdog_interval == 1.5


def test_serve_tells_systemd_ready_status_watchdog_reload_and_stop(systemd, tmp_path,
                                                                   caproto_context):
    prefix = f"SDN{os.getpid()}:"
    config = tmp_path / "host.yaml"
    config.write_text(
        f"host: {{name: sdn, status_prefix: '{prefix}HOST:'}}\n"
        "mounts:\n"
        f"  - {{name: one, ioc: simple, prefix: '{prefix}ONE:'}}\n"
        f"  - {{name: two, ioc: decay, prefix: '{prefix}TWO:'}}\n")
    env = dict(os.environ, NOTIFY_SOCKET=systemd.address, WATCHDOG_USEC="400000",
               EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    err_path = tmp_path / "serve.err"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "iochost", "serve", str(config)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        log_at_ready = []
        ready = systemd.wait_for(
            "READY", on_message=lambda m: log_at_ready.append(err_path.read_text())
            if "READY" in m else None)
        # READY=1 came after every mount was mounted (the host's 'serving' line), and
        # says in STATUS= what is served; a client finds every mount's PVs at once
        assert "host 'sdn' serving" in log_at_ready[0]
        assert ready["STATUS"].startswith("serving ") and " PVs of 3 mounts on port " in \
            ready["STATUS"]
        one, two, state = caproto_context.get_pvs(
            prefix + "ONE:A", prefix + "TWO:SP", prefix + "HOST:MOUNT:two:STATE", timeout=10)
        assert one.read(timeout=10).data[0] == 1
        two.read(timeout=10)
        from caproto import ChannelType

        assert state.read(data_type=ChannelType.STRING, timeout=10).data[0] == b"running"
        # WatchdogSec: WATCHDOG=1 every 0.2 s (half of WATCHDOG_USEC)
        for _ in range(3):
            systemd.wait_for("WATCHDOG", timeout=10)

        # SIGHUP: RELOADING=1 (with the monotonic time systemd asks for), then READY=1
        config.write_text(config.read_text().replace("name: two, ioc: decay",
                                                     "name: two, ioc: simple"))
        os.kill(proc.pid, signal.SIGHUP)
        reloading = systemd.wait_for("RELOADING", timeout=20)
        assert int(reloading["MONOTONIC_USEC"]) > 0 and "STATUS" in reloading
        again = systemd.wait_for("READY", timeout=20)
        assert " PVs of 3 mounts on port " in again["STATUS"]
        assert caproto_context.get_pvs(prefix + "TWO:A", timeout=10)[0] \
            .read(timeout=10).data[0] == 1                  # the remounted IOC is served

        # SIGTERM: STOPPING=1, then a clean exit
        os.kill(proc.pid, signal.SIGTERM)
        stopping = systemd.wait_for("STOPPING", timeout=20)
        assert stopping["STATUS"] == "shutting down"
        assert proc.wait(20) == 0, err_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    keys = [next(iter(m)) for m in systemd.messages if "WATCHDOG" not in m]
    assert keys == ["READY", "RELOADING", "READY", "STOPPING"], systemd.messages
