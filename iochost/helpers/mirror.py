"""The ``mirror`` IOC: PVs of another CA server (or of this host) served again under this
mount's prefix, following the source.

Options (a mount's ``options:``):

* ``source_prefix`` -- prepended to each name of ``pvs`` to name the source PV;
* ``pvs`` -- the names to mirror (no globs): ``<prefix><name>`` serves
  ``<source_prefix><name>``;
* ``fields`` -- record fields mirrored too, e.g. ``[".EGU", ".DESC"]``: ``<prefix><name>.EGU``
  serves ``<source_prefix><name>.EGU``;
* ``writable`` -- pass puts through to the source; a client's put completes when the
  source's completed, with the source's ECA status (else the mirror is read-only); the
  source's limits apply, not the mirror's copy of them (an ao clamps to DRVH), and the
  mirror then holds what the source made of the value, read back from it with the
  source's time stamp and alarm (one monitor update per put).  A client has write access
  only while the source grants the mirror's channel write access (and this host's access
  rules grant the client): a source PV that is read-only to us, or disconnected, is
  read-only here, and its changes of rights reach the mirror's clients as ACCESS_RIGHTS;
* ``put_timeout`` -- seconds a passed-through put may take.

Each mirrored PV follows its source over four subscriptions: DBR_TIME with DBE_VALUE, with
DBE_ALARM and with DBE_LOG (value, alarm and the source's own timestamp; the events of one
source post, matched by their time stamp, are posted again as one event with exactly the
source's bits: its MDEL and ADEL apply, not the mirror's, and a record posting the same value
again -- MDEL -1 -- is heard each time) and DBR_CTRL with DBE_PROPERTY (units, precision,
limits, enum strings).  It takes the
source's native type and element count: a mirrored PV is served from the start (as a DOUBLE
in INVALID/LINK alarm until the source connects) and, when the source turns out to have
another type or count, its channel data are replaced in the PV database, so its clients
reconnect and see the right type.  When the source disconnects every mirrored PV goes to
INVALID/LINK (clients see an alarm, not a vanished PV); values and alarms recover by
themselves when it comes back.

A source served by this same host is read in process (``iochost.client.LocalPVs``), not over
a loopback circuit to ourselves.  The mirror starts when the host hands it its PV database
(``attach``, done by iochost's helpers plugin in ``iochost_ioc_mounted``); its work runs in
the IOC's ``__ainit__`` task, which the host cancels before the PVs are withdrawn.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

import numpy as np

from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.codes import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
from iochost.ca.dbr import AccessRights, ChannelType
from iochost.ca.eca import ECA_DISCONN, ECA_TIMEOUT
from iochost.ca.errors import CaStatusError
from iochost.client import (
    Channel,
    ClientTimeout,
    Context,
    Disconnected,
    LocalPVs,
    Reading,
    RequestFailed,
)
from iochost.client.reading import TEXT_ENCODING
from iochost.pv import PVGroup
from iochost.pv.alarms import ChannelAlarm
from iochost.pv.data import (
    LIMIT_NAMES,
    ChannelByte,
    ChannelData,
    ChannelDouble,
    ChannelEnum,
    ChannelFloat,
    ChannelInteger,
    ChannelShort,
    ChannelString,
    RecordStates,
    SkipWrite,
)
from iochost.pv.data_core import timestamp_to_ns

__all__ = ["MIRROR_IOC", "MirrorIOC"]

#: The IOC name a host config uses: ``ioc: mirror``.
MIRROR_IOC = "mirror"


class _Server(Protocol):
    """What the mirror uses of the host's ``iochost.server.Server``."""

    def refresh_access(self, select: Callable[[Any], bool] | None = None) -> int:
        """Re-evaluate the open channels whose data ``select`` accepts."""

    def add_access_listener(self, fn: Callable[[], None]) -> None: ...

    def remove_access_listener(self, fn: Callable[[], None]) -> None: ...


