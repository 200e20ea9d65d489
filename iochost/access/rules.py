"""Deciding one client's access to one channel from parsed rules, as base's asLib does.

Contract: :func:`compile_rules` turns an :class:`~.acf.AccessConfig` into
:class:`CompiledRules` (user and host look-up tables; in ``HostMatch.ADDRESS`` mode every
HAG host name resolved to its IPv4 addresses, once, here); :meth:`CompiledRules.decide`
answers ``(Level, trapwrite)`` for a group, a channel's access security level, a user and a
host, given the group's CALC state (:class:`CalcState`).

The decision is base's ``asComputePvt``: walk the group's rules in file order; a rule
applies when the channel's level is at most the rule's level, the user is in one of its
UAGs (no UAG: anyone), the host is in one of its HAGs (no HAG: anywhere) and its CALC, if
any, is true with every input it reads good; the highest access of the applying rules wins
(WRITE stops the walk) and TRAPWRITE comes with the rule that granted it.  Users match
exactly; host names case-insensitively (base lower-cases both sides).
"""
from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from .acf import ACCESS_INPUTS, AccessConfig, AccessGroup, Level, ascii_lower

__all__ = ["CalcState", "CompiledRules", "HostMatch", "compile_rules", "resolve_ipv4"]

logger = logging.getLogger("iochost.access")


class HostMatch(Enum):
    """Which host a HAG is matched against."""

    #: the name the client claims (CA HOST_NAME), as RSRV does by default
    NAME = "name"
    #: the client's IP address; HAG names are resolved at load (RSRV's asCheckClientIP)
    ADDRESS = "address"


#: ``resolve(host) -> IPv4 addresses``; raises OSError when the name does not resolve.
Resolver = Callable[[str], list[str]]


def resolve_ipv4(host: str) -> list[str]:
    """Every IPv4 address of ``host`` (a name or a dotted address)."""
    infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass
class CalcState:
    """One group's CALC inputs and rule results (base keeps them in the ASG).

    ``bad`` has bit i set while input i is not good (not connected, unreadable or
    INVALID); ``results[i]`` is rule i's last CALC result (base: true when it is within
    0.99..1.01).
    """

    values: list[float] = field(default_factory=lambda: [0.0] * ACCESS_INPUTS)
    bad: int = 0
    results: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledRules:
    """Rules ready to decide: the parsed config plus look-up tables."""

    config: AccessConfig
    host_match: HostMatch
    #: user -> the UAGs that list them
    user_groups: dict[str, frozenset[str]]
    #: host key (lower-case name, or IPv4 address) -> the HAGs that list it
    host_groups: dict[str, frozenset[str]]
    warnings: tuple[str, ...] = ()

    def decide(self, group: AccessGroup, state: CalcState | None, level: int, user: str,
               host: str) -> tuple[Level, bool]:
        """``(access, trapwrite)`` for a channel of access security level ``level``."""
        access, trapwrite = Level.NONE, False
        users = self.user_groups.get(user, frozenset())
        hosts = self.host_groups.get(ascii_lower(host), frozenset())
        for index, rule in enumerate(group.rules):
            if access is Level.WRITE:
                break
            if access >= rule.access or level > rule.level:
                continue
            if rule.uags and users.isdisjoint(rule.uags):
                continue
            if rule.hags and hosts.isdisjoint(rule.hags):
                continue
            if rule.calc is not None and (
                    state is None or state.bad & rule.calc.inputs
                    or not state.results.get(index, False)):
                continue
            access, trapwrite = rule.access, rule.trapwrite
        return access, trapwrite


def compile_rules(config: AccessConfig, host_match: HostMatch,
                  resolve: Resolver = resolve_ipv4) -> CompiledRules:
    """Build the look-up tables; in ADDRESS mode resolve every HAG host now (a name that
    does not resolve matches nobody and is reported in ``warnings``)."""
    users: dict[str, set[str]] = {}
    for uag, members in config.uags.items():
        for user in members:
            users.setdefault(user, set()).add(uag)
    hosts: dict[str, set[str]] = {}
    warnings: list[str] = []
    for hag, members in config.hags.items():
        for host in members:
            keys = [host]
            if host_match is HostMatch.ADDRESS:
                try:
                    keys = resolve(host)
                except OSError as exc:
                    warnings.append(f"{config.source}: HAG {hag}: cannot resolve host "
                                    f"{host!r} ({exc}); it matches no client")
                    keys = []
            for key in keys:
                hosts.setdefault(ascii_lower(key), set()).add(hag)
    return CompiledRules(config, host_match,
                         {user: frozenset(groups) for user, groups in users.items()},
                         {host: frozenset(groups) for host, groups in hosts.items()},
                         tuple(warnings))
