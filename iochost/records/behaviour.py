"""What record fields do to the record: alarms, scanning, processing, disabling.

* Alarm limits (HIHI/HIGH/LOW/LOLO are the channel's limits, see ``links``) raise their
  alarm with the severity of HHSV/HSV/LSV/LLSV and the hysteresis HYST, as EPICS' ai
  record does (``checkAlarms``).  The framework's pairing rule decides which limits are
  active (a pair is active when lower < upper; a limit written through its field is active
  by itself), and the severity fields start at the
  severities the framework gives limits (MAJOR for HIHI/LOLO, MINOR for HIGH/LOW) rather
  than the dbd's NO_ALARM: a pvproperty's ``upper_alarm_limit=`` must keep its meaning
  when the pvproperty becomes a record.
* A NaN value of an ai, ao, calc or calcout raises the UDF alarm with the severity UDFS
  (INVALID), as their process does (``udf = isnan(val)``).
* SCAN sets the period of a ``use_scan_field`` scan (``set_scan_period``); Passive, Event
  and an index past the menu run none and are kept as chosen; I/O Intr is Passive, as
  EPICS makes it for a record whose device support has no interrupts (DTYP's soft ones).
* PROC re-processes: the putter runs again on the current value, posted through
  MDEL/ADEL as any processing's.
* A calc processes (PROC, or a client's put to A..L or CALC): VAL = CALC of A..L.
* bi/bo/mbbi/mbbo: ZSV/OSV, ZRSV..FFSV and UNSV give the STATE alarm of each state,
  COSV the COS alarm of a change of state (EPICS' ``checkAlarms``).
* Output records (ao, longout, int64out) clamp a put to DRVL..DRVH, with no alarm.
* DISA == DISV disables processing: a put stores the value without publishing it, skips
  the putter and raises the DISABLE alarm with the severity DISS.
* Every processing computes the alarm afresh (recGblResetAlarms): a record with no alarm
  of its value returns to NO_ALARM.
"""
from __future__ import annotations

import asyncio
import math
import numbers
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..ca.dbr import DBE_LOG, DBE_PROPERTY, DBE_VALUE
from ..ca.dbr_text import integer_prefix, parse_float
from ..calc import INPUT_NAMES, CalcProgram, compile_calc
from ..pv import faults
from ..pv.alarms import AlarmSeverity, AlarmStatus
from ..pv.data import SkipWrite
from ..pv.types import PvpropertyData
from .tables import DbfType, menu, value_field

if TYPE_CHECKING:  # pragma: no cover
    from .fieldsets import RecordFieldGroup

__all__ = [
    "DEFAULT_SEVERITIES",
    "RAW_VALUE_RECORDS",
    "evaluate_alarm",
    "process",
    "process_put",
    "reevaluate_alarm",
    "scan_choice",
    "scan_period",
]

#: The severity fields' initial values (see the module docstring).
DEFAULT_SEVERITIES: dict[str, AlarmSeverity] = {
    "HHSV": AlarmSeverity.MAJOR, "HSV": AlarmSeverity.MINOR,
    "LSV": AlarmSeverity.MINOR, "LLSV": AlarmSeverity.MAJOR,
}
#: Output records whose puts are clamped to DRVL..DRVH (EPICS' ao/longout ``convert``).
DRIVE_CLAMPED = frozenset(("ao", "longout", "int64out"))
#: Records whose VAL is DBF_INT64, served as DOUBLE (``RecordSupport.served_dtype``).
INT64_VALUE = frozenset(("int64in", "int64out"))
#: Integer field types CA serves as a wider or other type (CHAR, LONG, DOUBLE): the modulus
#: dbPut's C cast wraps an unsigned one by, None for a signed one (only a fraction dropped).
#: A text put to one is parsed for the field's own type (``text_put``).
INTEGER_CASTS = {DbfType.UCHAR: 1 << 8, DbfType.USHORT: 1 << 16, DbfType.ULONG: 1 << 32,
                 DbfType.UINT64: 1 << 64, DbfType.INT64: None}
