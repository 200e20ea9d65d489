"""The motor record's behaviour (synApps *motor*), over a device a plugin implements.

``MotorRecord`` is the field set of a ``record='motor'`` pvproperty that moves something:
subclass it, implement the device side in dial coordinates -- ``async move(target)``
(returns when the target is reached; it is cancelled to stop), ``async stop()``,
``readback()`` (the dial position now) and, for SET mode with a frozen offset,
``set_position(dial)`` -- and declare ``pvproperty(value=0.0, record=MyMotor, units=...)``.
:class:`SimMotor` is a simulated one (trapezoidal moves at VELO/ACCL, backlash BDST).

What the record does, as motorRecord.cc does it (read for the semantics, not copied):

* user = sign(DIR) * dial + OFF for VAL/RBV, HLM/LLM (DHLM/DLLM in dial), RVAL/RRBV =
  dial / MRES.  HLM/LLM are VAL's display and control limits in GR/CTRL reads (ophyd's
  ``motor.limits``); DHLM == DLLM == 0 means no limits.
* A put to VAL outside the limits sets LVIO and is dropped (VAL keeps its last value, the
  put itself succeeds, as RSRV answers it); a valid one clears LVIO, is visible at once,
  and starts the move: DMOV 1->0->1 and MOVN 0->1->0 exactly once per move (a new target
  during a move retargets it); a put with completion completes when the move ends.
  RBV/DRBV/RRBV follow the device every ``readback_period`` s during the move.
* STOP (returns to 0) and SPMG Stop stop at once and set VAL to the readback; SPMG Pause
  stops and keeps VAL (Go/Move resume the move).
* SET mode (SET = Set): a VAL put redefines the position without moving -- OFF changes
  when FOFF is Variable, the dial position (``set_position``) when it is Frozen.  Also
  DVAL (dial target; in SET mode redefines the dial position), OFF, DIR, HLM, LLM, DHLM,
  DLLM and SYNC (VAL := RBV).

Not done: homing, jogging, tweaks, retries (RDBD/RTRY), encoders, limit switches, DLY,
MSTA/MIP, the record's own alarms (it raises none; it has its own alarm like any record).
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from ..ca.dbr import DBE_PROPERTY
from ..pv.data import SkipWrite
from ..pv.types import PvpropertyData
from .registry import builtin_field_set

__all__ = ["MotorRecord", "SimMotor"]

_SPMG_STOP, _SPMG_PAUSE = 0, 1
_SET_MODE = 1
_FOFF_FROZEN = 1


class MotorRecord(builtin_field_set("motor")):  # type: ignore[misc]
    """synApps motor record semantics; subclass and implement the device methods."""

    __slots__ = ("_idle", "_motion", "_paused_target")
    _record_type = "motor"
    #: Seconds between readback updates while moving.
    readback_period: ClassVar[float] = 0.05
    #: Field values a new record starts with (field name -> value), before the IOC's.
    initial_fields: ClassVar[dict[str, Any]] = {}

    def __init__(self, parent: PvpropertyData) -> None:
        super().__init__(parent)
        self._motion: asyncio.Task | None = None
        self._idle: asyncio.Event | None = None
        self._paused_target: float | None = None
        for name, value in self.initial_fields.items():
            self._post(name, value)
        # control limits given to the pvproperty are the initial user (= dial) limits
        low, high = parent.lower_ctrl_limit, parent.upper_ctrl_limit
        self._post("DHLM", high)
        self._post("DLLM", low)
        dial = self._to_dial(parent.value)
        self._post("DVAL", dial)
        self._post("RVAL", self._raw(dial))
        self._post("LVIO", 0)
        self._post("DMOV", 1)
        self._show_limits()
        self._show_readback(self.readback_or(dial))

    # -- the device: override in a subclass (dial coordinates) ---------------------------
    async def move(self, target: float) -> None:
        """Move to dial position ``target``; return when there (cancelled to stop)."""
        raise NotImplementedError(f"{type(self).__name__} must implement move()")

    async def stop(self) -> None:
        """Stop the device now (after ``move`` was cancelled)."""

    def readback(self) -> float:
        """The device's dial position now."""
        raise NotImplementedError(f"{type(self).__name__} must implement readback()")

    async def set_position(self, dial: float) -> None:
        """Redefine the device's dial position without moving (SET mode, FOFF Frozen)."""
        raise NotImplementedError(f"{type(self).__name__} cannot redefine its position")

    def readback_or(self, default: float) -> float:
        try:
            return self.readback()
        except NotImplementedError:
            return default

    # -- coordinates ---------------------------------------------------------------------
    def _sign(self) -> int:
        return -1 if self.stored("DIR", 0) else 1

    def _to_dial(self, user: float) -> float:
        return (user - self.stored("OFF", 0.0)) * self._sign()

    def _to_user(self, dial: float) -> float:
        return self._sign() * dial + self.stored("OFF", 0.0)

    def _raw(self, dial: float) -> int:
        mres = self.stored("MRES", 0.0) or 1.0
        return round(dial / mres)

    # -- posting fields (synchronous; a field posts only when it changes) ------------------
    def _post(self, name: str, value: Any) -> None:
        channel = self.pvdb[name]
        channel._commit(channel.preprocess_value(value), 0, {})

    def _show_readback(self, dial: float) -> None:
        self._post("DRBV", dial)
        self._post("RBV", self._to_user(dial))
        self._post("RRBV", self._raw(dial))

    def _show_limits(self) -> None:
        """HLM/LLM from DHLM/DLLM, OFF and DIR, and VAL's limits in GR/CTRL reads."""
        dhlm, dllm = self.stored("DHLM", 0.0), self.stored("DLLM", 0.0)
        ends = sorted((self._to_user(dhlm), self._to_user(dllm)))
        self._post("LLM", ends[0])
        self._post("HLM", ends[1])
        record = self.parent
        limits = {"lower_ctrl_limit": ends[0], "upper_ctrl_limit": ends[1],
                  "lower_disp_limit": ends[0], "upper_disp_limit": ends[1]}
        if record._apply_properties(limits):
            record.notify(DBE_PROPERTY)

    def _show_target(self, dial: float) -> None:
        """VAL, DVAL, RVAL for a dial target."""
        record = self.parent
        user = self._to_user(dial)
        if record.value != user:
            record._commit(user, 0, {})
        self._post("DVAL", dial)
        self._post("RVAL", self._raw(dial))

    def _violates(self, dial: float) -> bool:
        """motorRecord's soft-limit test (dial coordinates, backlash end included)."""
        dhlm, dllm = self.stored("DHLM", 0.0), self.stored("DLLM", 0.0)
        if dhlm == dllm == 0.0:
            return False
        if dllm > dhlm:
            return True
        last = self.stored("DVAL", 0.0)
        if (dhlm < dial < last) or (last < dial < dllm):
            return False  # a move back toward the valid range is allowed
        bdst = self.stored("BDST", 0.0)
        ends = [dial] if (dial > last) == (bdst > 0) else [dial, dial - bdst]
        return any(end > dhlm or end < dllm for end in ends)

    # -- puts ------------------------------------------------------------------------------
    async def process(self, instance: PvpropertyData, value: Any) -> Any:
        """A put to VAL: limits (LVIO), SET mode, or a move that completes at its end."""
        value = float(value)
        if self.stored("SET", 0) == _SET_MODE:
            await self._redefine(value)
            return value
        return await self._move_to(self._to_dial(value))

    async def _move_to(self, dial: float) -> Any:
        if self._violates(dial):
            self._post("LVIO", 1)
            raise SkipWrite  # VAL keeps its last value (motorRecord restores LVAL)
        self._post("LVIO", 0)
        spmg = self.stored("SPMG", 3)
        if spmg == _SPMG_STOP:
            raise SkipWrite
        self._show_target(dial)
        if spmg == _SPMG_PAUSE:
            self._paused_target = dial
            raise SkipWrite
        await self._start(dial)
        await self._wait_idle()
        raise SkipWrite  # VAL was shown at the start of the move

    async def _start(self, dial: float) -> None:
        await self._cancel_motion()
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        self._post("DMOV", 0)
        self._motion = asyncio.get_running_loop().create_task(self._run(dial))

    async def _wait_idle(self) -> None:
        if self._idle is not None:
            await self._idle.wait()

    async def _run(self, dial: float) -> None:
        start = self.readback()
        self._post("TDIR", int(dial > start))
        self._post("MOVN", 1)
        poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            bdst = self.stored("BDST", 0.0)
            if bdst and (dial > start) != (bdst > 0):
                await self.move(dial - bdst)   # approach from the backlash side
            await self.move(dial)
        except asyncio.CancelledError:
            raise
        except Exception:  # the device failed: the move ends where it is
            self.log.exception("motor %s: move to dial %r failed", self.parent.pvname, dial)
        finally:
            poller.cancel()
        self._finish()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.readback_period)
            self._show_readback(self.readback())

    def _finish(self) -> None:
        self._show_readback(self.readback())
        self._post("MOVN", 0)
        self._post("DMOV", 1)
        if self._idle is not None:
            self._idle.set()

    async def _cancel_motion(self) -> bool:
        task, self._motion = self._motion, None
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    async def halt(self, *, keep_target: bool = False) -> None:
        """Stop now (STOP, SPMG Stop/Pause): VAL becomes the readback unless kept."""
        self._paused_target = None
        moving = await self._cancel_motion()
        if moving:
            await self.stop()
        dial = self.readback()
        if moving and keep_target:
            self._paused_target = self.stored("DVAL", dial)
        elif not keep_target:
            self._show_target(dial)
        self._finish()

    async def _redefine(self, user: float) -> None:
        """SET mode: make the current position read ``user`` without moving."""
        if self.stored("FOFF", 0) == _FOFF_FROZEN:
            dial = self._to_dial(user)
            await self.set_position(dial)
            self._post("DVAL", dial)
            self._post("RVAL", self._raw(dial))
        else:
            self._post("OFF", user - self._sign() * self.stored("DVAL", 0.0))
            self._show_limits()
        self._show_readback(self.readback())

    async def group_write(self, instance: Any, value: Any) -> Any:
        """Puts to the motor's fields (those without a field putter)."""
        handler = _FIELD_PUTS.get(instance.pvspec.name)
        return value if handler is None else await handler(self, value)

    async def _put_stop(self, value: Any) -> int:
        if value:
            await self.halt()
        return 0

    async def _put_spmg(self, value: Any) -> Any:
        index = self.pvdb["SPMG"]._store_form(self.pvdb["SPMG"].preprocess_value(value))
        self._post("SPMG", index)
        if index in (_SPMG_STOP, _SPMG_PAUSE):
            await self.halt(keep_target=index == _SPMG_PAUSE)
        elif self._paused_target is not None:
            target, self._paused_target = self._paused_target, None
            await self._start(target)
        return value

    async def _put_dval(self, value: Any) -> Any:
        value = float(value)
        if self.stored("SET", 0) == _SET_MODE:
            await self._redefine(self._to_user(value))
            self._show_target(value)
            return value
        await self.parent.write(self._to_user(value))
        raise SkipWrite  # the record's put showed DVAL

    async def _put_user_limit(self, name: str, value: float) -> float:
        dial = (float(value) - self.stored("OFF", 0.0)) * self._sign()
        high = (name == "HLM") == (self._sign() > 0)
        self._post("DHLM" if high else "DLLM", dial)
        self._show_limits()
        return value

    async def _put_and_show_limits(self, name: str, value: Any) -> Any:
        self._post(name, value)
        self._show_limits()
        self._show_readback(self.readback())
        self._show_target(self.stored("DVAL", 0.0))
        return value

    async def _put_sync(self, value: Any) -> int:
        self._show_target(self.readback())
        return 0


