"""The host config model, loaded from YAML with every problem located by file and line.

``load_config`` checks the structure (unknown keys, wrong types, missing or duplicate mount
names) and expands macros; checks that need the installed plugins (IOC names, options,
duplicate PV names) are in ``iochost.host.validation``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import hostconfig_keys as spec
from .macros import MacroError, MacroScope, UndefinedMacro
from .problems import ConfigError, ConfigProblem, Location
from .yamlsource import PathKey, SourceMap, format_path, load_yaml_file, load_yaml_text

MOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # '_...' is the host's own
RUNTIME_SOURCE = "<runtime>"


def is_builtin(mount_name: str) -> bool:
    """A plugin's built-in mount (``iochost_host_mounts``): a config's mount names cannot
    start with '_'."""
    return mount_name.startswith("_")


@dataclass(frozen=True)
class CAConfig:
    """The CA section; None means "not set here" (environment or server default)."""

    interfaces: list[str] | None = None
    port: int | None = None
    beacon_addresses: list[str] | None = None
    auto_beacon: bool | None = None
    beacon_period: float | None = None
    beacon_port: int | None = None
    ignore_addresses: list[str] | None = None
    max_array_bytes: int | None = None
    #: refuse to start when another CA server already has the port (the host's own rule,
    #: not a server setting)
    exclusive: bool | None = None

    def settings(self) -> dict[str, Any]:
        """Only the server settings the config sets (the ``EPICS_CAS_*`` ones)."""
        return {key: value for key, value in vars(self).items()
                if value is not None and key not in HOST_CA_KEYS}


#: keys of the ``ca`` section that the host applies itself (no EPICS variable)
HOST_CA_KEYS = frozenset({"exclusive"})


@dataclass(frozen=True)
class WebConfig:
    """The web section: where the status page listens and whether it may write."""

    host: str = "127.0.0.1"
    port: int = 8080
    writable: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); brackets of an IPv6 host are removed.
    Raises ValueError when ``text`` is not of that form."""
    match = spec.LISTEN_ADDRESS.fullmatch(text)
    if match is None or int(match["port"]) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return match["host"].strip("[]"), int(match["port"])


@dataclass(frozen=True)
class HostSection:
    name: str = "iochost"
    log_level: str = "INFO"
    status_prefix: str | None = "iochost:"
    autosave_prefix: str | None = None
    stats_prefix: str | None = None
    allow_sysreset: bool = False
    autosave_dir: str | None = None
    #: seconds the event loop may be blocked before the watchdog warns; 0: no watchdog
    loop_watchdog: float = 0.5


@dataclass(frozen=True)
class AccessSection:
    """The ``access:`` section (macros expanded; ``file`` made absolute)."""

    file: Path
    macros: dict[str, str]
    host_match: str = "name"
    on_error: str = "refuse"
    #: the host's macro scope with ``macros`` on top: expands the rules file's lines
    scope: MacroScope = field(default_factory=MacroScope, repr=False, compare=False)


@dataclass
class MountConfig:
    """One IOC to mount: macros, options and helpers are already expanded."""

    name: str
    ioc: str
    prefix: str = ""
    macros: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    helpers: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    #: access security group of the mount's PVs ('' -> DEFAULT)
    asg: str = ""
    source: SourceMap = field(default_factory=lambda: SourceMap(RUNTIME_SOURCE), repr=False)
    path: PathKey = ()
    #: option name -> its text as written, for options whose value came from macros
    option_texts: dict[str, str] = field(default_factory=dict, repr=False)
    #: the entry's own ``macros:`` (``macros`` adds the host's), expanded
    own_macros: dict[str, str] = field(default_factory=dict, repr=False)

    def where(self, *keys: str | int) -> tuple[Location, str]:
        """Location and dotted key of ``keys`` inside this mount, for problem reports."""
        full = self.path + keys
        return self.source.location(full), format_path(full) or self.name

    def problem(self, message: str, *keys: str | int) -> ConfigProblem:
        location, key = self.where(*keys)
        return ConfigProblem(location, key, f"mount {self.name!r}: {message}")


