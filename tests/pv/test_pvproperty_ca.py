"""pvproperty over Channel Access: names, prefixes, the data type clients see for each
value/dtype, default values, strings (STRING, char arrays, ``NAME.$``, encodings,
max_length), enums and read-only PVs."""
import enum

import pytest

from iochost import ChannelType, PVGroup, PvpropertyFloat, pvproperty
from test_group_helpers import client, mount, wait_until  # noqa: F401  (fixtures)


class Color(enum.IntEnum):
    RED = 0
    GREEN = 1
    BLUE = 3


class Types(PVGroup):
    text = pvproperty(value="hello")
    raw = pvproperty(value=b"\x01\x02\x03")
    count = pvproperty(value=7)
    level = pvproperty(value=1.5)
    flag = pvproperty(value=True)
    color = pvproperty(value=Color.GREEN)
    string = pvproperty(value="text", dtype=ChannelType.STRING)
    short = pvproperty(value=3, dtype=ChannelType.INT)
    long32 = pvproperty(value=4, dtype=ChannelType.LONG)
    double = pvproperty(value=2, dtype=ChannelType.DOUBLE)
    f32 = pvproperty(value=2.5, dtype=ChannelType.FLOAT)
    choice = pvproperty(value="b", dtype=ChannelType.ENUM, enum_strings=["a", "b", "c"])
    chars = pvproperty(value="xyz", dtype=ChannelType.CHAR, max_length=20)
    waveform = pvproperty(value=[1.0, 2.0, 3.0])
    direct = pvproperty(value=6.5, dtype=PvpropertyFloat)
    renamed = pvproperty(value=1, name="other:name")
    note = pvproperty(value="n" * 60, report_as_string=True, max_length=100)
    tag = pvproperty(value="x", report_as_string=True, max_length=10)
    utf = pvproperty(value="h\u00e9llo", string_encoding="utf-8", max_length=20)
    locked = pvproperty(value=5, read_only=True)


@pytest.fixture
def types(mount, unique_prefix):
    return mount(Types(prefix=unique_prefix))


@pytest.mark.parametrize("name, native, count, value", [
    ("text", "CHAR", 256, list(b"hello")),       # room for longer text (TEXT_CAPACITY)
    ("raw", "CHAR", 3, [1, 2, 3]),
    ("count", "LONG", 1, 7),
    ("level", "DOUBLE", 1, 1.5),
    ("flag", "ENUM", 1, 1),
    ("color", "ENUM", 1, 1),
    ("string", "STRING", 1, "text"),
    ("short", "INT", 1, 3),
    ("long32", "LONG", 1, 4),
    ("double", "DOUBLE", 1, 2.0),
    ("f32", "FLOAT", 1, 2.5),
    ("choice", "ENUM", 1, 1),
    ("waveform", "DOUBLE", 3, [1.0, 2.0, 3.0]),
    ("direct", "FLOAT", 1, 6.5),
    ("other:name", "LONG", 1, 1),
    ("note", "STRING", 1, "n" * 39),
])
def test_clients_see_the_inferred_type(types, client, name, native, count, value):
    pvname = types.prefix + name
    assert client.native(pvname) == (native, count)
    got = client.value(pvname)
    assert got == (value[:count] if isinstance(value, list) and count < len(value) else value)


def test_default_pv_name_is_the_attribute_with_the_prefix(types):
    assert types.attr_to_pvname["count"] == types.prefix + "count"
    assert types.attr_to_pvname["renamed"] == types.prefix + "other:name"
    assert dict(types.attr_to_pvname) == {attr: channel.pvname
                                          for attr, channel in types.attr_pvdb.items()}
    assert types.count is types.pvdb[types.prefix + "count"]


def test_default_values_fill_in_for_dtype_only(mount, unique_prefix, client):
    class Defaults(PVGroup):
        default_values = {**PVGroup.default_values, float: 42.5, int: 7}
        f = pvproperty(dtype=float)
        i = pvproperty(dtype=int)
        s = pvproperty(dtype=ChannelType.STRING)
        e = pvproperty(dtype=Color)

    group = mount(Defaults(prefix=unique_prefix))
    assert client.value(group.prefix + "f") == 42.5
    assert client.value(group.prefix + "i") == 7
    assert client.value(group.prefix + "s") == ""
    assert client.value(group.prefix + "e") == 0     # first member: RED


def test_string_pv_holds_40_characters(types, client):
    pvname = types.prefix + "string"
    assert client.write(pvname, "x" * 39) == "ECA_NORMAL"
    assert client.value(pvname) == "x" * 39
    assert types.string.value == "x" * 39


def test_long_strings_via_dollar_field(types, client):
    note = types.prefix + "note"
    assert client.native(note + ".$") == ("CHAR", 100)
    assert bytes(client.read(note + ".$").data).rstrip(b"\0") == b"n" * 60
    long_text = "long " * 15
    assert client.write(note + ".$", list(long_text.encode()) + [0]) == "ECA_NORMAL"
    assert types.note.value == long_text
    assert client.value(note) == long_text[:39]


