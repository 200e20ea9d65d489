"""ECA status codes: hand-computed values, and names/texts against two independent sources.

EPICS' own libca (``ca_message`` through pyepics) is the reference for the texts. Which
libca pyepics loads depends on the session (its bundled one, or epicscorelibs' once that is
imported); EPICS base 7.0.10 corrected three spellings that older bases have, and we use
the corrected ones. caproto agrees on every name and value; its texts differ from libca's
for a few codes (listed below), and there we follow libca.
"""
import caproto._status as caproto_status
import pytest

from iochost.ca.eca import EcaStatus, Severity, eca_message, eca_name, eca_severity, is_success

# name -> value = message number << 3 | severity, worked out by hand
HAND = {
    "ECA_NORMAL": 0 << 3 | 1,
    "ECA_TIMEOUT": 10 << 3 | 0,
    "ECA_BADTYPE": 14 << 3 | 2,
    "ECA_CHIDNOTFND": 15 << 3 | 3,
    "ECA_INTERNAL": 17 << 3 | 6,
    "ECA_PUTFAIL": 20 << 3 | 0,
    "ECA_BADCOUNT": 22 << 3 | 0,
    "ECA_NOWTACCESS": 47 << 3 | 0,
    "ECA_NOCONVERT": 50 << 3 | 0,
    "ECA_UNRESPTMO": 60 << 3 | 0,
}

#: codes whose caproto text is not libca 7.0.10's: caproto keeps the older spellings, uses
#: ';' or a typographic quote, and says "variable name" where libca says "variable names"
CAPROTO_TEXT_DIFFERS = {"ECA_BADTYPE", "ECA_NOCACTX", "ECA_DLCKREST", "ECA_NEEDSFP",
                        "ECA_NOREPEATER", "ECA_NOCHANMSG", "ECA_SERVBEHIND",
                        "ECA_16KARRAYCLIENT", "ECA_DBLCHNL"}


@pytest.mark.parametrize("name, value", HAND.items())
def test_hand_computed_values(name, value):
    assert EcaStatus[name] == value and eca_name(value) == name


def test_all_sixty_one_codes():
    assert [code.value >> 3 for code in EcaStatus] == list(range(61))


#: the spellings of EPICS bases before 7.0.10
OLDER_BASE_TEXT = {
    "ECA_BADTYPE": "The data type specifed is invalid",
    "ECA_NOCACTX": "Specified task isnt a member of a CA context",
    "ECA_DLCKREST": "Reseting dead connection- will try to reconnect",
}


def test_texts_are_libcas(pyepics):
    differs = {code.name: pyepics.ca.message(code.value) for code in EcaStatus
               if eca_message(code) != pyepics.ca.message(code.value)}
    assert differs in ({}, OLDER_BASE_TEXT)


def test_names_and_values_match_caproto():
    for code in EcaStatus:
        theirs = caproto_status.eca_value_to_status[code.value]
        assert theirs.name == code.name
        assert (theirs.description == eca_message(code)) is \
            (code.name not in CAPROTO_TEXT_DIFFERS), code.name


def test_severity_and_success_bits():
    assert eca_severity(EcaStatus.ECA_INTERNAL) is Severity.FATAL
    assert eca_severity(EcaStatus.ECA_BADTYPE) is Severity.ERROR
    assert [is_success(c) for c in (EcaStatus.ECA_NORMAL, EcaStatus.ECA_CHIDNOTFND,
                                    EcaStatus.ECA_PUTFAIL, EcaStatus.ECA_BADTYPE)] == \
        [True, True, False, False]


def test_unknown_codes_are_named_as_such():
    assert eca_name(7) == "ECA_?7"
    assert eca_message(7) == "unknown ECA status 7"
