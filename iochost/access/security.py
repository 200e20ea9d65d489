"""Access security at run time: the current rules, their CALC inputs, reloads, TRAPWRITE.

Contract (what the host and the channels use):

* ``AccessSecurity(settings, expand)``; :meth:`~AccessSecurity.load` reads the file the
  first time and raises :class:`~.acf.AcfError` on any problem, unless
  ``settings.on_error`` is ``OnError.READ_ONLY``: then every channel is read-only until a
  good file is loaded.  Never everything writable.
* :meth:`~AccessSecurity.member` gives the :class:`AccessMember` of a group: what a
  channel holds (``iochost.pv``'s ``AccessGate``) and asks ``rights(level, host, user)``,
  ``traps_write(...)`` and reports ``write_trapped(...)`` through.
* :meth:`~AccessSecurity.reload` (async; parsing and host resolution run in a worker
  thread) parses the file again: a bad file keeps the old rules and logs ``file:line``;
  a good one replaces them, reconnects the CALC inputs and tells the change listeners,
  which re-evaluate the open channels (the server sends ACCESS_RIGHTS where they changed).
* CALC inputs: :meth:`~AccessSecurity.attach_inputs` takes ``lookup(pv) -> channel``
  for the PVs served here (anything with ``read_dbr`` and ``add_listener`` /
  ``remove_listener``: the PV database's channel data).  Each input is read as
  DBR_STS_DOUBLE, as base's asCa does: INVALID severity or an unserved PV makes it bad,
  and a rule whose CALC reads a bad input does not apply.  When a CALC result changes, the
  change listeners hear about that group at once.  Inputs this host does not serve are
  watched through ``remote`` (:data:`RemoteWatch`: the host's CA client), as base's asCa
  watches every input over CA; without it they stay bad (said at load).

Nothing here imports the server or the IOC framework.
"""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from ..calc import INPUT_NAMES
from ..ca.dbr import DBE_ALARM, DBE_VALUE, ChannelType, decode_dbr
from .acf import DEFAULT_GROUP, AccessConfig, AccessGroup, AcfError, Level, parse_acf
from .rules import CalcState, CompiledRules, HostMatch, Resolver, compile_rules, resolve_ipv4

__all__ = [
    "RIGHTS",
    "AccessMember",
    "AccessSecurity",
    "AccessSettings",
    "ChangeListener",
    "InputChannel",
    "RemoteWatch",
    "OnError",
    "TrapWrite",
    "read_rules_file",
]

logger = logging.getLogger("iochost.access")

#: Level -> the CA access-rights bits (WRITE implies READ, as asCheckGet says).
RIGHTS = {Level.NONE: 0, Level.READ: 1, Level.WRITE: 3}
_INVALID_SEVERITY = 3
_READ_ONLY_DECISION = (RIGHTS[Level.READ], False)
#: decisions remembered before the memo starts again (bounded memory)
_MAX_DECISIONS = 65536

#: ``fn(groups)``: the rights of channels in ``groups`` may have changed (None: any group).
ChangeListener = Callable[[frozenset[str] | None], None]
#: ``watch(pv, on_value) -> stop``: watch a PV another server serves; ``on_value(v)`` with
#: each new value as a float, or None while it is disconnected or INVALID.
RemoteWatch = Callable[[str, Callable[[float | None], None]], Callable[[], None]]


class OnError(Enum):
    """What a failed first load does."""

    #: refuse to start (the default)
    REFUSE = "refuse"
    #: start with every channel read-only until a good file is loaded
    READ_ONLY = "read-only"


@dataclass(frozen=True)
class AccessSettings:
    """The host config's ``access:`` section."""

    file: Path
    macros: Mapping[str, str] = field(default_factory=dict)
    host_match: HostMatch = HostMatch.NAME
    on_error: OnError = OnError.REFUSE


def read_rules_file(path: Path, expand: Callable[[str], str] | None = None) -> AccessConfig:
    """Parse a rules file (host names are not resolved here); AcfError names file:line:column,
    or says the file cannot be read."""
    try:
        # bytes that are not UTF-8 are kept (surrogates), to match names byte for byte
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise AcfError(f"cannot read the rules file: {exc.strerror or exc}", str(path),
                       0, 0) from None
    return parse_acf(text, str(path), expand)


@dataclass(frozen=True)
class TrapWrite:
    """A put a TRAPWRITE rule granted: who, which PV, the value before and after."""

    pv: str
    user: str
    host: str
    old: Any
    new: Any
    time: float


class InputChannel(Protocol):
    """A served PV a CALC input watches (the PV database's channel data)."""

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]: ...

    def add_listener(self, fn: Callable[[Any, int], None]) -> None: ...

    def remove_listener(self, fn: Callable[[Any, int], None]) -> None: ...