def test_a_string_put_longer_than_the_text_is_cut_to_its_size(types, client):
    """One DBR_STRING is the one element the channel announced: a text longer than
    max_length is cut to it, as dbPut copies at most a field's size (not ECA_BADCOUNT,
    which libca's callers such as pyepics' caput(wait=True) did not even report)."""
    assert client.write(types.prefix + "tag", "twenty characters!!!") == "ECA_NORMAL"
    assert types.tag.value == "twenty cha" and client.value(types.prefix + "tag") == "twenty cha"


def test_string_encoding_applies_on_the_wire(types, client):
    pvname = types.prefix + "utf"
    assert bytes(client.read(pvname).data).rstrip(b"\0") == "h\u00e9llo".encode("utf-8")
    assert client.write(pvname, list("\u00fcber".encode("utf-8"))) == "ECA_NORMAL"
    assert types.utf.value == "\u00fcber"


def test_max_length_bounds_char_arrays(types, client):
    pvname = types.prefix + "chars"
    assert client.native(pvname) == ("CHAR", 20)
    assert client.write(pvname, list(b"0123456789")) == "ECA_NORMAL"
    assert types.chars.value == "0123456789"
    # more characters than max_length: the first 20 are kept, as RSRV's dbPut keeps NELM
    assert client.write(pvname, list(b"abcdefghij" * 3)) == "ECA_NORMAL"
    assert types.chars.value == "abcdefghij" * 2


@pytest.mark.parametrize("name, strings", [
    ("flag", ["Off", "On"]),
    ("color", ["RED", "GREEN", "2", "BLUE"]),
    ("choice", ["a", "b", "c"]),
])
def test_enum_strings(types, client, name, strings):
    response = client.read(types.prefix + name, data_type="control")
    assert [s.decode() if isinstance(s, bytes) else s
            for s in response.metadata.enum_strings] == strings


def test_enums_accept_index_and_string_puts(types, client):
    color = types.prefix + "color"
    assert client.write(color, "BLUE", data_type=ChannelType.STRING) == "ECA_NORMAL"
    assert client.value(color) == 3
    assert types.color.value == "BLUE"
    assert client.write(color, 0) == "ECA_NORMAL"
    assert types.color.value == "RED"
    flag = types.prefix + "flag"
    assert client.write(flag, "Off", data_type=ChannelType.STRING) == "ECA_NORMAL"
    assert types.flag.value == "Off"


def test_read_only_refuses_client_puts_but_not_code(types, client, ca_server):
    pvname = types.prefix + "locked"
    assert client.write(pvname, 9) == "ECA_NOWTACCESS"
    assert client.value(pvname) == 5
    ca_server.call(types.locked.write(6))
    assert client.value(pvname) == 6


def test_a_pv_may_be_called_name_groups_or_log_as_in_caproto(mount, unique_prefix, client):
    """``self.name`` (and ``groups``, ``log``) stay the group's own, as in caproto; the PV is
    served, its putter runs, and code reaches it through ``attr_pvdb``. Other attributes
    every group has are refused with a message that says what to do."""
    from iochost.pv.hooks import IocDefinitionError

    class Sample(PVGroup):
        name = pvproperty(value="sample1", dtype=ChannelType.STRING)
        groups = pvproperty(value=3)

        @name.putter
        async def name(self, instance, value):
            self.log.info("renamed %s", self.name)   # the group's name and logger
            return value.upper()

    group = mount(Sample(prefix=unique_prefix))
    assert group.name == "Sample" and group.groups == {}
    assert client.write(unique_prefix + "name", "abc") == "ECA_NORMAL"
    assert client.value(unique_prefix + "name") == "ABC"
    assert group.attr_pvdb["name"].value == "ABC" and client.value(unique_prefix + "groups") == 3
    with pytest.raises(IocDefinitionError, match="pvproperty\\(name='prefix'"):
        type("Bad", (PVGroup,), {"prefix": pvproperty(value=1)})


def test_bool_pvs_take_bools_from_code(mount, unique_prefix, client, ca_server):
    import numpy as np

    class Flags(PVGroup):
        plain = pvproperty(value=False)
        numpy_bool = pvproperty(value=np.bool_(True))

    group = mount(Flags(prefix=unique_prefix))
    assert client.value(group.prefix + "numpy_bool") == 1
    ca_server.call(group.plain.write(True))
    assert client.value(group.prefix + "plain") == 1 and group.plain.value == "On"
    ca_server.call(group.plain.write(np.bool_(False)))
    assert client.value(group.prefix + "plain") == 0


def test_field_spec_reuses_another_pvs_record_fields(mount, unique_prefix, client):
    # caproto's form: D = pvproperty(..., field_spec=B.field_spec) is an 'ao' like B and
    # shares B's field hooks
    class Records(PVGroup):
        plain = pvproperty(value=1.0)
        b = pvproperty(value=1.0, record="ao")

        @b.fields.current_raw_value.putter
        async def _b_raw(fields, instance, value):
            await fields.parent.group.seen.write(value)

        d = pvproperty(value=2.0, precision=3, field_spec=b.field_spec)
        seen = pvproperty(value=0)

    assert Records.plain.field_spec is None
    group = mount(Records(prefix=unique_prefix))
    assert client.value(group.prefix + "d.RTYP") == "ao"
    assert client.read(group.prefix + "d", data_type="control").metadata.precision == 3
    assert client.write(group.prefix + "d.RVAL", 17) == "ECA_NORMAL"
    assert wait_until(lambda: client.value(group.prefix + "seen") == 17)


