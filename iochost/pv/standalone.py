"""Running one IOC standalone: the command-line parser and ``run``.

The caproto pattern works unchanged::

    if __name__ == "__main__":
        ioc_options, run_options = ioc_arg_parser(default_prefix="simple:", desc="...")
        ioc = SimpleIOC(**ioc_options)
        run(ioc.pvdb, **run_options)

``run`` serves the PV database with iochost's own Channel Access server, runs the hooks
(:class:`~iochost.pv.lifecycle.HookRunner`) and exits cleanly on SIGINT/SIGTERM after
running the shutdown hooks.  To host many IOCs in one process, use ``iochost serve``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from .. import __version__
from ..logs import configure_logging
from .async_lib import AsyncioAsyncLayer, AsyncLibraryLayer
from .lifecycle import HookRunner

__all__ = ["Context", "ioc_arg_parser", "template_arg_parser", "run", "start_server"]

log = logging.getLogger("iochost.ioc")
StartupHook = Callable[[AsyncLibraryLayer], Awaitable[Any]]


def _default_interfaces() -> list[str]:
    return os.environ.get("EPICS_CAS_INTF_ADDR_LIST", "").split() or ["0.0.0.0"]


def _configure_logging(verbose: int, quiet: bool) -> None:
    """The host's format (iochost.logs), so a standalone IOC logs like ``iochost serve``."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    configure_logging(level)
    logging.getLogger("iochost").setLevel(logging.DEBUG if verbose else logging.NOTSET)


def template_arg_parser(*, desc: str, default_prefix: str, argv: Sequence[str] | None = None,
                        macros: Mapping[str, str | None] | None = None,
                        supported_async_libs: Sequence[str] | None = None
                        ) -> tuple[argparse.ArgumentParser, Callable[[argparse.Namespace],
                                                                      tuple[dict, dict]]]:
    """An argument parser for an IOC, to extend with options of your own.

    Options: ``--prefix``, ``--list-pvs``, ``-v/--verbose`` (twice: everything),
    ``-q/--quiet``, ``--interfaces``, and ``--NAME`` per macro (a default of ``None``
    makes it required).  Returns ``(parser, split_args)``; ``split_args(namespace)``
    configures logging and returns ``(ioc_options, run_options)``.
    """
    macros = dict(macros or {})
    parser = argparse.ArgumentParser(description=desc, epilog=f"iochost {__version__}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", type=str, default=default_prefix,
                        help=f"PV name prefix (default: {default_prefix!r})")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true",
                          help="log warnings and errors only")
    loudness.add_argument("-v", "--verbose", action="count", default=0,
                          help="log debug messages of iochost (-vv: of everything)")
    parser.add_argument("--list-pvs", action="store_true", help="log the PV names at startup")
    parser.add_argument("--interfaces", nargs="+", default=_default_interfaces(),
                        help="addresses to serve on (default: EPICS_CAS_INTF_ADDR_LIST "
                             "or 0.0.0.0)")
    libs = tuple(supported_async_libs or ("asyncio",))
    parser.add_argument("--async-lib", default=libs[0], choices=libs,
                        help="accepted for caproto compatibility; iochost runs on asyncio")
    for name, default in macros.items():
        if default is None:
            parser.add_argument(f"--{name}", required=True, help=f"macro {name!r} (required)")
        else:
            parser.add_argument(f"--{name}", default=default,
                                help=f"macro {name!r} (default: {default!r})")

    def split_args(args: argparse.Namespace) -> tuple[dict, dict]:
        _configure_logging(args.verbose, args.quiet)
        ioc_options = {"prefix": args.prefix,
                       "macros": {name: getattr(args, name.replace("-", "_")) for name in macros}}
        run_options = {"interfaces": args.interfaces, "log_pv_names": args.list_pvs}
        return ioc_options, run_options

    return parser, split_args


def ioc_arg_parser(*, desc: str, default_prefix: str, argv: Sequence[str] | None = None,
                   macros: Mapping[str, str | None] | None = None,
                   supported_async_libs: Sequence[str] | None = None) -> tuple[dict, dict]:
    """Parse the command line of a standalone IOC; returns ``(ioc_options, run_options)``
    for ``MyIOC(**ioc_options)`` and ``run(ioc.pvdb, **run_options)``."""
    parser, split_args = template_arg_parser(desc=desc, default_prefix=default_prefix,
                                             macros=macros,
                                             supported_async_libs=supported_async_libs)
    return split_args(parser.parse_args(sys.argv[1:] if argv is None else list(argv)))