#: The alarm limit (a Metadata name) each limit-severity field arms.
LIMIT_SEVERITIES: dict[str, str] = {
    "HHSV": "upper_alarm_limit", "HSV": "upper_warning_limit",
    "LSV": "lower_warning_limit", "LLSV": "lower_alarm_limit",
}
#: The (lower, upper) alarm limit pairs: a pair arms its limits only as a range.
LIMIT_PAIRS = (("lower_alarm_limit", "upper_alarm_limit"),
               ("lower_warning_limit", "upper_warning_limit"))
#: Each alarm limit's pair, (lower, upper), and its partner in it.
_PAIRED = {limit: (pair, pair[1 - side]) for pair in LIMIT_PAIRS for side, limit in enumerate(pair)}
#: Records whose ``get_alarm_double`` gives their limits as they are, armed or not.
RAW_ALARM_LIMITS = frozenset(("int64in", "int64out"))
#: GR/CTRL alarm limits that arm nothing (EPICS' ``recGblGetAlarmDouble``).
ALARM_LIMITS_NAN = dict.fromkeys(LIMIT_SEVERITIES.values(), math.nan)
#: Records whose NaN value is undefined: the UDF alarm, of severity UDFS (EPICS' ``udf =
#: isnan(val)`` in their process).
UDF_WHEN_NAN = frozenset(("ai", "ao", "calc", "calcout"))
#: Record types whose RVAL is the raw form of VAL (a view here: the value as an integer).
RAW_VALUE_RECORDS = frozenset(("ai", "ao", "bi", "bo", "mbbi", "mbbo"))
_MBB_STATES = ("ZRSV", "ONSV", "TWSV", "THSV", "FRSV", "FVSV", "SXSV", "SVSV",
               "EISV", "NISV", "TESV", "ELSV", "TVSV", "TTSV", "FTSV", "FFSV")
#: The state-severity fields of the binary records, by state index.
STATE_SEVERITIES: dict[str, tuple[str, ...]] = {
    "bi": ("ZSV", "OSV"), "bo": ("ZSV", "OSV"),
    "mbbi": _MBB_STATES, "mbbo": _MBB_STATES,
}
#: Stored fields that the alarm evaluation reads (a put to one evaluates it again).
ALARM_FIELDS = frozenset((*DEFAULT_SEVERITIES, "HYST", "COSV", "UNSV", "ZSV", "OSV",
                          *_MBB_STATES))
_NO_ALARM = (AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM)

_SCAN_MENU = menu("menuScan")
_PERIOD = re.compile(r"^\s*([0-9.]+)\s+second")
#: menuScan index -> period in seconds (None: not periodic).
SCAN_PERIODS: tuple[float | None, ...] = tuple(
    float(m.group(1)) if (m := _PERIOD.match(choice)) else None for choice in _SCAN_MENU)


#: menuScan's "I/O Intr"
SCAN_IO_INTR = 2
#: how much earlier than asked a loop's timer may fire (uvloop counts milliseconds)
_TIMER_SLACK = 0.002


def scan_index(choice: Any) -> int:
    """The menuScan index of a SCAN choice (index or string)."""
    return _SCAN_MENU.index(choice) if isinstance(choice, str) else int(choice)


def scan_period(choice: Any) -> float | None:
    """The period of a SCAN choice (index or string); None for Passive, Event, I/O Intr
    and an index past the menu (EPICS stores one and scans nothing)."""
    index = scan_index(choice)
    return SCAN_PERIODS[index] if 0 <= index < len(SCAN_PERIODS) else None


def scan_choice(period: float | None) -> int:
    """The menuScan index for a period: Passive for None, else the nearest periodic choice."""
    if not period or period <= 0:
        return 0
    periodic = [(abs(p - period), i) for i, p in enumerate(SCAN_PERIODS) if p is not None]
    return min(periodic)[1]


async def process(record: PvpropertyData) -> None:
    """PROC: call the record's scan hook once (it is its device read: a Passive record is
    read on demand), else run the putter on the current value again -- or on what the
    record's device read answers, for one given a read (``links.interrupt_scan``); monitors
    hear of it as
    of any processing, through MDEL/ADEL (an unchanged value posts nothing unless they are
    negative, as EPICS' ``monitor()``); a calc record computes its value first."""
    fields = record.field_inst
    if fields is not None and fields._table_type in CALCULATED:
        await calculate(fields, record)
        return
    if record._scan_process is not None:
        await record._scan_process()
        return
    read = getattr(record, "_device_read", None)
    await record.write(record.value if read is None else read())


