"""pvfunction: an async method served as a remote call, caproto's RPC-style subgroup::

    class Calc(PVGroup):
        @pvfunction(default=0)
        async def add(self, a: int = 1, b: int = 2) -> int:
            return a + b

serves ``{prefix}add:a`` and ``add:b`` (the arguments, writable, with the defaults),
``add:Retval`` (read-only, the return value), ``add:Status`` (read-only: ``Init``, then
``Success`` or the exception) and ``add:Process``: a put to it calls the method with the
argument PVs' values, then writes Retval and Status. A method that raises fails the put.
Every parameter and the return value need a type annotation (it is the PV's dtype);
``names`` renames the PVs (keys: the parameter names and ``process``/``retval``/``status``).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from .hooks import IocDefinitionError
from .pvproperties import pvproperty
from .subgroup import SubGroup

__all__ = ["pvfunction"]

DEFAULT_NAMES = {"process": "Process", "retval": "Retval", "status": "Status"}
STATUS_LENGTH = 256  # bytes of Status text (a CHAR array, as caproto's): room for an error


class pvfunction(SubGroup):  # caproto's name, lower case
    """A subgroup made from an annotated async method (see the module documentation)."""

    default_names = DEFAULT_NAMES

    def __init__(self, func: Callable[..., Any] | None = None, default: Any = None,
                 names: Mapping[str, str] | None = None, alarm_group: str | None = None,
                 prefix: str | None = None, macros: Mapping[str, str] | None = None,
                 attr_separator: str | None = None, doc: str | None = None) -> None:
        super().__init__(None, prefix=prefix, macros=macros, attr_separator=attr_separator,
                         doc=doc)
        self.default_retval = default[0] if isinstance(default, (list, tuple)) \
            and len(default) == 1 else default
        self.names = {**DEFAULT_NAMES, **(names or {})}
        self.alarm_group = alarm_group
        self.func: Callable[..., Any] | None = None
        if func is not None:
            self._serve(func)

    def __call__(self, func: Any = None, *, prefix: str | None = None,
                 macros: Mapping[str, str] | None = None, doc: str | None = None
                 ) -> pvfunction:
        """``@pvfunction(...)`` on the method."""
        made = super().__call__(None, prefix=prefix, macros=macros, doc=doc)
        assert isinstance(made, pvfunction)
        if func is not None:
            made._serve(func)
        return made

    def _serve(self, func: Callable[..., Any]) -> None:
        if not inspect.iscoroutinefunction(func):
            raise IocDefinitionError(f"pvfunction {func.__name__!r} must be an async def")
        self.func = func
        signature = inspect.signature(func, eval_str=True)
        params = list(signature.parameters.values())[1:]  # after self
        untyped = [p.name for p in params if p.annotation is p.empty]
        if untyped or signature.return_annotation is signature.empty:
            missing = ", ".join(untyped) or "the return value"
            raise IocDefinitionError(f"pvfunction {func.__name__!r}: annotate the type of "
                                     f"{missing} (it is the PV's data type)")
        alarm_group = self.alarm_group or func.__name__
        names = self.names
        body: dict[str, Any] = {
            p.name: pvproperty(name=names.get(p.name, p.name), dtype=p.annotation,
                               value=None if p.default is p.empty else p.default,
                               alarm_group=alarm_group, doc=f"Parameter {p.name}")
            for p in params}
        body["retval"] = pvproperty(name=names["retval"], dtype=signature.return_annotation,
                                    value=self.default_retval, read_only=True,
                                    alarm_group=alarm_group, doc="Return value")
        body["status"] = pvproperty(name=names["status"], dtype=str, value="Init",
                                    max_length=STATUS_LENGTH, read_only=True,
                                    alarm_group=alarm_group,
                                    doc="Init, Success, or the exception of the last call")
        arguments = [p.name for p in params]

        async def process(group: Any, instance: Any, value: Any) -> None:
            kwargs = {name: group.attr_pvdb[name].value for name in arguments}
            try:
                result = await func(group, **kwargs)
            except Exception as ex:
                text = f"{type(ex).__name__}: {ex}".encode()[:STATUS_LENGTH]
                await group.status.write(text.decode(errors="ignore"))
                raise
            await group.retval.write(result)
            await group.status.write("Success")

        body[names["process"]] = pvproperty(name=names["process"], value=0,
                                            alarm_group=alarm_group, put=process,
                                            doc=f"Write to call {func.__name__}")
        from .group import PVGroup
        self.group_cls = type(func.__name__, (PVGroup,), {"__doc__": func.__doc__, **body})