async def _raise(exc: BaseException) -> None:
    raise exc


async def start_server(pvdb: Mapping[str, Any], *, interfaces: Sequence[str] | None = None,
                       log_pv_names: bool = False, startup_hook: StartupHook | None = None
                       ) -> None:
    """Serve ``pvdb`` and run its hooks until cancelled; then run the shutdown hooks."""
    from ..server import PVDatabase, Server, ServerConfig
    from ..server.process import freeze_heap

    log.info("Server starting up...")
    overrides: dict[str, Any] = {"interfaces": list(interfaces)} if interfaces else {}
    # pvdb itself is asked for names the database does not hold: a mapping that makes
    # channels for names it does not list (caproto's defaultdict examples), or an IOC that
    # adds PVs to its pvdb later (too_clever/dynamic_calc), as caproto's server serves them
    server = Server(PVDatabase(pvdb, follow=True), ServerConfig.from_env(**overrides))
    # a putter's sys.exit ends the IOC, as in caproto's server (too_clever/caproto_to_ophyd's
    # "exit" PV): raised in a task of its own, it ends the loop (shutdown hooks run)
    server.exit_requested = lambda exc: server.spawn(_raise(exc))
    await server.start()
    for interface in server.config.interfaces:
        log.info("Listening on %s:%d", interface, server.tcp_port)
    hooks = HookRunner(pvdb.values(), logger=log)
    await hooks.start(AsyncioAsyncLayer(), startup_hook=startup_hook)
    freeze_heap()  # the IOC lives as long as the process
    log.info("Server startup complete.")
    if log_pv_names:
        log.info("PVs available:\n%s", "\n".join(pvdb))
    try:
        await asyncio.get_running_loop().create_future()    # serve until cancelled
    finally:
        log.info("Server exiting...")
        await hooks.stop()          # shutdown hooks still see a running server
        await server.stop()


class Context:
    """An in-process server with the shape of caproto's asyncio ``Context``::

        await Context(pvdb).run()     # serves until cancelled, then runs shutdown hooks
    """

    def __init__(self, pvdb: Mapping[str, Any], interfaces: Sequence[str] | None = None
                 ) -> None:
        self.pvdb = pvdb
        self.interfaces = interfaces

    async def run(self, *, log_pv_names: bool = False,
                  startup_hook: StartupHook | None = None) -> None:
        await start_server(self.pvdb, interfaces=self.interfaces, log_pv_names=log_pv_names,
                           startup_hook=startup_hook)


async def _serve_until_signalled(coro: Coroutine[Any, Any, None]) -> None:
    from ..server.process import StopSignals

    task = asyncio.ensure_future(coro)
    with StopSignals(on_stop=lambda signum: task.cancel()):
        try:
            await task
        except asyncio.CancelledError:
            pass


def run(pvdb: Mapping[str, Any], *, interfaces: Sequence[str] | None = None,
        log_pv_names: bool = False, startup_hook: StartupHook | None = None,
        module_name: str | None = None) -> None:
    """Serve ``pvdb`` over Channel Access until SIGINT/SIGTERM (blocking).

    ``startup_hook(async_lib)`` runs as a task at startup (pass ``ioc.__ainit__``);
    ``module_name`` is accepted for caproto compatibility and ignored. Bad CA settings
    (``--interfaces``, ``EPICS_CAS_*``) or an address that cannot be served end the
    process with one line saying so (``SystemExit``), not a traceback.
    """
    from ..server import ServerConfigError
    from ..server.process import run_process

    try:
        run_process(_serve_until_signalled(start_server(
            pvdb, interfaces=interfaces, log_pv_names=log_pv_names,
            startup_hook=startup_hook)))
    except ServerConfigError as exc:
        raise SystemExit(f"error: CA settings: {exc}") from None
    except OSError as exc:          # the server's sockets: hooks' errors are caught and logged
        raise SystemExit(f"error: cannot serve: {exc}") from None
