"""The synApps .sav format: a hand-written C-IOC file restored over CA, our files read back
by an independent parser written from dbrestore.c's rules, and the parser's edge cases."""
from __future__ import annotations

import logging
import re
from datetime import datetime

import pytest

from iochost.helpers.savfile import SavFormatError, format_sav, parse_sav, unescape_text

TIMEOUT = 5.0

# Written by hand from the format (as synApps' save_restore.c would write it, with a few
# things a person editing one does): a '!' line, '#' comments, NAME.VAL and NAME forms,
# C escapes, a long string (NAME$), arrays over two lines with escaped quotes. (A backslash
# inside an array element takes four: dbrestore unescapes elements twice.)
HAND_WRITTEN = r"""# autosave R5.10	Automatically generated - DO NOT MODIFY - 250101-120000
! 1 channel(s) not connected - or not all gets were successful
$(P)gain.VAL 12.345678901234
$(P)count -42
$(P)mode 1
$(P)label tab\there \"quoted\" back\\slash
#$(P)unsaved 5
$(P)note$ A long string with more than forty characters in it, \x41 and \101 escapes
$(P)table @array@ { "1.5" "-2" "3e-05"
 "4" }
$(P)names @array@ { "plain" "with \"quotes\"" "back\\\\slash" }
$(P)speed.EGU deg
$(P)speed.HIHI 170
$(P)offset 1e300
$(P)nothere 1
<END>
"""


@pytest.mark.parametrize("names", ["relative", "full"])
def test_a_hand_written_synapps_file_restores_into_a_mount(start_host, unique_prefix, pyepics,
                                                          caproto_context, tmp_path, caplog,
                                                          names):
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    # a C IOC's file names its PVs in full (its request file's $(P)); ours relative to the
    # mount's prefix: both restore
    (directory / "auto_settings.sav").write_text(HAND_WRITTEN.replace(
        "$(P)", unique_prefix if names == "full" else ""), encoding="latin-1")
    caplog.set_level(logging.WARNING)
    start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {autosave: {period: 60}}}
        """, unique_prefix)
    P = unique_prefix
    assert pyepics.caget(P + "gain", timeout=TIMEOUT) == 12.345678901234
    assert pyepics.caget(P + "count") == -42
    assert pyepics.caget(P + "mode", as_string=True) == "On"
    label = caproto_context.get_pvs(P + "label")[0].read(data_type="native").data[0]
    assert label == b'tab\there "quoted" back\\slash'
    assert pyepics.caget(P + "note", as_string=True) == \
        "A long string with more than forty characters in it, A and A escapes"
    assert list(pyepics.caget(P + "table")) == [1.5, -2.0, 3e-05, 4.0]
    names = caproto_context.get_pvs(P + "names")[0].read(data_type="native").data
    assert names == [b"plain", b'with "quotes"', b"back\\slash"]
    assert pyepics.caget(P + "speed.EGU", as_string=True) == "deg"
    assert pyepics.caget(P + "speed.HIHI") == 170.0
    assert pyepics.caget(P + "unsaved") == 0.0          # '#' lines are not restored
    assert pyepics.caget(P + "offset") == 1e300
    warnings = [record.getMessage() for record in caplog.records]
    assert any("auto_settings.sav:15" in text and "nothere" in text for text in warnings)


def test_values_that_no_longer_fit_are_skipped_with_file_and_line(start_host, unique_prefix,
                                                                   pyepics, tmp_path, caplog):
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_settings.sav").write_text(
        "# autosave R5.11\tx\ngain 1000\nmode 7\ncount twelve\n"
        "table @array@ { \"1\" \"2\" \"3\" \"4\" \"5\" }\nlabel fine\n<END>\n",
        encoding="latin-1")
    caplog.set_level(logging.WARNING)
    start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {autosave: {}}}
        """, unique_prefix)
    P = unique_prefix
    assert pyepics.caget(P + "label", as_string=True, timeout=TIMEOUT) == "fine"
    assert pyepics.caget(P + "gain") == 1.0                # limit 100: the default stays
    assert pyepics.caget(P + "mode", as_string=True) == "Off"
    assert pyepics.caget(P + "count") == 0
    # an array saved longer than NELM: its first NELM elements, as dbrestore restores them
    assert list(pyepics.caget(P + "table")) == [1.0, 2.0, 3.0, 4.0]
    text = "\n".join(record.getMessage() for record in caplog.records)
    for line, what in ((2, "gain"), (3, "mode"), (4, "count")):
        assert re.search(rf"auto_settings\.sav:{line}: '{what}'", text), (line, text)
    assert "'table'" not in text and "out of range" in text