@dataclass
class HostConfig:
    path: str
    host: HostSection
    ca: CAConfig
    macros: dict[str, str]
    mounts: list[MountConfig]
    #: the web page's settings; None when ``web: false``
    web: WebConfig | None = field(default_factory=WebConfig)
    scope: MacroScope = field(repr=False, default_factory=MacroScope)
    source: SourceMap = field(repr=False, default_factory=lambda: SourceMap(RUNTIME_SOURCE))
    #: mounts with problems of their own (not served); their IOC names are still checked
    rejected: list[MountConfig] = field(repr=False, default_factory=list)
    access: AccessSection | None = None

    def mount_named(self, name: str) -> MountConfig | None:
        return next((mount for mount in self.mounts if mount.name == name), None)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> HostConfig:
    """Read and check a host config file. Raises ConfigError listing every problem."""
    return _raise_problems(*read_config(path, environ))


def load_config_text(text: str, file: str = "<string>",
                     environ: Mapping[str, str] | None = None) -> HostConfig:
    """Like ``load_config`` for YAML text (tests, the web API)."""
    data, source, problems = load_yaml_text(text, file)
    return _raise_problems(_parse(data, source, problems, environ), problems)


def read_config(path: str | Path, environ: Mapping[str, str] | None = None,
                ) -> tuple[HostConfig, list[ConfigProblem]]:
    """Read a host config file as far as it can be read, with its problems (not raised),
    so that the plugin checks can add theirs and ``iochost check`` reports all at once.
    Only an unreadable file raises ConfigError."""
    data, source, problems = load_yaml_file(path)
    return _parse(data, source, problems, environ), problems


def _parse(data: Any, source: SourceMap, problems: list[ConfigProblem],
           environ: Mapping[str, str] | None) -> HostConfig:
    return parse_config(data, source, problems, os.environ if environ is None else environ)


def _raise_problems(config: HostConfig, problems: list[ConfigProblem]) -> HostConfig:
    if problems:
        raise ConfigError(problems)
    return config


def parse_config(data: Any, source: SourceMap, problems: list[ConfigProblem],
                 environ: Mapping[str, str]) -> HostConfig:
    """Build the model from plain YAML data, appending every problem found."""
    top = spec.check_section(data, spec.TOP_FIELDS, (), source, problems) or {}
    host_macros = {key: _macro_text(value) for key, value in top.get("macros", {}).items()}
    scope = MacroScope(host_macros, environ=environ)
    for key in host_macros:   # one may refer to a mount's macro: undefined ones wait for use
        _expand(scope, scope.raw(key), ("macros", key), source, problems, "",
                undefined_ok=True)

    host_values = spec.check_section(top.get("host"), spec.HOST_FIELDS, ("host",), source,
                                     problems) or {}
    name = _expand(scope, host_values.get("name", "iochost"), ("host", "name"), source,
                   problems, "") or "iochost"
    status_prefix = f"{name}:"
    written = isinstance(top.get("host"), dict) and "status_prefix" in top["host"]
    if written and "status_prefix" in host_values:
        status_prefix = host_values["status_prefix"]
        if status_prefix is not None:
            status_prefix = _expand(scope, status_prefix, ("host", "status_prefix"), source,
                                    problems, "")
    optional = {key: _expand(scope, host_values[key], ("host", key), source, problems, "")
                if host_values.get(key) is not None else None
                for key in ("autosave_prefix", "autosave_dir", "stats_prefix")}
    host = HostSection(name=name, log_level=host_values.get("log_level", "INFO"),
                       status_prefix=status_prefix,
                       allow_sysreset=host_values.get("allow_sysreset", False),
                       loop_watchdog=float(host_values.get("loop_watchdog", 0.5)), **optional)

    ca_values = spec.check_section(top.get("ca"), spec.CA_FIELDS, ("ca",), source,
                                   problems) or {}
    ca = CAConfig(**{key: value for key, value in ca_values.items() if value is not None})

    web = _parse_web(top.get("web"), source, problems)

    mounts: list[MountConfig] = []
    rejected: list[MountConfig] = []
    first_line: dict[str, int] = {}
    for index, item in enumerate(top.get("mounts", [])):
        path = ("mounts", index)
        count = len(problems)
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            name_at = source.location(path + ("name",))
            if name in first_line:
                problems.append(ConfigProblem(
                    name_at, format_path(path + ("name",)),
                    f"duplicate mount name {name!r} (first used on line {first_line[name]})"))
            else:
                first_line[name] = name_at.line
        mount = parse_mount(item, scope, source, path, problems)
        if mount is not None:
            (mounts if len(problems) == count else rejected).append(mount)
    access = _parse_access(top.get("access"), scope, source, problems)
    return HostConfig(path=source.file, host=host, ca=ca, macros=host_macros, mounts=mounts,
                      scope=scope, source=source, rejected=rejected, access=access,
                      web=web)


