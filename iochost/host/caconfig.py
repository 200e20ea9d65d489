"""The config's ``ca`` section -> ``ServerConfig``, with environment variables winning.

EPICS reads a server's settings from ``EPICS_CAS_*`` variables. The ``ca`` section sets
the same things in the file; it is applied as if those variables were set, and any variable
actually present in the environment overrides it. The generic ``EPICS_CA_*`` fallbacks
(``EPICS_CA_SERVER_PORT`` for ``EPICS_CAS_SERVER_PORT``...) rank below the file, as in
EPICS, where they only apply when the server-specific variable is unset.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .config import CAConfig, HostConfig
from .problems import ConfigProblem, Location

if TYPE_CHECKING:
    from iochost.server import ServerConfig


def _words(values: list[str]) -> str:
    return " ".join(values)


def _yes_no(value: bool) -> str:
    return "YES" if value else "NO"


#: ca key -> (the variable it stands for, how to write its value as that variable)
CA_VARIABLES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "interfaces": ("EPICS_CAS_INTF_ADDR_LIST", _words),
    "port": ("EPICS_CAS_SERVER_PORT", str),
    "beacon_addresses": ("EPICS_CAS_BEACON_ADDR_LIST", _words),
    "auto_beacon": ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", _yes_no),
    "beacon_period": ("EPICS_CAS_BEACON_PERIOD", str),
    "beacon_port": ("EPICS_CAS_BEACON_PORT", str),
    "ignore_addresses": ("EPICS_CAS_IGNORE_ADDR_LIST", _words),
    "max_array_bytes": ("EPICS_CA_MAX_ARRAY_BYTES", str),
}


def effective_environ(ca: CAConfig, environ: Mapping[str, str] | None = None
                      ) -> dict[str, str]:
    """The variables the server sees: the ``ca`` section's, overridden by the environment's
    non-empty ones."""
    environ = os.environ if environ is None else environ
    settings = ca.settings()
    merged = {CA_VARIABLES[key][0]: CA_VARIABLES[key][1](value)
              for key, value in settings.items()}
    if "max_array_bytes" in settings:  # a cap named in the file is meant: EPICS 7 applies
        merged["EPICS_CA_AUTO_ARRAY_BYTES"] = "NO"  # EPICS_CA_MAX_ARRAY_BYTES only then
    merged.update({name: value for name, value in environ.items() if value.strip()})
    return merged


def server_config(ca: CAConfig, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Build the server's configuration. Raises ``iochost.server.ConfigError``."""
    from iochost.server import ServerConfig

    return ServerConfig.from_env(effective_environ(ca, environ))


def ca_problems(config: HostConfig, environ: Mapping[str, str] | None = None
                ) -> list[ConfigProblem]:
    """What the server would reject in the ``ca`` section (or the environment over it),
    located at the offending key, or at ``<environment>`` when a variable is to blame."""
    from iochost.server import ConfigError as ServerConfigError

    try:
        server_config(config.ca, environ)
    except ServerConfigError as exc:
        message = str(exc)
        environ = os.environ if environ is None else environ
        for key, (variable, _) in CA_VARIABLES.items():
            if message.startswith((variable, key)) and \
                    key in config.ca.settings() and not environ.get(variable, "").strip():
                own = message.split(": ", 1)[1] if message.startswith(variable) else message
                return [ConfigProblem(config.source.location(("ca", key)), f"ca.{key}", own)]
        return [ConfigProblem(Location("<environment>"), "", message)]
    return []
