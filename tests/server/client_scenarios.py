"""What the caproto and pyepics client tests both serve and drive, so each client is held
to the same PVs and the same expected updates."""
from __future__ import annotations

import numpy as np

from iochost.ca.dbr import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
from iochost.pv.data import ChannelChar, ChannelDouble, ChannelEnum, ChannelInteger, ChannelString

WAVE = np.arange(1_000_000, dtype=float)
LIMITS = dict(upper_disp_limit=100, lower_disp_limit=-100, upper_alarm_limit=90,
              upper_warning_limit=80, lower_warning_limit=-80, lower_alarm_limit=-90,
              upper_ctrl_limit=50, lower_ctrl_limit=-50)


def make_pvs() -> dict:
    """One channel of each kind, with limits, units and a 1e6-element array."""
    return {
        "INT": ChannelInteger(value=7, units="cnt", **LIMITS),
        "DBL": ChannelDouble(value=3.25, precision=3, units="mm",
                             **{k: float(v) for k, v in LIMITS.items()}),
        "ENUM": ChannelEnum(value="Two", enum_strings=["One", "Two", "Three"]),
        "STR": ChannelString(value="hello world"),
        "CHARSTR": ChannelChar(value="a char-array string", max_length=100),
        "WAVE": ChannelDouble(value=WAVE, max_length=len(WAVE)),
        "RO": ChannelDouble(value=1.0, read_only=True),
    }


# -- Monitor masks: one subscription per DBE bit, then MASK_WRITES --------------------------
MASKS = (DBE_VALUE, DBE_LOG, DBE_ALARM, DBE_PROPERTY)
MASK_WRITES = (0.5, 2.0, 8.0, 45.0, 60.0, 61.5, 0.0)
# The values each mask's subscriber receives, the initial update included: the value
# deadband is 1, the archive deadband 5, alarms change at 40 and 50, and the units write
# is the one property change.
MASK_UPDATES = {
    DBE_VALUE: [0.0, 2.0, 8.0, 45.0, 60.0, 61.5, 0.0],
    DBE_LOG: [0.0, 8.0, 45.0, 60.0, 0.0],
    DBE_ALARM: [0.0, 45.0, 60.0, 0.0],
    DBE_PROPERTY: [0.0, 0.0],
}


def masked_channel() -> ChannelDouble:
    """The channel MASK_UPDATES describes."""
    return ChannelDouble(value=0.0, value_atol=1.0, log_atol=5.0, upper_alarm_limit=50.0,
                         upper_warning_limit=40.0, lower_alarm_limit=-50.0,
                         lower_warning_limit=-40.0)


def drive_masked_channel(ca_server, channel: ChannelDouble) -> None:
    """Write MASK_WRITES, then change the units (a DBE_PROPERTY event)."""
    for value in MASK_WRITES:
        ca_server.call(channel.write(value))
    ca_server.call(channel.write_metadata(units="cm"))