def _parse_access(data: Any, scope: MacroScope, source: SourceMap,
                  problems: list[ConfigProblem]) -> AccessSection | None:
    """The ``access:`` section, or None when the config has none."""
    if data is None:
        return None
    values = spec.check_section(data, spec.ACCESS_FIELDS, ("access",), source, problems)
    if values is None or "file" not in values:
        return None
    macros = {key: _macro_text(value) for key, value in values["macros"].items()}
    access_scope = scope.child(macros)
    file = _expand(access_scope, values["file"], ("access", "file"), source, problems, "")
    path = Path(file)
    if not path.is_absolute() and source.file and not source.file.startswith("<"):
        path = Path(source.file).resolve().parent / path
    return AccessSection(path, macros, values["host_match"], values["on_error"],
                         access_scope)


def _parse_web(data: Any, source: SourceMap, problems: list[ConfigProblem],
               ) -> WebConfig | None:
    """The ``web`` section: absent, null or true -> the defaults; false -> off."""
    if data is False:
        return None
    values = spec.check_section(None if data is True else data, spec.WEB_FIELDS, ("web",),
                                source, problems) or {}
    host, port = parse_listen(values.get("listen", spec.DEFAULT_WEB_LISTEN))
    return WebConfig(host=host, port=port, writable=values.get("writable", False),
                     allowed_hosts=tuple(values.get("allowed_hosts", ())),
                     allowed_origins=tuple(values.get("allowed_origins", ())))


def parse_mount(data: Any, host_scope: MacroScope, source: SourceMap, path: PathKey,
                problems: list[ConfigProblem]) -> MountConfig | None:
    """One mount entry -> MountConfig (macros expanded as far as they can be), or None
    without a name and an IOC. Problems are appended; a mount that adds any is not usable."""
    count = len(problems)
    values = spec.check_section(data, spec.MOUNT_FIELDS, path, source, problems)
    if values is None or "name" not in values or "ioc" not in values:
        return None
    mount = MountConfig(name=values["name"], ioc=values["ioc"], enabled=values["enabled"],
                        description=values["description"], asg=values["asg"], source=source,
                        path=path)
    if not MOUNT_NAME.fullmatch(mount.name):
        problems.append(mount.problem(
            "a mount name starts with a letter or digit and holds only letters, digits, "
            "'_', '-' and '.'", "name"))
    own_macros = {key: _macro_text(value) for key, value in values["macros"].items()}
    scope = host_scope.child(own_macros)
    label = f"mount {mount.name!r}: "
    for key, value in own_macros.items():
        _expand(scope, value, path + ("macros", key), source, problems, label)
    mount.prefix = _expand(scope, values["prefix"], path + ("prefix",), source, problems,
                           label) or ""
    mount.options = _expand(scope, values["options"], path + ("options",), source, problems,
                            label)
    mount.option_texts = {key: raw for key, raw in values["options"].items()
                          if isinstance(raw, str) and "$" in raw}
    mount.helpers = {name: options or {} for name, options in _expand(
        scope, values["helpers"], path + ("helpers",), source, problems, label).items()}
    if len(problems) == count:   # its own macros expand (checked above); the host's may not
        mount.macros = scope.flattened(lenient=True)
        mount.own_macros = {key: mount.macros[key] for key in own_macros}
    return mount


def _macro_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


#: where a macro can come from: a serving host (a reload) reads its own environment, the
#: one it was started with, not the shell of whoever runs 'iochost check' or 'reload'
_UNDEFINED_HINT = (" (define it under macros:, give a default as $(NAME=value), or set it "
                   "in the environment of the iochost process: a reload uses the one "
                   "'iochost serve' started with)")


def _expand(scope: MacroScope, value: Any, path: PathKey, source: SourceMap,
            problems: list[ConfigProblem], label: str, *, undefined_ok: bool = False) -> Any:
    """Expand macros in every string of ``value``; each failure is a problem at its key
    (but an undefined macro, if ``undefined_ok``)."""
    if isinstance(value, str):
        try:
            return scope.expand(value)
        except MacroError as exc:
            if not (undefined_ok and isinstance(exc, UndefinedMacro)):
                hint = _UNDEFINED_HINT if isinstance(exc, UndefinedMacro) else ""
                problems.append(ConfigProblem(source.location(path), format_path(path),
                                              f"{label}{exc}{hint}"))
            return value
    if isinstance(value, dict):
        return {key: _expand(scope, item, path + (key,), source, problems, label)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(scope, item, path + (index,), source, problems, label)
                for index, item in enumerate(value)]
    return value
