"""The config's ``ca`` section -> ``ServerConfig``, with environment variables winning.

EPICS reads a server's settings from ``EPICS_CAS_*`` variables. The ``ca`` section sets
the same things in the file: its typed values are handed to ``ServerConfig.from_env`` as
``configured`` values, which rank as EPICS ranks them -- a server-specific variable actually
set in the environment overrides the file, the generic ``EPICS_CA_*`` fallbacks
(``EPICS_CA_SERVER_PORT`` for ``EPICS_CAS_SERVER_PORT``...) rank below it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .hostconfig import CAConfig, HostConfig
from .problems import ConfigProblem, Location

if TYPE_CHECKING:
    from iochost.server import ServerConfig


def server_config(ca: CAConfig, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Build the server's configuration. Raises ``iochost.server.ServerConfigError``."""
    from iochost.server import ServerConfig

    return ServerConfig.from_env(environ, configured=ca.settings())


def ca_problems(config: HostConfig, environ: Mapping[str, str] | None = None
                ) -> list[ConfigProblem]:
    """What the server would reject in the ``ca`` section (or the environment over it),
    located at the offending key, or at ``<environment>`` when a variable is to blame."""
    from iochost.server import ServerConfigError

    try:
        server_config(config.ca, environ)
    except ServerConfigError as exc:
        if exc.setting in config.ca.settings():       # a ca key, not a variable
            return [ConfigProblem(config.source.location(("ca", exc.setting)),
                                  f"ca.{exc.setting}", exc.reason)]
        return [ConfigProblem(Location("<environment>"), "", str(exc))]
    return []
