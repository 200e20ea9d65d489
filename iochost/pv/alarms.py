"""EPICS alarms: status and severity enums, the shared :class:`ChannelAlarm`, limit rules.

A :class:`ChannelAlarm` is the alarm state of one or more channel data.  Which channels
share one is decided where channel data are made (``PVSpec``): the plain pvproperties of a
PVGroup share the group's default alarm, as in caproto, unless ``alarm_group`` names
another; a record-typed pvproperty (``record=...``) owns its alarm, as every EPICS record
does, unless it names an ``alarm_group``.  An alarm follows the rules of an EPICS record
(``recGblResetAlarms`` and the ACKT/ACKS puts of
``dbAccess.c``):

* a change of status or severity posts ``DBE_ALARM`` to every connected channel, and
  raises the severity to acknowledge (ACKS) to the new severity when transient alarms
  need no acknowledgement (ACKT false) or the new severity is at least ACKS;
* acknowledging (a put of ACKS) with a severity at least ACKS clears ACKS to NO_ALARM;
* clearing ACKT lowers ACKS to the current severity.

Each connected channel is told once per change: a channel that changes its own value and
the alarm together publishes one combined update and is left out of the alarm's fan-out
(``except_for``), which is where caproto sends duplicates.

Limit alarms (:func:`limit_alarm`) follow caproto's pairing rule: the alarm pair
(``lower_alarm_limit``, ``upper_alarm_limit``) is active when it is a non-empty range
(lower < upper); then ``value >= upper`` is HIHI/MAJOR and ``value <= lower`` is LOLO/MAJOR.
Otherwise the warning pair (``lower_warning_limit``, ``upper_warning_limit``), under the
same rule, gives HIGH/MINOR and LOW/MINOR.  Anything else -- including NaN values and NaN
limits -- is NO_ALARM.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..ca.alarm_codes import AlarmSeverity, AlarmStatus
from ..ca.dbr import DBE_ALARM

if TYPE_CHECKING:  # pragma: no cover
    from .data_core import ChannelData

__all__ = ["AlarmStatus", "AlarmSeverity", "ChannelAlarm", "limit_alarm"]


_NO_ALARM = (AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM)

#: channel-data class -> whether it hashes and compares by identity (as ChannelData does)
_KEYED_BY_ITSELF: dict[type, bool] = {}


def _member_key(channel: ChannelData) -> Any:
    """An alarm's key for a member: the channel itself (no int made per member), or its
    id() for a class with its own ``__eq__``/``__hash__`` (unhashable, or two channels
    equal)."""
    cls = type(channel)
    itself = _KEYED_BY_ITSELF.get(cls)
    if itself is None:
        itself = _KEYED_BY_ITSELF[cls] = (cls.__hash__ is object.__hash__
                                          and cls.__eq__ is object.__eq__)
    return channel if itself else id(channel)


def limit_alarm(
    value: Any,
    lower_alarm_limit: Any = 0,
    lower_warning_limit: Any = 0,
    upper_warning_limit: Any = 0,
    upper_alarm_limit: Any = 0,
    *,
    hihi_severity: AlarmSeverity = AlarmSeverity.MAJOR,
    high_severity: AlarmSeverity = AlarmSeverity.MINOR,
    low_severity: AlarmSeverity = AlarmSeverity.MINOR,
    lolo_severity: AlarmSeverity = AlarmSeverity.MAJOR,
) -> tuple[AlarmStatus, AlarmSeverity]:
    """The (status, severity) a scalar ``value`` raises against its alarm limits.

    See the module docstring for the rule.  The severities may be overridden (a record's
    HHSV/HSV/LSV/LLSV fields); a limit whose severity is NO_ALARM raises nothing, as in
    EPICS.
    """
    if lower_alarm_limit < upper_alarm_limit:
        if value >= upper_alarm_limit and hihi_severity:
            return AlarmStatus.HIHI, AlarmSeverity(hihi_severity)
        if value <= lower_alarm_limit and lolo_severity:
            return AlarmStatus.LOLO, AlarmSeverity(lolo_severity)
    if lower_warning_limit < upper_warning_limit:
        if value >= upper_warning_limit and high_severity:
            return AlarmStatus.HIGH, AlarmSeverity(high_severity)
        if value <= lower_warning_limit and low_severity:
            return AlarmStatus.LOW, AlarmSeverity(low_severity)
    return _NO_ALARM


class ChannelAlarm:
    """Alarm state shared by one or more channel data (caproto's ``ChannelAlarm`` API).

    ``must_acknowledge_transient`` is ACKT and ``severity_to_acknowledge`` is ACKS.
    ``alarm_string`` is kept for caproto compatibility (EPICS' AMSG); it is not part of
    any DBR type, so changing it alone posts nothing.
    """

    __slots__ = ("_status", "_severity", "_ackt", "_acks", "_alarm_string",
                 "string_encoding", "_channels")

    def __init__(
        self,
        *,
        status: int = AlarmStatus.NO_ALARM,
        severity: int = AlarmSeverity.NO_ALARM,
        must_acknowledge_transient: bool = True,
        severity_to_acknowledge: int = AlarmSeverity.NO_ALARM,
        alarm_string: str = "",
        string_encoding: str = "latin-1",
    ):
        # every channel data makes one: skip the (slow) enum lookups for enum members
        self._status = status if type(status) is AlarmStatus else AlarmStatus(status)
        self._severity = severity if type(severity) is AlarmSeverity \
            else AlarmSeverity(severity)
        self._ackt = bool(must_acknowledge_transient)
        self._acks = severity_to_acknowledge if type(severity_to_acknowledge) is AlarmSeverity \
            else AlarmSeverity(severity_to_acknowledge)
        self._alarm_string = alarm_string
        self.string_encoding = string_encoding
        # None, the one channel (a record's own alarm: no container to pay for), or a dict
        # keyed by identity (_member_key) -- membership in O(1), since a PVGroup's
        # pvproperties may all share one alarm -- and insertion-ordered for the fan-out.
        # Not a WeakSet: a channel leaves through disconnect() when its alarm is replaced.
        self._channels: ChannelData | dict[Any, ChannelData] | None = None

    # -- read-only state (change it through write()) -----------------------------------------
    @property
    def status(self) -> AlarmStatus:
        """Current alarm status (STAT)."""
        return self._status

    @property
    def severity(self) -> AlarmSeverity:
        """Current alarm severity (SEVR)."""
        return self._severity

    @property
    def must_acknowledge_transient(self) -> bool:
        """ACKT: whether alarms that have cleared must still be acknowledged."""
        return self._ackt

    @property
    def severity_to_acknowledge(self) -> AlarmSeverity:
        """ACKS: the highest unacknowledged severity (NO_ALARM when all is acknowledged)."""
        return self._acks

    @property
    def alarm_string(self) -> str:
        """Free-text alarm message (AMSG)."""
        return self._alarm_string

    def dbr_fields(self) -> tuple[int, int, int, int]:
        """(status, severity, ackt, acks) as DBR metadata carries them (one call on the
        encoding path instead of four properties)."""
        return self._status, self._severity, int(self._ackt), self._acks

    @property
    def channels(self) -> tuple[ChannelData, ...]:
        """The channel data sharing this alarm."""
        channels = self._channels
        if channels is None:
            return ()
        return tuple(channels.values()) if type(channels) is dict else (channels,)

    def __repr__(self) -> str:
        return (f"<ChannelAlarm(status={self._status.name}, severity={self._severity.name},"
                f" ackt={int(self._ackt)}, acks={self._acks.name})>")

    # -- channel membership --------------------------------------------------------------------
    def connect(self, channel_data: ChannelData) -> None:
        """Add a channel data that this alarm describes."""
        channels = self._channels
        if channels is None:
            self._channels = channel_data
        elif type(channels) is dict:
            channels.setdefault(_member_key(channel_data), channel_data)
        elif channels is not channel_data:
            self._channels = {_member_key(channels): channels,
                              _member_key(channel_data): channel_data}

    def disconnect(self, channel_data: ChannelData) -> None:
        """Remove a channel data (no error if it was not connected)."""
        channels = self._channels
        if channels is channel_data:
            self._channels = None
        elif type(channels) is dict:
            channels.pop(_member_key(channel_data), None)

    # -- changes ---------------------------------------------------------------------------------
    def update(
        self,
        *,
        status: int | None = None,
        severity: int | None = None,
        must_acknowledge_transient: bool | None = None,
        severity_to_acknowledge: int | None = None,
        alarm_string: str | None = None,
    ) -> int:
        """Apply a change without publishing; return the DBE flags it calls for (0 or DBE_ALARM).

        Synchronous so that a channel can combine the alarm's flags with its own and
        publish once; :meth:`write` is the caproto-style call that also publishes.
        """
        flags = 0
        # Identity first: limit evaluation hands back the very members stored here.
        if (status is not None and status is not self._status) or \
                (severity is not None and severity is not self._severity):
            new_status = self._status if status is None else AlarmStatus(status)
            new_severity = self._severity if severity is None else AlarmSeverity(severity)
            if new_status is not self._status or new_severity is not self._severity:
                self._status, self._severity = new_status, new_severity
                if not self._ackt or new_severity >= self._acks:
                    self._acks = new_severity
                flags = DBE_ALARM
        ackt = None if must_acknowledge_transient is None else bool(must_acknowledge_transient)
        if ackt is not None and ackt != self._ackt:
            self._ackt = ackt
            if not self._ackt and self._acks > self._severity:
                self._acks = self._severity
            flags = DBE_ALARM
        if severity_to_acknowledge is not None and self._acks and \
                severity_to_acknowledge >= self._acks:
            self._acks = AlarmSeverity.NO_ALARM
            flags = DBE_ALARM
        if alarm_string is not None:
            self._alarm_string = alarm_string
        return flags

    async def write(
        self,
        *,
        status: int | None = None,
        severity: int | None = None,
        must_acknowledge_transient: bool | None = None,
        severity_to_acknowledge: int | None = None,
        alarm_string: str | None = None,
        flags: int = 0,
        publish: bool = True,
    ) -> None:
        """Change the alarm and, if anything visible changed, tell every connected channel.

        ``severity_to_acknowledge`` acknowledges (a put of ACKS): a severity at least the
        current ACKS clears it.  ``flags`` are extra DBE bits to publish along.
        """
        flags |= self.update(
            status=status, severity=severity,
            must_acknowledge_transient=must_acknowledge_transient,
            severity_to_acknowledge=severity_to_acknowledge, alarm_string=alarm_string)
        if publish and flags:
            self.notify(flags)
        elif flags:
            self.notify(0)  # not published, but cached encodings are stale all the same

    async def publish(self, flags: int, *,
                      except_for: Iterable[ChannelData] | None = None) -> None:
        """Publish ``flags`` to every connected channel except ``except_for``."""
        self.notify(flags, except_for)

    def notify(self, flags: int, except_for: Iterable[ChannelData] | None = None) -> None:
        """Synchronous :meth:`publish`: each channel drops its cache and tells its listeners
        (``ChannelData.notify``, which is what to override to see alarm fan-out too)."""
        skip = {id(other) for other in except_for} if except_for else ()
        channels = self._channels
        if channels is None:
            return
        if type(channels) is not dict:
            if id(channels) not in skip:
                channels.notify(flags)
            return
        for channel in list(channels.values()):
            if id(channel) not in skip:
                channel.notify(flags)