_CLASSES: dict[ChannelType, type[ChannelData]] = {
    ChannelType.DOUBLE: ChannelDouble, ChannelType.FLOAT: ChannelFloat,
    ChannelType.LONG: ChannelInteger, ChannelType.INT: ChannelShort,
    ChannelType.ENUM: ChannelEnum, ChannelType.STRING: ChannelString,
    ChannelType.CHAR: ChannelByte,
}
_NUMERIC = frozenset((ChannelType.DOUBLE, ChannelType.FLOAT, ChannelType.LONG,
                      ChannelType.INT, ChannelType.CHAR))


class _PassThrough:
    """Mixed into a mirrored channel's class when the mirror is writable: a client's put
    goes to the source and completes with the source's put (its ECA status carried back).
    The mirror's own alarm is the source's: a refused put raises no WRITE alarm here."""

    #: the source's channel; None until the mirror follows it (then no write access)
    source: Channel | None = None
    put_timeout: float
    served_name: str

    def check_access(self, host: str, user: str) -> AccessRights:
        """The host's rules as for any PV, without WRITE while the source denies it to us:
        clients see what a put would meet, not a put that fails at the source."""
        rights = super().check_access(host, user)  # type: ignore[misc]
        source = self.source
        if source is None or not source.access & AccessRights.WRITE:
            return AccessRights(rights & ~AccessRights.WRITE)
        return AccessRights(rights)

    def trap_name(self) -> str:
        return self.served_name   # a TRAPWRITE report names the mirror's PV

    def check_limits(self, value: Any) -> None:
        pass   # the source applies its own: an ao clamps to DRVH, others refuse

    async def verify_value(self, value: Any) -> Any:
        if self.source is None:  # not followed yet: check_access granted no write
            raise CaStatusError(ECA_DISCONN, "the mirror has not connected its source yet")
        try:
            await self.source.put(value, wait=True, timeout=self.put_timeout)
            # what the source made of it (clamped, rounded, an enum's index) is stored now,
            # with the source's time and alarm: its own monitor update, before or after
            # this, is then the same reading and posts nothing more
            reading = await self.source.get(timeout=self.put_timeout)
        except RequestFailed as exc:
            raise CaStatusError(exc.status) from None
        except Disconnected:
            raise CaStatusError(ECA_DISCONN, f"{self.source.name} is disconnected") from None
        except ClientTimeout:
            raise CaStatusError(ECA_TIMEOUT, f"{self.source.name} did not complete the put "
                                             f"within {self.put_timeout:g} s") from None
        if await _store(self, reading, self.source.native_type or reading.native_type):  # type: ignore[arg-type]
            # the source's own VALUE/ALARM events of this post add nothing; its LOG does
            self.mirror_posted = (_stamp(reading), DBE_VALUE | DBE_ALARM)  # type: ignore[attr-defined]
        return SkipWrite

    async def write_failed(self, error: Exception) -> None:
        pass


class _ArchiveFromSource:
    """Mixed into every mirrored channel's class: its writes post no DBE_LOG of their own;
    the source's archive events (its ADEL, its APST) are passed on as they come."""

    #: set while a source event is committed: post exactly its mask, not what the
    #: value comparison calls for (the source's MDEL/MPST decided that already)
    _exact = False
    #: (time stamp, DBE flags) of the last source post passed on
    mirror_posted: tuple[tuple[int, int], int] | None = None

    def _change_flags(self, value: Any) -> int:
        flags = super()._change_flags(value) & ~DBE_LOG  # type: ignore[misc]
        return 0 if self._exact else flags


_SERVED: dict[tuple[type[ChannelData], bool], type[ChannelData]] = {}


def _served_class(cls: type[ChannelData], writable: bool) -> type[ChannelData]:
    made = _SERVED.get((cls, writable))
    if made is None:
        bases = (_PassThrough, _ArchiveFromSource, cls) if writable else \
            (_ArchiveFromSource, cls)
        made = _SERVED[cls, writable] = type(f"Mirrored{cls.__name__}", bases, {})
    return made


