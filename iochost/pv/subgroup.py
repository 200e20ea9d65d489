"""SubGroup: a PVGroup nested in another, and the setpoint/readback pair built on it.

Three ways to declare one::

    class Outer(PVGroup):
        motor1 = SubGroup(Motor, prefix="m1:", macros={"axis": "x"}, speed=2)  # a class
        status = SubGroup({"ok": dict(value=True), "msg": dict(value="")})      # a dict
        @SubGroup(prefix="cfg:")                                                 # a decorator
        class config(PVGroup):
            gain = pvproperty(value=1.0)

The subgroup's PVs are named ``outer prefix + subgroup prefix + PV name`` (the prefix
defaults to ``attribute + ':'``), its macros are the outer group's updated with its own,
and extra keywords go to the subgroup class's ``__init__``.
"""
from __future__ import annotations

import copy
import inspect
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from collections.abc import Mapping

from .hooks import HOOK_FIELDS, Hook, IocDefinitionError, check_hooks
from .pvproperties import NestedPvproperty, pvproperty
from .pvspec import PVSpec

if TYPE_CHECKING:
    from .group import PVGroup

__all__ = ["SubGroup", "get_pv_pair_wrapper"]

T_Group = TypeVar("T_Group")


def _pvspec_from(attr: str, info: Any) -> PVSpec:
    """A PVSpec from one entry of a dict-defined SubGroup."""
    if isinstance(info, pvproperty):
        info = info.pvspec
    if isinstance(info, PVSpec):
        spec = info.new_names(attr=attr, name=attr if info.name is None else info.name)
    elif isinstance(info, Mapping):
        info = dict(info)
        info.setdefault("attr", attr)
        info.setdefault("name", attr)
        spec = PVSpec(**info)
    else:
        raise IocDefinitionError(f"SubGroup entry {attr!r} must be a dict, PVSpec or "
                                 f"pvproperty, not {type(info).__name__}")
    check_hooks({field: getattr(spec, field) for field in HOOK_FIELDS.values()})
    return spec


class SubGroup(Generic[T_Group]):
    """Declare a nested PVGroup (see the module documentation for the three forms)."""

    def __init__(self, group: type | Mapping[str, Any] | None = None, *,
                 prefix: str | None = None, macros: Mapping[str, str] | None = None,
                 attr_separator: str | None = None, doc: str | None = None,
                 base: tuple[type, ...] | None = None, **init_kwargs: Any) -> None:
        self.attr_name: str | None = None
        self.prefix = prefix
        self.macros = dict(macros or {})
        self.attr_separator = attr_separator
        self.base = base
        self.init_kwargs = init_kwargs
        self.__doc__ = doc
        self.group_cls: type | None = None
        self._class_dict: dict[str, NestedPvproperty] | None = None
        self._set_group(group)

    def _set_group(self, group: Any) -> None:
        if group is None:
            return
        if isinstance(group, Mapping):
            self._class_dict = {attr: NestedPvproperty.from_pvspec(_pvspec_from(attr, info), self)
                                for attr, info in group.items()}
            return
        from .group import PVGroup
        if not (inspect.isclass(group) and issubclass(group, PVGroup)):
            raise IocDefinitionError(f"SubGroup needs a PVGroup class or a dict of PV specs, "
                                     f"not {group!r}")
        self.group_cls = group

    def __call__(self, group: Any = None, *, prefix: str | None = None,
                 macros: Mapping[str, str] | None = None, doc: str | None = None) -> SubGroup:
        """``@SubGroup(prefix=...)`` on a class, or reuse one definition with changes."""
        made = copy.copy(self)
        made.macros = dict(self.macros if macros is None else macros)
        if prefix is not None:
            made.prefix = prefix
        if doc is not None:
            made.__doc__ = doc
        made._set_group(group)
        return made

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr_name = name
        if self.group_cls is None:
            if self._class_dict is None:
                raise IocDefinitionError(f"SubGroup {owner.__name__}.{name} has no group")
            from .group import PVGroup
            self.group_cls = type(name, self.base or (PVGroup,), dict(self._class_dict))
        if self.__doc__ is None:
            self.__doc__ = self.group_cls.__doc__
        if self.attr_separator is None:
            self.attr_separator = getattr(self.group_cls, "attr_separator", ":")
        if self.prefix is None:
            self.prefix = name + self.attr_separator

    @overload
    def __get__(self, instance: None, owner: Any) -> SubGroup[T_Group]: ...
    @overload
    def __get__(self, instance: PVGroup, owner: Any) -> T_Group: ...

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.groups[self.attr_name]

    def __getattr__(self, attr: str) -> Any:
        # Gives the outer class body '@sub.pv.putter' on dict-defined subgroups.
        class_dict = self.__dict__.get("_class_dict")
        if class_dict and attr in class_dict:
            return class_dict[attr]
        raise AttributeError(attr)

    def __repr__(self) -> str:
        cls = self.group_cls.__name__ if self.group_cls else "dict"
        return f"<SubGroup {self.attr_name or '?'} {cls} prefix={self.prefix!r}>"


def get_pv_pair_wrapper(setpoint_suffix: str = "", readback_suffix: str = "_RBV"):
    """Make a ``pvproperty``-like factory that declares a setpoint/readback pair.

    ``pair = wrapper(dtype=float, doc=...)`` in a PVGroup creates ``{prefix}pair`` +
    ``setpoint_suffix`` (read-write) and ``{prefix}pair`` + ``readback_suffix``
    (read-only), reached as ``self.pair.setpoint`` / ``self.pair.readback``.  Without a
    ``put`` the setpoint's putter copies each written value to the readback.  ``get``,
    ``startup``, ``shutdown`` and ``scan`` belong to the readback.  ``setpoint_kw`` /
    ``readback_kw`` give keywords to one side only.
    """
    spec_keys: set[str] = set(PVSpec._fields) - {"attr", "cls_kwargs"}

    def wrapped(*, get: Hook | None = None, put: Hook | None = None,
                startup: Hook | None = None, shutdown: Hook | None = None,
                scan: Hook | None = None, name: str | None = None, dtype: Any = None,
                value: Any = None, max_length: int | None = None,
                alarm_group: str | None = None, doc: str | None = None, fields: Any = None,
                setpoint_kw: Mapping[str, Any] | None = None,
                readback_kw: Mapping[str, Any] | None = None, **cls_kwargs: Any) -> SubGroup:
        if cls_kwargs.pop("read_only", None):
            raise IocDefinitionError("a setpoint/readback pair cannot be read_only "
                                     "(the readback already is)")
        if put is None:
            async def put(group, instance, value):
                """Copy the setpoint to the readback."""
                await group.readback.write(value)

        def side(extra: Mapping[str, Any] | None, **spec: Any) -> dict[str, Any]:
            spec.update(dtype=dtype, value=value, max_length=max_length,
                        alarm_group=alarm_group, doc=doc, fields=fields,
                        cls_kwargs=dict(cls_kwargs))
            for key, val in (extra or {}).items():
                if key in spec_keys:
                    spec[key] = val
                else:
                    spec["cls_kwargs"][key] = val
            return spec

        setpoint = side(setpoint_kw, name=setpoint_suffix, put=put, read_only=False)
        readback = side(readback_kw, name=readback_suffix, get=get, read_only=True,
                        startup=startup, shutdown=shutdown, scan=scan)
        return SubGroup({"setpoint": setpoint, "readback": readback}, prefix=name,
                        attr_separator="", doc=doc)

    return wrapped
