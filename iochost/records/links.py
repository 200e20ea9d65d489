"""Linked fields: record fields that are views of the record's own channel, not copies.

``DESC`` is the pvproperty's doc, ``EGU`` its units, ``HIHI`` its upper alarm limit,
``STAT`` its alarm status, ``MLST`` the value last posted to monitors, ``B0``..``B1F``
the bits of an mbbiDirect's value...  A linked field's channel keeps no state of its own:
reads ask the record (``Link.get``), writes change the record (``Link.set``), and a monitor
on the field follows the record's updates whose DBE flags intersect ``Link.mask``.

The table is written from EPICS base's record reference (what each field means) mapped
onto the channel-data API (what holds that meaning here).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ..ca.dbr import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, MAX_STRING_SIZE, ChannelType
from ..pv.alarms import AlarmStatus
from ..pv.data import ChannelByte, ChannelChar, ChannelValueError
from . import behaviour, fieldmeta
from .tables import buffer_of, has_field


Getter = Callable[[Any], Any]
Setter = Callable[[Any, Any], Awaitable[None]]


class Link(NamedTuple):
    """How one field reads and writes the record's channel (``set`` None: read-only)."""

    get: Getter
    set: Setter | None = None
    mask: int = 0  # the record's DBE flags after which the field's value may differ
    putter_replaces: bool = False  # a field putter (@prop.fields.X.putter) replaces ``set``
    #: what the field posts after such flags when its value changed, and what it posts at
    #: every alarm change of the record (recGblResetAlarms' masks for STAT, SEVR, AMSG)
    changed_post: int = DBE_VALUE | DBE_LOG
    alarm_post: int = 0


def _metadata(name: str, default: Any = 0, *, alarm_limit: bool = False,
              drive_limit: bool = False) -> Link:
    """A field that is one metadata item of the record (units, a limit...)."""
    async def set_metadata(record: Any, value: Any) -> None:
        if name not in getattr(record, "_property_names", ()):
            raise ChannelValueError(f"{type(record).__name__} has no {name}")
        await record.write_metadata(**{name: value})
        if alarm_limit:
            behaviour.limit_written(record, name)
        if drive_limit:
            await behaviour.drive_limits_changed(record)
    return Link(lambda record: getattr(record, name, default), set_metadata, DBE_PROPERTY)


def _attribute(name: str, default: Any = 0.0) -> Link:
    """A field that is a plain attribute of the record's channel (a deadband)."""
    async def set_attribute(record: Any, value: Any) -> None:
        if not hasattr(record, name):
            raise ChannelValueError(f"{type(record).__name__} has no {name}")
        setattr(record, name, value)
    return Link(lambda record: getattr(record, name, default), set_attribute)


def _post_menu(name: str) -> Link:
    """MPST/APST of an array record: "Always" (0) is a deadband of -1 (every write posts),
    "On Change" (1) a deadband of 0."""
    async def set_post(record: Any, value: Any) -> None:
        if not hasattr(record, name):
            raise ChannelValueError(f"{type(record).__name__} has no {name}")
        setattr(record, name, 0.0 if value in (1, "On Change") else -1.0)
    return Link(lambda record: 1 if getattr(record, name, -1.0) >= 0 else 0, set_post)


def _enum_string(index: int) -> Link:
    """ZNAM/ONAM and ZRST..FFST: state string ``index`` of an ENUM record."""
    def get(record: Any) -> str:
        strings = getattr(record, "enum_strings", ())
        return strings[index] if index < len(strings) else ""

    async def set_string(record: Any, text: str) -> None:
        strings = list(getattr(record, "enum_strings", None) or ())
        if not hasattr(record, "enum_strings"):
            raise ChannelValueError(f"{type(record).__name__} has no state strings")
        strings += [""] * (index + 1 - len(strings))
        strings[index] = text
        while strings and not strings[-1]:  # EPICS counts states up to the last one set
            strings.pop()
        await record.write_metadata(enum_strings=strings)
    return Link(get, set_string, DBE_PROPERTY)


async def _set_doc(record: Any, text: str) -> None:
    record.pvspec = record.pvspec._replace(doc=text)


async def _set_access_group(record: Any, name: str) -> None:
    """dbCommon's ASG (special AS): a put moves the record to another access security
    group, as asChangeGroup does; its open channels are re-evaluated at once. The move
    lives in the gate only: the group named in code (``pvspec.asg``) stays, so that a
    host reload gives the record its configured group again."""
    name = name.strip()
    gate = record.access_gate
    if gate is None:     # no access security: the field only remembers the name
        record.pvspec = record.pvspec._replace(asg=name or None)
        return
    record.access_gate = gate.member_of(name)
    gate.changed()
    record.access_gate.changed()


