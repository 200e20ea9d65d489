"""The loopback guard (tests/loopback_guard.c): the suite itself sends nothing outside
127.0.0.0/8, libca's repeater registration included, and says what it stopped."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys

import loopback_guard
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get(loopback_guard.ACTIVE) is None,
    reason="no loopback guard in this session (building it needs gcc, see the session's "
           "first lines)")

#: "0.0.0.0" as a destination is this machine (Linux delivers it on loopback), but it is not
#: in 127.0.0.0/8: the guard must stop it, and a failing guard still sends nothing out.
OUTSIDE = "0.0.0.0"


@pytest.fixture
def private_log(tmp_path, monkeypatch):
    """What the guard stops during one test, away from the session's log."""
    path = tmp_path / "guard.log"
    monkeypatch.setenv(loopback_guard.LOG, str(path))
    return path


def test_the_guard_is_preloaded_into_the_suite_and_every_process_it_starts():
    library = os.environ[loopback_guard.ACTIVE]
    assert loopback_guard.loaded(library)
    child = subprocess.run(
        [sys.executable, "-c", "import loopback_guard, sys; "
                               f"sys.exit(0 if loopback_guard.loaded({library!r}) else 3)"],
        cwd=os.path.dirname(__file__), check=False)
    assert child.returncode == 0


def test_a_datagram_leaving_loopback_is_dropped_and_logged(private_log):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        port = receiver.getsockname()[1]
        assert sender.sendto(b"out", (OUTSIDE, port)) == 3   # reported sent, as a DROP
        assert sender.sendto(b"in", ("127.0.0.1", port)) == 2
        assert receiver.recvfrom(16)[0] == b"in"   # the dropped one never arrived first
    (line,) = private_log.read_text().splitlines()
    assert line.split()[:5] == [str(os.getpid()), "sendto", OUTSIDE, str(port), "3"]


def test_a_connect_leaving_loopback_is_refused_and_logged(private_log):
    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(OSError) as refused:
            client.connect((OUTSIDE, port))
        assert refused.value.errno == errno.ENETUNREACH
    assert private_log.read_text().split()[:5] == [str(os.getpid()), "connect", OUTSIDE,
                                                    str(port), "-1"]


#: stopped, and expected: libca's registrations with the CA repeater (empty datagrams; no
#: other sender here sends one), and Chromium's IPv6 reachability probe (a datagram socket
#: connected to Google's DNS address, which sends nothing; refused, it finds no IPv6)
EXPECTED = (lambda call, address, port, size: call == "sendto" and size == "0",
            lambda call, address, port, size: (call, address, port) == (
                "connect-udp", "2001:4860:4860::8888", "443"))


def test_the_session_sent_nothing_outside_loopback_but_libcas_registrations():
    """Runs last (conftest orders it): anything else the guard stopped in this session is a
    process of the suite -- or iochost itself -- sending off loopback."""
    unexpected = [line for line in loopback_guard.blocked()
                  if not any(rule(*line.split()[1:5]) for rule in EXPECTED)]
    assert not unexpected, "sent outside 127.0.0.0/8 (stopped by the guard):\n" + \
        "\n".join(unexpected)
