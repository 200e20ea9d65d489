"""The ``iochost`` command line: argument parsing only; each verb calls into iochost.host."""
from __future__ import annotations

import argparse
import signal
import sys
import textwrap
from . import __version__, cli_client
from .logs import LOG_FORMATS

DESCRIPTION = """\
Host many Python EPICS IOCs behind one Channel Access server.

IOCs, record types and helpers come from installed plugins (entry-point group
'iochost'); a YAML host config says which IOCs to mount, under which prefixes,
with which macros and options."""

#: verb -> (one-line help, example epilog)
VERBS: dict[str, tuple[str, str]] = {
    "serve": (
        "serve the IOCs of a host config until SIGINT/SIGTERM",
        """\
examples:
  iochost serve --demo
  EPICS_CAS_SERVER_PORT=5070 iochost serve --demo --list-pvs
  iochost serve site.yaml

The config is validated first (as 'iochost check' does); nothing starts if it has
problems. EPICS_CAS_* environment variables override the config's 'ca' section.
Ctrl-C (SIGINT) or SIGTERM runs every IOC's shutdown hooks and exits with 0."""),
    "check": (
        "validate a host config without serving it",
        """\
examples:
  iochost check --demo
  iochost check site.yaml

Reports every problem at once, each with file:line and key: unknown keys, wrong
types, undefined macros, unknown IOCs or options, duplicate mount or PV names.
Exit status 0 when the config can be served, 1 otherwise."""),
    "list-pvs": (
        "print the PV names a host config would serve",
        """\
example:
  iochost list-pvs --demo | grep SIMPLE"""),
    "list-plugins": (
        "show installed plugins and what each provides",
        """\
examples:
  iochost list-plugins
  iochost list-plugins --json | python -m json.tool

Shows distribution, version, hooks, IOCs, record types and helpers of each plugin,
and why a plugin failed to load. Exit status 0 when every plugin loaded, 3 when one
failed to load (it is listed all the same), so CI can gate on it."""),
    "reload": (
        "make a running 'iochost serve' re-read its host config (sends it SIGHUP)",
        """\
examples:
  iochost serve site.yaml --pid-file site.pid &
  iochost reload site.pid
  iochost reload --pid "$(cat site.pid)"

The host validates the file first, exactly as 'iochost check' does; with problems it
changes nothing and logs why (file:line). Otherwise it applies the difference: mounts
removed are unmounted, added or re-enabled ones mounted, changed ones remounted, and
unchanged mounts are not touched (their clients stay connected). Changes to the ca or
host sections need a restart and are reported, not applied. When the serve writes a
pid file, reload waits for the outcome and prints it: exit status 0 when applied, 1
when refused (with the problems). Under systemd: 'systemctl reload iochost@site'."""),
    "autosave": (
        "autosave tools: import a caproto JSON autosave file into a mount's .sav set",
        """\
example:
  iochost autosave import autosave.json site.yaml --mount simple-b

Entries are keyed by their name relative to the mount's prefix and checked against
the mount's IOC as a restore would check them; the file is written where the mount's
autosave helper reads it (an existing one is kept as .savB)."""),
    "get": (
        "read PVs from any CA server (like caget)",
        """\
examples (against 'iochost serve --demo'):
  iochost get DEMO:A:SIMPLE:A DEMO:BL:current.EGU
  iochost get -a -f 3 DEMO:HOST:UPTIME DEMO:A:SIMPLE:B
  iochost get --json DEMO:A:SIMPLE:A DEMO:HOST:UPTIME
  iochost get -d DBR_CTRL_DOUBLE DEMO:HOST:UPTIME

Takes caget's options and prints what caget prints: 'NAME VALUE' per PV (arrays:
'NAME COUNT V1 V2 ...', enums as their string); -t the value alone; -a 'NAME STAMP
VALUE STAT SEVR'; -d every field of that DBR type. All PVs are searched at once:
missing ones cost one timeout together, and (unlike caget) the others are still
printed. Exit status 1, with a one-line error, when a PV is not found, times out or
refuses the read."""),
    "info": (
        "show where PVs are served and how (like cainfo)",
        """\
example (against 'iochost serve --demo'):
  iochost info DEMO:A:SIMPLE:A DEMO:HOST:UPTIME

Prints per PV the server (host:port), the access rights this client has, the native
type and the element count. Exit status 1, with a one-line error, when a PV is not
found."""),
    "put": (
        "write a PV on any CA server (like caput)",
        """\
examples (against 'iochost serve --demo'):
  iochost put DEMO:B:SIMPLE:A 42
  iochost put --wait DEMO:BL:shutter Open

Takes caput's options and prints what caput prints: the old and the new value (-t
the new value alone, -l the wide lines). As caput, the words go as text (UTF-8, C
escapes such as \\n turned into their bytes) and the server converts and checks
them (a number out of the field's range is refused, not wrapped): a scalar takes the
words joined by spaces, an array one element per word (a CHAR array too: numbers;
-S writes the words to it as one long string). An enum takes a state string first,
then an index (a state named "10" is that state; -n: numbers only, -s: strings
only). --wait (-c) waits until the server reports the put complete. Exit status 1,
with the ECA text, when the put is refused (after the old value, as caput); without
--wait only a refusal that arrives before the read-back is seen (a putter that awaits
may refuse later): use --wait when a script relies on the status."""),
    "monitor": (
        "print PV updates from any CA server (like camonitor)",
        """\
examples (against 'iochost serve --demo'):
  iochost monitor --updates 3 DEMO:HOST:UPTIME
  iochost monitor -m va --updates 2 DEMO:A:SIMPLE:A DEMO:A:SIMPLE:B

Takes camonitor's options and prints what camonitor prints: 'NAME STAMP VALUE STAT
SEVR' per update (the alarm fields empty when there is none) until --updates N were
printed or Ctrl-C; reconnects by itself when a server restarts. A PV not found within
the timeout is shown '*** Not connected (PV not found)' and still waited for, as
camonitor does: it prints once a server serves it. Enums show the state string the
server sends with each update (-n: their number)."""),
    "new-plugin": (
        "write a new, installable plugin project with one IOC, a test and a host config",
        """\
examples:
  iochost new-plugin oven
  iochost new-plugin vacuum-gauge --dir plugins/vacuum

NAME 'oven' gives the distribution iochost-oven (package iochost_oven) whose IOC
mounts as 'ioc: oven': a PVGroup with a pvproperty, a putter that refuses bad values
and a scan hook (iochost_oven/ioc.py), the iochost entry point (pyproject.toml),
a test that serves hostconfig.yaml in a host and reads and writes the IOC over CA
(tests/), a README, and hostconfig.yaml mounting it on 127.0.0.1. Then:
  cd iochost-oven && python -m pip install -e '.[test]' && python -m pytest
The directory (default ./iochost-NAME) must not exist yet."""),
    "schema": (
        "print the JSON Schema of host configs (with each installed IOC's options)",
        """\
example:
  iochost schema > hostconfig.schema.json"""),
}