# -- an independent reader, written from dbrestore.c's rules -----------------------------------
def dbrestore_read(data: bytes) -> dict[str, object]:
    """Read .sav bytes the way dbrestore.c does: checkFile (version >= 1.8 needs '<END>' in
    the last 6 or 7 bytes), then per line sscanf("%80s%c%[^\\n\\r]"), '#'/'!' lines, arrays
    parsed character by character, epicsStrnRawFromEscaped on values."""
    header = data.split(b"\n", 1)[0]
    version = re.search(rb"[RV](\d+\.?\d*)", header)
    if version and float(version.group(1)) >= 1.8:
        assert data[-6:-1] == b"<END>" or data[-7:-2] == b"<END>", "file not trusted"
    values: dict[str, object] = {}
    lines = data.split(b"\n")
    index = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        match = re.match(rb"\s*(\S{1,80})(?:[\s\S])?([^\n\r]*)", raw)
        if not match:
            continue
        name, value = match.group(1).decode(), match.group(2)
        if name.startswith("<END>"):
            break
        if name[0] in "#!":
            continue
        if value.startswith(b"@array@"):
            text = value
            elements, position = [], text.index(b"{") + 1
            while True:
                if position >= len(text):
                    text, position = lines[index], 0
                    index += 1
                    continue
                char = text[position:position + 1]
                position += 1
                if char == b"}":
                    break
                if char != b'"':
                    continue
                element = b""
                while text[position:position + 1] != b'"':
                    char = text[position:position + 1]
                    if char == b"\\" and text[position + 1:position + 2] in (b'"', b"\\"):
                        position += 1                      # the escape is dropped
                        char = text[position:position + 1]
                    if 32 <= char[0] < 127:                # isprint(): others are dropped
                        element += char
                    position += 1
                position += 1
                elements.append(unescape_c(element))
            values[name] = elements
        else:
            values[name] = unescape_c(value)
    return values


def unescape_c(raw: bytes) -> str:
    """epicsStrnRawFromEscaped, written out."""
    out, position = bytearray(), 0
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("a"): 7, ord("b"): 8, ord("f"): 12,
              ord("v"): 11, ord("\\"): 92, ord("'"): 39, ord('"'): 34}
    while position < len(raw):
        byte = raw[position]
        position += 1
        if byte != 92 or position >= len(raw):
            out.append(byte)
            continue
        code = raw[position]
        position += 1
        if code in simple:
            out.append(simple[code])
        elif code == ord("x"):
            digits = re.match(rb"[0-9a-fA-F]{1,2}", raw[position:]).group()
            out.append(int(digits, 16))
            position += len(digits)
        elif 48 <= code <= 55:
            digits = re.match(rb"[0-7]{0,2}", raw[position:]).group()
            out.append(int(bytes([code]) + digits, 8))
            position += len(digits)
        else:
            out.append(code)
    return out.decode("latin-1")


