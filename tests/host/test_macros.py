"""EPICS macro substitution, as macLib does it."""
import pytest

from iochost.host.macros import MacroError, MacroScope

MOUNT = {"P": "$(SITE):X", "N": "2", "IND": "N"}
HOST = {"SITE": "LAB", "P": "host-p", "DEEP": "$(SITE)-$(N)"}
ENV = {"HOME": "/home/op"}


@pytest.mark.parametrize("text, expected", [
    ("plain", "plain"),
    ("$(P)", "LAB:X"),                       # mount layer wins; its value expands in scope
    ("${P}", "LAB:X"),                       # braces are the same as parentheses
    ("$(SITE):$(N)", "LAB:2"),
    ("$(MISSING=dflt)", "dflt"),
    ("$(MISSING=)", ""),
    ("$(MISSING=$(SITE)x)", "LABx"),         # a default may hold references
    ("$(P=unused)", "LAB:X"),
    ("$($(IND))", "2"),                      # a name may be built from references
    ("$(DEEP)", "LAB-2"),                    # a host value sees the mount's macros
    ("$(HOME)/data", "/home/op/data"),       # the environment is the last layer
    ("cost: $5, $ alone", "cost: $5, $ alone"),
])
def test_expands(text, expected):
    scope = MacroScope(HOST, environ=ENV).child(MOUNT)
    assert scope.expand(text) == expected


@pytest.mark.parametrize("text, message", [
    ("$(NOPE)", "undefined macro $(NOPE)"),
    ("${NOPE}", "undefined macro $(NOPE)"),
    ("$(SITE", "unterminated macro reference"),
    ("$()", "empty macro name"),
    ("$(A)", "circular macro definition: A -> B -> A"),
])
def test_errors_name_the_macro(text, message):
    scope = MacroScope({"A": "$(B)", "B": "$(A)"}, environ={})
    with pytest.raises(MacroError, match=message.replace("$", r"\$").replace("(", r"\(")
                       .replace(")", r"\)")):
        scope.expand(text)


def test_expand_tree_reaches_nested_strings_only():
    scope = MacroScope({"X": "1"})
    tree = {"a": "$(X)", "b": [1, "$(X)$(X)", {"c": "${X}"}], "d": 2.5, "e": None}
    assert scope.expand_tree(tree) == {"a": "1", "b": [1, "11", {"c": "1"}], "d": 2.5,
                                       "e": None}


def test_flattened_gives_the_ioc_every_defined_macro_but_not_the_environment():
    scope = MacroScope(HOST, environ=ENV).child(MOUNT)
    flat = scope.flattened()
    assert flat == {"SITE": "LAB", "P": "LAB:X", "DEEP": "LAB-2", "N": "2", "IND": "N"}