def test_initial_values_caproto_accepts_are_converted_as_a_put_would_be(
        mount, unique_prefix, client, caplog):
    """caproto stores these as given; a put of the same value converts them, and so do we,
    with one WARNING per PV naming the class and attribute (a number into text, or a whole
    float into an enum, is what a write takes as it is: no warning)."""
    with caplog.at_level("WARNING", logger="iochost.pv.pvspec"):
        class Loose(PVGroup):
            text = pvproperty(value=5, dtype=ChannelType.STRING)
            state = pvproperty(value=1.0, dtype=ChannelType.ENUM, enum_strings=["a", "b"])
            flag = pvproperty(value=5, dtype=bool)
            level = pvproperty(value="1.5", dtype=float)

        group = mount(Loose(prefix=unique_prefix))
    assert (group.text.value, group.state.value, group.flag.value, group.level.value) == \
        ("5", "b", "On", 1.5)
    assert client.value(group.prefix + "text") == "5"
    assert client.value(group.prefix + "state") == 1
    assert client.value(group.prefix + "flag") == 1
    assert client.value(group.prefix + "level") == 1.5
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 2
    assert all("of Loose" in line for line in warned)
    assert any("'flag' of Loose" in line and "5 converted to 'On'" in line for line in warned)


def test_an_initial_value_with_no_conversion_says_how_to_fix_it(unique_prefix):
    from iochost.pv import IocDefinitionError

    class Hopeless(PVGroup):
        level = pvproperty(value="high", dtype=float)

    with pytest.raises(IocDefinitionError, match=r"'level' of Hopeless.*'high'.*give an "
                                                 r"initial value of the PV's type"):
        Hopeless(prefix=unique_prefix)


def test_units_the_string_encoding_cannot_send_are_an_error_that_says_what_to_do(
        unique_prefix):
    from iochost.pv import IocDefinitionError

    class Ohms(PVGroup):
        resistance = pvproperty(value=1.0, units="\u03a9")  # (latin-1 has no Omega)

    with pytest.raises(IocDefinitionError, match=r"'resistance' of Ohms.*units '\u03a9' are "
                                                 r"not latin-1 text: pass string_encoding="
                                                 r"'utf-8'") as raised:
        Ohms(prefix=unique_prefix)
    assert "initial value" not in str(raised.value)  # (the hint for values does not fit)


def test_utf8_units_reach_clients_and_the_egu_field(mount, unique_prefix, client):
    class Ohms(PVGroup):
        resistance = pvproperty(value=1.0, record="ai", units="\u03a9",
                                string_encoding="utf-8")

    ohms = mount(Ohms(prefix=unique_prefix))
    name = ohms.prefix + "resistance"
    units = client.pv(name).read(data_type="control", timeout=5).metadata.units
    assert units == "\u03a9".encode("utf-8")
    assert bytes(client.pv(name + ".EGU").read(timeout=5).data[0]) == "\u03a9".encode("utf-8")


@pytest.mark.parametrize("kwargs", [dict(value=2**40), dict(value=40000, dtype=ChannelType.INT),
                                    dict(value=1e39, dtype=ChannelType.FLOAT)])
def test_an_initial_number_its_type_cannot_hold_is_an_error(unique_prefix, kwargs):
    # a put's cast would make another number of it (2**40 as a LONG is 0)
    from iochost.pv import IocDefinitionError

    class TooBig(PVGroup):
        level = pvproperty(**kwargs)

    with pytest.raises(IocDefinitionError, match=r"'level' of TooBig.*out of the .* range.*"
                                                 r"the dtype that fits the value"):
        TooBig(prefix=unique_prefix)


def test_unsigned_and_64_bit_arrays_are_served_as_rsrv_serves_them(mount, unique_prefix,
                                                                   client):
    # CA has no unsigned or 64-bit type: RSRV serves USHORT as LONG and ULONG/INT64 as
    # DOUBLE; as SHORT or LONG these values would wrap (40000 -> -25536, 2**40 -> 0)
    import numpy as np

    class Detector(PVGroup):
        image = pvproperty(value=np.array([1, 40000, 65535], np.uint16))
        counts = pvproperty(value=np.array([4_000_000_000, 7], np.uint32))
        ticks = pvproperty(value=np.array([2**40, -3], np.int64))

    group = mount(Detector(prefix=unique_prefix))
    expected = {"image": ("LONG", [1, 40000, 65535]),
                "counts": ("DOUBLE", [4e9, 7.0]),
                "ticks": ("DOUBLE", [2.0**40, -3.0])}
    for attr, (native, values) in expected.items():
        name = group.prefix + attr
        assert client.native(name) == (native, len(values)), attr
        assert client.value(name) == values, attr
