"""The ``ca`` section becomes the server's settings; the environment overrides it the EPICS way."""
import pytest

from iochost.host import load_config_text
from iochost.host.ca_section import server_config

SECTION = """\
ca:
  interfaces: [127.0.0.1]
  port: 5101
  beacon_addresses: [127.0.0.1]
  auto_beacon: false
  beacon_period: 2.5
  beacon_port: 5102
  ignore_addresses: [127.0.0.9]
  max_array_bytes: 100000
"""
FROM_FILE = {"interfaces": ("127.0.0.1",), "port": 5101,
             "beacon_addresses": (("127.0.0.1", 5102),), "auto_beacon": False,
             "beacon_period": 2.5, "beacon_port": 5102, "ignore_addresses": ("127.0.0.9",),
             "max_array_bytes": 100000}


# (environment, the settings that change from FROM_FILE)
CASES = [
    ({}, {}),
    ({"EPICS_CAS_SERVER_PORT": "5200"}, {"port": 5200}),         # the server's variable wins
    ({"EPICS_CA_SERVER_PORT": "5200"}, {}),                      # a fallback ranks below the file
    ({"EPICS_CAS_SERVER_PORT": " "}, {}),                         # blank counts as unset
    ({"EPICS_CAS_INTF_ADDR_LIST": "127.0.0.2 127.0.0.3"},
     {"interfaces": ("127.0.0.2", "127.0.0.3")}),
    ({"EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.4"},
     {"beacon_addresses": (("127.0.0.4", 5102),)}),
    ({"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "YES"}, {"auto_beacon": True}),
    ({"EPICS_CAS_BEACON_PERIOD": "7"}, {"beacon_period": 7.0}),
    ({"EPICS_CAS_IGNORE_ADDR_LIST": "127.0.0.8"}, {"ignore_addresses": ("127.0.0.8",)}),
    ({"EPICS_CA_MAX_ARRAY_BYTES": "200000"}, {"max_array_bytes": 200000}),
    ({"EPICS_CA_AUTO_ARRAY_BYTES": "YES"}, {"max_array_bytes": None}),  # no fixed cap
]


@pytest.mark.parametrize("environ, changed", CASES, ids=lambda v: str(v))
def test_environment_overrides_the_ca_section(environ, changed):
    config = load_config_text(SECTION, "host.yaml", environ={})
    settings = server_config(config.ca, environ)
    assert {key: getattr(settings, key) for key in FROM_FILE} == {**FROM_FILE, **changed}


def test_without_a_ca_section_the_environment_alone_decides():
    config = load_config_text("host: {name: h}\n", "host.yaml", environ={})
    settings = server_config(config.ca, {"EPICS_CA_SERVER_PORT": "5300",
                                         "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1"})
    assert (settings.port, settings.interfaces) == (5300, ("127.0.0.1",))


@pytest.mark.parametrize("line, key, reason", [
    ("interfaces: [localhost]", "interfaces", "'localhost' is not an IPv4 address[:port]"),
    ("beacon_addresses: [127.0.0.1, 'nowhere:5065']", "beacon_addresses",
     "'nowhere:5065' is not an IPv4 address[:port]"),
    ("ignore_addresses: [host]", "ignore_addresses", "'host' is not an IPv4 address[:port]"),
])
def test_a_bad_ca_value_is_located_at_its_key(line, key, reason):
    """Located by the error's ``setting`` (the key), whatever its message says."""
    from iochost.host.ca_section import ca_problems

    config = load_config_text(f"host: {{name: h}}\nca:\n  {line}\n", "host.yaml", environ={})
    assert [str(problem) for problem in ca_problems(config, {})] == [
        f"host.yaml:3: ca.{key}: {reason}"]


def test_a_variable_set_in_the_environment_is_blamed_there():
    from iochost.host.ca_section import ca_problems

    config = load_config_text("ca: {port: 5100}\n", "host.yaml", environ={})
    assert [str(problem) for problem in ca_problems(config, {"EPICS_CAS_SERVER_PORT": "x"})
            ] == ["<environment>: EPICS_CAS_SERVER_PORT='x': not a port number"]


def test_every_bad_ca_value_is_reported_at_once():
    from iochost.host.ca_section import ca_problems

    config = load_config_text("ca:\n  interfaces: [localhost]\n  ignore_addresses: [host]\n",
                              "host.yaml", environ={})
    assert [str(problem) for problem in ca_problems(
        config, {"EPICS_CAS_BEACON_PERIOD": "abc"})] == [
        "<environment>: EPICS_CAS_BEACON_PERIOD='abc': not a number",
        "host.yaml:2: ca.interfaces: 'localhost' is not an IPv4 address[:port]",
        "host.yaml:3: ca.ignore_addresses: 'host' is not an IPv4 address[:port]"]


def test_a_bad_ca_value_a_variable_overrides_here_is_still_reported():
    """``interfaces: [localhost]`` passed `check` in a shell that set
    EPICS_CAS_INTF_ADDR_LIST (ca-loopback does) and failed under systemd, which does not;
    a bad port was reported either way. The file is checked on its own too."""
    from iochost.host.ca_section import ca_problems

    config = load_config_text("ca:\n  interfaces: [localhost]\n", "host.yaml", environ={})
    assert [str(problem) for problem in ca_problems(
        config, {"EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1"})] == [
        "host.yaml:2: ca.interfaces: 'localhost' is not an IPv4 address[:port]"]
