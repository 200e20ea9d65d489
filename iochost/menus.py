"""``caproto.server.menus`` under iochost's name: EPICS base's menus as IntEnums
(``from iochost.menus import menuScan``). The menus live in
:mod:`iochost.records.menu_enums`, which makes each on first use; this module hands
them out from there."""
from typing import Any

from .records import menu_enums as _menu_enums

__all__ = list(_menu_enums.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_menu_enums, name)


def __dir__() -> list[str]:
    return sorted(__all__)