#: the verbs that load plugins, and so take the plugin switches
PLUGIN_VERBS = frozenset(("serve", "check", "list-pvs", "list-plugins", "schema", "autosave"))
#: the verbs that are CA clients of any server
CLIENT_VERBS = frozenset(("get", "info", "put", "monitor"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iochost", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run 'iochost VERB --help' for a verb's options "
                                            "and an example.")
    parser.add_argument("--version", action="version", version=f"iochost {__version__}")
    switches = argparse.ArgumentParser(add_help=False)
    group = switches.add_argument_group("plugin switches")
    group.add_argument("--no-autoload", action="store_true", default=None,
                       help="load only iochost's built-in plugins (IOCHOST_NO_AUTOLOAD=1)")
    group.add_argument("--disable-plugin", action="append", metavar="NAME",
                       help="do not load this plugin (entry-point or distribution name); "
                            "repeatable; IOCHOST_DISABLE_PLUGINS=a,b adds to it")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (summary, example) in VERBS.items():
        sub = verbs.add_parser(verb, help=summary, description=summary[0].upper() + summary[1:],
                               epilog=textwrap.dedent(example),
                               parents=[switches] if verb in PLUGIN_VERBS else [],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        if verb == "autosave":
            sub.add_argument("action", choices=("import",), help="what to do")
            sub.add_argument("file", metavar="FILE", help="caproto's autosave JSON file")
            sub.add_argument("--mount", required=True, metavar="NAME",
                             help="the mount whose save set receives the values")
        if verb in ("serve", "check", "list-pvs", "autosave"):
            sub.add_argument("config", metavar="CONFIG", nargs="?",
                             help="host config file (YAML)")
            sub.add_argument("--demo", action="store_true",
                             help="use the demo host config shipped with iochost "
                                  "(it mounts the iochost-examples IOCs)")
        if verb == "serve":
            sub.add_argument("--list-pvs", action="store_true",
                             help="print the PV names before serving")
            sub.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                             help="text: one line per event (journald); json: one JSON "
                                  "object per line")
            sub.add_argument("--exclusive", action="store_true",
                             help="refuse to start if another CA server has the port "
                                  "(as ca.exclusive: true)")
            sub.add_argument("--log-level", metavar="LEVEL", type=str.upper,
                             choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                             help="override the config's host.log_level")
        if verb == "serve":
            sub.add_argument("--pid-file", metavar="PATH",
                             help="write the process id here while serving "
                                  "(for 'iochost reload PATH')")
        if verb == "reload":
            target = sub.add_mutually_exclusive_group(required=True)
            target.add_argument("pidfile", metavar="PIDFILE", nargs="?",
                                help="the --pid-file of the 'iochost serve' to reload")
            target.add_argument("--pid", type=int, help="the process id to reload")
            sub.add_argument("--timeout", type=float, default=60.0, metavar="S",
                             help="seconds to wait for the reload's outcome (default 60)")
        if verb in CLIENT_VERBS:
            cli_client.add_arguments(sub, verb)
        if verb == "list-plugins":
            sub.add_argument("--json", action="store_true", help="print JSON")
        if verb == "new-plugin":
            sub.add_argument("name", metavar="NAME",
                             help="the plugin's name: words of letters and digits joined "
                                  "by '-' or '_', starting with a letter (e.g. oven, "
                                  "vacuum-gauge)")
            sub.add_argument("--dir", metavar="DIR",
                             help="where to write it (default: ./iochost-NAME; must not "
                                  "exist)")
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    # Until the host serves (and installs its own handlers), SIGTERM stops us like Ctrl-C:
    # plugin loading and validation take a moment, and nothing has started yet.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # SIGHUP means "reload" once serving; until the host installs its handler, one that
    # arrives early must not kill the process (its default action).
    previous_hangup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    args.config = _config_path(args, parser)
    try:
        return _run_verb(args)
    except KeyboardInterrupt:
        print(f"iochost {args.verb}: interrupted", file=sys.stderr)
        return 0 if args.verb == "serve" else 130   # serve: a stop request, nothing to undo
    except BrokenPipeError:  # `iochost schema | head`: the reader left, nothing to report
        sys.stderr.close()
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hangup)


