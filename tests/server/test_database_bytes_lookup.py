"""PVDatabase's lookup by the bytes a client sent (search replies and CREATE_CHAN use it):
it must follow every way the mapping changes, and resolve as ``resolve`` does."""
import pytest

from iochost.server.database import PVDatabase


class Entry:
    """A stand-in channel: only fields and long strings matter to resolution."""

    def __init__(self, name, fields=()):
        self.name = name
        self.fields = {field: Entry(f"{name}.{field}") for field in fields}

    def get_field(self, field):
        return self if field in ("", "VAL") else self.fields.get(field)

    def long_string(self):
        return Entry(self.name + "$")


def served(db):
    serves = db.search_predicate()
    return {name for name in ("A", "B", "C", "Ä") if serves(name.encode())}


def test_index_follows_every_mutation():
    db = PVDatabase({"A": Entry("A")})
    serves = db.search_predicate()  # taken once, as the server does: must see later changes
    db["B"] = Entry("B")
    db.update({"C": Entry("C"), "Ä": Entry("Ä")})
    assert served(db) == {"A", "B", "C", "Ä"} and serves(b"B")
    del db["A"]
    db.remove_many(["B", "missing"])
    assert served(db) == {"C", "Ä"} and not serves(b"B")
    db["C"] = Entry("C")  # a replacement keeps the name served
    assert served(db) == {"C", "Ä"}


@pytest.mark.parametrize("raw, expected", [
    (b"REC", ("REC", "REC", "REC")),
    (b"REC.VAL", ("REC.VAL", "REC", "REC")),
    (b"REC.EGU", ("REC.EGU", "REC", "REC.EGU")),
    (b"REC.EGU$", ("REC.EGU$", "REC", "REC.EGU$")),
    (b"REC$", ("REC$", "REC", "REC$")),
    (b"\xc3\x84", ("\u00c4", "\u00c4", "\u00c4")),  # UTF-8 names match their str key
    (b"REC.NOPE", None),
    (b"NOPE", None),
    (b"\xff\xfe", None),
    (b"\xff", None),  # invalid UTF-8 is not the name its replacement character spells
    (b"LONE\xed\xa0\x80", ("LONE\ud800", "LONE\ud800", "LONE\ud800")),  # a lone surrogate
])
def test_resolve_bytes_agrees_with_resolve(raw, expected):
    db = PVDatabase({"REC": Entry("REC", fields=("EGU",)), "\u00c4": Entry("\u00c4"),
                     "\ufffd": Entry("\ufffd"), "LONE\ud800": Entry("LONE\ud800")})
    found = db.resolve_bytes(raw)
    got = None if found is None else (found[0], found[1], found[2].name)
    assert got == expected
    assert (db.search_predicate()(raw)) is (expected is not None)
    if expected is not None:
        assert db.resolve(expected[0]) is not None
