"""Client configuration: the ``EPICS_CA_*`` environment parsed into a :class:`ClientConfig`.

The variables and their defaults are libca's (CA reference manual, "Configuring CA"):

* ``EPICS_CA_ADDR_LIST`` -- search destinations, ``host[:port]`` (IPv4 addresses or host
  names, resolved once; an entry that cannot be used is logged and skipped, as libca's
  "Bad internet address or host name");
* ``EPICS_CA_AUTO_ADDR_LIST`` -- YES (default) adds the broadcast address of every local
  interface, as libca does; NO leaves only the explicit list (always NO on our machines);
* ``EPICS_CA_NAME_SERVERS`` -- ``host[:port]`` of CA name servers searched over TCP;
* ``EPICS_CA_SERVER_PORT`` -- the default port of the entries above (5064);
* ``EPICS_CA_REPEATER_PORT`` -- where the repeater forwards beacons from (5065);
* ``EPICS_CA_AUTO_ARRAY_BYTES`` -- YES (default, as libca since 3.16.1): arrays of any
  size; NO: ``EPICS_CA_MAX_ARRAY_BYTES`` is the largest payload we ask for or accept
  (16384 at least);
* ``EPICS_CA_CONN_TMO`` -- seconds of silence on a circuit before an echo probes it (30);
* ``EPICS_CA_MAX_SEARCH_PERIOD`` -- the longest search back-off period (300 s, 60 at least).

Any other bad value fails once, when the context is made, with a message naming the
variable.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass


__all__ = ["ClientConfig", "ConfigError"]

log = logging.getLogger("iochost.client.config")

Address = tuple[str, int]

# libca's defaults (the client layer may not import the server's copies: docs/internals.md).
DEFAULT_SERVER_PORT = 5064
DEFAULT_REPEATER_PORT = 5065
DEFAULT_MAX_ARRAY_BYTES = 16384
MIN_MAX_ARRAY_BYTES = 16384
#: EPICS_CA_AUTO_ARRAY_BYTES=YES: no fixed cap (what a request or reply may carry at most)
UNLIMITED_ARRAY_BYTES = 1 << 31


class ConfigError(ValueError):
    """An EPICS_CA_* variable that cannot be used (the message names it)."""


def _parse_port(text: str, variable: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"{variable}={text!r}: not a port number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{variable}={text!r}: port out of range 1..65535")
    return port


def _parse_bool(text: str, variable: str) -> bool:
    value = text.strip().upper()
    if value in ("YES", "Y", "TRUE", "1"):
        return True
    if value in ("NO", "N", "FALSE", "0"):
        return False
    raise ConfigError(f"{variable}={text!r}: expected YES or NO")


def _parse_positive_float(text: str, variable: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{variable}={text!r}: not a number") from None
    if not value > 0:
        raise ConfigError(f"{variable}={text!r}: must be positive")
    return value


def parse_address_list(text: str, default_port: int,
                       variable: str) -> tuple[tuple[str, int | None], ...]:
    """A whitespace-separated ``host[:port]`` list: IPv4 addresses, or host names resolved
    now. An entry that cannot be used is logged and skipped, as libca does."""
    entries: list[tuple[str, int | None]] = []
    for item in text.split():
        host, sep, port_text = item.partition(":")
        try:
            port = _parse_port(port_text, variable) if sep else default_port
            entries.append((_ipv4(host), port))
        except (ConfigError, OSError, UnicodeError):
            log.warning("%s: bad internet address or host name: %r (skipped)", variable, item)
    return tuple(entries)


def _ipv4(host: str) -> str:
    """``host`` as a dotted IPv4 address (a name is resolved; OSError when it is not)."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        return socket.gethostbyname(host)


def local_broadcast_addresses() -> dict[str, str | None]:
    """``{local IPv4 address: its broadcast address or None}`` (empty without psutil)."""
    try:
        import psutil
    except ImportError:
        return {}
    return {entry.address: entry.broadcast for addresses in psutil.net_if_addrs().values()
            for entry in addresses if entry.family == socket.AF_INET}

