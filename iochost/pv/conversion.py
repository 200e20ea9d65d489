"""Code generation from an IOC (caproto's ``conversion`` helpers)::

    from iochost.conversion import group_to_device
    print("\\n".join(group_to_device(MyIOC)))    # ophyd Device classes for MyIOC's PVs

The result is source text for the user to paste and edit; ophyd is not imported here.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from .group import PVGroup

__all__ = ["group_to_device"]


def group_to_device(group: PVGroup | type[PVGroup]) -> Iterator[str]:
    """Lines of an ophyd ``Device`` class per group class (subgroups first), one
    component per pvproperty: ``EpicsSignal``, or ``EpicsSignalRO`` for read-only PVs,
    with ``string=True`` for text PVs and the PV's documentation."""
    cls = group if isinstance(group, type) else type(group)
    for sub in cls._subgroups_.values():
        yield from group_to_device(_group_cls(sub))
        yield ""
        yield ""
    yield f"class {cls.__name__}Device(ophyd.Device):"
    body = [_component(attr, f"{_group_cls(sub).__name__}Device", sub.prefix or "",
                       doc=sub.__dict__.get("__doc__"))
            for attr, sub in cls._subgroups_.items()]
    for attr, prop in cls._pvs_.items():
        if "." in attr:  # a subgroup's PV: its own Device has it
            continue
        spec: Any = prop.pvspec
        kind = "EpicsSignalRO" if spec.read_only else "EpicsSignal"
        extra = ", string=True" if spec.dtype is str or isinstance(spec.value, str) else ""
        body.append(_component(attr, kind, spec.name, extra, doc=spec.doc))
    yield from body or ["    ..."]


def _group_cls(sub: Any) -> type[PVGroup]:
    return sub.group_cls  # set when the subgroup's owner class was made


def _component(attr: str, kind: str, suffix: str, extra: str = "", *,
               doc: str | None = None) -> str:
    doc_arg = f", doc={doc!r}" if doc else ""
    return f"    {attr.lower()} = Cpt({kind}, {suffix!r}{extra}{doc_arg})"
