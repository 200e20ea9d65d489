"""Server configuration: the ``EPICS_CAS_*`` environment parsed into a :class:`ServerConfig`.

The precedence follows RSRV: a server-specific ``EPICS_CAS_*`` variable wins, else its
``EPICS_CA_*`` counterpart, else the EPICS default.  Every value is checked here, so a bad
setting fails once, at start-up, with one message naming the variable.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ServerConfig", "ServerConfigError", "FIELD_VARIABLES", "configured_variables",
           "parse_address_list",
           "DEFAULT_SERVER_PORT",
           "DEFAULT_REPEATER_PORT"]

DEFAULT_SERVER_PORT = 5064
DEFAULT_REPEATER_PORT = 5065
DEFAULT_MAX_ARRAY_BYTES = 16384
#: The smallest buffer RSRV accepts (a CA message of the pre-v4.9 size).
MIN_MAX_ARRAY_BYTES = 16384


class ServerConfigError(ValueError):
    """A setting that cannot be used.

    ``setting`` names it as the user wrote it -- an environment variable, or a
    :class:`ServerConfig` field for a value given directly (a config file's ``ca`` key) --
    ``value`` is the text given (None when the reason quotes it), ``reason`` what is wrong.
    Callers locate a problem by ``setting``, never by reading the message.
    """

    def __init__(self, setting: str, reason: str, value: str | None = None) -> None:
        super().__init__(f"{setting}={value!r}: {reason}" if value is not None
                         else f"{setting}: {reason}")
        self.setting, self.reason, self.value = setting, reason, value


def _parse_port(text: str, variable: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ServerConfigError(variable, "not a port number", text) from None
    return _check_port(port, variable, text)


def _check_port(port: int, setting: str, text: str) -> int:
    if not 0 < port < 65536:
        raise ServerConfigError(setting, "port out of range 1..65535", text)
    return port


def parse_address_list(text: str, default_port: int | None,
                       variable: str = "address list") -> tuple[tuple[str, int | None], ...]:
    """Parse a whitespace-separated ``host[:port]`` list into ``((ip, port), ...)``.

    Host names are not resolved (a server must not block on DNS at start-up): entries must be
    dotted IPv4 addresses, as RSRV expects of the ``EPICS_CAS_*`` lists.
    """
    entries = []
    for item in text.split():
        host, sep, port_text = item.partition(":")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ServerConfigError(variable, f"{item!r} is not an IPv4 address[:port]") from None
        port = _parse_port(port_text, variable) if sep else default_port
        entries.append((host, port))
    return tuple(entries)


def _parse_bool(text: str, variable: str) -> bool:
    value = text.strip().upper()
    if value in ("YES", "Y", "TRUE", "1"):
        return True
    if value in ("NO", "N", "FALSE", "0"):
        return False
    raise ServerConfigError(variable, "expected YES or NO", text)


def _parse_positive_float(text: str, variable: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ServerConfigError(variable, "not a number", text) from None
    return _check_positive(value, variable, text)


def _check_positive(value: float, setting: str, text: str) -> float:
    if not value > 0:
        raise ServerConfigError(setting, "must be positive", text)
    return value


#: ServerConfig field -> the variables that set it, the server-specific one first (RSRV's
#: precedence: ``EPICS_CAS_*``, else its generic ``EPICS_CA_*`` counterpart, else the default)
FIELD_VARIABLES: dict[str, tuple[str, ...]] = {
    "port": ("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT"),
    "interfaces": ("EPICS_CAS_INTF_ADDR_LIST",),
    "beacon_port": ("EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT"),
    "beacon_addresses": ("EPICS_CAS_BEACON_ADDR_LIST", "EPICS_CA_ADDR_LIST"),
    "auto_beacon": ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST"),
    "beacon_period": ("EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD"),
    "ignore_addresses": ("EPICS_CAS_IGNORE_ADDR_LIST",),
    "max_array_bytes": ("EPICS_CA_MAX_ARRAY_BYTES",),
}


def configured_variables(configured: Mapping[str, Any],
                         environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server-specific variables that settings made in a config file (``configured``,
    as for :meth:`ServerConfig.from_env`) stand for, as their text, where the variable is
    not set itself (it wins): ``{"port": 5900}`` -> ``{"EPICS_CAS_SERVER_PORT": "5900"}``."""
    env = os.environ if environ is None else environ
    texts = {}
    for field, value in configured.items():
        variable = FIELD_VARIABLES.get(field, ("",))[0]
        if not variable or env.get(variable, "").strip():
            continue
        if isinstance(value, bool):
            text = "YES" if value else "NO"
        elif isinstance(value, (list, tuple)):
            text = " ".join(map(str, value))
        elif isinstance(value, float):
            text = format(value, "g")
        else:
            text = str(value)
        texts[variable] = text
    return texts


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the server needs to know about its network surroundings.

    ``interfaces``: local IPv4 addresses to serve on (UDP searches and TCP circuits);
    ``0.0.0.0`` means all.  ``port``: the UDP search port, also tried first for TCP (another
    server holding it makes us fall back to an ephemeral TCP port, as RSRV does).
    ``beacon_addresses``: explicit ``(ip, port)`` beacon destinations; with ``auto_beacon``
    the broadcast/loopback addresses of ``interfaces`` are added.  ``ignore_addresses``:
    clients whose searches get no answer.  ``max_array_bytes``: the largest payload
    accepted or sent, or None for no fixed cap: as RSRV in EPICS 7, the default
    ``EPICS_CA_AUTO_ARRAY_BYTES=YES`` sizes buffers per message and ignores
    ``EPICS_CA_MAX_ARRAY_BYTES``, which applies only with ``EPICS_CA_AUTO_ARRAY_BYTES=NO``
    (memory then stays bounded per circuit by the flow control, see ``circuit``).
    ``use_host_names``: a client's access is checked with the host name it claims
    (HOST_NAME, RSRV's default); False checks its IP address and ignores what it claims
    (RSRV's ``asCheckClientIP``).
    """

    interfaces: tuple[str, ...] = ("0.0.0.0",)
    port: int = DEFAULT_SERVER_PORT
    beacon_addresses: tuple[tuple[str, int], ...] = ()
    auto_beacon: bool = True
    beacon_period: float = 15.0
    beacon_port: int = DEFAULT_REPEATER_PORT
    ignore_addresses: tuple[str, ...] = ()
    max_array_bytes: int | None = None
    #: Transport buffer above which a circuit counts as congested (monitors coalesce).
    write_high_water: int = 1 << 20
    use_host_names: bool = True

    def __post_init__(self) -> None:
        # Accept any iterables (e.g. lists from a config file); store tuples.
        object.__setattr__(self, "interfaces", tuple(self.interfaces))
        object.__setattr__(self, "ignore_addresses", tuple(self.ignore_addresses))
        object.__setattr__(self, "beacon_addresses",
                           tuple(tuple(entry) for entry in self.beacon_addresses))
        for address in self.interfaces:
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise ServerConfigError("interfaces",
                                        f"{address!r} is not an IPv4 address") from None
        if not 0 <= self.port < 65536:
            raise ServerConfigError("port", f"{self.port!r} out of range 0..65535")
        if self.beacon_period <= 0:
            raise ServerConfigError("beacon_period", f"{self.beacon_period!r} must be positive")
        if self.max_array_bytes is not None and self.max_array_bytes < 1:
            raise ServerConfigError("max_array_bytes",
                                    f"{self.max_array_bytes!r} must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 configured: Mapping[str, Any] | None = None, **overrides: Any) -> ServerConfig:
        """Read the ``EPICS_CAS_*`` / ``EPICS_CA_*`` variables; keyword overrides win.

        ``configured`` holds field values set in a config file (the host's ``ca`` section),
        already typed; each ranks as EPICS ranks a setting made for this server: below its
        server-specific ``EPICS_CAS_*`` variable, above the generic ``EPICS_CA_*`` fallback
        (``max_array_bytes`` below ``EPICS_CA_MAX_ARRAY_BYTES``; a cap named there is meant,
        so it implies ``EPICS_CA_AUTO_ARRAY_BYTES=NO`` unless that variable says otherwise).
        """
        env = os.environ if environ is None else environ
        configured = dict(configured or {})

        def first(*names: str) -> tuple[str, str] | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return name, value
            return None

        values: dict[str, Any] = {}
        for field, (specific, *_) in FIELD_VARIABLES.items():
            if field in configured and not env.get(specific, "").strip():
                values[field] = configured[field]
        cap = configured.get("max_array_bytes")
        for field in ("port", "beacon_port"):   # as strict as the variables
            if field in values:
                _check_port(values[field], field, str(values[field]))
        if "beacon_period" in values:
            _check_positive(values["beacon_period"], "beacon_period",
                            str(values["beacon_period"]))

        def unset(field: str) -> bool:
            return field not in values

        if unset("port") and (found := first(*FIELD_VARIABLES["port"])):
            values["port"] = _parse_port(found[1], found[0])
        if unset("interfaces") and (found := first(*FIELD_VARIABLES["interfaces"])):
            values["interfaces"] = tuple(
                host for host, _ in parse_address_list(found[1], None, found[0]))
        if unset("beacon_port") and (found := first(*FIELD_VARIABLES["beacon_port"])):
            values["beacon_port"] = _parse_port(found[1], found[0])
        beacon_port = values.get("beacon_port", DEFAULT_REPEATER_PORT)
        if "beacon_addresses" in values:   # configured: "host[:port]" entries
            values["beacon_addresses"] = parse_address_list(
                " ".join(values["beacon_addresses"]), beacon_port, "beacon_addresses")
        elif found := first(*FIELD_VARIABLES["beacon_addresses"]):
            values["beacon_addresses"] = parse_address_list(found[1], beacon_port, found[0])
        if unset("auto_beacon") and (found := first(*FIELD_VARIABLES["auto_beacon"])):
            values["auto_beacon"] = _parse_bool(found[1], found[0])
        if unset("beacon_period") and (found := first(*FIELD_VARIABLES["beacon_period"])):
            values["beacon_period"] = _parse_positive_float(found[1], found[0])
        if "ignore_addresses" in values:
            values["ignore_addresses"] = tuple(host for host, _ in parse_address_list(
                " ".join(values["ignore_addresses"]), None, "ignore_addresses"))
        elif found := first(*FIELD_VARIABLES["ignore_addresses"]):
            values["ignore_addresses"] = tuple(
                host for host, _ in parse_address_list(found[1], None, found[0]))
        if "interfaces" in values:
            values["interfaces"] = tuple(host for host, _ in parse_address_list(
                " ".join(values["interfaces"]), None, "interfaces"))
        values.pop("max_array_bytes", None)
        auto_array_bytes = cap is None
        if found := first("EPICS_CA_AUTO_ARRAY_BYTES"):
            auto_array_bytes = _parse_bool(found[1], found[0])
        size = cap
        if found := first(*FIELD_VARIABLES["max_array_bytes"]):
            try:
                size = int(float(found[1]))
            except ValueError:
                raise ServerConfigError(found[0], "not a byte count", found[1]) from None
        if not auto_array_bytes:
            values["max_array_bytes"] = (DEFAULT_MAX_ARRAY_BYTES if size is None
                                         else max(size, MIN_MAX_ARRAY_BYTES))
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> ServerConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def beacon_destinations(self, interface_table: Mapping[str, str | None] | None = None
                            ) -> tuple[tuple[str, int], ...]:
        """Where beacons go: the explicit list, plus the automatic one when enabled.

        The automatic list is, for each of our interfaces, its broadcast address (all
        interfaces' for ``0.0.0.0``) as RSRV computes it, and the address itself for a
        loopback interface.  ``interface_table`` maps each local IPv4 address to its
        broadcast address (None for loopback); by default it is read with psutil when that
        is installed, else every non-loopback interface gets 255.255.255.255.
        """
        destinations = list(self.beacon_addresses)
        if self.auto_beacon:
            table = local_broadcast_addresses() if interface_table is None else interface_table
            for interface in self.interfaces:
                destinations.extend((address, self.beacon_port)
                                    for address in _auto_beacon_addresses(interface, table))
        unique: dict[tuple[str, int], None] = dict.fromkeys(
            (host, port or self.beacon_port) for host, port in destinations)
        return tuple(unique)

    def search_broadcast_addresses(self, interface_table: Mapping[str, str | None] | None
                                   = None) -> dict[str, str]:
        """``{broadcast address: interface}`` for each interface named by address (not
        ``0.0.0.0``) that has one: searches are received there too, as RSRV does, since a
        socket bound to a unicast address receives no broadcasts.  ``interface_table`` is
        as for :meth:`beacon_destinations` (psutil's by default; without psutil, none)."""
        named = [interface for interface in self.interfaces if interface != "0.0.0.0"]
        if not named:
            return {}
        table = local_broadcast_addresses() if interface_table is None else interface_table
        found: dict[str, str] = {}
        for interface in named:
            broadcast = table.get(interface)
            if broadcast:
                found.setdefault(broadcast, interface)
        return found


def _auto_beacon_addresses(interface: str, table: Mapping[str, str | None]) -> list[str]:
    if ipaddress.IPv4Address(interface).is_loopback:
        return [interface]
    if interface == "0.0.0.0":
        found = [broadcast for address, broadcast in table.items()
                 if broadcast and not ipaddress.IPv4Address(address).is_loopback]
        return found or ["255.255.255.255"]
    broadcast = table.get(interface)
    return [broadcast or "255.255.255.255"]


def local_broadcast_addresses() -> dict[str, str | None]:
    """``{local IPv4 address: its broadcast address or None}`` (empty without psutil)."""
    try:
        import psutil
    except ImportError:
        return {}
    table: dict[str, str | None] = {}
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if entry.family == socket.AF_INET:
                table[entry.address] = entry.broadcast
    return table