def scan_periodically(record: PvpropertyData) -> None:
    """A record with no scan hook whose SCAN a client set to a period processes itself at
    that period, as EPICS' periodic scan threads process it (a calc computes, a soft
    input re-stamps its value); until SCAN is no period. The IOC's hook runner cancels it
    when the IOC stops (``HookRunner.stop``)."""
    if record._scan_process is not None or (record._periodic is not None and
                                            not record._periodic.done()):
        return
    record._periodic = asyncio.get_running_loop().create_task(
        _periodic(record), name=f"SCAN of {record.pvname}")


async def _periodic(record: PvpropertyData) -> None:
    # On a fixed grid, as EPICS' periodicTask: the time processing takes does not stretch
    # the period (a .1 second scan ran at 9.93 Hz); a processing that overran it is
    # followed by periodicTask's pause (half the period, at most 1 s) and a new grid
    loop = asyncio.get_running_loop()
    due = loop.time()
    while (period := record.scan_period) is not None:
        due += period
        if due <= loop.time():
            due = loop.time() + min(period / 2, 1.0)
        await record.wait_scan_change(due - loop.time())     # early when SCAN changes
        if record.scan_period != period or loop.time() < due - _TIMER_SLACK:
            due = loop.time()                                 # a new period: a new grid
            continue
        try:
            await process(record)
        except Exception as error:   # as a scan hook's failure: logged, rate-limited
            faults.log_hook_error(record.log, record.pvname, "periodic scan", error)


#: Record types whose processing sets VAL to CALC of the inputs A..L (calcout's outputs,
#: OVAL and OCAL, are not done: no links here)
CALCULATED = frozenset(("calc",))
#: Their fields a client's put processes the record through (pp TRUE in the dbd)
CALC_PROCESSING = frozenset((*INPUT_NAMES, "CALC"))


@lru_cache(maxsize=1024)
def calc_program(expression: str) -> CalcProgram:
    """The compiled CALC (CalcError when it is not valid EPICS calc)."""
    return compile_calc(expression)


async def calculate(fields: RecordFieldGroup, record: PvpropertyData) -> None:
    """calcRecord's process: VAL is CALC evaluated on A..L (VAL reads the value before);
    inputs an expression stores into (``A:=A+1``) keep what it stored.  Then, as its
    monitor(), each input that changed since the last process (LA..LL hold what it was)
    posts once more, after VAL."""
    channels = fields.pvdb
    inputs = [float(fields.stored(name, 0.0)) for name in INPUT_NAMES]
    before = list(inputs)
    value = calc_program(fields.stored("CALC", "0")).evaluate(inputs, float(record.value))
    stored = set()
    for name, old, new in zip(INPUT_NAMES, before, inputs):
        if new != old and not (math.isnan(new) and math.isnan(old)):
            await channels[name].write(new)
            stored.add(name)
    # the alarm of processing, given with the value: a write alone keeps a calc's alarm
    status, severity = evaluate_alarm(fields, record, value, processing=True)
    await record.write(value, status=status, severity=severity)
    for name, new in zip(INPUT_NAMES, inputs):
        last = "L" + name
        if new != fields.stored(last, 0.0):  # NaN: every time, as in EPICS
            if name not in stored:
                channels[name].notify(DBE_VALUE | DBE_LOG)
            await channels[last].write(new)


def limit_written(record: PvpropertyData, limit: str) -> None:
    """A client (or a restore) wrote alarm limit ``limit`` through its field: it is armed
    by itself from now on (see ``evaluate_alarm``), and the alarm is evaluated again."""
    fields = record.field_inst
    if fields is not None and limit not in fields.limits_written:
        fields.limits_written = fields.limits_written | {limit}
        fields.alarm_fields = True
        record._static_meta = None   # the GR/CTRL limits it arms
    reevaluate_alarm(record)


def reevaluate_alarm(record: PvpropertyData) -> None:
    """Apply (and post) the alarm the current value raises under changed limits or
    severities: EPICS processes the record after a put to these fields."""
    fields = record.field_inst
    evaluated = record.evaluate_alarm(record.value) if fields is None else \
        evaluate_alarm(fields, record, record.value, processing=True)
    if evaluated is not None:
        flags = record.alarm.update(status=evaluated[0], severity=evaluated[1])
        if flags:
            record.alarm.notify(flags)


