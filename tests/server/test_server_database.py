"""PVDatabase: name resolution (fields, long strings) and removal notifications.

The entries here are minimal stand-ins that only answer ``get_field`` / ``long_string``: the
database is a plain mapping plus resolution, and that is what these tests exercise.
"""
from iochost.pv.data import ChannelDouble
from iochost.server.database import PVDatabase


class Entry:
    def __init__(self, name, fields=(), long_string=True):
        self.name = name
        self.fields = {field: Entry(f"{name}.{field}", long_string=long_string)
                       for field in fields}
        self.has_long_string = long_string

    def get_field(self, field):
        return self if field in ("", "VAL") else self.fields.get(field)

    def long_string(self):
        return Entry(self.name + "$", long_string=False) if self.has_long_string else None


def test_exact_name_first_even_with_dots():
    dotted, base = Entry("A.B"), Entry("A", fields=("B",))
    db = PVDatabase({"A.B": dotted, "A": base})
    assert db.resolve("A.B") is dotted
    assert db.resolve_entry("A.B") == ("A.B", dotted)


def test_field_resolution_and_its_database_key():
    base = Entry("REC", fields=("EGU",))
    db = PVDatabase({"REC": base})
    assert db.resolve("REC.VAL") is base
    assert db.resolve("REC.EGU").name == "REC.EGU"
    assert db.resolve_entry("REC.EGU")[0] == "REC"
    assert db.resolve("REC.NOPE") is None
    assert db.resolve("OTHER.EGU") is None


def test_long_string_forms():
    db = PVDatabase({"REC": Entry("REC", fields=("DESC",)), "NOLS": Entry("NOLS",
                                                                         long_string=False)})
    assert db.resolve("REC.$").name == "REC$"
    assert db.resolve("REC$").name == "REC$"
    assert db.resolve("REC.DESC$").name == "REC.DESC$"
    assert db.resolve_entry("REC.DESC$")[0] == "REC"
    assert db.resolve("NOLS.$") is None


def test_removal_listeners_hear_deletions_and_replacements():
    heard = []
    db = PVDatabase()
    db.add_removal_listener(heard.append)
    first, second = Entry("A"), Entry("A")
    db["A"] = first
    db["A"] = first  # the same object again: nothing removed
    assert heard == []
    db["A"] = second
    assert heard == [["A"]]
    db.update({"A": second, "B": Entry("B")})
    assert heard == [["A"]]
    del db["A"]
    assert heard == [["A"], ["A"]]
    assert db.remove_many(["B", "missing"]) == ["B"]
    assert heard[-1] == ["B"]
    assert len(db) == 0
    db.remove_removal_listener(heard.append)
    db["C"] = Entry("C")
    del db["C"]
    assert heard[-1] == ["B"]


def test_a_failing_listener_does_not_stop_the_others(caplog):
    heard = []

    def broken(names):
        raise RuntimeError("boom")

    db = PVDatabase({"A": Entry("A")})
    db.add_removal_listener(broken)
    db.add_removal_listener(heard.append)
    del db["A"]
    assert heard == [["A"]]
    assert "boom" in caplog.text


class _Black(dict):
    """An open-ended pvdb as caproto's pathological examples write one: answers any name,
    except that some names fail in its own code and some answer with something unservable."""

    def __missing__(self, name):
        if name.startswith("BROKEN"):
            raise RuntimeError("the mapping's own bug")
        if name.startswith("JUNK"):
            return "not channel data"
        channel = self[name] = ChannelDouble(value=len(name))
        return channel


def test_an_open_ended_mapping_is_asked_for_names_it_does_not_list(caplog):
    source = _Black({"HELD": ChannelDouble(value=1.0)})
    db = PVDatabase(source)
    serves = db.search_predicate()
    assert serves(b"NEW:NAME")                                  # a search makes it
    assert db.resolve("NEW:NAME") is source["NEW:NAME"]         # the same channel, kept
    assert "NEW:NAME" in db.exact_entries()                     # found exactly next time
    assert db.resolve_bytes(b"OTHER")[2] is source["OTHER"]     # a CREATE_CHAN's way
    # the whole name is asked first, as caproto's server does: a channel of its own
    assert db.resolve("HELD.DESC") is source["HELD.DESC"] is not source["HELD"]
    assert not serves(b"BROKEN:1") and "the mapping's own bug" in caplog.text
    assert not serves(b"JUNK:1") and "not channel data" in caplog.text
    assert "BROKEN:1" not in db and "JUNK:1" not in db


def test_a_plain_dict_is_copied_and_not_asked_again():
    source = {"A": ChannelDouble(value=1.0)}
    db = PVDatabase(source)
    source["B"] = ChannelDouble(value=2.0)        # the caller's dict changing later
    assert db.resolve("B") is None and not db.search_predicate()(b"B")


def test_a_followed_dict_serves_what_is_added_to_it_later():
    """run() follows the IOC's pvdb as caproto's server does: too_clever/dynamic_calc
    adds PVs to it while serving."""
    source = {"A": ChannelDouble(value=1.0)}
    db = PVDatabase(source, follow=True)
    assert not db.search_predicate()(b"B")
    source["B"] = ChannelDouble(value=2.0)
    assert db.search_predicate()(b"B") and db.resolve("B") is source["B"]


def test_which_mappings_are_asked_for_names_they_do_not_list():
    from collections import OrderedDict, defaultdict
    from types import MappingProxyType

    def served_later(source, backing):
        db = PVDatabase(source)
        backing["LATER"] = ChannelDouble(value=1.0)   # the caller's mapping, after the copy
        return db.resolve("LATER") is not None

    plain, ordered, behind_proxy = {}, OrderedDict(), {}
    assert not served_later(plain, plain) and not served_later(ordered, ordered)
    assert served_later(MappingProxyType(behind_proxy), behind_proxy)  # looks up its own way
    made = defaultdict(lambda: ChannelDouble(value=2.0))
    assert PVDatabase(made).resolve("ANY").value == 2.0 and "ANY" in made