async def _refuse(record: Any, value: Any) -> None:
    # RTYP: RSRV grants write access, but dbPut refuses the pseudo-field.
    raise ChannelValueError("RTYP cannot be changed")


def _raw_value(record: Any) -> int:
    value = getattr(record, "raw_value", record.value)
    try:
        # half away from zero, as an ao's convert rounds (2.5 -> 3, -2.5 -> -3)
        return int(value + 0.5 if value >= 0 else value - 0.5)
    except (TypeError, ValueError, OverflowError):
        return 0


async def _write_raw(record: Any, value: int) -> None:
    await record.write(value)


async def _set_disp(record: Any, value: Any) -> None:
    # instance attributes (over ChannelData's class-wide False) only where a put set them
    record._disp = value
    if isinstance(value, (bytes, bytearray)):  # DISP is a UCHAR field
        value = value[0] if value else 0
    record.puts_disabled = bool(int(value))


# What only a put creates -- the SCAN choice while no period runs, the value put to PROC --
# is kept in the record data's own __dict__ from that put on, not in every record.
def _get_scan(record: Any) -> int:
    period = record.scan_period
    if period is None:  # Passive, Event, I/O Intr, past the menu: what was chosen
        return getattr(record, "_idle_scan", 0)
    return behaviour.scan_choice(period)


def interrupt_scan(record: Any, read: Callable[[], Any] | None = None) -> None:
    """Serve ``record`` as one whose device support interrupts (devIocStats' ``SCAN I/O
    Intr`` records): SCAN reads I/O Intr, and a put may choose it again.  ``read``, when
    given, is its device read: a processing (PROC, even while Passive) takes its answer
    as the new value."""
    record._interrupts = True
    record._idle_scan = behaviour.SCAN_IO_INTR
    if read is not None:
        record._device_read = read


def is_scanned(record: Any) -> bool:
    """Does the record's SCAN process it (I/O Intr or a period), or not (Passive, Event)?"""
    return behaviour.SCAN_IO_INTR <= _get_scan(record) < len(behaviour.SCAN_PERIODS)


async def _set_scan(record: Any, choice: Any) -> None:
    index = behaviour.scan_index(choice)
    if index == behaviour.SCAN_IO_INTR and not getattr(record, "_interrupts", False):
        # EPICS' scanAdd leaves a record Passive when its device support cannot interrupt
        # (no get_ioint_info): none of base's soft supports, which DTYP names, can
        record.log.warning("%s: SCAN I/O Intr is not valid for a soft record (it posts when "
                       "the IOC writes it); SCAN is Passive", record.pvname)
        index = 0
    period = behaviour.scan_period(index)
    if period is None:
        record._idle_scan = index
    record.set_scan_period(period)
    if period is not None:
        behaviour.scan_periodically(record)   # unless a scan hook runs at this period


def _uchar(value: Any) -> int:
    """A UCHAR field's put as a number (CHAR fields may hand over bytes)."""
    if isinstance(value, (bytes, bytearray)):
        return value[0] if value else 0
    return int(value)


async def _process(record: Any, value: Any) -> None:
    record._proc = _uchar(value)  # dbPut keeps what was put (any put processes)
    await behaviour.process(record)


# The menuFtype choice of each native type (FTVL of an array record is its element type).
_FTYPE = {ChannelType.STRING: "STRING", ChannelType.CHAR: "CHAR", ChannelType.INT: "SHORT",
          ChannelType.LONG: "LONG", ChannelType.FLOAT: "FLOAT", ChannelType.DOUBLE: "DOUBLE",
          ChannelType.ENUM: "ENUM"}


def _element_type(record: Any) -> str:
    # a bytes value holds raw bytes, 0..255: EPICS' UCHAR (its CHAR is signed)
    return "UCHAR" if isinstance(record, ChannelByte) else _FTYPE[record.native_type]


_STATES = [
    "ZRST", "ONST", "TWST", "THST", "FRST", "FVST", "SXST", "SVST", "EIST", "NIST", "TEST",
    "ELST", "TVST", "TTST", "FTST", "FFST",
]


def _bit(index: int) -> Link:
    """B0..B1F of mbbiDirect/mbboDirect: bit ``index`` of the value."""
    async def set_bit(record: Any, bit: Any) -> None:
        on = bool(_uchar(bit))
        value = int(record.value) & ~(1 << index) | on << index
        await record.write(value - (1 << 32) if value >= 1 << 31 else value)
    return Link(lambda record: int(record.value) >> index & 1, set_bit, DBE_VALUE)


