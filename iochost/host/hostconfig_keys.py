"""The host config's shape as data: every key, its type, default and meaning.

One table drives both the structural validation (``check_section``) and the JSON Schema
(``iochost schema``), so the two cannot drift apart.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .problems import ConfigProblem, did_you_mean
from .yamlsource import PathKey, SourceMap, format_path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: ``HOST:PORT`` (``[v6]:PORT`` too); port 0 picks a free one
LISTEN_ADDRESS = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(?P<port>[0-9]{1,5})")
DEFAULT_WEB_LISTEN = "127.0.0.1:8080"


@dataclass(frozen=True)
class Kind:
    """A value type: how to check it, how to say it, and its JSON Schema."""

    noun: str
    accepts: Callable[[Any], bool]
    schema: dict[str, Any]


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_listen_address(value: Any) -> bool:
    match = LISTEN_ADDRESS.fullmatch(value) if isinstance(value, str) else None
    return match is not None and int(match["port"]) <= 65535


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


KINDS: dict[str, Kind] = {
    "string": Kind("a string", lambda v: isinstance(v, str), {"type": "string"}),
    "optional_string": Kind("a string or null", lambda v: v is None or isinstance(v, str),
                            {"type": ["string", "null"]}),
    "boolean": Kind("true or false", lambda v: isinstance(v, bool), {"type": "boolean"}),
    "port": Kind("a port number (1-65535)",
                 lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536,
                 {"type": "integer", "minimum": 1, "maximum": 65535}),
    "positive_int": Kind("a positive integer",
                         lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
                         {"type": "integer", "minimum": 1}),
    "non_negative_number": Kind(
        "a number (0 or more)",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
        {"type": "number", "minimum": 0}),
    "positive_number": Kind(
        "a positive number",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
        {"type": "number", "exclusiveMinimum": 0}),
    "address_list": Kind("a list of addresses (strings)", _is_str_list,
                         {"type": "array", "items": {"type": "string"}}),
    "string_list": Kind("a list of strings", _is_str_list,
                        {"type": "array", "items": {"type": "string"}}),
    "macros": Kind(
        "a mapping of macro names to strings or numbers",
        lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_scalar(x)
                                              for k, x in v.items()),
        {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}),
    "options": Kind("a mapping of option names to values",
                    lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
                    {"type": "object"}),
    "helpers": Kind(
        "a mapping of helper names to option mappings (or null)",
        lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and (x is None or isinstance(x, dict)) for k, x in v.items()),
        {"type": "object", "additionalProperties": {"type": ["object", "null"]}}),
    "section": Kind("a mapping", lambda v: isinstance(v, dict), {"type": "object"}),
    "switchable_section": Kind(
        "a mapping, or false to turn it off", lambda v: v is None or isinstance(v, (dict, bool)),
        {"type": ["object", "boolean", "null"]}),
    "listen_address": Kind(
        "HOST:PORT (e.g. 127.0.0.1:8080; port 0 picks a free one)", _is_listen_address,
        {"type": "string", "pattern": LISTEN_ADDRESS.pattern}),
    "mount_list": Kind("a list of mounts", lambda v: isinstance(v, list), {"type": "array"}),
}


@dataclass(frozen=True)
class Field:
    """One key of a section."""

    kind: str
    description: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()


HOST_FIELDS: dict[str, Field] = {
    "name": Field("string", "Name of this host (logs, status PVs).", "iochost"),
    "log_level": Field("string", "Logging level.", "INFO", choices=LOG_LEVELS),
    "status_prefix": Field(
        "optional_string",
        "Prefix of the host status PVs; absent means '<name>:', null means no status PVs."),
    "stats_prefix": Field(
        "optional_string",
        "The IOC name of the iocStats PVs (<stats_prefix>:HEARTBEAT ...); absent: none."),
    "allow_sysreset": Field(
        "boolean", "Let a write of 1 to the iocStats SYSRESET PV restart the host.", False),
    "autosave_prefix": Field(
        "optional_string",
        "Prefix of the autosave status PVs (<prefix>SR_status ...); absent: none."),
    "autosave_dir": Field(
        "optional_string",
        "Directory of the autosave files (one subdirectory per mount); absent: "
        "$XDG_STATE_HOME/iochost/<name>/autosave."),
    "loop_watchdog": Field(
        "non_negative_number",
        "Seconds the event loop may be blocked before a warning names the code (and mount) "
        "that blocked it (at least 0.2: less counts as 0.2); 0 turns the watchdog off.",
        0.5),
}

#: mirrors the EPICS_CAS_* variables; any variable set in the environment wins
CA_FIELDS: dict[str, Field] = {
    "interfaces": Field("address_list", "Addresses to listen on (EPICS_CAS_INTF_ADDR_LIST)."),
    "port": Field("port", "Server port (EPICS_CAS_SERVER_PORT)."),
    "beacon_addresses": Field("address_list",
                              "Beacon destinations (EPICS_CAS_BEACON_ADDR_LIST)."),
    "auto_beacon": Field("boolean",
                         "Add broadcast addresses to the beacon list "
                         "(EPICS_CAS_AUTO_BEACON_ADDR_LIST)."),
    "beacon_period": Field("positive_number",
                           "Longest beacon period, seconds (EPICS_CAS_BEACON_PERIOD)."),
    "beacon_port": Field("port", "Beacon destination port (EPICS_CAS_BEACON_PORT)."),
    "ignore_addresses": Field("address_list",
                              "Client addresses to ignore (EPICS_CAS_IGNORE_ADDR_LIST)."),
    "max_array_bytes": Field("positive_int",
                             "Largest payload served, bytes (EPICS_CA_MAX_ARRAY_BYTES; "
                             "setting it turns EPICS_CA_AUTO_ARRAY_BYTES off). Default: "
                             "no fixed cap, as RSRV in EPICS 7."),
    "exclusive": Field("boolean",
                       "Refuse to start when another CA server on this machine already "
                       "serves the port (default: start, with a warning).", False),
}

#: the web status page and JSON API (iochost.web)
WEB_FIELDS: dict[str, Field] = {
    "listen": Field("listen_address",
                    "Address of the web page and API (HOST:PORT; loopback by default; port 0 "
                    "picks a free one, logged at start). IOCHOST_WEB_LISTEN overrides it.",
                    DEFAULT_WEB_LISTEN),
    "writable": Field("boolean",
                      "Allow writes from the web (PUT /api/pvs/NAME, pvws 'write'); they take "
                      "the same path and rules as a CA put.", False),
    "allowed_hosts": Field("string_list",
                           "Host names the page is reached by besides IP addresses, "
                           "localhost and this machine's names (a DNS alias, a proxy's "
                           "name); '*' allows any. Other names are refused (DNS "
                           "rebinding).", []),
    "allowed_origins": Field("string_list",
                             "Web origins (scheme://host:port) of other sites whose pages may "
                             "open /pvws/pv and send writes, e.g. a display-builder web "
                             "runtime; '*' allows any. Others are refused (cross-site "
                             "requests).", []),
}

MOUNT_FIELDS: dict[str, Field] = {
    "name": Field("string", "Unique name of this mount (letters, digits, '_', '-', '.').",
                  required=True),
    "ioc": Field("string", "Registered IOC name (see 'iochost list-plugins').", required=True),
    "prefix": Field("string", "PV name prefix; macros allowed.", ""),
    "macros": Field("macros", "Macros for this IOC; override the host's macros.", {}),
    "options": Field("options", "Keyword arguments for the IOC class; macros allowed.", {}),
    "enabled": Field("boolean", "Mount this IOC when the host starts.", True),
    "helpers": Field("helpers", "Helpers to attach: name -> options.", {}),
    "description": Field("string", "Free text shown in status pages.", ""),
    "asg": Field("string", "Access security group of this mount's PVs (those whose "
                 "pvproperty names none); empty means DEFAULT.", ""),
}

#: the ``access:`` section: EPICS access security (docs/access.md)
ACCESS_FIELDS: dict[str, Field] = {
    "file": Field("string", "The ACF rules file (relative to this config's directory); "
                  "macros allowed.", required=True),
    "macros": Field("macros", "Macros expanded in the rules file ($(M), ${M=default}); "
                    "the host's macros apply too.", {}),
    "host_match": Field("string", "Match HAGs against the host name a client claims "
                        "('name', RSRV's default) or its IP address ('address': names "
                        "resolved at load, nothing the client says is trusted).", "name",
                        choices=("name", "address")),
    "on_error": Field("string", "A rules file that cannot be loaded at start: 'refuse' "
                      "to start, or start with every PV 'read-only'.", "refuse",
                      choices=("refuse", "read-only")),
}

TOP_FIELDS: dict[str, Field] = {
    "host": Field("section", "The host process.", {}),
    "macros": Field("macros", "Macros every mount inherits.", {}),
    "ca": Field("section", "The Channel Access server; environment variables override it.",
                {}),
    "mounts": Field("mount_list", "The IOCs to mount.", []),
    "access": Field("section", "EPICS access security: an ACF rules file (absent: none)."),
    "web": Field("switchable_section",
                 "The web status page, JSON API and pvws endpoint (on unless false).", {}),
}

SECTIONS: dict[str, dict[str, Field]] = {"host": HOST_FIELDS, "ca": CA_FIELDS,
                                         "access": ACCESS_FIELDS, "web": WEB_FIELDS}


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_section(data: Any, fields: dict[str, Field], path: PathKey, source: SourceMap,
                  problems: list[ConfigProblem]) -> dict[str, Any] | None:
    """Validate one mapping against ``fields``; append problems; return the values with
    defaults filled in for the keys that are valid, or None if ``data`` is no mapping."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem(source.location(path), format_path(path),
                                      f"expected a mapping, got {_type_name(data)}"))
        return None
    values: dict[str, Any] = {}
    for key, value in data.items():
        key_path = path + (key,)
        spec = fields.get(key) if isinstance(key, str) else None
        if spec is None:
            known = ", ".join(fields)
            hint = did_you_mean(key, fields) if isinstance(key, str) else ""
            problems.append(ConfigProblem(source.location(key_path), format_path(key_path),
                                          f"unknown key{hint} (expected one of: {known})"))
            continue
        kind = KINDS[spec.kind]
        if not kind.accepts(value):
            hint = " (YAML reads yes/no/on/off as booleans: quote it)" if \
                isinstance(value, bool) and "string" in spec.kind else ""
            problems.append(ConfigProblem(
                source.location(key_path), format_path(key_path),
                f"expected {kind.noun}, got {_type_name(value)} {value!r}{hint}"))
            continue
        if spec.choices and value not in spec.choices:
            problems.append(ConfigProblem(
                source.location(key_path), format_path(key_path),
                f"{value!r} is not one of {', '.join(spec.choices)}"))
            continue
        values[key] = value
    for key, spec in fields.items():
        if spec.required and key not in data:
            problems.append(ConfigProblem(source.location(path), format_path(path),
                                          f"missing required key {key!r}"))
        elif key not in values and not spec.required:  # absent, or invalid (reported)
            values[key] = _copy(spec.default)
    return values


def _copy(value: Any) -> Any:
    return type(value)() if isinstance(value, (dict, list)) else value


def section_schema(fields: dict[str, Field]) -> dict[str, Any]:
    """JSON Schema of one section."""
    properties: dict[str, Any] = {}
    for key, spec in fields.items():
        prop = dict(KINDS[spec.kind].schema, description=spec.description)
        if spec.choices:
            prop["enum"] = list(spec.choices)
        if spec.default not in (None, {}, []):
            prop["default"] = spec.default
        properties[key] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    required = [key for key, spec in fields.items() if spec.required]
    if required:
        schema["required"] = required
    return schema