def unarmed_limits_as_nan(fields: RecordFieldGroup, record: PvpropertyData,
                          properties: dict[str, Any]) -> None:
    """GR/CTRL alarm limits as RSRV's ``get_alarm_double`` gives them: NaN (0 for integer
    types, as dbAccess converts it) for a limit that cannot raise an alarm -- its pair is no
    range under the framework's pairing rule (as in a record nobody gave limits), or its
    severity field was set to NO_ALARM -- and for all four of a record whose value has no
    alarm limits (bo, mbbi, stringin...); int64in/int64out give theirs as they are.  The
    severity fields start at the framework's severities (see the module docstring), which
    arm every limit of a range."""
    if fields._table_type in RAW_ALARM_LIMITS:
        return
    if not hasattr(record, "upper_alarm_limit"):
        properties.update(ALARM_LIMITS_NAN)
        return
    for limit in _PAIRED:
        if not limit_armed(fields, record, limit, properties):
            properties[limit] = math.nan
    if fields.alarm_fields:
        for severity, limit in LIMIT_SEVERITIES.items():
            if not fields.stored(severity, DEFAULT_SEVERITIES[severity]):
                properties[limit] = math.nan


def limit_armed(fields: RecordFieldGroup, record: PvpropertyData, limit: str,
                limits: dict[str, Any]) -> bool:
    """Can alarm limit ``limit`` (of ``limits``, by Metadata name) raise an alarm, whatever
    its severity?  One written through its field arms itself, as EPICS' checkAlarms tests
    each limit.  Otherwise the framework's pairing rule: both limits of a pair that is a
    range (lower < upper) are armed -- except a limit nobody set (0, not a pvproperty
    argument) beside a partner a client wrote: writing HIHI=10 alone must not make every
    value <= 0 a LOLO alarm."""
    written = fields.limits_written
    if limit in written:
        return True
    (lower, upper), partner = _PAIRED[limit]
    if not limits[lower] < limits[upper]:
        return False
    return partner not in written or limits[limit] != 0 \
        or limit in (record.pvspec.cls_kwargs or ())


def severity_changed(record: PvpropertyData) -> None:
    """A limit-severity field changed: the GR/CTRL limits derive from it, and EPICS posts
    DBE_PROPERTY for these fields (``prop(YES)``)."""
    record._static_meta = None  # the record's own metadata cache (derived limits)
    record.notify(DBE_PROPERTY)


def evaluate_alarm(fields: RecordFieldGroup, record: PvpropertyData, value: Any,
                   processing: bool = False) -> tuple[AlarmStatus, AlarmSeverity] | None:
    """The alarm of a record's new value: UDF for a NaN (ai, ao, calc, calcout), limit
    alarms (severity fields, HYST) or, for bi/bo/mbbi/mbbo, state alarms.  None (the alarm
    stays) for a calc's VAL written without processing: not process-passive, a put only
    stores it (dbPut)."""
    if not processing and fields._table_type in CALCULATED:
        return None
    if fields._table_type in UDF_WHEN_NAN and record.max_length == 1 and value != value:
        return AlarmStatus.UDF, AlarmSeverity(fields.stored("UDFS", AlarmSeverity.INVALID))
    if fields._table_type in STATE_SEVERITIES and (fields.alarm_fields
                                                   or _mbbo_soft_alarm(fields, record, value)):
        return _state_alarm(fields, record, value)
    if not fields.alarm_fields or record.max_length != 1 or isinstance(value, (bytes, str)) \
            or not hasattr(record, "upper_alarm_limit"):
        # No severity field or HYST was ever touched: the framework's rule is the same, but
        # where it leaves the alarm alone (text, enums, arrays) a record's processing starts
        # from NO_ALARM (recGblResetAlarms): a DISABLE or WRITE alarm does not stay forever
        evaluated = super(PvpropertyData, record).evaluate_alarm(value)
        return _NO_ALARM if evaluated is None else evaluated
    hhsv, hsv, lsv, llsv = (fields.stored(name, default)
                            for name, default in DEFAULT_SEVERITIES.items())
    hyst = fields.stored("HYST", 0.0)
    last = fields.alarm_memory
    lolo, low = record.lower_alarm_limit, record.lower_warning_limit
    high, hihi = record.upper_warning_limit, record.upper_alarm_limit

    def above(limit: Any) -> bool:
        return value >= (limit - hyst if last == limit else limit)

    def below(limit: Any) -> bool:
        return value <= (limit + hyst if last == limit else limit)

    limits = {"upper_alarm_limit": hihi, "lower_alarm_limit": lolo,
              "upper_warning_limit": high, "lower_warning_limit": low}
    checks = [(hhsv, "upper_alarm_limit", above, AlarmStatus.HIHI),
              (llsv, "lower_alarm_limit", below, AlarmStatus.LOLO),
              (hsv, "upper_warning_limit", above, AlarmStatus.HIGH),
              (lsv, "lower_warning_limit", below, AlarmStatus.LOW)]
    for severity, name, beyond, status in checks:
        limit = limits[name]
        if severity and beyond(limit) and limit_armed(fields, record, name, limits):
            fields.alarm_memory = limit
            return status, AlarmSeverity(severity)
    fields.alarm_memory = None
    return _NO_ALARM


