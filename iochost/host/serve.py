"""``iochost serve``: run a Host on an event loop until SIGINT or SIGTERM, then stop cleanly;
SIGHUP reloads its config; systemd hears of readiness through sd_notify."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..logs import configure_logging
from .hostconfig import HostConfig
from .host import Host, PortInUse
from .plugins import PluginCatalog
from .reload import ReloadReport, reload_host
from .sdnotify import Notifier

log = logging.getLogger("iochost.host")

#: called as a reload begins: the report of that reload's outcome
ReloadReporter = Callable[[], ReloadReport]


async def serve_until_signalled(host: Host, built: dict[str, Any],
                                reload_reporter: ReloadReporter | None = None) -> None:
    """Start ``host`` and serve until SIGINT/SIGTERM, then stop it (shutdown hooks run).

    SIGHUP reloads the host config (``iochost.host.reload``), one reload at a time; as
    each begins, ``reload_reporter()`` gives where its outcome goes too (the pid file's
    ``.reload`` files, for the ``iochost reload`` callers it answers).
    systemd is told READY=1 once every mount is searchable (``iochost.host.sdnotify``).
    """
    from iochost.server.process import StopSignals

    loop = asyncio.get_running_loop()
    notifier = Notifier()
    reloading = asyncio.Lock()     # held by the start too: a reload waits for it
    reloads: set[asyncio.Task[None]] = set()
    waiting: list[asyncio.Task[None]] = []   # a reload not begun yet reads the file anyway

    async def reload() -> None:
        async with reloading:
            waiting.clear()
            notifier.reloading()
            report = reload_reporter() if reload_reporter is not None else None
            try:
                await reload_host(host, report=report)
            except Exception as exc:   # never leave systemd waiting in "reloading"
                log.exception("reload failed; still serving")
                if report is not None:
                    report(False, [f"reload failed; still serving: {exc!r}"])
            finally:
                notifier.ready(_status_line(host))

    stopping = False

    def on_stop(signum: signal.Signals) -> None:
        if stopping:   # the handlers stay while stopping: the default action would kill us
            log.warning("%s received again while shutting down: finishing the shutdown "
                        "(shutdown hooks, the last autosave); SIGKILL ends it at once",
                        signum.name)

    def on_hangup() -> None:
        if stopping:
            log.warning("SIGHUP ignored: shutting down")
            return
        if waiting:    # SIGHUPs in a burst: the reload still to begin covers them
            log.info("SIGHUP received: a reload of %s is already due", host.config.path)
            return
        log.info("SIGHUP received: reloading %s", host.config.path)
        task = loop.create_task(reload())
        waiting.append(task)
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    with StopSignals(on_stop, extra={signal.SIGHUP: on_hangup}) as signals:
        try:
            async with reloading:    # a SIGHUP while mounting reloads after the start
                await host.start(built)
            notifier.ready(_status_line(host))
            notifier.start_watchdog()
            received = await signals.wait()
            log.info("%s received: shutting down", received.name)
            notifier.stopping()
        finally:
            stopping = True
            for task in list(reloads):       # a reload under way finishes first
                await asyncio.gather(task, return_exceptions=True)
            await notifier.stop_watchdog()
            await host.stop()


def _status_line(host: Host) -> str:
    """What ``systemctl status`` shows as the host's status."""
    serving = sum(mount.serving for mount in host.mounts.values())
    degraded = [name for name, mount in host.mounts.items() if mount.state == "degraded"]
    failed = [name for name, mount in host.mounts.items() if mount.state == "failed"]
    status = f"serving {len(host.database)} PVs of {serving} mounts on port " \
             f"{host.server.tcp_port}"
    if degraded:
        status += f"; degraded: {', '.join(degraded)}"
    if failed:
        status += f"; failed: {', '.join(failed)}"
    return status


def run_host(config: HostConfig, catalog: PluginCatalog, built: dict[str, Any],
             log_level: str | None = None, err: TextIO | None = None,
             log_format: str = "text", reload_reporter: ReloadReporter | None = None
             ) -> int:
    """Serve until signalled. 0 after a clean shutdown, 1 if the server cannot start."""
    from iochost.server import ServerConfigError
    from iochost.server.process import run_process

    from .ca_section import server_config

    err = err or sys.stderr
    configure_logging(log_level or config.host.log_level, log_format)
    try:
        server_settings = server_config(config.ca)
    except ServerConfigError as exc:
        print(f"error: {config.path}: ca settings: {exc}", file=err)
        return 1
    host = Host(config, catalog, server_config=server_settings)
    try:
        run_process(serve_until_signalled(host, built, reload_reporter))
    except PortInUse as exc:
        print(f"error: {exc}", file=err)
        return 1
    except OSError as exc:
        print(f"error: cannot serve on {server_settings.interfaces} port "
              f"{server_settings.port}: {exc}", file=err)
        return 1
    return 0