#: libca's default and floor of EPICS_CA_MAX_SEARCH_PERIOD (seconds).
DEFAULT_MAX_SEARCH_PERIOD = 300.0
MIN_MAX_SEARCH_PERIOD = 60.0
DEFAULT_CONN_TMO = 30.0


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Where a client searches and how long it waits (see the module docstring)."""

    addresses: tuple[Address, ...] = ()
    auto_addresses: bool = True
    name_servers: tuple[Address, ...] = ()
    server_port: int = DEFAULT_SERVER_PORT
    repeater_port: int = DEFAULT_REPEATER_PORT
    max_array_bytes: int = DEFAULT_MAX_ARRAY_BYTES
    connection_timeout: float = DEFAULT_CONN_TMO
    max_search_period: float = DEFAULT_MAX_SEARCH_PERIOD

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientConfig:
        """Read the ``EPICS_CA_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, "").strip()

        port = _parse_port(get("EPICS_CA_SERVER_PORT"), "EPICS_CA_SERVER_PORT") \
            if get("EPICS_CA_SERVER_PORT") else DEFAULT_SERVER_PORT
        max_bytes = _max_array_bytes(get("EPICS_CA_MAX_ARRAY_BYTES"))  # checked either way
        config = cls(
            addresses=_with_port(parse_address_list(
                get("EPICS_CA_ADDR_LIST"), port, "EPICS_CA_ADDR_LIST"), port),
            auto_addresses=_parse_bool(get("EPICS_CA_AUTO_ADDR_LIST") or "YES",
                                       "EPICS_CA_AUTO_ADDR_LIST"),
            name_servers=_with_port(parse_address_list(
                get("EPICS_CA_NAME_SERVERS"), port, "EPICS_CA_NAME_SERVERS"), port),
            server_port=port,
            repeater_port=_parse_port(get("EPICS_CA_REPEATER_PORT"), "EPICS_CA_REPEATER_PORT")
            if get("EPICS_CA_REPEATER_PORT") else DEFAULT_REPEATER_PORT,
            max_array_bytes=max_bytes if not _parse_bool(
                get("EPICS_CA_AUTO_ARRAY_BYTES") or "YES", "EPICS_CA_AUTO_ARRAY_BYTES")
            else UNLIMITED_ARRAY_BYTES,
            connection_timeout=_parse_positive_float(get("EPICS_CA_CONN_TMO"),
                                                     "EPICS_CA_CONN_TMO")
            if get("EPICS_CA_CONN_TMO") else DEFAULT_CONN_TMO,
            max_search_period=max(MIN_MAX_SEARCH_PERIOD, _parse_positive_float(
                get("EPICS_CA_MAX_SEARCH_PERIOD"), "EPICS_CA_MAX_SEARCH_PERIOD"))
            if get("EPICS_CA_MAX_SEARCH_PERIOD") else DEFAULT_MAX_SEARCH_PERIOD,
        )
        return config

    def search_destinations(self, broadcast_table: Mapping[str, str | None] | None = None
                            ) -> tuple[Address, ...]:
        """The UDP search destinations: the explicit list, then (with ``auto_addresses``)
        the broadcast address of every non-loopback interface, as libca builds its list.

        ``broadcast_table`` maps local addresses to broadcast addresses (read from the
        system by default). With ``EPICS_CA_AUTO_ADDR_LIST=NO`` the table is never read.
        """
        destinations = list(self.addresses)
        if self.auto_addresses:
            table = local_broadcast_addresses() if broadcast_table is None else broadcast_table
            destinations.extend((broadcast, self.server_port)
                                for broadcast in table.values() if broadcast)
            if not table:  # nothing known of the interfaces: libca's fallback
                destinations.append(("255.255.255.255", self.server_port))
        return tuple(dict.fromkeys(destinations))


def _with_port(entries: tuple[tuple[str, int | None], ...], port: int) -> tuple[Address, ...]:
    return tuple((host, entry_port or port) for host, entry_port in entries)


def _max_array_bytes(text: str) -> int:
    if not text:
        return DEFAULT_MAX_ARRAY_BYTES
    try:
        size = int(float(text))
    except ValueError:
        raise ConfigError(f"EPICS_CA_MAX_ARRAY_BYTES={text!r}: not a byte count") from None
    return max(size, MIN_MAX_ARRAY_BYTES)
