"""What each ``iochost`` verb does; ``iochost.cli`` only parses arguments and calls these.

Each function prints to the given streams and returns the process exit status: 0 success,
1 a problem the user can fix (reported as one clear message, never a traceback).
"""
from __future__ import annotations

import glob
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from .hostconfig import AccessSection, HostConfig, read_config
from .plugins import PluginCatalog, load_plugins
from .problems import ConfigError
from .schema import config_schema
from .validation import served_pv_names, validate

if TYPE_CHECKING:
    from .reload import ReloadReport

log = logging.getLogger("iochost.host")


#: the demo host config, shipped as package data (``iochost serve --demo``)
DEMO_CONFIG = "data/demo.yaml"
#: the plugin distribution whose IOCs the demo config mounts
EXAMPLES_DISTRIBUTION = "iochost-examples"


def demo_config_path() -> Path:
    """Where the shipped demo config is (a real file: the package is installed unzipped)."""
    return Path(str(resources.files("iochost").joinpath(DEMO_CONFIG)))


#: ``list-plugins`` exit status when a plugin failed to load (it is still listed)
PLUGIN_FAILED = 3


@dataclass(frozen=True)
class PluginSwitches:
    """The command line's plugin switches (the environment variables add to them)."""

    disable_autoload: bool | None = None
    blocked: tuple[str, ...] = field(default_factory=tuple)

    def load(self) -> PluginCatalog:
        return load_plugins(self.disable_autoload, self.blocked)


def warn_broken(catalog: PluginCatalog, err: TextIO) -> None:
    for info in catalog.broken:
        print(f"warning: plugin {info.name!r} ({_dist(info)}) failed to load: {info.error}",
              file=err)


def _dist(info) -> str:
    return f"{info.distribution} {info.version}" if info.distribution else "not installed"


def list_plugins(switches: PluginSwitches, as_json: bool = False,
                 out: TextIO | None = None) -> int:
    """Print every plugin found: distribution, version, hooks, what it provides, errors."""
    out = out or sys.stdout
    catalog = switches.load()
    status = PLUGIN_FAILED if catalog.broken else 0
    if as_json:
        json.dump(catalog.to_json(), out, indent=2)
        out.write("\n")
        return status
    if not catalog.plugins:
        print("no iochost plugins installed", file=out)
    for info in catalog.plugins.values():
        state = "disabled" if info.disabled else ("FAILED" if info.error else "loaded")
        builtin = ", built-in" if info.builtin else ""
        print(f"{info.name}  ({_dist(info)}{builtin})  {state}", file=out)
        if info.error:
            print(f"    error: {info.error}", file=out)
        unused = " (not used: the plugin failed)" if info.error else ""
        for label, names in (("hooks", info.hooks), (f"IOCs{unused}", info.iocs),
                             (f"record types{unused}", info.record_types),
                             (f"helpers{unused}", info.helpers)):
            if names:
                print(f"    {label}: {', '.join(names)}", file=out)
    return status


class _Checked(NamedTuple):
    """A host config that passed validation, with what validating it loaded and built."""

    config: HostConfig
    catalog: PluginCatalog
    built: dict[str, Any]


def _checked(path: str, switches: PluginSwitches, err: TextIO) -> _Checked | None:
    """Load plugins and config, validate and build; None after printing the problems."""
    catalog = switches.load()
    warn_broken(catalog, err)
    warnings: list[str] = []
    try:
        config, problems = read_config(path)
        built = validate(config, catalog, problems, warnings=warnings)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        if Path(path) == demo_config_path() and not any(
                info.distribution == EXAMPLES_DISTRIBUTION for info in catalog.plugins.values()):
            print(f"hint: the demo mounts the example IOCs of the {EXAMPLES_DISTRIBUTION} "
                  "distribution: pip install it (plugins/iochost-examples in iochost's "
                  "source tree)", file=err)
        return None
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    return _Checked(config, catalog, built)