class AccessMember:
    """A group as its channels see it; stays valid across reloads."""

    __slots__ = ("_security", "group", "__weakref__")

    def __init__(self, security: AccessSecurity, group: str):
        self._security = security
        #: the ASG name (a record's ASG field shows it)
        self.group = group

    def rights(self, level: int, host: str, user: str) -> int:
        """The CA access-rights bits for a channel of access security level ``level``."""
        return self._security.rights(self.group, level, host, user)

    def traps_write(self, level: int, host: str, user: str) -> bool:
        """Whether a put by this client is granted by a TRAPWRITE rule."""
        return self._security.traps_write(self.group, level, host, user)

    def write_trapped(self, pv: str, host: str, user: str, old: Any, new: Any) -> None:
        """Report a trapped put (logged, then every trap listener is told)."""
        self._security.write_trapped(TrapWrite(pv, user, host, old, new, time.time()))

    def member_of(self, group: str) -> AccessMember:
        """The member of another group of the same rules ('': DEFAULT's rules)."""
        return self._security.member(group)

    def changed(self) -> None:
        """The channels of this group changed (a record moved in or out): re-evaluate."""
        self._security.members_changed(self.group)

    def __repr__(self) -> str:
        return f"<AccessMember {self.group}>"


_VALUE_OR_ALARM = DBE_VALUE | DBE_ALARM


class _Input:
    """One INPx of one group, watching one served PV."""

    local = True

    def __init__(self, security: AccessSecurity, group: str, index: int, pv: str,
                 channel: InputChannel):
        self.security, self.group, self.index, self.pv = security, group, index, pv
        self.channel = channel
        channel.add_listener(self.changed)

    def close(self) -> None:
        self.channel.remove_listener(self.changed)

    def changed(self, channel: Any = None, flags: int = 0) -> None:
        if flags and not flags & _VALUE_OR_ALARM:
            return  # base's asCa monitors DBE_VALUE|DBE_ALARM: MDEL filters an input
        self.security._input_changed(self.group, self.index, self.read())

    def read(self) -> float | None:
        """The value, or None when it is not good (INVALID or unreadable)."""
        try:
            payload, _ = self.channel.read_dbr(ChannelType.STS_DOUBLE, 1)
            values, meta = decode_dbr(ChannelType.STS_DOUBLE, payload, 1)
        except Exception as exc:
            logger.warning("access security: INP%s %r of ASG %s unreadable: %s",
                           INPUT_NAMES[self.index], self.pv, self.group, exc)
            return None
        if meta.severity >= _INVALID_SEVERITY:
            return None
        return float(values[0])  # type: ignore[index]  # a 1-element numpy array


class _RemoteInput:
    """One INPx of one group, watching a PV of another server through ``RemoteWatch``;
    bad until its first value arrives."""

    local = False

    def __init__(self, security: AccessSecurity, group: str, index: int, pv: str,
                 watch: RemoteWatch):
        self.security, self.group, self.index, self.pv = security, group, index, pv
        self.close = watch(pv, self.changed)

    def changed(self, value: float | None) -> None:
        self.security._input_changed(self.group, self.index, value)


