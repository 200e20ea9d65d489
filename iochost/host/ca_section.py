"""The config's ``ca`` section -> ``ServerConfig``, with environment variables winning.

EPICS reads a server's settings from ``EPICS_CAS_*`` variables. The ``ca`` section sets
the same things in the file: its typed values are handed to ``ServerConfig.from_env`` as
``configured`` values, which rank as EPICS ranks them -- a server-specific variable actually
set in the environment overrides the file, the generic ``EPICS_CA_*`` fallbacks
(``EPICS_CA_SERVER_PORT`` for ``EPICS_CAS_SERVER_PORT``...) rank below it.
"""
from __future__ import annotations

import os
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
    located at the offending key, or at ``<environment>`` when a variable is to blame.
    Every one: each found is set aside and the settings are tried again. A key that a
    variable overrides here is checked too: the file is served without that variable
    elsewhere (a systemd unit, another shell)."""
    env = dict(os.environ if environ is None else environ)
    problems = _problems(config, env)
    reported = {problem.key for problem in problems}
    problems += [problem for problem in _problems(config, {})
                 if problem.key and problem.key not in reported]
    return sorted(problems, key=lambda problem: problem.location.line)   # file order


def _problems(config: HostConfig, env: dict[str, str]) -> list[ConfigProblem]:
    from iochost.server import ServerConfig, ServerConfigError

    settings = dict(config.ca.settings())
    problems: list[ConfigProblem] = []
    while True:
        try:
            ServerConfig.from_env(env, configured=settings)
            break
        except ServerConfigError as exc:
            if exc.setting in settings:       # a ca key, not a variable
                problems.append(ConfigProblem(config.source.location(("ca", exc.setting)),
                                              f"ca.{exc.setting}", exc.reason))
                del settings[exc.setting]
            else:
                problems.append(ConfigProblem(Location("<environment>"), "", str(exc)))
                if env.pop(exc.setting, None) is None:   # not one we can set aside
                    break
    return problems
