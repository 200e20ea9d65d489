"""PVGroup: a class of pvproperties and SubGroups that becomes an IOC.

Class definition collects the declarations (in order, base classes first); construction
``MyIOC(prefix="X:", macros={...})`` creates the channel data of every PV, subgroups
included, in ``.pvdb`` (full PV name -> channel data), which is what a server serves.
"""
from __future__ import annotations

import gc
import logging
from collections import defaultdict
from typing import Any, ClassVar
from collections.abc import ItemsView, Iterator, Mapping

from ..ca.dbr import ChannelType
from .alarms import ChannelAlarm
from .hooks import IocDefinitionError
from .pvproperties import pvproperty
from .pvspec import expand_macros
from .subgroup import SubGroup
from .types import TYPE_MAP, TYPE_MAP_READ_ONLY, PvpropertyData

__all__ = ["PVGroup"]


class PvnamesByAttr(Mapping[str, str]):
    """``PVGroup.attr_to_pvname``: attribute -> PV name, read from the group's
    ``attr_pvdb`` (a large IOC needs no second dict of all its PVs)."""

    __slots__ = ("_attr_pvdb",)

    def __init__(self, attr_pvdb: Mapping[str, PvpropertyData]) -> None:
        self._attr_pvdb = attr_pvdb

    def __getitem__(self, attr: str) -> str:
        return self._attr_pvdb[attr].pvname

    def __iter__(self) -> Iterator[str]:
        return iter(self._attr_pvdb)

    def __len__(self) -> int:
        return len(self._attr_pvdb)

    def __repr__(self) -> str:
        return repr(dict(self))


class PvpropertyTable(Mapping[str, pvproperty]):
    """``PVGroup._pvs_``: attribute -> pvproperty of a PVGroup class, in definition order
    (base classes first, a subgroup's as ``'sub.attr'``). The class's own pvproperties are
    read from its namespace, not copied (a large IOC's class holds 100,000 of them); only
    the inherited and the subgroups' are kept here, in a dict of their own."""

    __slots__ = ("_namespace", "_order", "_others")

    def __init__(self, cls: type, pvs: Mapping[str, pvproperty]) -> None:
        self._namespace = namespace = cls.__dict__
        self._order = tuple(pvs)
        self._others = {attr: prop for attr, prop in pvs.items()
                        if namespace.get(attr) is not prop}

    def __getitem__(self, attr: str) -> pvproperty:
        prop = self._others.get(attr)
        if prop is None:
            prop = self._namespace.get(attr)
            if not isinstance(prop, pvproperty) or attr.startswith("_"):
                raise KeyError(attr)
        return prop

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def items(self) -> ItemsView[str, pvproperty]:
        return _PvpropertyItems(self)

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return repr(dict(self))


class _PvpropertyItems(ItemsView[str, pvproperty]):
    """A table's items without a look-up call per item (building a group iterates them)."""

    _mapping: PvpropertyTable

    def __iter__(self) -> Iterator[tuple[str, pvproperty]]:
        table = self._mapping
        namespace, others = table._namespace, table._others
        for attr in table._order:
            prop = others.get(attr)
            yield attr, namespace[attr] if prop is None else prop


#: what PVGroup.__init__ sets on every group and a pvproperty may not be named (caproto
#: fails on them too; ``name``, ``groups`` and ``log`` may, see SHADOWED_BY_GROUP)
_GROUP_ATTRIBUTES = frozenset(("parent", "macros", "prefix", "alarms", "pvdb", "attr_pvdb",
                               "attr_to_pvname"))