def _mbbo_soft_alarm(fields: RecordFieldGroup, record: PvpropertyData, value: Any) -> bool:
    """mbboRecord's convert(): an index past 15 has no raw value once a state is named:
    SOFT/INVALID, whatever the severity fields say."""
    return fields._table_type == "mbbo" and isinstance(value, int) and value > 15 \
        and any(getattr(record, "enum_strings", ()))


def _state_alarm(fields: RecordFieldGroup, record: PvpropertyData, value: Any
                 ) -> tuple[AlarmStatus, AlarmSeverity]:
    """EPICS' bi/bo/mbbi/mbbo checkAlarms: the state's severity field (STATE), UNSV for a
    state past 15 (mbb*), and COSV when the state changed (COS); the higher wins, the first
    of equal ones.  A bo's state past 1 takes OSV (any index but 0 is "one"), a bi's none."""
    index = value if isinstance(value, int) else record.get_raw_value(value)
    names = STATE_SEVERITIES[fields._table_type]
    state = min(index, 1) if fields._table_type == "bo" and index is not None else index
    if state is not None and state < len(names):
        severity = fields.stored(names[state], 0)
    else:
        severity = fields.stored("UNSV", 0) if "UNSV" in type(fields).field_names() else 0
    result = (AlarmStatus.STATE, AlarmSeverity(severity)) if severity else _NO_ALARM
    if _mbbo_soft_alarm(fields, record, value):
        result = (AlarmStatus.SOFT, AlarmSeverity.INVALID)  # set first: nothing is higher
    change = fields.stored("COSV", 0)
    cos = change > result[1] and fields.alarm_memory is not None \
        and index != fields.alarm_memory
    if cos:
        result = (AlarmStatus.COS, AlarmSeverity(change))
    # mbbi/mbbo keep LALM while they raise COS (their checkAlarms returns first): the COS
    # alarm stays until the value returns; bi/bo take the new state at once
    if not (cos and fields._table_type in ("mbbi", "mbbo")):
        fields.alarm_memory = index
    return result


def limit_value(fields: RecordFieldGroup, record: PvpropertyData, value: Any) -> Any:
    """The value a put stores under the record's control limits: output records (ao,
    longout, int64out) clamp to DRVL..DRVH without an alarm, as EPICS' ``convert`` does;
    other records keep the framework's refusal (CannotExceedLimits)."""
    if fields._table_type in DRIVE_CLAMPED:
        low, high = record.lower_ctrl_limit, record.upper_ctrl_limit
        if low < high and record.max_length == 1:
            return high if value > high else low if value < low else value
        return value
    super(PvpropertyData, record).check_limits(value)
    return value


async def drive_limits_changed(record: PvpropertyData) -> None:
    """DRVH/DRVL are pp(TRUE) on output records: the record processes, and a value now
    beyond them is driven at the limit (its putter runs), as EPICS' ``convert`` does."""
    fields = record.field_inst
    if fields is None or fields._table_type not in DRIVE_CLAMPED or record.max_length != 1:
        return
    clamped = limit_value(fields, record, record.value)
    if clamped != record.value:
        await record.write(clamped)


