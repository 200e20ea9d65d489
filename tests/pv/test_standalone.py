"""The standalone-IOC command line: ``template_arg_parser`` / ``ioc_arg_parser``.
(``run`` itself is exercised over CA by tests/examples/test_examples_standalone.py.)"""
import logging
import os
import subprocess
import sys

import pytest

from iochost import ioc_arg_parser, template_arg_parser


@pytest.fixture(autouse=True)
def restore_log_levels():
    """split_args configures logging; keep other tests' logging as it was."""
    loggers = [logging.getLogger(), logging.getLogger("iochost")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


def parse(argv, **kwargs):
    parser, split_args = template_arg_parser(desc="test IOC", default_prefix="dflt:", **kwargs)
    return split_args(parser.parse_args(argv))


def test_defaults():
    ioc_options, run_options = parse([])
    assert ioc_options == {"prefix": "dflt:", "macros": {}}
    assert run_options == {"interfaces": ["127.0.0.1"], "log_pv_names": False}  # from the env


def test_options():
    ioc_options, run_options = parse(["--prefix", "X:", "--list-pvs", "--interfaces",
                                      "127.0.0.1", "127.0.0.2", "--async-lib", "asyncio"])
    assert ioc_options["prefix"] == "X:"
    assert run_options == {"interfaces": ["127.0.0.1", "127.0.0.2"], "log_pv_names": True}


def test_one_option_per_macro():
    ioc_options, _ = parse(["--suffix", "m2"], macros={"beamline": "BL1", "suffix": "m1"})
    assert ioc_options["macros"] == {"beamline": "BL1", "suffix": "m2"}


def test_required_macro(capsys):
    with pytest.raises(SystemExit):
        parse([], macros={"beamline": None})
    assert "--beamline" in capsys.readouterr().err
    assert parse(["--beamline", "B"], macros={"beamline": None})[0]["macros"] == {
        "beamline": "B"}


@pytest.mark.parametrize("flags, root_level, iochost_level", [
    ([], logging.INFO, logging.INFO),
    (["-q"], logging.WARNING, logging.WARNING),
    (["-v"], logging.INFO, logging.DEBUG),
    (["-vv"], logging.DEBUG, logging.DEBUG),
])
def test_verbosity(flags, root_level, iochost_level):
    parse(flags)
    assert logging.getLogger().level == root_level
    assert logging.getLogger("iochost").getEffectiveLevel() == iochost_level


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        parse(["-q", "-v"])
    assert "not allowed with" in capsys.readouterr().err


def test_ioc_arg_parser_takes_argv():
    ioc_options, run_options = ioc_arg_parser(desc="d", default_prefix="p:",
                                              argv=["--prefix", "Q:"], macros={"m": "1"})
    assert ioc_options == {"prefix": "Q:", "macros": {"m": "1"}}
    assert run_options["log_pv_names"] is False


def test_run_reports_bad_interfaces_in_one_line():
    from iochost import run

    with pytest.raises(SystemExit) as info:
        run({}, interfaces=["foo"])
    assert str(info.value.code) == "error: CA settings: interfaces: 'foo' is not an IPv4 address"


def test_run_reports_a_bad_ca_variable_in_one_line():
    """In a child process: a bad EPICS_* variable in this one would kill the CA client
    threads of other tests (caproto's reads the variables at every search)."""
    result = subprocess.run([sys.executable, "-c", "from iochost import run; run({})"],
                            env={**os.environ, "EPICS_CAS_SERVER_PORT": "abc"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        "error: CA settings: EPICS_CAS_SERVER_PORT='abc': not a port number"


EXITING_IOC = """
import sys
from iochost import PVGroup, pvproperty, run

class Exits(PVGroup):
    exit = pvproperty(value=0)

    @exit.putter
    async def exit(self, instance, value):
        sys.exit(0)

    @exit.shutdown
    async def exit(self, instance, async_lib):
        print("shutdown hook ran", flush=True)

run(Exits(prefix=sys.argv[1]).pvdb, interfaces=["127.0.0.1"])
"""


def test_a_putter_that_exits_ends_a_standalone_ioc(tmp_path):
    """As caproto's server (too_clever/caproto_to_ophyd's "Poke me to exit" PV): a put
    whose putter calls sys.exit ends a standalone IOC (its shutdown hooks run); it used to
    drop only the putting client's circuit and serve on."""
    from softioc_process import free_port

    from iochost.client import caput

    port = free_port()
    env = {**os.environ, "EPICS_CAS_SERVER_PORT": str(port), "EPICS_CA_SERVER_PORT": str(port)}
    script = tmp_path / "exits.py"
    script.write_text(EXITING_IOC)
    proc = subprocess.Popen([sys.executable, str(script), "EXIT:"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import asyncio

        from iochost.client import ClientConfig, Context

        async def poke():
            config = ClientConfig(addresses=(("127.0.0.1", port),), auto_addresses=False,
                                  server_port=port)
            async with Context(config) as context:
                await context.connect("EXIT:exit", 30)
                await caput("EXIT:exit", 1, context=context)
        asyncio.run(poke())
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, output
    assert "shutdown hook ran" in output
