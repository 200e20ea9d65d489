"""The busy record (synApps *busy*): a bo whose non-zero state lasts while work is done.

Declared as ``pvproperty(value="Done", enum_strings=["Done", "Acquire"], record="busy",
dtype=ChannelType.ENUM)``.  A put of a non-zero state is visible to readers at once (it is
stored and posted before the putter runs); the putter does the work (an exposure...);
when it returns, the record goes back to state 0 ("Done") -- unless the putter returned
another value, which is stored instead, or raised ``SkipWrite``, which leaves the record
busy until the IOC writes state 0 itself (the busy record's device-clears-it style).  A
put with completion completes when the putter returns, as ``ca_put_callback`` on a busy
record completes when it returns to 0.  A put of state 0 is an ordinary put.
"""
from __future__ import annotations

from typing import Any

from ..pv.types import PvpropertyData
from . import behaviour
from .registry import builtin_field_set

__all__ = ["BusyFields"]


class BusyFields(builtin_field_set("bo")):  # type: ignore[misc]
    """The fields of a bo (the busy record adds none a pvproperty needs), RTYP busy."""

    __slots__ = ()
    _record_type = "busy"

    async def process(self, instance: PvpropertyData, value: Any) -> Any:
        if behaviour.disabled(self) or not instance.get_raw_value(value):
            return await super().process(instance, value)
        instance._commit(value, 0, {})   # busy now, for every reader
        result = await super().process(instance, value)
        if result is None or result == value:
            return instance.enum_strings[0]
        return result
