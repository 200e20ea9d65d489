"""The server's public names are the ones other layers code against (docs/internals.md)."""
import inspect

import iochost.server
import iochost.testing
from iochost.server import PVDatabase, Server, ServerConfig


def test_all_names_exist():
    for module in (iochost.server, iochost.testing):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__


def test_contract_signatures():
    assert list(inspect.signature(Server).parameters) == ["database", "config"]
    for method in ("start", "stop", "serve_forever"):
        assert inspect.iscoroutinefunction(getattr(Server, method))
    assert inspect.iscoroutinefunction(iochost.server.run)
    assert list(inspect.signature(ServerConfig.from_env).parameters) == ["environ",
                                                                         "configured", "overrides"]
    for name in ("resolve", "add_removal_listener", "remove_many", "update"):
        assert callable(getattr(PVDatabase, name))
    thread = inspect.signature(iochost.testing.ServerThread)
    assert list(thread.parameters)[:3] == ["pvdb", "port", "interfaces"]
    for name in ("call", "add", "remove"):
        assert callable(getattr(iochost.testing.ServerThread, name))


def test_a_plain_mapping_is_wrapped_in_a_database():
    server = Server({}, ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False))
    assert isinstance(server.database, PVDatabase)
    stats = server.stats()
    for key in ("clients", "channels", "subscriptions", "bytes_in", "bytes_out"):
        assert stats[key] == 0


def test_loopback_env_keeps_a_server_on_loopback():
    config = ServerConfig.from_env(iochost.testing.LOOPBACK_ENV)
    assert config.interfaces == ("127.0.0.1",)
    assert config.auto_beacon is False
    assert [ip for ip, _ in config.beacon_addresses] == ["127.0.0.1"]
    assert iochost.testing.LOOPBACK_ENV["EPICS_CA_AUTO_ADDR_LIST"] == "NO"  # and clients
    assert iochost.testing.LOOPBACK_ENV["EPICS_CA_ADDR_LIST"] == "127.0.0.1"
