"""``iochost serve``: run a Host on an event loop until SIGINT or SIGTERM, then stop cleanly."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any, TextIO

from .config import HostConfig
from .host import Host
from .plugins import PluginCatalog

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), format=LOG_FORMAT, stream=sys.stderr,
                        force=True)


async def serve_until_signalled(host: Host, built: dict[str, Any]) -> None:
    """Start ``host``, wait for SIGINT/SIGTERM, stop it (shutdown hooks run)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        await host.start(built)
        await stop.wait()
        logging.getLogger("iochost.host").info("signal received: shutting down")
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await host.stop()


def run_host(config: HostConfig, catalog: PluginCatalog, built: dict[str, Any],
             log_level: str | None = None, err: TextIO | None = None) -> int:
    """Serve until signalled. 0 after a clean shutdown, 1 if the server cannot start."""
    from iochost.server import ConfigError as ServerConfigError
    from iochost.server import new_event_loop

    from .caconfig import server_config

    err = err or sys.stderr
    configure_logging(log_level or config.host.log_level)
    try:
        server_settings = server_config(config.ca)
    except ServerConfigError as exc:
        print(f"error: {config.path}: ca settings: {exc}", file=err)
        return 1
    host = Host(config, catalog, server_config=server_settings)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve_until_signalled(host, built))
    except OSError as exc:
        print(f"error: cannot serve on {server_settings.interfaces} port "
              f"{server_settings.port}: {exc}", file=err)
        return 1
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0
