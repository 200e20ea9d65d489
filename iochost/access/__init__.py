"""EPICS access security: ACF rules files, the calc language, per-client rights.

A layer beside the server: it imports only ``iochost.ca`` (and the standard library). The
host builds an :class:`AccessSecurity` from its config, hands each channel the
:class:`AccessMember` of its group (the channel asks it for rights), and re-evaluates the
server's open channels when the security reports a change (reload, CALC input).
"""
from .acf import DEFAULT_GROUP, AccessConfig, AccessGroup, AcfError, Level, Rule, parse_acf
from ..calc import CalcError, CalcProgram, compile_calc
from .rules import CompiledRules, HostMatch, compile_rules
from .security import (AccessMember, AccessSecurity, AccessSettings, InputChannel, OnError,
                       TrapWrite, read_rules_file)

__all__ = [
                       "DEFAULT_GROUP",
                       "AccessConfig",
                       "AccessGroup",
                       "AccessMember",
                       "AccessSecurity",
                       "AccessSettings",
                       "AcfError",
                       "CalcError",
                       "CalcProgram",
                       "CompiledRules",
                       "HostMatch",
                       "InputChannel",
                       "Level",
                       "OnError",
                       "Rule",
                       "TrapWrite",
                       "compile_calc",
                       "compile_rules",
                       "parse_acf",
                       "read_rules_file",
]
