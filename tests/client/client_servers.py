"""The same PVs served by three CA servers, for the client tests: iochost (in this process),
RSRV (softioc, a subprocess) and caproto's asyncio server (a subprocess: its server and
pyepics' libca must not share the test process's threads and signals).

Every server serves, under its prefix:

======  =====================================================================
DBL     DOUBLE 1.5, units "mm", precision 3, warning limits -10/10 (MINOR)
LNG     LONG 7
STR     STRING "hello"
ENM     ENUM Off/On, at Off
CHR     CHAR array of up to 64 elements
BIG     DOUBLE array of up to 1,000,000 elements (8 MB)
RO      DOUBLE that refuses every put (ECA_PUTFAIL, or ECA_NOWTACCESS)
======  =====================================================================

``start(kind, port)`` returns a handle with ``stop()``; a restart is ``stop()`` then
``start(kind, port)`` again on the same port.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from contextlib import ExitStack
from typing import Protocol

from softioc_process import running_softioc

from iochost.ca.eca import ECA_NOWTACCESS, ECA_PUTFAIL
from iochost.client import ClientConfig
from iochost.testing import LOOPBACK_ENV

PREFIX = "CL:"
BIG = 1_000_000
KINDS = ("iochost", "rsrv", "caproto")
#: What each server answers to a refused put.
REFUSED = {"iochost": (ECA_PUTFAIL,), "rsrv": (ECA_PUTFAIL,),
           "caproto": (ECA_PUTFAIL, ECA_NOWTACCESS)}

RSRV_DB = textwrap.dedent(f"""\
    record(ao, "{PREFIX}DBL") {{ field(VAL, "1.5") field(EGU, "mm") field(PREC, "3")
        field(HIGH, "10") field(HSV, "MINOR") field(LOW, "-10") field(LSV, "MINOR")
        field(HOPR, "100") field(LOPR, "-100") field(PINI, "YES") }}
    record(longout, "{PREFIX}LNG") {{ field(VAL, "7") field(PINI, "YES") }}
    record(stringout, "{PREFIX}STR") {{ field(VAL, "hello") field(PINI, "YES") }}
    record(bo, "{PREFIX}ENM") {{ field(ZNAM, "Off") field(ONAM, "On") field(VAL, "0")
        field(PINI, "YES") }}
    record(waveform, "{PREFIX}CHR") {{ field(FTVL, "CHAR") field(NELM, "64") }}
    record(waveform, "{PREFIX}BIG") {{ field(FTVL, "DOUBLE") field(NELM, "{BIG}") }}
    record(ao, "{PREFIX}RO") {{ field(VAL, "0") field(DISP, "1") }}
""")

CAPROTO_SCRIPT = textwrap.dedent(f"""\
    import sys
    from caproto import ChannelType
    from caproto.server import PVGroup, pvproperty, run

    class Group(PVGroup):
        DBL = pvproperty(value=1.5, units="mm", precision=3, upper_warning_limit=10.0,
                         lower_warning_limit=-10.0, name="DBL")
        LNG = pvproperty(value=7, name="LNG")
        STR = pvproperty(value="hello", dtype=ChannelType.STRING, name="STR")
        ENM = pvproperty(value="Off", enum_strings=["Off", "On"], dtype=ChannelType.ENUM,
                         name="ENM")
        CHR = pvproperty(value="", dtype=ChannelType.CHAR, max_length=64, name="CHR")
        BIG = pvproperty(value=[0.0], max_length={BIG}, name="BIG")
        RO = pvproperty(value=0.0, name="RO")

        @RO.putter
        async def RO(self, instance, value):
            raise ValueError("refused")

        @DBL.startup
        async def DBL(self, instance, async_lib):
            print("READY", flush=True)

    run(Group(prefix="{PREFIX}").pvdb, interfaces=["127.0.0.1"], log_pv_names=False)
""")


def config_for(port: int) -> ClientConfig:
    """A client configuration that searches 127.0.0.1:``port`` only (no automatic list)."""
    return ClientConfig(addresses=(("127.0.0.1", port),), auto_addresses=False,
                        server_port=port, max_array_bytes=100_000_000,
                        repeater_port=int(os.environ["EPICS_CA_REPEATER_PORT"]))


class Handle(Protocol):
    def stop(self) -> None: ...


class _IochostHandle:
    def __init__(self, port: int) -> None:
        import numpy as np

        from iochost.ca.eca import ECA_PUTFAIL
        from iochost.ca.errors import CaStatusError
        from iochost.pv.data import (
            ChannelChar,
            ChannelDouble,
            ChannelEnum,
            ChannelInteger,
            ChannelString,
        )
        from iochost.testing import ServerThread

        class Refusing(ChannelDouble):
            async def verify_value(self, value):
                raise CaStatusError(ECA_PUTFAIL, "refused")

        pvs = {
            "DBL": ChannelDouble(value=1.5, units="mm", precision=3, upper_warning_limit=10.0,
                                 lower_warning_limit=-10.0, upper_disp_limit=100.0,
                                 lower_disp_limit=-100.0),
            "LNG": ChannelInteger(value=7),
            "STR": ChannelString(value="hello"),
            "ENM": ChannelEnum(value="Off", enum_strings=["Off", "On"]),
            "CHR": ChannelChar(value="", max_length=64),
            "BIG": ChannelDouble(value=np.zeros(1, dtype=float), max_length=BIG),
            "RO": Refusing(value=0.0),
        }
        self.server = ServerThread({PREFIX + name: pv for name, pv in pvs.items()}, port=port)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


class _RsrvHandle:
    def __init__(self, port: int) -> None:
        self._stack = ExitStack()
        self._stack.enter_context(running_softioc(RSRV_DB, port))

    def stop(self) -> None:
        self._stack.close()


class _CaprotoHandle:
    def __init__(self, port: int) -> None:
        env = dict(os.environ, **LOOPBACK_ENV, EPICS_CAS_SERVER_PORT=str(port),
                   EPICS_CA_SERVER_PORT=str(port))
        self.proc = subprocess.Popen([sys.executable, "-c", CAPROTO_SCRIPT], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            if select.select([self.proc.stdout], [], [], 1.0)[0]:
                line = self.proc.stdout.readline()
                if line.strip() == b"READY":
                    return
                if not line:
                    break
        self.stop()
        raise RuntimeError("caproto's server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(kind: str, port: int) -> Handle:
    return {"iochost": _IochostHandle, "rsrv": _RsrvHandle, "caproto": _CaprotoHandle}[kind](port)
