"""ServerConfig.from_env: EPICS_CAS_* over EPICS_CA_* over defaults; one error per bad value."""
import pytest

from iochost.server.settings import ServerConfigError, ServerConfig, parse_address_list


def test_defaults_without_environment():
    config = ServerConfig.from_env({})
    assert config.interfaces == ("0.0.0.0",)
    assert config.port == 5064
    assert config.beacon_port == 5065
    assert config.beacon_period == 15.0
    assert config.auto_beacon is True
    assert config.max_array_bytes is None  # EPICS_CA_AUTO_ARRAY_BYTES=YES: no fixed cap
    assert config.beacon_addresses == ()


@pytest.mark.parametrize("env, field, expected", [
    ({"EPICS_CA_SERVER_PORT": "6000"}, "port", 6000),
    ({"EPICS_CA_SERVER_PORT": "6000", "EPICS_CAS_SERVER_PORT": "7000"}, "port", 7000),
    ({"EPICS_CA_REPEATER_PORT": "6001"}, "beacon_port", 6001),
    ({"EPICS_CA_REPEATER_PORT": "6001", "EPICS_CAS_BEACON_PORT": "7001"}, "beacon_port", 7001),
    ({"EPICS_CA_BEACON_PERIOD": "2.5"}, "beacon_period", 2.5),
    ({"EPICS_CAS_BEACON_PERIOD": "3", "EPICS_CA_BEACON_PERIOD": "2.5"}, "beacon_period", 3.0),
    ({"EPICS_CA_AUTO_ADDR_LIST": "NO"}, "auto_beacon", False),
    ({"EPICS_CA_AUTO_ADDR_LIST": "NO", "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "yes"},
     "auto_beacon", True),
    ({"EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1 127.0.0.2"}, "interfaces",
     ("127.0.0.1", "127.0.0.2")),
    ({"EPICS_CAS_IGNORE_ADDR_LIST": "127.0.0.9"}, "ignore_addresses", ("127.0.0.9",)),
    # As RSRV in EPICS 7: EPICS_CA_MAX_ARRAY_BYTES counts only with AUTO_ARRAY_BYTES=NO.
    ({"EPICS_CA_MAX_ARRAY_BYTES": "100000000"}, "max_array_bytes", None),
    ({"EPICS_CA_MAX_ARRAY_BYTES": "100000", "EPICS_CA_AUTO_ARRAY_BYTES": "YES"},
     "max_array_bytes", None),
    ({"EPICS_CA_AUTO_ARRAY_BYTES": "NO"}, "max_array_bytes", 16384),
    ({"EPICS_CA_MAX_ARRAY_BYTES": "100000000", "EPICS_CA_AUTO_ARRAY_BYTES": "NO"},
     "max_array_bytes", 100_000_000),
    ({"EPICS_CA_MAX_ARRAY_BYTES": "1e8", "EPICS_CA_AUTO_ARRAY_BYTES": "no"},
     "max_array_bytes", 100_000_000),
    ({"EPICS_CA_MAX_ARRAY_BYTES": "100", "EPICS_CA_AUTO_ARRAY_BYTES": "NO"},
     "max_array_bytes", 16384),  # RSRV's minimum
    ({"EPICS_CA_ADDR_LIST": "127.0.0.1 127.0.0.2:9999"}, "beacon_addresses",
     (("127.0.0.1", 5065), ("127.0.0.2", 9999))),
    ({"EPICS_CA_ADDR_LIST": "127.0.0.3", "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1"},
     "beacon_addresses", (("127.0.0.1", 5065),)),
    ({"EPICS_CAS_BEACON_PORT": "7001", "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1"},
     "beacon_addresses", (("127.0.0.1", 7001),)),
])
def test_environment_precedence(env, field, expected):
    assert getattr(ServerConfig.from_env(env), field) == expected


def test_keyword_overrides_win_and_lists_become_tuples():
    config = ServerConfig.from_env({"EPICS_CAS_SERVER_PORT": "7000"}, port=0,
                                   interfaces=["127.0.0.1"])
    assert (config.port, config.interfaces) == (0, ("127.0.0.1",))


@pytest.mark.parametrize("env, variable", [
    ({"EPICS_CAS_SERVER_PORT": "abc"}, "EPICS_CAS_SERVER_PORT"),
    ({"EPICS_CA_SERVER_PORT": "70000"}, "EPICS_CA_SERVER_PORT"),
    ({"EPICS_CAS_INTF_ADDR_LIST": "localhost"}, "EPICS_CAS_INTF_ADDR_LIST"),
    ({"EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1:x"}, "EPICS_CAS_BEACON_ADDR_LIST"),
    ({"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "maybe"}, "EPICS_CAS_AUTO_BEACON_ADDR_LIST"),
    ({"EPICS_CAS_BEACON_PERIOD": "-1"}, "EPICS_CAS_BEACON_PERIOD"),
    ({"EPICS_CA_MAX_ARRAY_BYTES": "lots"}, "EPICS_CA_MAX_ARRAY_BYTES"),
])
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(ServerConfigError, match=variable):
        ServerConfig.from_env(env)


def test_beacon_destinations_loopback_only_when_auto_is_off():
    config = ServerConfig.from_env({"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
                                    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
                                    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
                                    "EPICS_CAS_BEACON_PORT": "6500"})
    assert config.beacon_destinations() == (("127.0.0.1", 6500),)


def test_automatic_beacon_list_of_a_loopback_interface_stays_on_loopback():
    config = ServerConfig(interfaces=("127.0.0.1",), auto_beacon=True, beacon_port=6500)
    assert config.beacon_destinations() == (("127.0.0.1", 6500),)


def test_address_list_parsing():
    assert parse_address_list(" 127.0.0.1  127.0.0.2:5 ", 9) == (("127.0.0.1", 9),
                                                                 ("127.0.0.2", 5))
    with pytest.raises(ServerConfigError, match="not an IPv4"):
        parse_address_list("example.org", 9)


TABLE = {"127.0.0.1": None, "10.0.0.5": "10.0.0.255", "192.168.1.7": "192.168.1.255"}


@pytest.mark.parametrize("interfaces, expected", [
    (("127.0.0.1",), ["127.0.0.1"]),
    (("10.0.0.5",), ["10.0.0.255"]),
    (("0.0.0.0",), ["10.0.0.255", "192.168.1.255"]),
    (("10.0.0.9",), ["255.255.255.255"]),  # not in the table
])
def test_automatic_beacon_list_uses_each_interfaces_broadcast_address(interfaces, expected):
    config = ServerConfig(interfaces=interfaces, auto_beacon=True, beacon_port=6500)
    assert config.beacon_destinations(TABLE) == tuple((a, 6500) for a in expected)