@dataclasses.dataclass
class _Mirrored:
    """One mirrored PV: its local name, its source channel, the channel data served."""

    name: str
    source: Channel
    served: ChannelData
    #: (native type, element count) the served channel data were made for; None: placeholder.
    shape: tuple[ChannelType, int] | None = None
    control: Reading | None = None
    #: DBE bits of the source's events received and not yet applied, by time stamp: the
    #: events of one source post (one per subscription) are passed on as one
    pending: dict[tuple[int, int], int] = dataclasses.field(default_factory=dict)


class MirrorIOC(PVGroup):
    """Serves the PVs of another CA server (or of this host) again, under this prefix.

    Args:
        source_prefix: prefix of the source PVs (``<source_prefix><name>``)
        pvs: names to mirror, each served as ``<prefix><name>`` (no globs)
        writable: pass puts through to the source (completion carries its ECA status),
            to clients with write access while the source grants it to us
        fields: record fields mirrored too, e.g. ``.EGU`` or ``.DESC``
        put_timeout: seconds a passed-through put may take [s]
    """

    def __init__(self, prefix: str = "", *, macros: dict[str, str] | None = None,
                 source_prefix: str, pvs: list[str], writable: bool = False,
                 fields: list[str] | None = None, put_timeout: float = 60.0) -> None:
        super().__init__(prefix, macros=macros)
        for option, names in (("pvs", pvs), ("fields", fields or ())):
            for name in names:
                if not isinstance(name, str):
                    raise TypeError(f"{option}: {name!r} is not a PV name (YAML reads NO, "
                                    f"YES, ON, OFF as booleans and 1e2 as a number: quote it)")
        self.source_prefix = source_prefix
        self.writable = writable
        self.put_timeout = put_timeout
        suffixes = ["", *(field if field.startswith(".") else "." + field
                          for field in fields or ())]
        #: local name -> source name
        self.sources = {self.prefix + name + suffix: source_prefix + name + suffix
                        for name in pvs for suffix in suffixes}
        self.mirrored: dict[str, _Mirrored] = {}
        self._database: MutableMapping[str, Any] | None = None
        self._server: _Server | None = None
        #: served channel data whose sources' rights changed, to re-evaluate (see _rights)
        self._rights_changed: list[Any] = []
        self._attached = asyncio.Event()
        self._events: asyncio.Queue[Callable[[], Any]] = asyncio.Queue()
        for name in self.sources:
            self.pvdb[name] = self._placeholder(name)  # type: ignore[assignment]

    # -- set-up by the host -----------------------------------------------------------------
    def attach(self, database: Any, server: _Server | None = None) -> None:
        """Start mirroring; ``database`` (a ``PVDatabase``) serves this IOC's PVs and is
        where sources of this same host are read from; ``server`` (the one serving it)
        re-sends clients' rights when a source's rights change, and tells the sources of
        this host when theirs change."""
        self._database = database
        self._server = server
        self._attached.set()

    async def __ainit__(self, async_lib: Any) -> None:
        await self._attached.wait()
        database = self._database
        assert database is not None
        async with Context(local=LocalPVs(database, self._server)) as context:  # type: ignore[arg-type]
            for name, source_name in self.sources.items():
                self._follow(name, context.channel(source_name))
            while True:  # apply the sources' news in order, one at a time
                apply = await self._events.get()
                try:
                    await apply()
                except Exception:  # one bad update must not stop the mirror
                    self.log.exception("mirror: applying an update failed")

    def _follow(self, name: str, source: Channel) -> None:
        mirrored = self.mirrored[name] = _Mirrored(name, source, self.pvdb[name])
        if self.writable:  # the placeholder grants write as soon as the source does
            mirrored.served.source = source  # type: ignore[attr-defined]
        post = self._events.put_nowait
        source.add_connection_callback(
            lambda channel, up: None if up else post(lambda: self._disconnected(mirrored)))
        if self.writable:
            source.add_access_callback(lambda channel, rights: self._rights(mirrored))
        for mask in (DBE_VALUE, DBE_ALARM, DBE_LOG):
            source.subscribe("time", mask=mask).add_callback(
                functools.partial(self._event, mirrored, mask=mask))
        source.subscribe("ctrl", mask=DBE_PROPERTY).add_callback(
            lambda reading: post(lambda: self._properties(mirrored, reading)))

    # -- the channel data served ------------------------------------------------------------
    def _placeholder(self, name: str) -> ChannelData:
        cls = _served_class(ChannelDouble, self.writable)
        placeholder = cls(value=0.0, read_only=not self.writable, alarm=ChannelAlarm(
            status=AlarmStatus.LINK, severity=AlarmSeverity.INVALID))
        if self.writable:
            placeholder.served_name = name  # type: ignore[attr-defined]
            placeholder.put_timeout = self.put_timeout  # type: ignore[attr-defined]
        return placeholder

    def _make(self, mirrored: _Mirrored, native: ChannelType, count: int) -> ChannelData:
        cls = _served_class(_CLASSES[native], self.writable)
        kwargs: dict[str, Any] = {"read_only": not self.writable, "alarm": ChannelAlarm()}
        if native is ChannelType.ENUM:
            # any index 0..65535, as the source may hold (an mbbo at a state with no
            # string, an "Illegal Value"): followed, and such puts passed through
            kwargs["record_states"] = RecordStates()
        else:
            kwargs["max_length"] = max(count, 1)
        if native is ChannelType.CHAR:
            kwargs["strip_null_terminator"] = False
        served = cls(**kwargs)
        if self.writable:
            served.source = mirrored.source  # type: ignore[attr-defined]
            served.put_timeout = self.put_timeout  # type: ignore[attr-defined]
            served.served_name = mirrored.name  # type: ignore[attr-defined]
        return served

    def _served_for(self, mirrored: _Mirrored, native: ChannelType, count: int
                    ) -> ChannelData:
        """The channel data for the source's type and count, replaced in the database
        (its clients then reconnect) when those changed."""
        shape = (native, count)
        if mirrored.shape is None and shape == (ChannelType.DOUBLE, 1):
            mirrored.shape = shape   # the placeholder's: its clients stay connected
        elif mirrored.shape != shape:
            served = self._make(mirrored, native, count)
            # the access rules' gate the host gave the PV it replaces: never unguarded
            served.access_gate = mirrored.served.access_gate
            mirrored.served, mirrored.shape = served, shape
            self.pvdb[mirrored.name] = served  # type: ignore[assignment]
            if self._database is not None:
                self._database[mirrored.name] = served
        return mirrored.served

    # -- following the source ---------------------------------------------------------------
    def _event(self, mirrored: _Mirrored, reading: Reading, mask: int) -> None:
        """A source event, as it arrives: its bit is noted at once (an event of the same
        post queued before it then passes it on too), the reading applied in turn."""
        stamp = _stamp(reading)
        mirrored.pending[stamp] = mirrored.pending.get(stamp, 0) | mask
        self._events.put_nowait(lambda: self._update(mirrored, reading))

    async def _update(self, mirrored: _Mirrored, reading: Reading) -> None:
        stamp = _stamp(reading)
        flags = mirrored.pending.pop(stamp, 0)
        if not flags:
            return   # passed on with an earlier event of the same source post
        source = mirrored.source
        native = source.native_type or reading.native_type
        served = self._served_for(mirrored, native, source.count)
        if mirrored.control is not None and mirrored.shape is not None:
            # (DBE_PROPERTY for the clients of a placeholder kept; new data have none yet)
            await self._apply_properties(served, mirrored.control, publish=True)
            mirrored.control = None
        posted = served.mirror_posted  # type: ignore[attr-defined]
        if await _store(served, reading, native, flags, exact=True):
            served.mirror_posted = (stamp, flags)  # type: ignore[attr-defined]
            return
        # served already (a put passed through, or an event of this post split off by a
        # circuit read): post what has not gone out for it
        done = posted[1] if posted is not None and posted[0] == stamp else 0
        if flags & ~done:
            served.notify(flags & ~done)
            served.mirror_posted = (stamp, flags | done)  # type: ignore[attr-defined]

    async def _properties(self, mirrored: _Mirrored, reading: Reading) -> None:
        if mirrored.shape is None or mirrored.shape[0] is not reading.native_type:
            mirrored.control = reading   # applied with the first value of the right type
            return
        await self._apply_properties(mirrored.served, reading, publish=True)

    @staticmethod
    async def _apply_properties(served: ChannelData, reading: Reading, publish: bool) -> None:
        meta = reading.meta
        native = reading.native_type
        if native is ChannelType.ENUM:
            properties: dict[str, Any] = {"enum_strings": list(reading.enum_strings)}
        elif native in _NUMERIC:
            properties = {name: getattr(meta, name) for name in LIMIT_NAMES}
            properties["units"] = reading.units
            if native in (ChannelType.DOUBLE, ChannelType.FLOAT):
                properties["precision"] = meta.precision
        else:
            return
        await served.write_metadata(publish=publish, **properties)

    def _rights(self, mirrored: _Mirrored) -> None:
        """The source's rights changed: the server asks the served PV's ``check_access``
        again for its clients.  Changes in one loop turn (a source server's restart
        changes every PV's) share one walk of the server's channels."""
        if self._server is None:
            return
        if not self._rights_changed:
            asyncio.get_running_loop().call_soon(self._refresh_rights)
        served = mirrored.served
        self._rights_changed += (served, served.long_string())  # NAME$ asks served

    def _refresh_rights(self) -> None:
        changed, self._rights_changed = self._rights_changed, []
        # by identity: any channel data of the server is asked, hashable or not
        ids = {id(data) for data in changed if data is not None}
        if self._server is not None:
            self._server.refresh_access(lambda data: id(data) in ids)

    async def _disconnected(self, mirrored: _Mirrored) -> None:
        await mirrored.served.write_metadata(status=AlarmStatus.LINK,
                                             severity=AlarmSeverity.INVALID)