async def _overwritten(record: Any, value: Any) -> None:
    """A put that is taken and changes nothing, as processing sets the field from the
    record again (an mbbiDirect's bits, an ao's OVAL, a compress's RES: as on softIoc)."""


#: LALM's limit for each limit alarm (EPICS' checkAlarms sets LALM to the limit it raises)
_ALARM_LEVELS = {AlarmStatus.HIHI: "upper_alarm_limit", AlarmStatus.HIGH: "upper_warning_limit",
                 AlarmStatus.LOW: "lower_warning_limit", AlarmStatus.LOLO: "lower_alarm_limit"}


def _last_alarm_level(record: Any) -> Any:
    """LALM: the limit of the limit alarm in force, else the value (posted never)."""
    name = _ALARM_LEVELS.get(record.alarm.status)
    return getattr(record, name) if name else record.value


_BITS = {f"B{index:X}": _bit(index) for index in range(32)}

#: field name -> Link, for every record type that has the field.
LINKS: dict[str, Link] = {
    "NAME": Link(lambda record: record.pvname),
    "RTYP": Link(lambda record: record.record_type, _refuse),
    "DESC": Link(lambda record: record.doc or "", _set_doc),
    "EGU": _metadata("units", ""),
    "PREC": _metadata("precision"),
    "HOPR": _metadata("upper_disp_limit"),
    "LOPR": _metadata("lower_disp_limit"),
    "DRVH": _metadata("upper_ctrl_limit", drive_limit=True),
    "DRVL": _metadata("lower_ctrl_limit", drive_limit=True),
    "HIHI": _metadata("upper_alarm_limit", alarm_limit=True),
    "HIGH": _metadata("upper_warning_limit", alarm_limit=True),
    "LOW": _metadata("lower_warning_limit", alarm_limit=True),
    "LOLO": _metadata("lower_alarm_limit", alarm_limit=True),
    "MDEL": _attribute("value_atol"),
    "ADEL": _attribute("log_atol"),
    # arrays (waveform, aai, aao, ...): "Always" posts every processing, "On Change" only
    # when an element changed -- a deadband of -1 or 0
    "MPST": _post_menu("value_atol"),
    "APST": _post_menu("log_atol"),
    "LALM": Link(_last_alarm_level),
    # the values last posted for monitors and the archive (the deadbands' references);
    # read fresh, never posted (a record's monitor() does not post them)
    "MLST": _attribute("_mlst", 0)._replace(mask=DBE_VALUE, changed_post=0),
    "ALST": _attribute("_alst", 0)._replace(mask=DBE_LOG, changed_post=0),
    "NELM": Link(lambda record: record.max_length),
    "NORD": Link(lambda record: record.length, mask=DBE_VALUE),  # elements the value holds
    "FTVL": Link(_element_type),
    # recGblResetAlarms: at an alarm change STAT and AMSG post DBE_ALARM (and DBE_VALUE
    # when the status changed), SEVR DBE_VALUE; ACKS/ACKT post DBE_VALUE when they change
    "STAT": Link(lambda record: record.alarm.status, mask=DBE_ALARM, changed_post=DBE_VALUE,
                 alarm_post=DBE_ALARM),
    "SEVR": Link(lambda record: record.alarm.severity, mask=DBE_ALARM,
                 changed_post=DBE_VALUE, alarm_post=DBE_VALUE),
    "ACKS": Link(lambda record: record.alarm.severity_to_acknowledge, mask=DBE_ALARM,
                 changed_post=DBE_VALUE),
    "ACKT": Link(lambda record: int(record.alarm.must_acknowledge_transient), mask=DBE_ALARM,
                 changed_post=DBE_VALUE),
    "AMSG": Link(lambda record: record.alarm.alarm_string, mask=DBE_ALARM, changed_post=0,
                 alarm_post=DBE_VALUE | DBE_ALARM),
    "ASG": Link(lambda record: record.access_group, _set_access_group),
    "SCAN": Link(_get_scan, _set_scan),
    "PROC": Link(lambda record: getattr(record, "_proc", 0), _process),
    "RVAL": Link(_raw_value, _write_raw, DBE_VALUE, putter_replaces=True),
    "DISP": Link(lambda record: getattr(record, "_disp", 0), _set_disp),
    # mbbi/mbbo: whether any state is defined (init_common; our states are their strings)
    "SDEF": Link(lambda record: int(any(getattr(record, "enum_strings", None) or ()))),
    "ZNAM": _enum_string(0),
    "ONAM": _enum_string(1),
    **{name: _enum_string(index) for index, name in enumerate(_STATES)},
    **_BITS,
}

