"""The IOC framework: channel data, PVGroup, pvproperty and friends (caproto's server API).

IOC code imports from the top-level package: ``from iochost import PVGroup, pvproperty``.
Names load on first use, so ``import iochost.pv.data`` (the server's view) does not pull
in the whole framework.
"""
from importlib import import_module

#: public name -> the module of this package that defines it
_HOME = {
    **dict.fromkeys(("PVGroup",), "group"),
    **dict.fromkeys(("pvproperty", "NestedPvproperty"), "pvproperties"),
    **dict.fromkeys(("SubGroup", "get_pv_pair_wrapper"), "subgroup"),
    **dict.fromkeys(("pvfunction",), "pvfunction"),
    **dict.fromkeys(("PVSpec", "expand_macros", "channeldata_from_pvspec",
                     "data_class_from_pvspec"), "pvspec"),
    **dict.fromkeys(("scan_wrapper", "IocDefinitionError"), "hooks"),
    **dict.fromkeys(("ioc_arg_parser", "template_arg_parser", "run", "start_server",
                     "Context"), "standalone"),
    **dict.fromkeys(("start_group", "stop_group", "HookRunner"), "lifecycle"),
    **dict.fromkeys(("AsyncLibraryLayer", "AsyncioAsyncLayer"), "async_lib"),
    **dict.fromkeys(("AlarmStatus", "AlarmSeverity", "ChannelAlarm"), "alarms"),
    **dict.fromkeys(("SkipWrite", "Forbidden", "ChannelData", "ChannelNumeric",
                     "ChannelDouble", "ChannelFloat",
                     "ChannelInteger", "ChannelShort", "ChannelEnum", "ChannelChar",
                     "ChannelByte", "ChannelString", "TimeStamp"), "data"),
    **dict.fromkeys(("PvpropertyData", "PvpropertyReadOnlyData",
                     "PvpropertyChar", "PvpropertyByte", "PvpropertyShort",
                     "PvpropertyInteger", "PvpropertyFloat", "PvpropertyDouble",
                     "PvpropertyString", "PvpropertyEnum", "PvpropertyBoolEnum",
                     "PvpropertyCharRO", "PvpropertyByteRO", "PvpropertyShortRO",
                     "PvpropertyIntegerRO", "PvpropertyFloatRO", "PvpropertyDoubleRO",
                     "PvpropertyStringRO", "PvpropertyEnumRO", "PvpropertyBoolEnumRO"), "types"),
}
_ELSEWHERE = {"ChannelType": "iochost.ca.dbr", "AccessRights": "iochost.ca.dbr"}

__all__ = [*_HOME, *_ELSEWHERE]


def __getattr__(name: str):
    if name in _HOME:
        module = import_module(f"{__name__}.{_HOME[name]}")
    elif name in _ELSEWHERE:
        module = import_module(_ELSEWHERE[name])
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
