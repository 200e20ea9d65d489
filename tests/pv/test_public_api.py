"""The public names: ``iochost.__all__`` is exactly what the package exports, and an IOC
written for caproto's server imports everything it needs from ``iochost``."""
import subprocess
import sys
import types

import iochost
import iochost.pv

REQUIRED = {
    "PVGroup", "pvproperty", "SubGroup", "PVSpec", "get_pv_pair_wrapper", "scan_wrapper",
    "ioc_arg_parser", "template_arg_parser", "run", "SkipWrite", "ChannelType", "AlarmStatus",
    "AlarmSeverity", "AsyncLibraryLayer",
    "ChannelData", "ChannelDouble", "ChannelFloat", "ChannelInteger", "ChannelShort",
    "ChannelEnum", "ChannelChar", "ChannelByte", "ChannelString", "ChannelAlarm",
    *(f"Pvproperty{kind}{ro}" for kind in ("Char", "Byte", "Short", "Integer", "Float",
                                          "Double", "String", "Enum", "BoolEnum")
      for ro in ("", "RO")),
}


def test_all_lists_the_exports():
    assert set(iochost.__all__) >= REQUIRED
    assert len(iochost.__all__) == len(set(iochost.__all__))
    for name in iochost.__all__:
        assert getattr(iochost, name) is not None, name
    # the framework's names, plus caproto's helper classes (served by iochost.helpers)
    assert set(iochost.__all__) - {"__version__"} == \
        set(iochost.pv.__all__) | set(iochost._HELPERS)
    assert all(getattr(iochost.helpers, name) is getattr(iochost, name)
               for name in iochost._HELPERS)
    public = {name for name in dir(iochost) if not name.startswith("_")
              and not isinstance(getattr(iochost, name), types.ModuleType)}
    assert public <= set(iochost.__all__), "exported but not in __all__"


def test_star_import_gives_all_names():
    namespace: dict = {}
    exec("from iochost import *", namespace)
    assert set(namespace) >= REQUIRED


def test_names_are_the_framework_objects():
    from iochost.ca.dbr import ChannelType
    from iochost.pv.data import SkipWrite
    from iochost.pv.group import PVGroup
    assert iochost.PVGroup is PVGroup and iochost.ChannelType is ChannelType
    assert iochost.SkipWrite is SkipWrite
    assert callable(iochost.pvproperty) and isinstance(iochost.pvproperty, type)


def test_unknown_name_is_an_attribute_error():
    try:
        iochost.NoSuchThing  # noqa: B018 -- the attribute access is the test
    except AttributeError as ex:
        assert "NoSuchThing" in str(ex)
    else:
        raise AssertionError("expected AttributeError")


def test_import_iochost_does_not_load_the_framework():
    code = ("import sys, iochost; "
            "print(sorted(m for m in sys.modules if m.startswith('iochost.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['iochost.pv']"
