"""One iochost per host config: a lock file in the run directory, held while serving.

Two processes serving the same config would fight over its PV names and port. ``serve``
takes an exclusive ``flock`` on ``<run dir>/<config stem>-<hash of its real path>.lock``
and writes its PID there; the kernel releases the lock when the process ends, however it
ends, so a lock left by a dead process never blocks (its stale PID is simply overwritten).
The run directory is ``$RUNTIME_DIRECTORY`` (systemd's ``RuntimeDirectory=``), else
``$XDG_RUNTIME_DIR/iochost``, else ``<temp dir>/iochost-<uid>``.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType


class ConfigLocked(RuntimeError):
    """Another live iochost process serves this config."""


def run_directory(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("RUNTIME_DIRECTORY"):
        return Path(environ["RUNTIME_DIRECTORY"].split(":")[0])
    if environ.get("XDG_RUNTIME_DIR"):
        return Path(environ["XDG_RUNTIME_DIR"]) / "iochost"
    return Path(tempfile.gettempdir()) / f"iochost-{os.getuid()}"


def lock_path(config_path: str | Path, environ: Mapping[str, str] | None = None) -> Path:
    real = Path(config_path).resolve()
    digest = hashlib.sha256(str(real).encode()).hexdigest()[:12]
    return run_directory(environ) / f"{real.stem}-{digest}.lock"


class ConfigLock:
    """``with ConfigLock(path):`` -- raises ConfigLocked naming the PID that serves it."""

    def __init__(self, config_path: str | Path, environ: Mapping[str, str] | None = None):
        self.config_path = str(config_path)
        self.path = lock_path(config_path, environ)
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigLocked(
                f"{self.config_path} is already served by iochost process {holder} "
                f"(lock {self.path}); stop it first, or serve a copy under another name") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Emptied, not removed: unlinking a lock file lets a process that opened the
            # old inode and one that creates a new file both think they hold it.
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def __enter__(self) -> ConfigLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
