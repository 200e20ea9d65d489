"""Checks of a loaded host config against the installed plugins, then a dry build.

``validate`` is exactly what ``iochost check`` runs and what ``iochost serve`` runs before
anything starts: IOC names, helper names and options against the registry, the plugins'
checks across mounts (``iochost_config_problems``: two autosave sets of one file, say),
then every enabled mount's IOC is constructed (no hooks run) and the PV names of all
mounts are compared. Every problem is collected; one ConfigError reports them all.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .coercion import OptionTypeError
from .hostconfig import HostConfig, MountConfig, is_builtin
from .iocinfo import IocSignature, ioc_signature
from .plugins import PluginCatalog, installed_since
from .problems import ConfigError, ConfigProblem, Location, did_you_mean

#: how many clashing PV names are listed for one mount before the rest are only counted
CLASHES_SHOWN = 5


def host_mounts(config: HostConfig, catalog: PluginCatalog
                ) -> tuple[list[MountConfig], list[ConfigProblem]]:
    """The built-in mounts the plugins add to a host of ``config`` (``iochost_host_mounts``),
    and the problems of plugins that failed to say or named a mount wrongly."""
    mounts: list[MountConfig] = []
    problems: list[ConfigProblem] = []
    for impl in catalog.manager.hook.iochost_host_mounts.get_hookimpls():
        where = Location(config.path)
        try:
            result: Any = impl.function(config=config)
            found: list[MountConfig] = list(result or ())
        except Exception as exc:
            problems.append(ConfigProblem(where, "", f"plugin {impl.plugin_name!r} failed to "
                                          f"list its built-in mounts: {type(exc).__name__}: {exc}"))
            continue
        for mount in found:
            if not is_builtin(mount.name):
                problems.append(ConfigProblem(where, "", (
                    f"plugin {impl.plugin_name!r} adds a mount named {mount.name!r}: the name "
                    "of a plugin's built-in mount starts with '_' (the plugin must change)")))
            elif mount.ioc not in catalog.iocs:
                problems.append(mount.problem(f"unknown IOC {mount.ioc!r} (plugin "
                                              f"{impl.plugin_name!r} adds this mount)"))
            else:
                mounts.append(mount)
    return mounts, problems


def served_pv_names(built: dict[str, Any]) -> list[str]:
    """Every PV name the host serves for ``built`` (built-in mounts' ones included)."""
    return [name for ioc in built.values() for name in ioc.pvdb]


def config_problems(config: HostConfig, mounts: list[MountConfig], catalog: PluginCatalog
                    ) -> list[ConfigProblem]:
    """What the plugins find wrong across ``mounts`` (``iochost_config_problems``), and
    the plugins that failed to say."""
    problems: list[ConfigProblem] = []
    arguments = {"config": config, "mounts": mounts}
    for impl in catalog.manager.hook.iochost_config_problems.get_hookimpls():
        try:
            result: Any = impl.function(**{arg: arguments[arg] for arg in impl.argnames})
            problems.extend(result or ())
        except Exception as exc:
            problems.append(ConfigProblem(Location(config.path), "", (
                f"plugin {impl.plugin_name!r} failed to check the config: "
                f"{type(exc).__name__}: {exc}")))
    return problems


def plugin_problems(mount: MountConfig, catalog: PluginCatalog) -> list[ConfigProblem]:
    """IOC, options and helpers of one mount against what the plugins registered."""
    problems: list[ConfigProblem] = []
    registered = catalog.iocs.get(mount.ioc)
    if registered is None:
        problems.append(mount.problem(_unknown("IOC", mount.ioc, "iocs", catalog), "ioc"))
    else:
        problems.extend(_option_problems(mount, ioc_signature(registered.obj), mount.options,
                                         f"IOC {mount.ioc!r}", ("options",),
                                         mount.option_texts))
    for helper, options in mount.helpers.items():
        factory = catalog.helpers.get(helper)
        if factory is None:
            problems.append(mount.problem(_unknown("helper", helper, "helpers", catalog),
                                          "helpers", helper))
        else:   # called as factory(mount, **options): every name but the mount is an option
            signature = ioc_signature(factory.obj, leading=2, reserved=frozenset())
            problems.extend(_option_problems(mount, signature, options, f"helper {helper!r}",
                                             ("helpers", helper)))
    return problems


def _unknown(noun: str, name: str, kind: str, catalog: PluginCatalog) -> str:
    """Why ``name`` is not registered, naming the broken plugin that would provide it."""
    provider = catalog.provider_of(kind, name)
    if provider is not None and provider.error is not None:
        return (f"{noun} {name!r} is provided by plugin {provider.name!r}, which failed to "
                f"load: {provider.error}")
    message = f"unknown {noun} {name!r}{did_you_mean(name, getattr(catalog, kind))}"
    suspects = [info for info in catalog.broken if not getattr(info, kind)]
    if suspects:
        message += ("; it may come from a plugin that failed to load (see 'iochost "
                    "list-plugins'): " + ", ".join(info.name for info in suspects))
    disabled = [info.name for info in catalog.plugins.values() if info.disabled]
    if disabled:
        message += f"; disabled plugins: {', '.join(disabled)}"
    new = installed_since(catalog)
    if new:
        message += (f"; plugins installed since iochost started, loaded by its next "
                    f"reload: {', '.join(new)}")
    return message


def _option_problems(mount: MountConfig, signature: IocSignature, options: dict[str, Any],
                     owner: str, keys: tuple[str, ...], texts: dict[str, str] | None = None,
                     ) -> list[ConfigProblem]:
    """``options`` (coerced in place) against ``signature``; ``owner`` names whose they are,
    ``keys`` where they are in the mount, ``texts`` their raw text (to name macros)."""
    problems: list[ConfigProblem] = []
    for key, value in options.items():
        option = signature.options.get(key)
        if option is None:
            if not signature.open_ended:
                known = ", ".join(signature.options) or "none"
                hint = did_you_mean(key, signature.options)
                problems.append(mount.problem(f"{owner} has no option {key!r}{hint} "
                                              f"(options: {known})", *keys, key))
        else:
            try:
                options[key] = option.coerce(value, (texts or {}).get(key))
            except OptionTypeError as exc:
                problems.append(mount.problem(f"option {key!r} of {owner}: {exc}", *keys, key))
    for option in signature.options.values():
        if option.required and option.name not in options:
            problems.append(mount.problem(f"{owner} needs option {option.name!r}", *keys))
    return problems


def build_ioc(mount: MountConfig, cls: type) -> Any:
    """Construct the IOC of ``mount`` (no hooks run). Raises whatever the class raises."""
    return cls(prefix=mount.prefix, macros=dict(mount.macros), **mount.options)


def build_mounts(mounts: Iterable[MountConfig], catalog: PluginCatalog,
                 taken: dict[str, str] | None = None,
                 ) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Build each mount's IOC and check its PV names are unique.

    ``taken`` maps PV names already served to their owner's name (a running host's mounts);
    it is extended with the new mounts' PVs. Returns (mount name -> IOC, problems).
    """
    owners: dict[str, str] = dict(taken or {})
    built: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    by_name = {mount.name: mount for mount in mounts}
    for mount in by_name.values():
        try:
            ioc = build_ioc(mount, catalog.ioc_class(mount.ioc))
            names = list(ioc.pvdb)
        except Exception as exc:
            problems.append(mount.problem(
                f"building IOC {mount.ioc!r} failed: {type(exc).__name__}: {exc}"))
            continue
        clashes = [name for name in names if name in owners]
        for name in clashes[:CLASHES_SHOWN]:
            problems.append(mount.problem(
                f"PV {name!r} is already {_provider(owners[name], by_name, mount)}", "prefix"))
        if len(clashes) > CLASHES_SHOWN:
            problems.append(mount.problem(
                f"PV names clashing beyond these {CLASHES_SHOWN}: "
                f"{len(clashes) - CLASHES_SHOWN} more ({len(clashes)} in all)", "prefix"))
        if clashes:
            continue
        owners.update(dict.fromkeys(names, mount.name))
        built[mount.name] = ioc
    return built, problems


#: owner in ``taken`` of PVs that a server serves for someone other than a mount
ALREADY_SERVED = ""


def _provider(owner: str, by_name: dict[str, MountConfig], mount: MountConfig) -> str:
    if owner == ALREADY_SERVED:
        return "served"
    other = by_name.get(owner)
    if is_builtin(owner):
        what = f" ({other.description})" if other is not None and other.description else ""
        return f"served by the built-in mount {owner!r}{what}"
    where = f" (line {other.where('name')[0].line})" if other is not None and \
        other.source is mount.source else ""
    return f"provided by mount {owner!r}{where}"


def validate(config: HostConfig, catalog: PluginCatalog,
             earlier: Iterable[ConfigProblem] = (), *, builtin_mounts: bool = True,
             warnings: list[str] | None = None) -> dict[str, Any]:
    """Check the CA settings (``ca`` over the environment) and ``config`` against the
    plugins, let the plugins check the mounts to serve together (``config_problems``),
    then build every enabled mount.

    The plugins' built-in mounts (``host_mounts``) are built and checked for PV clashes
    first, unless ``builtin_mounts`` is false. ``earlier`` are the problems found while
    reading the config (``read_config``): they are reported together with these. Returns
    mount name -> built IOC; raises ConfigError listing every problem.

    A disabled mount's problems with the plugins (its IOC unknown: its plugin may be the
    broken one the mount was disabled for) go to ``warnings``, not problems: it is not
    served, and ``Host.mount`` or the reload that enables it checks it again.
    """
    from .ca_section import ca_problems  # here: it imports the server

    problems: list[ConfigProblem] = [*earlier, *ca_problems(config)]
    usable: list[MountConfig] = []
    if builtin_mounts:
        usable, found = host_mounts(config, catalog)
        problems.extend(found)
    for mount in config.rejected:  # not served, but checked as fully as it can be
        reported = {problem.key for problem in problems}
        problems.extend(problem for problem in plugin_problems(mount, catalog)
                        if problem.key not in reported)
    for mount in config.mounts:
        found = plugin_problems(mount, catalog)
        if mount.enabled:
            problems.extend(found)
            if not found:
                usable.append(mount)
        elif warnings is not None:
            warnings.extend(f"{problem} (the mount is disabled: not served)"
                            for problem in found)
    problems.extend(config_problems(config, list(usable), catalog))
    built, build_problems = build_mounts(usable, catalog)
    problems.extend(build_problems)
    if problems:
        raise ConfigError(problems)
    return built
