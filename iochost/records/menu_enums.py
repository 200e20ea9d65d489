"""EPICS base's menus as IntEnums, the shape of caproto's ``menus`` module::

    from iochost import menus
    menus.menuScan.passive                  # <menuScan.passive: 0>
    menus.menuScan.get_string_tuple()       # ('Passive', 'Event', 'I/O Intr', ...)

Each menu is made on first use from the record tables (``iochost.records.menu``); a
member's name is its choice string in lower case with other characters as ``_``.
"""
from __future__ import annotations

import enum
import re
from typing import Any, cast

from ..ca.codes import MAX_ENUM_STATES
from .tables import menu
from .tables import menus as _menu_names

__all__ = ["Menu", *_menu_names()]


class Menu(enum.IntEnum):
    """A menu: members in index order; the choice strings clients see come from the table."""

    @classmethod
    def get_string_tuple(cls) -> tuple[str, ...]:
        """The choice strings in index order, as many as CA can carry."""
        return menu(cls.__name__)[:MAX_ENUM_STATES]

    @classmethod
    def get_string_dict(cls) -> dict[Menu, str]:
        """Member -> its choice string."""
        return dict(zip(cls, menu(cls.__name__)))


def _member_name(choice: str, index: int, taken: set[str]) -> str:
    choice = choice.strip().lower()
    if choice.startswith("."):
        choice = "0" + choice  # '.5 second' -> _0_5_second, apart from '5 second'
    name = re.sub(r"\W", "_", choice) or f"choice_{index}"
    if name[0].isdigit():
        name = "_" + name
    return name if name not in taken else f"{name}_{index}"


def __getattr__(name: str) -> Any:
    if name not in __all__ or name == "Menu":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    taken: set[str] = set()
    members = {}
    for index, choice in enumerate(menu(name)):
        key = _member_name(choice, index, taken)
        taken.add(key)
        members[key] = index
    cls = cast(Any, Menu)(name, members)  # the functional API builds a subclass
    globals()[name] = cls
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