def _config_path(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str | None:
    """CONFIG, or the shipped demo config for ``--demo``; exactly one of them."""
    if not hasattr(args, "demo"):
        return None
    if args.demo == (args.config is not None):
        parser.error(f"{args.verb}: give a CONFIG file or --demo (one of them)")
    if args.demo:
        from .host.verbs import demo_config_path

        return str(demo_config_path())
    return args.config


def _run_verb(args: argparse.Namespace) -> int:
    if args.verb in CLIENT_VERBS:
        return cli_client.run(args)
    from .host import verbs

    switches = verbs.PluginSwitches(disable_autoload=getattr(args, "no_autoload", None),
                                    blocked=verbs.names(getattr(args, "disable_plugin", None)))
    run = {
        "serve": lambda: verbs.serve(args.config, switches, list_pvs=args.list_pvs,
                                        log_level=args.log_level, exclusive=args.exclusive,
                                        log_format=args.log_format,
                                        pid_file=args.pid_file),
        "reload": lambda: verbs.reload(args.pidfile, args.pid, timeout=args.timeout),
        "check": lambda: verbs.check(args.config, switches),
        "list-pvs": lambda: verbs.list_pvs(args.config, switches),
        "list-plugins": lambda: verbs.list_plugins(switches, as_json=args.json),
        "schema": lambda: verbs.schema(switches),
        "new-plugin": lambda: verbs.new_plugin(args.name, args.dir),
        "autosave": lambda: verbs.autosave_import(args.config, switches, args.file,
                                                  args.mount),
    }
    return run[args.verb]()

if __name__ == "__main__":
    sys.exit(main())