def check(path: str, switches: PluginSwitches, out: TextIO | None = None,
          err: TextIO | None = None) -> int:
    """Validate a host config exactly as ``serve`` does before starting."""
    out = out or sys.stdout
    err = err or sys.stderr
    checked = _checked(path, switches, err)
    if checked is None:
        return 1
    if checked.config.access is not None and not _rules_check(checked.config.access, out, err):
        return 1
    _autosave_check(checked.config, checked.built, out, err)
    mounts = checked.config.mounts
    if not mounts and not checked.config.rejected:
        print(f"warning: {path} has no mounts: only the host status PVs would be served",
              file=err)
    pvs = len(served_pv_names(checked.built))
    enabled = sum(1 for mount in mounts if mount.enabled)
    print(f"{path}: OK ({enabled} of {len(mounts)} mounts enabled, {pvs} PVs)",
          file=out)
    return 0


def _rules_check(section: AccessSection, out: TextIO, err: TextIO) -> bool:
    """Parse the access rules file as ``serve`` will (host names are not resolved here)."""
    from iochost.access import AcfError, read_rules_file

    try:
        rules = read_rules_file(section.file, section.scope.expand)
    except AcfError as exc:
        print(f"error: access rules: {exc}", file=err)
        return False
    for warning in rules.warnings:
        print(f"warning: access rules: {warning}", file=err)
    print(f"{section.file}: OK ({len(rules.groups)} ASGs, {len(rules.uags)} UAGs, "
          f"{len(rules.hags)} HAGs)", file=out)
    return True


def _autosave_check(config: HostConfig, built: dict[str, Any], out: TextIO,
                    err: TextIO) -> None:
    """Read each mount's autosave request files as ``serve`` will, and look up the names
    its autosave helper saves (``pvs``, ``fields``, the request files') and its ``trigger``.
    All are warnings, as to ``serve``: a request file that cannot be read leaves its set
    restoring but never saving (synApps'), a name the mount does not serve is left out."""
    from iochost.helpers.autosave import read_requests
    from iochost.helpers.savvalues import resolve

    for mount in config.mounts:
        options = mount.helpers.get("autosave")
        ioc = built.get(mount.name)
        if options is None or ioc is None:   # no helper, or a disabled mount
            continue
        requested, broken, problems = read_requests(mount, options.get("request"),
                                                    options.get("request_path", ()),
                                                    options.get("macros"))
        for problem in broken:
            print(f"warning: mount {mount.name!r}: autosave: {problem} (the save set "
                  "restores, but never saves)", file=err)
        for problem in problems:
            print(f"warning: mount {mount.name!r}: autosave: {problem} (left out; the rest "
                  "is saved)", file=err)
        pvs = options.get("pvs", ())
        named = [*pvs, *(f"{pv}.{field}" for pv in pvs for field in options.get("fields", ())),
                 *(name.removeprefix(mount.prefix) for name in requested)]
        unserved = [mount.prefix + name for name in named
                    if resolve(ioc.pvdb, mount.prefix, name) is None]
        if unserved:
            listed = ", ".join(map(repr, unserved[:5])) + (", ..." if len(unserved) > 5 else "")
            print(f"warning: mount {mount.name!r}: autosave: {len(unserved)} of the names it "
                  f"saves are not served by the mount and will not be saved: {listed}",
                  file=err)
        trigger = options.get("trigger")
        if trigger and resolve(ioc.pvdb, mount.prefix, trigger) is None:
            print(f"warning: mount {mount.name!r}: autosave: the trigger "
                  f"{mount.prefix + trigger!r} is not served by the mount", file=err)
        if options.get("request") and not broken and not problems and not unserved:
            print(f"mount {mount.name!r}: autosave request files OK ({len(requested)} PVs)",
                  file=out)


def print_pvs(config: HostConfig, built: dict, out: TextIO) -> None:
    for name in served_pv_names(built):
        print(name, file=out)


