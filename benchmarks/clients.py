"""Run the load generators as child processes and read their one-line JSON results.

``caclient`` (C, libca) is the main client; pyepics (libca too) and caproto's threading
client (an independent Python stack) give second opinions (``benchmarks.pyclients``).
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import sys
from collections.abc import Sequence

from benchmarks.cbuild import build_caclient
from benchmarks.servers.launch import REPO


class ClientError(RuntimeError):
    """A client failed; the message carries its output."""


def _parse(out: str, what: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            result = json.loads(line)
            if "error" in result:
                raise ClientError(f"{what}: {result['error']}")
            return result
    raise ClientError(f"{what}: no result in output:\n{out[-1500:]}")


#: Prefix of the clients compared in the client rows (``benchmarks.clientbench``).
CLIENT_ROW = "client:"


def _command(client: str, mode: str, args: Sequence[object]) -> list[str]:
    if client == "c":
        return [str(build_caclient()), mode, *map(str, args)]
    if client.startswith(CLIENT_ROW):
        return [sys.executable, "-m", "benchmarks.clientbench", client[len(CLIENT_ROW):],
                mode, *map(str, args)]
    return [sys.executable, "-m", "benchmarks.pyclients", client, mode, *map(str, args)]


def run_client(client: str, mode: str, args: Sequence[object], env: dict[str, str],
               timeout: float) -> dict:
    """Run one client to completion (killed after `timeout` s); its result dict."""
    cmd = _command(client, mode, args)
    try:
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ClientError(f"{client} {mode} did not finish in {timeout:.0f} s") from exc
    return _parse(done.stdout + done.stderr, f"{client} {mode}")


class SignalledClient:
    """A client that prints 'READY ...' when set up, then waits for one stdin line to start."""

    def __init__(self, mode: str, args: Sequence[object], env: dict[str, str],
                 client: str = "c") -> None:
        self.what = f"{client} {mode}"
        # libca reports what went wrong (circuit lost, flow control) on stderr: keep it
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- lives with the client
        self.proc = subprocess.Popen(_command(client, mode, args), env=env, cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True)

    def wait_ready(self) -> str:
        """Block until READY (bounded by the client's own timeouts); the rest of that line."""
        for line in self.proc.stdout:
            if line.startswith("READY"):
                return line[5:].strip()
            if line.startswith("{"):
                _parse(line, self.what)
        self.proc.wait()
        raise ClientError(f"{self.what} exited with {self.proc.returncode} before READY")

    def start(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self, timeout: float) -> dict:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            raise ClientError(f"{self.what} gave no result in {timeout:.0f} s") from exc
        return _parse(out, self.what)

    def stderr_tail(self, chars: int = 1500) -> str:
        """What the client printed on stderr so far (the end of it)."""
        self._stderr.seek(0)
        return self._stderr.read()[-chars:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
