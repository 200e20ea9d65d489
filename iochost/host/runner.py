"""``iochost serve``: run a Host on an event loop until SIGINT or SIGTERM, then stop cleanly."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any, TextIO

from ..logs import configure_logging
from .config import HostConfig
from .host import Host, PortInUse
from .plugins import PluginCatalog

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def serve_until_signalled(host: Host, built: dict[str, Any]) -> None:
    """Start ``host``, wait for SIGINT/SIGTERM, stop it (shutdown hooks run)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        stop.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await host.start(built)
        await stop.wait()
        logging.getLogger("iochost.host").info("%s received: shutting down",
                                               received[0].name)
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await host.stop()


def run_host(config: HostConfig, catalog: PluginCatalog, built: dict[str, Any],
             log_level: str | None = None, err: TextIO | None = None,
             log_format: str = "text") -> int:
    """Serve until signalled. 0 after a clean shutdown, 1 if the server cannot start."""
    from iochost.server import ConfigError as ServerConfigError
    from iochost.server import new_event_loop

    from .caconfig import server_config

    err = err or sys.stderr
    configure_logging(log_level or config.host.log_level, log_format)
    try:
        server_settings = server_config(config.ca)
    except ServerConfigError as exc:
        print(f"error: {config.path}: ca settings: {exc}", file=err)
        return 1
    host = Host(config, catalog, server_config=server_settings)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve_until_signalled(host, built))
    except PortInUse as exc:
        print(f"error: {exc}", file=err)
        return 1
    except OSError as exc:
        print(f"error: cannot serve on {server_settings.interfaces} port "
              f"{server_settings.port}: {exc}", file=err)
        return 1
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0
