"""synApps request files: includes with macros, comments, a search path; the autosave helper
saves what they name."""
from __future__ import annotations

import pytest

from iochost.helpers.reqfile import RequestFileError, read_request_file
from iochost.helpers.savfile import parse_sav

TIMEOUT = 5.0


def test_includes_macros_comments_and_the_search_path(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "axis.req").write_text(
        "# one axis\n$(P)$(M).VAL\n$(P)$(M).EGU   # units\n${P}$(M)_note$(S=)\n")
    top = tmp_path / "top.req"
    top.write_text('file "axis.req", P=$(P), M=m1\nfile axis.req M=m2,S=$\n\n$(P)gain\n')
    names = read_request_file(top, {"P": "BL:"}, [tmp_path / "lib"])
    assert names == ["BL:m1.VAL", "BL:m1.EGU", "BL:m1_note", "BL:m2.VAL", "BL:m2.EGU",
                     "BL:m2_note$", "BL:gain"]


def test_macros_as_synapps_reads_them(tmp_path):
    """readReqFile: space-separated macros on a ``file`` line (quotes dropped), references
    that nest and defaults that hold references (macLib), lines ended by newlines only."""
    (tmp_path / "sub.req").write_text("$(P)$(R)\n$(P)$(X$(N=1)=mbbo)\n$(Q=$(P)bo)\n")
    top = tmp_path / "top.req"
    top.write_bytes(b'file sub.req P=$(P) R=flt\nfile "sub.req" "P=$(P)", R=lng X1=a\n'
                    b"$(P)\xc5ngstr\xf6m\x85x\r\n")
    names = read_request_file(top, {"P": "xxx:"}, [tmp_path])
    assert names == ["xxx:flt", "xxx:mbbo", "xxx:bo", "xxx:lng", "xxx:a", "xxx:bo",
                     "xxx:\xc5ngstr\xf6m\x85x"]


def test_a_missing_include_or_undefined_macro_leaves_out_that_line_only(tmp_path):
    """As readReqFile: the rest of the file is still read (the set still saves)."""
    top = tmp_path / "top.req"
    top.write_text("$(P)a\nfile optional_module.req\n$(NOPE)b\nfile top.req\n$(P)c\n")
    problems: list[str] = []
    assert read_request_file(top, {"P": "x:"}, [tmp_path], problems) == ["x:a", "x:c"]
    assert [p.split(": ", 1)[0] for p in problems] == [f"{top}:2", f"{top}:3", f"{top}:4"]
    assert "not found" in problems[0] and "NOPE" in problems[1] and "itself" in problems[2]


@pytest.mark.parametrize("text, message", [
    ("file missing.req\n", "request file 'missing.req' not found"),
    ("$(UNDEFINED)x\n", r"undefined macro \$\(UNDEFINED\)"),
    ("file self.req\n", "includes itself"),
])
def test_errors_name_the_file_and_line(tmp_path, text, message):
    (tmp_path / "self.req").write_text(text)
    with pytest.raises(RequestFileError, match=message) as error:
        read_request_file(tmp_path / "self.req", {}, [tmp_path])
    assert "self.req:1" in str(error.value)


def test_the_helper_saves_what_a_request_file_names(start_host, unique_prefix, pyepics, tmp_path):
    (tmp_path / "auto_settings.req").write_text("$(P)unsaved\n$(P)speed.LOPR\n")
    host = start_host(f"""\
        mounts:
          - {{name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {{autosave: {{request: auto_settings.req, request_path: ['{tmp_path}']}}}}}}
        """, unique_prefix)
    assert pyepics.caput(unique_prefix + "unsaved", 5.5, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caput(unique_prefix + "speed.LOPR", -2, wait=True, timeout=TIMEOUT) == 1
    start_host.stop(host)
    saved = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    entries = parse_sav(saved.read_text(encoding="latin-1")).values()
    assert entries["unsaved"].value == "5.5" and entries["speed.LOPR"].value == "-2"


def test_the_save_set_is_named_after_its_request_file(start_host, unique_prefix, pyepics,
                                                      tmp_path):
    """As synApps: request auto_positions.req -> auto_positions.sav (a C IOC's file is the
    one restored), saved every 5 s as a positions set."""
    (tmp_path / "auto_positions.req").write_text("$(P)unsaved\n")
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_positions.sav").write_text(
        f"# save/restore V5.11\tAutomatically generated - DO NOT MODIFY\n"
        f"{unique_prefix}unsaved 42.5\n<END>\n")
    host = start_host(f"""\
        mounts:
          - {{name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {{autosave: {{request: auto_positions.req,
                                   request_path: ['{tmp_path}']}}}}}}
        """, unique_prefix)
    assert pyepics.caget(unique_prefix + "unsaved", timeout=TIMEOUT) == 42.5
    (helper,) = host.mounts["settings"].helpers
    assert helper.saveset.files.name == "auto_positions" and helper.saveset.period == 5.0
    assert not (directory / "auto_settings.sav").exists()