def _named(method: Callable[..., Awaitable[Any]], name: str) -> Callable[..., Any]:
    async def handler(fields: MotorRecord, value: Any) -> Any:
        return await method(fields, name, value)
    return handler


_FIELD_PUTS: dict[str, Callable[[MotorRecord, Any], Awaitable[Any]]] = {
    "STOP": MotorRecord._put_stop,
    "SPMG": MotorRecord._put_spmg,
    "DVAL": MotorRecord._put_dval,
    "SYNC": MotorRecord._put_sync,
    "HLM": _named(MotorRecord._put_user_limit, "HLM"),
    "LLM": _named(MotorRecord._put_user_limit, "LLM"),
    **{name: _named(MotorRecord._put_and_show_limits, name)
       for name in ("DHLM", "DLLM", "OFF", "DIR")},
}


class SimMotor(MotorRecord):
    """A simulated motor: trapezoidal moves at VELO with ACCL seconds of acceleration
    (VELO <= 0 moves at once); BDST backlash through the record."""

    __slots__ = ("_dial", "_profile")
    initial_fields: ClassVar[dict[str, Any]] = {"VELO": 1.0, "ACCL": 0.2, "MRES": 0.001,
                                                "VMAX": 0.0}

    def __init__(self, parent: PvpropertyData) -> None:
        self._dial = float(parent.value)
        self._profile: tuple[float, float, float, float, float] | None = None
        super().__init__(parent)

    def readback(self) -> float:
        profile = self._profile
        if profile is None:
            return self._dial
        started, start, target, speed, accel = profile
        return _trapezoid(time.monotonic() - started, start, target, speed, accel)

    async def move(self, target: float) -> None:
        start = self.readback()
        speed = self.stored("VELO", 1.0)
        accel_time = max(self.stored("ACCL", 0.2), 0.0)
        if speed <= 0 or target == start:
            self._dial = target
            return
        accel = speed / accel_time if accel_time else math.inf
        self._profile = (time.monotonic(), start, target, speed, accel)
        try:
            await asyncio.sleep(_duration(abs(target - start), speed, accel))
        except asyncio.CancelledError:
            self._dial, self._profile = self.readback(), None
            raise
        self._dial, self._profile = target, None

    async def stop(self) -> None:
        self._dial, self._profile = self.readback(), None

    async def set_position(self, dial: float) -> None:
        self._dial = dial


def _duration(distance: float, speed: float, accel: float) -> float:
    """Time of a trapezoidal (or triangular) move over ``distance``."""
    if math.isinf(accel):
        return distance / speed
    ramp = speed / accel                      # time to reach speed
    if distance < speed * ramp:               # never reaches speed: a triangle
        return 2 * math.sqrt(distance / accel)
    return distance / speed + ramp


def _trapezoid(elapsed: float, start: float, target: float, speed: float,
               accel: float) -> float:
    """Position ``elapsed`` seconds into a trapezoidal move from start to target."""
    distance = abs(target - start)
    total = _duration(distance, speed, accel)
    if elapsed >= total:
        return target
    if math.isinf(accel):
        travelled = speed * elapsed
    else:
        peak = min(speed, math.sqrt(distance * accel))
        ramp = peak / accel
        if elapsed < ramp:
            travelled = 0.5 * accel * elapsed ** 2
        elif elapsed < total - ramp:
            travelled = 0.5 * peak * ramp + peak * (elapsed - ramp)
        else:
            left = total - elapsed
            travelled = distance - 0.5 * accel * left ** 2
    return start + math.copysign(min(travelled, distance), target - start)