def test_our_files_read_back_with_an_independent_reader(start_host, unique_prefix, pyepics,
                                                        tmp_path):
    host = start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {autosave: {period: 60}}}
        """, unique_prefix)
    P = unique_prefix
    label = 'q"uote \\ back\ttab'
    for name, value in (("gain", 1 / 3), ("count", 123456), ("mode", 2), ("label", label),
                        ("offset", -1.25e-300), ("table", [1e-20, 2.5, 3, 4])):
        assert pyepics.caput(P + name, value, wait=True, timeout=TIMEOUT) == 1
    pyepics.caput(P + "note", "x" * 150 + " end", wait=True, timeout=TIMEOUT)
    start_host.stop(host)
    data = (tmp_path / "autosave" / "settings" / "auto_settings.sav").read_bytes()
    values = dbrestore_read(data)
    assert values["gain"] == "%.14g" % (1 / 3) == "0.33333333333333"
    assert values["count"] == "123456" and values["mode"] == "2"
    assert values["label"] == label
    assert values["offset"] == "-1.25e-300"
    assert values["table"] == ["1e-20", "2.5", "3", "4"]
    assert values["note$"] == "x" * 150 + " end"
    assert values["names"] == ["a", "b", "c"]
    assert data.startswith(b"# iochost-autosave R5.11\tAutomatically generated - DO NOT MODIFY")
    assert data.endswith(b"\n<END>\n") and data.isascii()


# -- the parser on its own --------------------------------------------------------------------
@pytest.mark.parametrize("cut", [1, 5, 6, 20])
def test_a_truncated_file_is_refused_with_its_line(cut):
    text = format_sav([("a", "1"), ("b", ["1", "2"])], when=datetime(2026, 1, 2, 3, 4, 5))
    with pytest.raises(SavFormatError, match=r"^x\.sav:\d+: "):
        parse_sav(text[:-cut], "x.sav")


def test_a_file_without_a_version_is_trusted_without_end_marker():
    assert parse_sav("A:b 1\n").values()["A:b"].value == "1"
    old = parse_sav("# save_restore V1.7\nA:b 2\n")
    assert old.values()["A:b"].value == "2" and old.complete


def test_write_then_parse_is_the_identity_for_awkward_text():
    awkward = ["", " leading", "trailing ", "\x01\x7f\xff", 'all "\\\'\n\r\t\a\b\f\v', "é"]
    text = format_sav([(f"s{i}", value) for i, value in enumerate(awkward)] +
                      [("arr", awkward)], when=datetime.now())
    assert text.isascii()
    parsed = parse_sav(text).values()
    assert [parsed[f"s{i}"].value for i in range(len(awkward))] == awkward
    assert list(parsed["arr"].value) == awkward
    # dbrestore's two stages read the array back too
    assert dbrestore_read(text.encode("ascii"))["arr"] == awkward


def test_unescape_handles_hex_and_octal():
    assert unescape_text(r"\x41\101\q\\") == "AAq\\"


@pytest.mark.parametrize("text", ["", "\n", "  \r\n"])
def test_an_empty_file_is_not_a_save(text):
    # checkFile: a file without a header line is bad, so the restore falls back to .savB
    with pytest.raises(SavFormatError, match=r"^x\.sav:1: the file is empty"):
        parse_sav(text, "x.sav")


def test_a_line_that_is_not_a_pv_name_is_skipped_and_the_rest_restores():
    text = ('# autosave R5.11\na 1\n%%% a hand edit\n-b @array@ { "1"\n "2" }\nc 3\n<END>\n')
    parsed = parse_sav(text, "x.sav")
    assert {name: entry.value for name, entry in parsed.values().items()} == \
        {"a": "1", "c": "3"}
    assert parsed.skipped == ["x.sav:3: '%%%' is not a PV name; line skipped",
                              "x.sav:4: '-b' is not a PV name; line skipped"]


def test_an_enum_is_saved_and_restored_as_its_index_when_states_share_a_text():
    """An mbbo's unused states are all '': state 3 is saved as 3 and restored as 3 (the
    text detour saved and restored the first state with that text, 2)."""
    import asyncio

    from iochost.helpers.savvalues import saved_text, value_from_entry
    from iochost.pv.data import ChannelEnum

    saved = ChannelEnum(enum_strings=["Off", "On", "", ""], value=3)
    assert saved.raw_value == 3 and saved_text(saved) == "3"
    restored = ChannelEnum(enum_strings=["Off", "On", "", ""], value="Off")
    (entry,) = parse_sav(format_sav([("mb", saved_text(saved))],
                                    when=datetime(2026, 12, 5))).values().values()

    async def restore():
        await restored.write(value_from_entry(restored, entry), verify_value=False)
    asyncio.run(restore())
    assert restored.raw_value == 3


def test_a_text_that_starts_like_an_array_is_written_so_that_it_reads_back():
    text = format_sav([("note", "@array@ see manual"), ("x", "1")], when=datetime(2026, 12, 5))
    values = parse_sav(text).values()
    assert values["note"].value == "@array@ see manual" and values["x"].value == "1"


def test_a_char_waveforms_bytes_restore_a_text_pv_whole():
    """A C IOC saves a CHAR waveform as its NORD bytes: restored to a text PV, they keep a
    NUL inside the text and lose only the ones that end it; a text PV's own save (its
    text, C-escaped) reads back the same."""
    from iochost.helpers.savvalues import saved_text, value_from_entry
    from iochost.pv.data import ChannelChar

    channel = ChannelChar(value="", max_length=10)
    text = '# autosave R5.11\nwf @array@ { "104" "0" "105" "0" "0" }\n<END>\n'
    (entry,) = parse_sav(text).values().values()
    assert value_from_entry(channel, entry) == "h\x00i"
    saved = ChannelChar(value="h\x00i", max_length=10)
    (entry,) = parse_sav(format_sav([("wf", saved_text(saved))],
                                    when=datetime(2026, 12, 5))).values().values()
    assert value_from_entry(channel, entry) == "h\x00i"


def test_text_of_a_utf8_pv_round_trips_as_its_bytes():
    """A .sav file holds the bytes clients read: a UTF-8 PV's text is saved as its UTF-8
    bytes (as a C IOC saves them) and restored whole; a latin-1 PV's as latin-1 bytes."""
    from iochost.helpers.savvalues import saved_text, value_from_entry
    from iochost.pv.data import ChannelString

    for encoding in ("utf-8", "latin-1"):
        saved = ChannelString(value="7 € Å"[: None if encoding == "utf-8" else 2] + "Å",
                              string_encoding=encoding)
        text = format_sav([("s", saved_text(saved))], when=datetime(2026, 12, 5))
        assert text.isascii()
        (entry,) = parse_sav(text).values().values()
        assert entry.value.encode("latin-1") == saved.value.encode(encoding)
        restored = ChannelString(value="", string_encoding=encoding)
        assert value_from_entry(restored, entry) == saved.value