def _input_limit(index: int, name: str) -> Link:
    """HOPR/LOPR of a record without DRVH/DRVL: RSRV serves them as the display and the
    control limits, so control limits given alone show here (``fieldmeta.input_limits``).

    A write changes that limit and keeps the other one shown (writing HOPR must not make
    LOPR read 0); when the control limits were the ones shown, it moves the control limit
    too, so that a put is checked against the limits a client sees."""
    control = ("lower_ctrl_limit", "upper_ctrl_limit")[index]

    async def set_limit(record: Any, value: Any) -> None:
        if name not in getattr(record, "_property_names", ()):
            raise ChannelValueError(f"{type(record).__name__} has no {name}")
        low, high = fieldmeta.input_limits(record)
        change = {"lower_disp_limit": low, "upper_disp_limit": high, name: value}
        if (low, high) != (record.lower_disp_limit, record.upper_disp_limit):
            change[control] = value       # the control limits were shown: they follow
        await record.write_metadata(**change)

    return Link(lambda record: fieldmeta.input_limits(record)[index]
                if hasattr(record, name) else 0, set_limit, DBE_PROPERTY)


_INPUT_LIMITS = {"LOPR": _input_limit(0, "lower_disp_limit"),
                 "HOPR": _input_limit(1, "upper_disp_limit")}

#: SIZV of lsi/lso/printf, the size of the string buffer: a CHAR value's length (as its
#: ``NAME.VAL$``); a DBR_STRING holds 40 characters and the NUL, the dbd's 41.
_STRING_SIZE = Link(lambda record: record.long_string_max_length
                    if isinstance(record, ChannelChar) else MAX_STRING_SIZE + 1)


def _string_length(empty: int) -> Link:
    """LEN: the string's length with its NUL, or ``empty`` for an empty string."""
    return Link(lambda record: len(str(record.value).encode()) + 1 if record.value else empty,
                mask=DBE_VALUE)


#: ao's OVAL and PVAL, longout's PVAL: the value output and the one before it, both VAL
#: once the record has processed (OROC, which could hold OVAL back, is not modelled).
_VALUE_COPY = Link(lambda record: record.value, _overwritten, DBE_VALUE)
#: Links of one record type's field, before the general ones; None: a stored field.
_RECORD_LINKS: dict[tuple[str, str], Link | None] = {
    ("bo", "HIGH"): None,  # the seconds to hold high, not an alarm limit
    ("ao", "OVAL"): _VALUE_COPY, ("ao", "PVAL"): _VALUE_COPY, ("longout", "PVAL"): _VALUE_COPY,
    # a put resets a compress (ours keeps no buffer to clear); RES reads 0
    ("compress", "RES"): Link(lambda record: 0, _overwritten),
    # LEN is set when the record processes: a printf formats its VAL (even an empty one),
    # an lsi/lso nobody wrote has 0
    ("lsi", "LEN"): _string_length(0), ("lso", "LEN"): _string_length(0),
    ("printf", "LEN"): _string_length(1),
    **{(rtyp, "SIZV"): _STRING_SIZE for rtyp in ("lsi", "lso", "printf")},
    **{("mbbiDirect", name): bit._replace(set=_overwritten) for name, bit in _BITS.items()},
}

#: Alarm-severity fields: stored per record, read by ``behaviour.evaluate_alarm``.
SEVERITY_FIELDS = ("HHSV", "HSV", "LSV", "LLSV")


def link_of(rtyp: str, name: str) -> Link | None:
    """The link of field ``name`` of record type ``rtyp``, or None for a stored field."""
    if (rtyp, name) in _RECORD_LINKS:
        return _RECORD_LINKS[rtyp, name]
    if name == "RVAL" and rtyp not in behaviour.RAW_VALUE_RECORDS:
        return None
    buffer = buffer_of(rtyp, "VAL")
    count_from = getattr(buffer, "count_from", None)
    if name == count_from:   # the buffer's size: NELM, a subArray's MALM, a compress's NSAM
        return LINKS["NELM"]
    if name == "NELM":
        return None  # subArray's NELM is how many elements to take, not the buffer size
    if name == "FTVL" and getattr(buffer, "type_from", None) != "FTVL":
        return None
    if name in ("MPST", "APST") and count_from != "NELM":
        return None  # stringin/stringout, lsi/lso: a stored menu (their text posts on change)
    if name in _INPUT_LIMITS and rtyp != "motor" and not has_field(rtyp, "DRVH"):
        return _INPUT_LIMITS[name]
    return LINKS.get(name)