def list_pvs(path: str, switches: PluginSwitches, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    """Print the PV names a host config would serve, one per line."""
    out = out or sys.stdout
    err = err or sys.stderr
    checked = _checked(path, switches, err)
    if checked is None:
        return 1
    print_pvs(checked.config, checked.built, out)
    return 0


def autosave_import(path: str, switches: PluginSwitches, source: str, mount_name: str,
                    out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``iochost autosave import FILE CONFIG --mount NAME``: caproto's JSON autosave file
    into the mount's ``.sav`` save set (see iochost.helpers.caproto_import)."""
    from iochost.helpers.autosave import mount_directory, set_name
    from iochost.helpers.caproto_import import import_caproto_json
    from iochost.helpers.savfiles import SaveFileSet

    out = out or sys.stdout
    err = err or sys.stderr
    checked = _checked(path, switches, err)
    if checked is None:
        return 1
    mount = checked.config.mount_named(mount_name)
    ioc = checked.built.get(mount_name)
    if mount is None or ioc is None:
        served = ", ".join(sorted(checked.built)) or "none"
        print(f"error: {path}: no enabled mount named {mount_name!r} (mounts: {served})",
              file=err)
        return 1
    options = mount.helpers.get("autosave") or {}
    directory = options.get("directory") or mount_directory(checked.config.host, mount.name)
    files = SaveFileSet(directory, set_name(options.get("name"), options.get("request")))
    from .lockfile import ConfigLock, ConfigLocked

    try:
        # a host serving this config would save its own values over the import
        with ConfigLock(path):
            report = import_caproto_json(source, ioc.pvdb, mount.prefix, files)
    except ConfigLocked as exc:
        print(f"error: not imported: {exc}", file=err)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    for line in report.skipped:
        print(f"skipped: {line}", file=err)
    if report.path is None:
        print(f"error: {source}: nothing to import for mount {mount_name!r}", file=err)
        return 1
    print(f"imported {len(report.imported)} values into {report.path}", file=out)
    if "autosave" not in mount.helpers:
        print(f"note: mount {mount_name!r} has no autosave helper in {path}; add "
              f"'helpers: {{autosave: {{}}}}' to restore these values", file=err)
    return 0


def schema(switches: PluginSwitches, out: TextIO | None = None,
           err: TextIO | None = None) -> int:
    """Print the JSON Schema of host configs for the installed plugins."""
    out = out or sys.stdout
    err = err or sys.stderr
    catalog = switches.load()
    warn_broken(catalog, err)
    json.dump(config_schema(catalog), out, indent=2)
    out.write("\n")
    return 0


def serve(path: str, switches: PluginSwitches, list_pvs: bool = False,
          log_level: str | None = None, out: TextIO | None = None,
          err: TextIO | None = None, exclusive: bool = False,
          log_format: str = "text", pid_file: str | None = None) -> int:
    """Validate, then serve until SIGINT/SIGTERM; 0 after a clean shutdown. 1 when the
    config has problems, is already served by another iochost (its lock file), or the
    port is taken and ``exclusive`` (``--exclusive`` or ``ca.exclusive``) forbids sharing."""
    out = out or sys.stdout
    err = err or sys.stderr
    checked = _checked(path, switches, err)
    if checked is None:
        return 1
    config, catalog, built = checked
    if exclusive:
        config.ca = replace(config.ca, exclusive=True)
    from .lockfile import ConfigLock, ConfigLocked
    from .serve import run_host

    try:
        with ConfigLock(path), PidFile(pid_file) as pids:
            if list_pvs:
                print_pvs(config, built, out)
                out.flush()
            return run_host(config, catalog, built, log_level=log_level, err=err,
                            log_format=log_format, reload_reporter=pids.reload_reporter)
    except (ConfigLocked, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 1


class PidFile:
    """``--pid-file PATH``: this process's id in PATH while serving (None: no file), and
    the reloads' outcomes for ``iochost reload``. A caller asks with a request file
    ``PATH.reload.TOKEN.request`` before its SIGHUP; the reload that begins after it
    answers in ``PATH.reload.TOKEN`` (so that callers reloading at once each get their
    own reload's outcome): a first line ``applied|refused``, then what the host said.
    ``PATH.reload`` holds the last outcome, whoever asked (``kill -HUP``, systemd)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None

    def __enter__(self) -> PidFile:
        if self.path is not None:
            other = _serving_pid(self.path)
            if other is not None:   # its reloads would find us, and our exit delete it
                raise OSError(f"the pid file {self.path} names process {other}, an iochost "
                              f"serve still running: give this host a --pid-file of its own")
            self.path.write_text(f"{os.getpid()}\n")
            self._clean()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self._clean()

    def _clean(self) -> None:
        assert self.path is not None
        for stale in self.path.parent.glob(glob.escape(outcome_file(self.path).name) + "*"):
            stale.unlink(missing_ok=True)

    def reload_reporter(self) -> ReloadReport:
        """Called as a reload begins: how it reports, to the requests made before it."""
        if self.path is None:
            return lambda applied, lines: None
        suffix = ".request"
        pattern = glob.escape(outcome_file(self.path).name) + ".*"
        for left in self.path.parent.glob(pattern):   # of callers killed while waiting
            if not left.name.endswith(suffix) and _age(left) > STALE_OUTCOME:
                left.unlink(missing_ok=True)
        requests = list(self.path.parent.glob(pattern + suffix))
        for request in requests:
            request.unlink(missing_ok=True)
        targets = [outcome_file(self.path)] + [
            request.with_name(request.name[:-len(suffix)]) for request in requests]

        def report(applied: bool, lines: list[str]) -> None:
            text = "".join(f"{line}\n" for line in
                           ["applied" if applied else "refused", *lines])
            for target in targets:
                partial = target.with_name(target.name + ".part")
                try:     # whole or not at all: the verb polls it
                    partial.write_text(text)
                    partial.replace(target)
                except OSError as exc:
                    log.warning("cannot write the reload outcome to %s: %s", target, exc)
        return report


def _serving_pid(pid_file: Path) -> int | None:
    """The live ``iochost`` process that ``pid_file`` names, if any (not a stale file)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    command = _command_line(pid) if pid > 0 and pid != os.getpid() else None
    return pid if command is not None and _runs_iochost(command) else None


#: seconds after which an outcome no caller read is removed (a caller waits 60 s by default)
STALE_OUTCOME = 600.0


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def outcome_file(pid_file: Path) -> Path:
    return pid_file.with_name(pid_file.name + ".reload")


def _read_outcome(path: Path) -> tuple[bool, list[str]] | None:
    """(applied, lines) of an outcome file; None while there is none."""
    try:
        first, *lines = path.read_text().splitlines()
    except (OSError, ValueError):
        return None
    return first == "applied", lines


def reload(pidfile: str | None, pid: int | None, err: TextIO | None = None,
           out: TextIO | None = None, timeout: float = 60.0) -> int:
    """Send SIGHUP to the ``iochost serve`` of ``pidfile`` (or ``pid``): it re-reads its
    config. When the serve writes a pid file, wait (``timeout`` s) for the reload's outcome
    and print it: 0 when applied, 1 when refused (the problems on stderr), no such process,
    or no outcome in time. Without a pid file: 0 once the signal was delivered."""
    err = err or sys.stderr
    out = out or sys.stdout
    if pid is None:
        try:
            text = Path(str(pidfile)).read_text().strip()
            pid = int(text)
        except OSError as exc:
            print(f"error: cannot read the pid file {pidfile}: {exc.strerror}", file=err)
            return 1
        except ValueError:
            print(f"error: {pidfile} holds no process id: {text[:40]!r}", file=err)
            return 1
    if pid <= 0:   # 0 and -N would signal process groups, -1 every process we may signal
        print(f"error: {pid} is not a process id", file=err)
        return 1
    command = _command_line(pid)
    if command is not None and not _runs_iochost(command):
        print(f"error: process {pid} is not iochost serve (it runs "
              f"{' '.join(command)[:60]!r}); is the pid file stale?", file=err)
        return 1
    pid_path = Path(pidfile) if pidfile else _pid_file_of(pid, command)
    # our own answer (see PidFile): others reloading at the same time get theirs
    outcome = None if pid_path is None else outcome_file(pid_path).with_name(
        f"{outcome_file(pid_path).name}.{os.getpid()}-{time.monotonic_ns()}")
    request = None if outcome is None else outcome.with_name(outcome.name + ".request")
    try:
        if request is not None:
            try:
                request.touch()
            except OSError:   # a directory we may not write: the log says what happened
                outcome = request = None
        os.kill(pid, signal.SIGHUP)
        if outcome is None:
            print(f"SIGHUP sent to {pid}: its log says what the reload did (serve with "
                  f"--pid-file to see the outcome here)", file=out)
            return 0
        return _wait_for_outcome(outcome, pid, timeout, out, err)
    except ProcessLookupError:
        print(f"error: no process {pid} (is iochost serve running?)", file=err)
        return 1
    except PermissionError:
        print(f"error: not allowed to signal process {pid}", file=err)
        return 1
    finally:
        for leftover in (request, outcome):
            if leftover is not None:
                leftover.unlink(missing_ok=True)


def _wait_for_outcome(outcome: Path, pid: int, timeout: float, out: TextIO, err: TextIO
                      ) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = _read_outcome(outcome)
        if answer is not None:
            applied, lines = answer
            headline, *details = lines or [""]
            print(headline, file=out if applied else err)
            for line in details:
                print(f"  {line}", file=out if applied else err)
            return 0 if applied else 1
        if not _alive(pid):
            print(f"error: process {pid} exited before reporting the reload", file=err)
            return 1
        time.sleep(0.05)
    print(f"error: SIGHUP sent to {pid}, but no reload outcome appeared in {outcome} "
          f"within {timeout:g} s; see its log", file=err)
    return 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_file_of(pid: int, command: list[str] | None) -> Path | None:
    """The ``--pid-file`` of a running ``iochost serve`` (from its command line)."""
    args = command or []
    for index, arg in enumerate(args):
        if arg == "--pid-file" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--pid-file="):
            value = arg.split("=", 1)[1]
        else:
            continue
        try:    # relative to the serve's working directory
            return Path(os.readlink(f"/proc/{pid}/cwd")) / value
        except OSError:
            return None
    return None


def _installed_ioc(name: str) -> str | None:
    """Why ``name`` cannot be a new plugin's IOC: an installed plugin registers it (two
    plugins of one IOC name cannot both load), or its plugin (entry point) name is taken."""
    from .newplugin import NewPluginError, PluginNames
    from .plugins import load_plugins

    try:
        ioc = PluginNames.from_name(name).ioc
    except NewPluginError:
        return None          # write_plugin says what is wrong with the name
    catalog = load_plugins()
    if ioc in catalog.iocs:
        return (f"an installed plugin ({catalog.iocs[ioc].plugin!r}) already registers the "
                f"IOC {ioc!r}: choose another name (nothing was written)")
    if ioc in catalog.plugins:
        return f"a plugin named {ioc!r} is installed: choose another name (nothing was written)"
    return None


def _runs_iochost(command: list[str]) -> bool:
    """Whether a command line is iochost's (the script, or ``-m iochost``)."""
    return any(Path(arg).name == "iochost" for arg in command)


def _command_line(pid: int) -> list[str] | None:
    """The arguments of process ``pid`` (Linux's /proc), None where they cannot be read
    (``iochost`` is one of them: the script, or ``-m iochost``)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")


def new_plugin(name: str, directory: str | None, out: TextIO | None = None,
               err: TextIO | None = None) -> int:
    """Write a plugin project for ``name``; 0, or 1 with a one-line error."""
    from .newplugin import NewPluginError, write_plugin

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        taken = _installed_ioc(name)
        if taken is not None:
            raise NewPluginError(taken)
        target, written = write_plugin(name, directory)
    except (NewPluginError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    print(f"wrote the plugin project {target}/:", file=out)
    for relative in written:
        print(f"  {relative}", file=out)
    print(f"""next, in the environment that has iochost:
  cd {target}
  python -m pip install -e '.[test]'
  python -m pytest
  iochost serve hostconfig.yaml""", file=out)
    return 0


def names(values: Iterable[str] | None) -> tuple[str, ...]:
    """Flatten repeated and comma-separated ``--disable-plugin`` values."""
    return tuple(name.strip() for value in values or () for name in value.split(",")
                 if name.strip())

