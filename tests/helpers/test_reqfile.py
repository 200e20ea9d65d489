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


@pytest.mark.parametrize("text, message", [
    ("file missing.req\n", "request file 'missing.req' not found"),
    ("$(UNDEFINED)x\n", r"macro \$\(UNDEFINED\) is not defined"),
    ("file self.req\n", "includes itself"),
])
def test_errors_name_the_file_and_line(tmp_path, text, message):
    (tmp_path / "self.req").write_text(text)
    with pytest.raises(RequestFileError, match=message) as error:
        read_request_file(tmp_path / "self.req", {}, [tmp_path])
    assert "self.req:1" in str(error.value)


def test_the_helper_saves_what_a_request_file_names(start_host, unique_prefix, pyepics, tmp_path):
    (tmp_path / "settings.req").write_text("$(P)unsaved\n$(P)speed.LOPR\n")
    host = start_host(f"""\
        mounts:
          - {{name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {{autosave: {{request: settings.req, request_path: ['{tmp_path}']}}}}}}
        """, unique_prefix)
    assert pyepics.caput(unique_prefix + "unsaved", 5.5, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caput(unique_prefix + "speed.LOPR", -2, wait=True, timeout=TIMEOUT) == 1
    start_host.stop(host)
    saved = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    entries = parse_sav(saved.read_text(encoding="latin-1")).values()
    assert entries["unsaved"].value == "5.5" and entries["speed.LOPR"].value == "-2"