def disabled(fields: RecordFieldGroup) -> bool:
    """DISA == DISV: the record does not process (DISA 0 and DISV 1 while never touched:
    either one's channel is made before they can be equal)."""
    created = fields.created
    return (created.get("DISA") is not None or created.get("DISV") is not None) and \
        fields.stored("DISA", 0) == fields.stored("DISV", 1)


def value_dbf(rtyp: str) -> DbfType | None:
    """The field type of record type ``rtyp``'s VAL (None without one)."""
    field = value_field(rtyp)
    return None if field is None else field.dbf


def cast_put(dbf: DbfType | None, value: Any) -> Any:
    """A put's number as dbPut's C cast stores it into an integer field of type ``dbf``:
    a fraction dropped, an unsigned one wrapped (-2 into a USHORT is 65534); anything
    else as it is."""
    if dbf in INTEGER_CASTS and isinstance(value, numbers.Real) and math.isfinite(value):
        modulus = INTEGER_CASTS[dbf]
        return type(value)(int(value) if modulus is None else int(value) % modulus)
    return value


def text_put(dbf: DbfType, text: bytes, current: int) -> int:
    """The number dbPut stores from ``text`` into a scalar field of type ``dbf`` (one of
    INTEGER_CASTS: epicsParseUInt8/16/32/64, epicsParseInt64), as softIoc does; ValueError
    when it refuses the put.

    The integer that starts the text (strtol's base 0: "0x10" is 16, "010" 8), what follows
    ignored ("12abc" is 12, and an INT64's "1e3" is 1); "" is 0.  An unsigned type takes at
    most its maximum in magnitude, a negative number wrapped ("-1" is 65535 in a USHORT;
    "70000" and "-70000" are refused).  A ULONG reads "1.5e9" or ".5" as a double when the
    integer stops at ".", "e" or "E" (or is missing), taken when within 0..2**32-1; beyond,
    it keeps the integer ("1e10" is 1), or with no integer the field's ``current`` value.
    (Where EPICS stores the integer and then fails the put, as for "1e400", the put is
    refused and the field keeps its value.)
    """
    if text == b"":
        return 0
    modulus = INTEGER_CASTS[dbf]
    parsed = integer_prefix(text)
    if modulus is None:
        if parsed is None or not -(1 << 63) <= parsed[0] < 1 << 63:
            raise ValueError(f"{text!r} is not a number for {dbf.name}")
        return parsed[0]
    value = current
    if parsed is not None:
        number, end = parsed
        if abs(number) >= modulus:
            raise ValueError(f"{text!r} is out of range for {dbf.name}")
        value = number % modulus
        if dbf is not DbfType.ULONG or text[end:end + 1] not in (b".", b"e", b"E"):
            return value
    elif dbf is not DbfType.ULONG:
        raise ValueError(f"{text!r} is not a number")
    real = parse_float(text)
    return int(real) if 0 <= real < modulus else value


async def process_put(fields: RecordFieldGroup, record: PvpropertyData, value: Any) -> Any:
    """A write to the record: its VAL's type cast (``cast_put``: int64in, permissive...),
    gated by DISA/DISV, limited (``limit_value``), then the putter (its result is kept)."""
    value = cast_put(value_dbf(fields._table_type), value)
    if disabled(fields):
        # dbPut stores VAL before dbProcess finds the record disabled: the value stays,
        # unclamped. dbProcess raises the DISABLE alarm once, posting the value put with
        # it (DBE_VALUE|DBE_ALARM); while the alarm stands a put posts nothing (not even a
        # changed DISS).
        record.store_unpublished(value)
        if record.alarm.status != AlarmStatus.DISABLE:
            await record.alarm.write(status=AlarmStatus.DISABLE, flags=DBE_VALUE,
                                     severity=fields.stored("DISS", AlarmSeverity.NO_ALARM))
        raise SkipWrite
    value = limit_value(fields, record, value)
    putter = record.putter
    if putter is None:
        return value
    # a putter that returns None keeps the value it was given: the clamped one
    replaced = await putter(record, value)
    return value if replaced is None else replaced