class PVGroup:
    """A group of PVs (an IOC, or part of one).

    Parameters: ``prefix`` (prepended to every PV name; may contain ``{macros}``),
    ``macros`` (``{name}`` substitutions in PV names), ``parent`` and ``name`` (set for
    subgroups).  Attributes: ``pvdb`` (PV name -> channel data), ``attr_pvdb``
    (attribute -> channel data), ``attr_to_pvname``, ``groups`` (attribute -> subgroup
    instance, nested ones as ``'a.b'``), ``alarms`` (alarm group -> shared
    :class:`ChannelAlarm`), ``log``.
    """

    _pvs_: ClassVar[Mapping[str, pvproperty]] = {}
    _subgroups_: ClassVar[dict[str, SubGroup]] = {}
    type_map: ClassVar[dict[Any, type]] = dict(TYPE_MAP)
    type_map_read_only: ClassVar[dict[Any, type]] = dict(TYPE_MAP_READ_ONLY)
    #: Values for pvproperties declared with only a dtype.
    default_values: ClassVar[dict[Any, Any]] = {
        str: "", int: 0, float: 0.0, bool: False, bytes: b"",
        ChannelType.STRING: "", ChannelType.INT: 0, ChannelType.LONG: 0,
        ChannelType.DOUBLE: 0.0, ChannelType.FLOAT: 0.0, ChannelType.ENUM: 0,
        ChannelType.CHAR: "",
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        pvs: dict[str, pvproperty] = {}
        subgroups: dict[str, SubGroup] = {}
        for base in reversed(cls.__mro__[1:]):
            pvs.update(base.__dict__.get("_pvs_", {}))
            subgroups.update(base.__dict__.get("_subgroups_", {}))
        for attr, value in cls.__dict__.items():
            if attr.startswith("_"):
                continue
            if isinstance(value, SubGroup):
                subgroups[attr] = value
                for sub_attr, sub in value.group_cls._subgroups_.items():
                    subgroups[f"{attr}.{sub_attr}"] = sub
                pvs.update({f"{attr}.{sub_attr}": prop
                            for sub_attr, prop in value.group_cls._pvs_.items()})
            elif isinstance(value, pvproperty):
                if attr in _GROUP_ATTRIBUTES:
                    raise IocDefinitionError(
                        f"{cls.__name__}.{attr}: every PVGroup has an attribute {attr!r}; "
                        f"name the pvproperty otherwise and give the PV its name: "
                        f"pvproperty(name={attr!r}, ...)")
                pvs[attr] = value
        cls._pvs_ = PvpropertyTable(cls, pvs)
        cls._subgroups_ = subgroups

    def __init__(self, prefix: str = "", *, macros: Mapping[str, str] | None = None,
                 parent: PVGroup | None = None, name: str | None = None) -> None:
        self.parent = parent
        self.macros = dict(macros or {})
        self.prefix = expand_macros(prefix, self.macros)
        self.name = type(self).__name__ if name is None else name
        base_log = parent.log.name if parent is not None else type(self).__module__
        self.log = logging.getLogger(f"{base_log}.{type(self).__name__}")
        self.alarms: defaultdict[Any, ChannelAlarm] = defaultdict(ChannelAlarm)
        if "states" not in self.__dict__:  # a subclass may set its own before this runs
            self.states: dict[str, Any] = parent.states if parent is not None else {}
        self.pvdb: dict[str, PvpropertyData] = {}
        self.attr_pvdb: dict[str, PvpropertyData] = {}
        self.attr_to_pvname = PvnamesByAttr(self.attr_pvdb)
        self.groups: dict[str, PVGroup] = {}
        # Building PVs makes no garbage, only objects that live as long as the IOC: the
        # collector, run every few hundred of them, would rescan them all again and again
        # (a third of the time of a 100,000-PV group).  The outermost group pauses it.
        pause = gc.isenabled()
        if pause:
            gc.disable()
        try:
            self._create_subgroups()
            self._create_pvdb()
        finally:
            if pause:
                gc.enable()
        if self.states:  # the states it declares are known to sync filters from the start
            from iochost.server.filters import STATES  # (as update_state, lazily)

            STATES.update((state, bool(value)) for state, value in self.states.items())

    def _create_subgroups(self) -> None:
        for attr, sub in self._subgroups_.items():
            if "." in attr:
                continue  # nested: created by its own parent, listed below
            macros = {**self.macros, **sub.macros}
            try:
                group = sub.group_cls(prefix=self.prefix + sub.prefix, macros=macros,
                                      parent=self, name=f"{self.name}.{attr}",
                                      **sub.init_kwargs)
            except TypeError as ex:
                raise IocDefinitionError(f"cannot create subgroup {self.name}.{attr} "
                                         f"({sub.group_cls.__name__}): {ex}") from ex
            self.groups[attr] = group
            self.groups.update({f"{attr}.{sub_attr}": nested
                                for sub_attr, nested in group.groups.items()})

    def _create_pvdb(self) -> None:
        alike: dict[Any, PvpropertyData] = {}  # see PVSpec.create
        for attr, prop in self._pvs_.items():
            group_attr, _, sub_attr = attr.rpartition(".")
            if group_attr:
                group = self.groups[group_attr]
                channel = group.attr_pvdb[sub_attr]
            else:
                channel = prop.pvspec.create(self, alike)
            pvname = channel.pvname
            if pvname in self.pvdb:
                first = next(a for a, n in self.attr_to_pvname.items() if n == pvname)
                raise IocDefinitionError(f"{type(self).__name__}: PV {pvname!r} is defined "
                                         f"twice, by attributes {first!r} and {attr!r}")
            self.pvdb[pvname] = channel
            self.attr_pvdb[attr] = channel

    def update_state(self, state: str, value: Any) -> _StateUpdate:
        """``async with self.update_state("beam", True): ...`` (caproto's): set the named
        state in ``self.states`` and for the ``sync`` channel filters (``PV.{sync:...}``,
        the server's :data:`~iochost.server.filters.STATES`, shared by the whole host as
        EPICS' dbState names are by an IOC)."""
        return _StateUpdate(self, state, value)

    async def group_read(self, instance: PvpropertyData) -> Any:
        """The getter of PVs that define none, if a subclass overrides it (discouraged:
        it makes every read of every PV of the group wait on Python code)."""

    group_read.is_default_hook = True  # type: ignore[attr-defined]

    async def group_write(self, instance: PvpropertyData, value: Any) -> Any:
        """The putter of PVs that define none: accept ``value`` as it is."""
        return value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self.prefix!r} pvs={len(self.pvdb)}>"


class _StateUpdate:
    """The context :meth:`PVGroup.update_state` returns: the state is set on entry."""

    def __init__(self, group: PVGroup, state: str, value: Any) -> None:
        self.group, self.state, self.value = group, state, value

    async def __aenter__(self) -> _StateUpdate:
        from iochost.server.filters import STATES  # only an IOC using states loads filters

        self.group.states[self.state] = self.value
        STATES[self.state] = bool(self.value)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        return None