def test_lines_end_at_newlines_only_and_the_end_marker_may_be_followed_by_space():
    """dbrestore reads lines with fgets (a Latin-1 \\x85 or a form feed is text) and its
    checkFile takes '<END>' followed by anything."""
    text = "# autosave R5.11\nd \xc5ngstr\xf6m\x85\x0cx\nn 2\n<END> \n"
    parsed = parse_sav(text, "x.sav")
    assert {n: e.value for n, e in parsed.values().items()} == \
        {"d": "\xc5ngstr\xf6m\x85\x0cx", "n": "2"}
    assert parsed.complete and not parsed.skipped


def test_an_array_saved_longer_than_the_pv_restores_its_first_max_length_elements():
    """As dbrestore restores the first NELM elements of a longer saved array."""
    from iochost.helpers.savvalues import value_from_entry
    from iochost.pv.data import ChannelDouble, ChannelString

    text = ('# autosave R5.11\nnums @array@ { "1" "2" "3" "4" }\n'
            'words @array@ { "a" "b" "c" }\n<END>\n')
    entries = parse_sav(text).values()
    numbers = ChannelDouble(value=[0.0, 0.0], max_length=2)
    assert list(value_from_entry(numbers, entries["nums"])) == [1.0, 2.0]
    words = ChannelString(value=["", ""], max_length=2)
    assert list(value_from_entry(words, entries["words"])) == ["a", "b"]