class AccessSecurity:
    """The rules in force, their CALC state, and the listeners of changes."""

    def __init__(self, settings: AccessSettings, expand: Callable[[str], str] | None = None,
                 resolve: Resolver = resolve_ipv4):
        self.settings = settings
        self._expand = expand
        self._resolve = resolve
        self._rules: CompiledRules | None = None  # None: the read-only fallback
        self._states: dict[str, CalcState] = {}
        # group name -> its member while a channel has it: a put to a record's ASG may
        # name any group, and the names no channel is in any more are forgotten
        self._members: weakref.WeakValueDictionary[str, AccessMember] = \
            weakref.WeakValueDictionary()
        # (group, level, host, user) -> decision: a client connecting many channels asks
        # the same question again and again; forgotten whenever an answer may change.
        self._decisions: dict[tuple[str, int, str, str], tuple[int, bool]] = {}
        self._inputs: list[_Input | _RemoteInput] = []
        self._lookup: Callable[[str], InputChannel | None] | None = None
        self._remote: RemoteWatch | None = None
        self._change_listeners: list[ChangeListener] = []
        self._trap_listeners: list[Callable[[TrapWrite], None]] = []
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self._reloading = asyncio.Lock()

    # -- loading ---------------------------------------------------------------------------
    def reconfigure(self, settings: AccessSettings,
                    expand: Callable[[str], str] | None = None) -> None:
        """Take new settings (a reloaded host config); the next :meth:`reload` reads with
        them. The rules in force do not change until then."""
        self.settings = settings
        self._expand = expand

    def _read(self) -> CompiledRules:
        return _read_rules(self.settings, self._expand, self._resolve)

    def load(self) -> None:
        """The first load (synchronous, before serving).  Raises AcfError unless the
        settings say to start read-only."""
        try:
            rules = self._read()
        except AcfError as exc:
            if self.settings.on_error is not OnError.READ_ONLY:
                raise
            self.last_error = str(exc)
            logger.error("access security: %s; every channel is READ-ONLY until a good "
                         "rules file is loaded", exc)
            self._rules = None
            return
        self._install(rules)

    async def reload(self) -> bool:
        """Parse the file again; True when the new rules are in force.  A bad file keeps
        the rules in force (logged with file:line)."""
        # One at a time, each with the settings of its start: reloads that overlap (SIGHUP,
        # READACF, the web, a config reload) install in the order they were asked for,
        # so the last file read is the one in force.
        async with self._reloading:
            try:
                rules = await asyncio.to_thread(_read_rules, self.settings, self._expand,
                                                self._resolve)
            except AcfError as exc:
                self.last_error = str(exc)
                logger.error("access security: reload failed, keeping the rules in force: "
                             "%s", exc)
                return False
            self._install(rules)
            self._notify(None)
            return True

    def _install(self, rules: CompiledRules) -> None:
        for warning in (*rules.config.warnings, *rules.warnings):
            logger.warning("access security: %s", warning)
        self._close_inputs()
        self._rules = rules
        self._decisions.clear()
        self._states = {name: CalcState(bad=_input_mask(group))
                        for name, group in rules.config.groups.items() if group.inputs}
        self.loaded_at = time.time()
        self.last_error = None
        logger.info("access security: %s loaded (%d ASGs, %d UAGs, %d HAGs, hosts matched "
                    "by %s)", rules.config.source, len(rules.config.groups),
                    len(rules.config.uags), len(rules.config.hags),
                    rules.host_match.value)
        if self._lookup is not None:
            self._connect_inputs()

    @property
    def rules(self) -> CompiledRules | None:
        """The rules in force (None while in the read-only fallback)."""
        return self._rules

    # -- CALC inputs -----------------------------------------------------------------------
    def attach_inputs(self, lookup: Callable[[str], InputChannel | None],
                      remote: RemoteWatch | None = None) -> None:
        """Watch the CALC inputs: served ones through ``lookup``, the others through
        ``remote`` (again after each reload)."""
        self._lookup, self._remote = lookup, remote
        self._connect_inputs()
        self._notify(None)

    def inputs_added(self, names: list[str]) -> None:
        """PVs were added (a mount): connect the inputs that were waiting for them."""
        if self._rules is None or self._lookup is None:
            return
        added = set(names)
        connected = {item.pv for item in self._inputs if item.local}
        if any(_entry_name(pv) in added and pv not in connected
               for group in self._rules.config.groups.values()
               for pv in group.inputs.values()):
            self._connect_inputs()
            self._notify(None)

    def inputs_removed(self, names: list[str]) -> None:
        """PVs were removed (an unmount, or replaced): their inputs go bad, as base's asCa
        marks a disconnected input, until a PV of that name is added again."""
        removed = set(names)
        for item in [item for item in self._inputs
                     if item.local and _entry_name(item.pv) in removed]:
            item.close()
            self._inputs.remove(item)
            self._input_changed(item.group, item.index, None)
            if self._remote is not None:    # another server may serve it
                self._inputs.append(_RemoteInput(self, item.group, item.index, item.pv,
                                                 self._remote))

    def _connect_inputs(self) -> None:
        self._close_inputs()
        rules, lookup = self._rules, self._lookup
        if rules is None or lookup is None:
            return
        for name, group in rules.config.groups.items():
            for index, pv in group.inputs.items():
                channel = lookup(pv)
                if channel is not None:
                    item = _Input(self, name, index, pv, channel)
                    self._inputs.append(item)
                    self._input_changed(name, index, item.read(), notify=False)
                elif self._remote is not None:
                    logger.info("access security: INP%s %r of ASG %s is not served by this "
                                "host: watched over CA (bad until it connects)",
                                INPUT_NAMES[index], pv, name)
                    self._inputs.append(_RemoteInput(self, name, index, pv, self._remote))
                else:
                    logger.warning(
                        "access security: INP%s %r of ASG %s is not served by this host "
                        "and no CA client watches remote inputs, so it stays bad and CALC "
                        "rules reading it do not apply", INPUT_NAMES[index], pv, name)

    def _close_inputs(self) -> None:
        for item in self._inputs:
            item.close()
        self._inputs.clear()

    def _input_changed(self, group_name: str, index: int, value: float | None,
                       notify: bool = True) -> None:
        rules = self._rules
        state = self._states.get(group_name)
        if rules is None or state is None:
            return
        bit = 1 << index
        was_bad = bool(state.bad & bit)
        if value is None:
            state.bad |= bit
            changed = not was_bad  # the rules reading it stop applying
        else:
            state.bad &= ~bit
            state.values[index] = value
            group = rules.config.groups[group_name]
            changed = _recompute(group, state, bit) or was_bad
        if changed:
            self._decisions.clear()
            if notify:
                self._notify(frozenset((group_name,)))

    # -- decisions -------------------------------------------------------------------------
    def member(self, group: str | None) -> AccessMember:
        """The member object of ``group``. None or '' (no group named) gets the rules of
        DEFAULT, but its ``group`` stays '': a record's ASG field reads "" then, as in
        base, where only an explicit ``ASG=DEFAULT`` reads "DEFAULT"."""
        name = group or ""
        member = self._members.get(name)
        if member is None:
            member = self._members[name] = AccessMember(self, name)
        return member

    def group_in_force(self, group: str) -> str:
        """The group whose rules apply to members of ``group`` (DEFAULT when the rules
        do not define it)."""
        name = group or DEFAULT_GROUP
        rules = self._rules
        return name if rules is None else rules.config.group(name).name

    def _decide(self, group: str, level: int, host: str, user: str) -> tuple[int, bool]:
        """``(access-rights bits, trapwrite)``, remembered until an answer may change."""
        key = (group, level, host, user)
        decision = self._decisions.get(key)
        if decision is not None:
            return decision
        rules = self._rules
        if rules is None:
            return _READ_ONLY_DECISION
        asg = rules.config.group(group)
        access, trap = rules.decide(asg, self._states.get(asg.name), level, user, host)
        decision = (RIGHTS[access], trap and access is Level.WRITE)
        if len(self._decisions) >= _MAX_DECISIONS:
            self._decisions.clear()
        self._decisions[key] = decision
        return decision

    def rights(self, group: str, level: int, host: str, user: str) -> int:
        return self._decide(group, level, host, user)[0]

    def traps_write(self, group: str, level: int, host: str, user: str) -> bool:
        return self._decide(group, level, host, user)[1]

    # -- listeners -------------------------------------------------------------------------
    def add_change_listener(self, fn: ChangeListener) -> None:
        self._change_listeners.append(fn)

    def remove_change_listener(self, fn: ChangeListener) -> None:
        if fn in self._change_listeners:
            self._change_listeners.remove(fn)

    def add_trap_listener(self, fn: Callable[[TrapWrite], None]) -> None:
        self._trap_listeners.append(fn)

    def _notify(self, groups: frozenset[str] | None) -> None:
        for fn in list(self._change_listeners):
            try:
                fn(groups)
            except Exception:
                logger.exception("access security change listener %r failed", fn)

    def members_changed(self, group: str) -> None:
        """Channels joined or left ``group``: re-evaluate them."""
        self._notify(frozenset((self.group_in_force(group),)))

    def write_trapped(self, event: TrapWrite) -> None:
        logger.info("TRAPWRITE %s@%s %s: %r -> %r", event.user, event.host, event.pv,
                    event.old, event.new)
        for fn in list(self._trap_listeners):
            try:
                fn(event)
            except Exception:
                logger.exception("TRAPWRITE listener %r failed", fn)

    def close(self) -> None:
        """Stop watching inputs."""
        self._close_inputs()
        self._lookup = self._remote = None


def _read_rules(settings: AccessSettings, expand: Callable[[str], str] | None,
                resolve: Resolver) -> CompiledRules:
    config = read_rules_file(settings.file, expand)
    return compile_rules(config, settings.host_match, resolve)


def _entry_name(pv: str) -> str:
    """The database entry a PV name resolves through ('R.FIELD' and 'R$' -> 'R')."""
    return pv.removesuffix("$").partition(".")[0]


def _input_mask(group: AccessGroup) -> int:
    mask = 0
    for index in group.inputs:
        mask |= 1 << index
    return mask


def _recompute(group: AccessGroup, state: CalcState, changed_inputs: int) -> bool:
    """Re-run the CALC rules reading a changed input; True when a result changed."""
    any_changed = False
    for index, rule in enumerate(group.rules):
        program = rule.calc
        if program is None or not program.inputs & changed_inputs:
            continue
        try:
            # VAL reads the rule's last result, 1 or 0 (base's asComputeAsg)
            value = program.evaluate(list(state.values), float(state.results.get(index, False)))
        except Exception:
            result = False
        else:
            result = 0.99 < value < 1.01  # base: a result "is true" near 1
        if state.results.get(index, False) != result:
            state.results[index] = result
            any_changed = True
    return any_changed