async def _store(served: ChannelData, reading: Reading, native: ChannelType,
                 flags: int = 0, exact: bool = False) -> bool:
    """Serve the source's reading (value, time, alarm) unless it is what is served,
    posting ``flags`` besides what the change posts (``exact``: ``flags`` and an alarm
    change only, as the source posted them); whether it was written."""
    value = _value(reading, native, served.max_length)
    stamp = _stamp(reading)
    if (served.timestamp_ns == timestamp_to_ns(stamp) and served.status == reading.status
            and served.severity == reading.severity and _equal(served.value, value)):
        return False
    if not exact:
        await served.write(value, flags=flags, verify_value=False, timestamp=stamp,
                           status=reading.status, severity=reading.severity)
        return True
    # synchronous: no other write of this PV runs between setting and clearing _exact
    value = served.preprocess_value(value)
    served._exact = True  # type: ignore[attr-defined]
    try:
        served._commit(value, flags, {"timestamp": stamp, "status": reading.status,
                                      "severity": reading.severity})
    finally:
        served._exact = False  # type: ignore[attr-defined]
    return True


def _stamp(reading: Reading) -> tuple[int, int]:
    return reading.meta.secs, reading.meta.nsecs


def _equal(served: Any, value: Any) -> bool:
    if isinstance(served, np.ndarray) or isinstance(value, np.ndarray):
        return bool(np.array_equal(served, value))
    return bool(served == value)


def _value(reading: Reading, native: ChannelType, max_length: int) -> Any:
    """The reading's data as the channel data class of ``native`` (holding ``max_length``
    elements) takes a value."""
    data = reading.data
    if isinstance(data, list):  # STRING: one string, or an array of them (a waveform)
        texts = [item.decode(TEXT_ENCODING) for item in data]
        if max_length == 1:     # an empty one (an lsi never written: no element) is ""
            return texts[0] if texts else ""
        return texts
    if native is ChannelType.CHAR:
        return data.astype(np.uint8).tobytes()
    if native is ChannelType.ENUM:
        return int(data[0]) if len(data) else 0
    return data[0].item() if len(data) == 1 else data
