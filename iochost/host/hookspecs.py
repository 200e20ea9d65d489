"""The hooks an iochost plugin may implement.

A plugin is a module (or any object) named by an entry point in the ``iochost`` group.
Its hook implementations are functions named after the specs below, marked with
``iochost.host.hookimpl`` (an unmarked module-level function whose name starts with
``iochost_`` counts too, so a misspelt hook name is caught rather than ignored).

Registration hooks receive a ``register`` callback instead of returning values, so one
implementation may register any number of things, and the host knows which plugin
registered what. Lifecycle hooks may return an awaitable; the host awaits it.

Every spec here has an entry in ``docs/hooks.md`` and a test that names it
(``tests/host/test_hook_reference.py`` enforces both).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # the host imports this module; avoid the cycle at run time
    from aiohttp import web

    from iochost.access import TrapWrite

    from .host import Host, Mount
    from .hostconfig import HostConfig, MountConfig
    from .problems import ConfigProblem

PROJECT_NAME = "iochost"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: ``register(name, ioc_class)``: make a PVGroup class mountable as ``ioc: name``.
RegisterIoc = Callable[[str, type], None]
#: ``register(record_type, fields)``: add a record type (``ai``, ``motor`` ...).
RegisterRecordType = Callable[[str, Any], None]
#: ``register(name, factory)``: add a helper that mounts may attach by ``name``.
RegisterHelper = Callable[[str, Callable[..., Any]], None]


@hookspec
def iochost_register_iocs(register: RegisterIoc) -> None:
    """Register the IOC classes this plugin provides.

    Call ``register(name, ioc_class)`` once per IOC. ``name`` is what a host config's
    mount names in its ``ioc:`` key; it must be unique across all installed plugins.
    ``ioc_class`` is a PVGroup subclass, constructed by the host as
    ``ioc_class(prefix=..., macros={...}, **options)``, where ``options`` come from the
    mount's ``options:`` mapping (the keyword-only parameters of ``__init__`` are the
    options ``iochost schema`` documents).

    Raising here marks the whole plugin as broken: nothing it registered is used.
    """


@hookspec
def iochost_register_record_types(register: RegisterRecordType) -> None:
    """Register EPICS record types (field sets and behaviour) this plugin provides.

    Call ``register(record_type, fields)`` once per record type, e.g. ``register("myai",
    MyAiFields)``. ``fields`` is a field-set class (a subclass of one of
    ``iochost.records``' ``*Fields`` classes); the host hands it to
    ``iochost.records.register_record``, after which ``pvproperty(record="myai")`` works.
    Names must be unique across plugins and must not be a built-in record type's.

    Raising here marks the whole plugin as broken: nothing it registered is used.
    """


@hookspec
def iochost_register_helpers(register: RegisterHelper) -> None:
    """Register helpers that a mount may attach through its ``helpers:`` mapping.

    Call ``register(name, factory)`` once per helper. When a mount lists
    ``helpers: {name: {option: value}}``, the host calls ``factory(mount, **options)``
    after the mount's IOC is built and before it starts (``mount.ioc`` is the IOC,
    ``mount.host`` the Host); the result may define ``async prepare()`` (awaited before the
    mount's PVs become searchable and before its startup hooks: autosave's pass 0 restore),
    ``async start()`` (awaited once the IOC's startup hooks were started) and
    ``async stop()`` (awaited after the IOC's shutdown hooks, also on unmount).

    Raising here marks the whole plugin as broken: nothing it registered is used.
    """


@hookspec
def iochost_host_mounts(config: HostConfig) -> list[MountConfig] | None:
    """Built-in mounts this plugin adds to every host of ``config``: IOCs that report on the
    host itself (its status PVs, iocStats), rather than IOCs a user mounts.

    Called whenever a config is checked, listed, served or reloaded, so ``iochost check``
    and ``iochost list-pvs`` see what ``serve`` will serve. Return
    ``iochost.host.MountConfig`` objects for IOCs the plugin registered, with names that
    start with ``_`` (a config's mount names cannot, so they never clash), or nothing when
    ``config`` switches them off. Give each the ``source`` and ``path`` of the config key
    that asked for it: a problem (a PV name clash, a failing build) then points there.
    They are validated and built like configured mounts, mounted first, kept across
    reloads, and ``Host.unmount`` refuses them. An exception is reported as a config
    problem naming the plugin.
    """


@hookspec
def iochost_config_problems(config: HostConfig, mounts: list[MountConfig]
                            ) -> list[ConfigProblem] | None:
    """Problems this plugin finds in ``config`` that no single option shows: two mounts
    whose helpers would share one file or device, a path the config names that cannot be
    used.

    ``mounts`` are the mounts that would be served: the enabled ones whose IOC, options and
    helpers passed their checks (options coerced to their types), the plugins' built-in
    mounts included. Return ``iochost.host.ConfigProblem`` objects -- ``mount.problem(
    message, *keys)`` places one at a key of a mount (file:line and dotted key) -- or
    nothing. Called wherever a config is checked, served or reloaded, with the other
    problems (``iochost check`` reports them all; ``serve`` and ``reload`` refuse the
    config), so keep it quick and free of side effects. An exception is reported as a
    config problem naming the plugin. A mount added at run time (``Host.mount``) is not
    checked through this hook: a helper guards against that itself.
    """


@hookspec
def iochost_host_started(host: Host) -> Awaitable[None] | None:
    """Called once the host serves: every enabled mount is built, started and searchable.

    ``host`` is the running :class:`iochost.host.Host` (its ``mounts``, ``server`` and
    ``config``). Return an awaitable to do asynchronous work; the host awaits it. An
    exception is logged with the plugin's name and does not stop the host. A plugin
    installed while the host runs is loaded by the next reload, which calls its
    implementation once it has applied the config, given 10 s (then cancelled, and the
    reload's outcome says so).
    """


@hookspec
def iochost_host_stopping(host: Host) -> Awaitable[None] | None:
    """Called when the host begins a clean shutdown (SIGINT/SIGTERM or ``Host.stop``).

    Runs before any mount is unmounted, while clients are still connected. Return an
    awaitable to do asynchronous work; the host awaits it. An exception is logged with
    the plugin's name and the shutdown continues.
    """


@hookspec
def iochost_ioc_mounted(host: Host, mount: Mount) -> Awaitable[None] | None:
    """Called after a mount's IOC started and its PVs became searchable.

    Fires for the mounts of the config at start-up and for every ``Host.mount`` at run
    time. ``mount`` has ``name``, ``config``, ``ioc`` (the PVGroup instance) and
    ``state``. May return an awaitable; exceptions are logged with the plugin's name.
    """


@hookspec
def iochost_ioc_unmounted(host: Host, mount: Mount) -> Awaitable[None] | None:
    """Called after a mount's IOC's shutdown hooks ran and its PVs were removed.

    Fires for every ``Host.unmount`` and for each mount during shutdown. May return an
    awaitable; exceptions are logged with the plugin's name.
    """


@hookspec
def iochost_mount_state_changed(host: Host, mount: Mount) -> Awaitable[None] | None:
    """A mount's ``state`` changed: ``running``, ``degraded`` (a hook of its IOC is
    failing), ``failed`` (its start raised; its PVs were withdrawn), ``unmounted`` or
    ``disabled`` (``iochost.host.host``'s constants of those names).

    Called once for every mount at start-up (``disabled`` ones too), then on every change:
    at run time and during reloads and shutdown. A mount that a reload removed from the
    config is simply gone from ``host.mounts`` when ``iochost_host_reloaded`` is called.
    May return an awaitable; a change from a hook fault is reported from a task of its
    own. Exceptions are logged with the plugin's name.
    """


@hookspec
def iochost_host_reloaded(host: Host) -> Awaitable[None] | None:
    """Called after a reload (SIGHUP, ``iochost reload``) applied a new host config.

    ``host.config`` is the new config; mounts it added, changed or re-enabled are mounted
    (``iochost_ioc_mounted`` fired for each), removed ones unmounted. Plugins that keep
    state derived from the config or from files next to it -- access rules, say -- re-read
    it here. Not called when the new config had problems (nothing changed then). May return
    an awaitable; exceptions are logged with the plugin's name and the host serves on.
    """


@hookspec
def iochost_trapwrite(host: Host, event: TrapWrite) -> Awaitable[None] | None:
    """A client's put was granted by an access security rule marked TRAPWRITE.

    ``event`` (``iochost.access.TrapWrite``) carries ``pv`` (the PV name), ``user`` and
    ``host`` (the client's, as the rules matched them), ``old`` and ``new`` (the value
    before and after the put) and ``time`` (Unix seconds).  Called after the value was
    stored (a refused put is not reported); the host has already logged the put.  Use it
    to keep an audit trail (a file, a database, a message bus).  May return an awaitable;
    a failure is logged with the plugin's name and does not affect the put.
    """


@hookspec
def iochost_web_routes(app: web.Application) -> Awaitable[None] | None:
    """Add pages or routes to the host's web application (``docs/web.md``).

    Called once per host start, when the first browser connects (the page is built then,
    not at start), after the built-in routes are in place and before the application
    serves anything (``web: false`` in the host config: never called). Use
    ``app.router.add_get(...)``, ``app.add_routes([...])`` or ``app.add_subapp(...)``;
    keep to paths of your own (e.g. ``/plugins/<name>/...``): ``/``, ``/api/``, ``/pvws/``,
    ``/static/``, ``/mounts/``, ``/clients``, ``/healthz`` and ``/metrics`` are the host's.
    Handlers run on the host's event loop: never block it. The app's ``iochost.web`` keys
    are private; read the host through ``iochost_host_started(host)`` if a page needs it.
    May return an awaitable; an exception is logged with the plugin's name and the web
    page starts without that plugin's routes. A plugin a reload loads after the page was
    built gets its routes at the next restart (the reload says so).
    """
