"""``/pvws/pv``: the PV Web Socket protocol (ornl-epics/pvws), served from local PVs.

Web displays written for pvws (Phoebus' display-builder web runtime, the PV info tool, our
own mount page) connect here. Messages are JSON text frames:

in   ``{"type": "subscribe", "pvs": [...]}`` (``"monitor"`` is an alias, as in pvws),
     ``{"type": "clear", "pvs": [...]}``, ``{"type": "list"}``,
     ``{"type": "write", "pv": NAME, "value": number-or-text}``, ``{"type": "ping"}``
     (answered with a WebSocket ping), ``{"type": "echo", ...}`` (sent back as is);
out  ``{"type": "update", "pv": NAME, ...}``, ``{"type": "list", "pvs": [...]}``,
     ``{"type": "error", "message": TEXT}``.

The first update of a PV carries everything (``vtype``; ``units``, ``precision``, ``min``,
``max``, ``warn_low``/``warn_high``, ``alarm_low``/``alarm_high`` for numbers; ``labels``
for enums; ``severity``; ``readonly``; ``seconds``/``nanos``); later ones carry the value
and stamp, plus ``severity``, ``readonly`` or display fields only when they changed. Arrays
travel as little-endian base64 in ``b64dbl`` / ``b64flt`` / ``b64int`` / ``b64srt`` /
``b64byt``; text in ``text``; an enum has both its index (``value``) and ``text``.
Names may carry pvws' ``ca://`` prefix; updates name the PV as the client spelt it.

Flow: one listener per subscribed PV marks it dirty (a dict store -- nothing else runs in
the publishing code, so CA clients never wait on a browser). One sender task per socket
wakes at most every :data:`THROTTLE` seconds and sends the newest state of each dirty PV
(arrays at most every :data:`ARRAY_THROTTLE`). While a slow browser's send is pending,
changes keep coalescing in the dirty set, which is bounded by the PVs subscribed: memory
never grows with the update rate. A PV with a getter is read in a task of its own (a slow
getter holds up no other PV); the sender yields every :data:`SENDS_PER_YIELD` sends; names
not served are looked up again when PVs are added. A PV the socket may not read, or whose
read fails, gets a value-less INVALID update and an ``error``.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from dataclasses import replace
from typing import Any

from aiohttp import WSMsgType, web

from iochost.ca.dbr import DBE_PROPERTY, AccessRights, ChannelType
from iochost.server import PVDatabase, Server, ServedChannel

from .puts import (WEB_USER, PutRefused, ReadRefused, WritesDisabled, check_read, read_failure,
                   web_put)
from .readings import (Display, Reading, aread_value, json_float, read_display, read_value,
                       severity_name)

__all__ = ["ARRAY_THROTTLE", "THROTTLE", "PvwsSession", "update_message"]

log = logging.getLogger("iochost.web")

#: shortest interval between two updates of one PV to one browser (seconds): "a few per s"
THROTTLE = 0.2
#: the same for arrays (a waveform can be megabytes of base64)
ARRAY_THROTTLE = 1.0
#: the most PVs one socket may subscribe to (the mount page shows at most 2,000)
MAX_SUBSCRIPTIONS = 10_000
#: sends between two yields to the event loop (the CA server runs on it too)
SENDS_PER_YIELD = 100
#: pvws' prefix for Channel Access names; the rest is the PV name
CA_SCHEME = "ca://"
#: the largest subscribe/clear message read (pvws' servers need raising theirs for big lists)
MAX_MESSAGE = 1 << 20

_SCALAR_VTYPES = {ChannelType.DOUBLE: "VDouble", ChannelType.FLOAT: "VFloat",
                  ChannelType.LONG: "VInt", ChannelType.INT: "VShort",
                  ChannelType.CHAR: "VByte", ChannelType.ENUM: "VEnum",
                  ChannelType.STRING: "VString"}
#: array vtype, the base64 key and its little-endian element type
_ARRAY_ENCODINGS = {ChannelType.DOUBLE: ("VDoubleArray", "b64dbl", "<f8"),
                    ChannelType.FLOAT: ("VFloatArray", "b64flt", "<f4"),
                    ChannelType.LONG: ("VIntArray", "b64int", "<i4"),
                    ChannelType.INT: ("VShortArray", "b64srt", "<i2"),
                    ChannelType.ENUM: ("VShortArray", "b64srt", "<i2"),
                    ChannelType.CHAR: ("VByteArray", "b64byt", "u1")}


def _display_fields(reading: Reading, display: Display) -> dict[str, Any]:
    if reading.native_type == ChannelType.ENUM and not reading.is_array:
        return {"labels": list(display.enum_strings)}
    if reading.native_type == ChannelType.STRING or isinstance(reading.value, str):
        return {}
    limits = {"min": display.lower_disp_limit, "max": display.upper_disp_limit,
              "warn_low": display.lower_warning_limit, "warn_high": display.upper_warning_limit,
              "alarm_low": display.lower_alarm_limit, "alarm_high": display.upper_alarm_limit}
    # a record's unarmed alarm limits are NaN: sent as pvws sends them, "NaN"
    return {"units": display.units, "description": display.description,
            "precision": display.precision,
            **{key: json_float(limit) for key, limit in limits.items()}}


def _value_fields(reading: Reading, display: Display) -> dict[str, Any]:
    native = reading.native_type
    if native == ChannelType.STRING or isinstance(reading.value, str):
        value = reading.value
        return {"text": value if isinstance(value, str) else "\n".join(value)}
    if reading.is_array:
        _, key, dtype = _ARRAY_ENCODINGS[native]
        return {key: base64.b64encode(reading.value.astype(dtype).tobytes()).decode("ascii")}
    if native == ChannelType.ENUM:
        index = reading.value
        labels = display.enum_strings
        return {"value": index, "text": labels[index] if 0 <= index < len(labels) else str(index)}
    value = reading.value
    if isinstance(value, float) and not math.isfinite(value):
        return {"value": "NaN"}  # pvws sends every non-finite double or float as "NaN"
    return {"value": value}


def vtype(reading: Reading) -> str:
    if isinstance(reading.value, str):
        return "VString"
    if reading.native_type == ChannelType.STRING:
        return "VStringArray" if reading.is_array else "VString"
    if reading.is_array:
        return _ARRAY_ENCODINGS[reading.native_type][0]
    return _SCALAR_VTYPES[reading.native_type]


def update_message(name: str, reading: Reading, display: Display, readonly: bool,
                   sent: dict[str, Any]) -> dict[str, Any]:
    """One pvws ``update``. ``sent`` holds the severity, readonly and display fields sent so
    far on this socket (empty before the first update) and is brought up to date: the first
    update carries everything, later ones the value and stamp plus what changed."""
    message: dict[str, Any] = {"type": "update", "pv": name}
    state = {"severity": severity_name(reading.severity), "readonly": readonly,
             **_display_fields(reading, display)}
    if not sent:
        message["vtype"] = vtype(reading)
        message.update(state)
    else:
        message.update({key: value for key, value in state.items() if sent.get(key) != value})
    sent.update(state)
    message.update(_value_fields(reading, display))
    if reading.seconds:
        message["seconds"] = reading.seconds
        message["nanos"] = reading.nanos
    return message


def _valueless(name: str, severity: str, readonly: bool) -> dict[str, Any]:
    """The update of a PV not served or not readable. Its value is NaN, stamped now, as
    Phoebus' disconnected value (pvws clients merge updates: the last value must not stay
    on the screen)."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return {"type": "update", "pv": name, "severity": severity, "readonly": readonly,
            "value": "NaN", "seconds": seconds, "nanos": nanos}


class _Watched:
    """One PV one socket subscribed to."""

    __slots__ = ("name", "key", "channel", "sent", "display", "last_sent", "listener",
                 "refused", "reading")

    def __init__(self, name: str) -> None:
        self.name = name             # as the client spelt it (updates carry it back)
        self.key = ""                # the database entry it resolved through
        self.channel: ServedChannel | None = None
        self.sent: dict[str, Any] = {}   # the state fields sent so far (update_message)
        self.display: Display | None = None
        self.last_sent = 0.0
        self.listener: Any = None
        self.refused: str | None = None  # why it cannot be read, as told to the client
        self.reading: asyncio.Task[None] | None = None  # a getter's read in flight


class PvwsSession:
    """One browser's pvws WebSocket."""

    def __init__(self, ws: web.WebSocketResponse, database: PVDatabase, *, writable: bool,
                 peer: str, server: Server | None = None) -> None:
        self.ws = ws
        self.database = database
        self.server = server      # tells when access rights may have changed
        self.transport: asyncio.Transport | None = None  # to cut off a stuck browser
        self.writable = writable
        self.peer = peer
        self.watched: dict[str, _Watched] = {}
        self._dirty: dict[str, int] = {}      # name -> DBE flags seen since the last send
        self._unresolved: set[str] = set()
        self._retry = False                   # PVs were added: look the unresolved up again
        self._wake = asyncio.Event()
        self._closed = False
        self.updates_sent = 0

    # -- the socket --------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until the browser goes away."""
        self.database.add_removal_listener(self._on_removed)
        self.database.add_addition_listener(self._on_added)
        if self.server is not None:
            self.server.add_access_listener(self._on_access_changed)
        sender = asyncio.get_running_loop().create_task(self._send_loop())
        try:
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._closed = True
            sender.cancel()
            self.database.remove_removal_listener(self._on_removed)
            self.database.remove_addition_listener(self._on_added)
            if self.server is not None:
                self.server.remove_access_listener(self._on_access_changed)
            reads = [w.reading for w in self.watched.values() if w.reading is not None]
            for watched in list(self.watched.values()):
                self._detach(watched)
            self.watched.clear()
            for task in reads:
                task.cancel()
            await asyncio.gather(sender, *reads, return_exceptions=True)

    async def _on_text(self, text: str) -> None:
        try:
            request = json.loads(text)
            kind = request["type"]
        except (ValueError, KeyError, TypeError):
            await self._error(f"not a pvws message: {text[:200]}")
            return
        try:
            await self._dispatch(kind, request, text)
        except Exception as exc:  # one bad message must not end the socket (nor does pvws')
            if self.ws.closed:
                raise
            log.warning("web: pvws message %.200s failed", text, exc_info=True)
            await self._error(f"{kind} failed: {type(exc).__name__}: {exc}")

    async def _dispatch(self, kind: Any, request: dict[str, Any], text: str) -> None:
        if kind in ("subscribe", "monitor", "clear") and "pvs" not in request:
            await self._error(f"a {kind} needs 'pvs' (a list of PV names)")
            return
        if kind in ("subscribe", "monitor"):
            names = self._names(request)
            room = MAX_SUBSCRIPTIONS - len(self.watched)
            fresh = [name for name in dict.fromkeys(names) if name not in self.watched]
            if len(fresh) > room:
                await self._error(f"{len(fresh) - max(room, 0)} PVs not subscribed: one "
                                  f"socket watches at most {MAX_SUBSCRIPTIONS} PVs")
            for name in fresh[:max(room, 0)]:
                self._subscribe(name)
        elif kind == "clear":
            for name in self._names(request):
                watched = self.watched.pop(name, None)
                if watched is not None:
                    self._detach(watched)
        elif kind == "list":
            await self._send({"type": "list", "pvs": list(self.watched)})
        elif kind == "write":
            await self._write(request)
        elif kind == "ping":
            await self.ws.ping()
        elif kind == "echo":
            await self.ws.send_str(text)
        else:
            await self._error(f"unknown message type {kind!r}")

    def _names(self, request: dict[str, Any]) -> list[str]:
        names = request.get("pvs")
        if isinstance(names, str):
            return [names]
        return [name for name in names if isinstance(name, str)] if isinstance(names, list) \
            else []

    async def _send(self, message: dict[str, Any]) -> None:
        if not self._closed:
            await self.ws.send_str(json.dumps(message, separators=(",", ":")))

    async def _error(self, text: str) -> None:
        await self._send({"type": "error", "message": text})

    # -- subscriptions -------------------------------------------------------------------------
    def _subscribe(self, name: str) -> None:
        if name in self.watched:
            return
        watched = self.watched[name] = _Watched(name)
        if not self._attach(watched):
            self._unresolved.add(name)
            self._dirty[name] = 0  # tell the client once that it is not served
        self._wake.set()

    def _attach(self, watched: _Watched) -> bool:
        pvname = watched.name.removeprefix(CA_SCHEME)
        found = self.database.resolve_entry(pvname)
        if found is None:
            return False
        watched.key, watched.channel = found
        watched.sent = {}
        watched.display = None
        name = watched.name
        dirty = self._dirty
        wake = self._wake

        def listener(channel: Any, flags: int) -> None:
            # Runs inside the channel's publish: a dict store and an event set, no more.
            dirty[name] = dirty.get(name, 0) | flags
            wake.set()

        watched.listener = listener
        watched.channel.add_listener(listener)
        self._dirty[name] = DBE_PROPERTY
        return True

    def _detach(self, watched: _Watched) -> None:
        if watched.channel is not None and watched.listener is not None:
            watched.channel.remove_listener(watched.listener)
        watched.channel = watched.listener = None
        watched.refused = None
        self._dirty.pop(watched.name, None)
        self._unresolved.discard(watched.name)

    def _on_removed(self, keys: list[str]) -> None:
        """Database entries went away (an unmount): their PVs read as disconnected until
        they are served again."""
        removed = set(keys)
        for watched in self.watched.values():
            if watched.channel is not None and watched.key in removed:
                self._detach(watched)
                self._unresolved.add(watched.name)
                self._dirty[watched.name] = 0
        self._wake.set()

    def _on_added(self, keys: list[str]) -> None:
        """Names were added (a mount): the unresolved ones may be served now."""
        if self._unresolved:
            self._retry = True
            self._wake.set()

    def _on_access_changed(self) -> None:
        """Rights may have changed (a rules reload, a CALC input, an ASG put): PVs whose
        ``readonly`` or read access changed get an update, as pvws sends on an access
        event."""
        for name, watched in self.watched.items():
            channel = watched.channel
            if channel is None or not (watched.sent or watched.refused):
                continue
            readable = bool(channel.check_access(self.peer, WEB_USER) & AccessRights.READ)
            if readable == (watched.refused is not None) \
                    or watched.sent.get("readonly") != self._readonly(channel):
                self._dirty[name] = self._dirty.get(name, 0)
                self._wake.set()

    def _readonly(self, channel: ServedChannel) -> bool:
        return not (self.writable and channel.check_access(self.peer, WEB_USER)
                    & AccessRights.WRITE)

    # -- sending -------------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._retry:
                self._retry = False
                for count, name in enumerate(list(self._unresolved), 1):
                    watched = self.watched.get(name)
                    if watched is not None and self._attach(watched):
                        self._unresolved.discard(name)
                    if count % (10 * SENDS_PER_YIELD) == 0:
                        await asyncio.sleep(0)
            now = time.monotonic()
            batch, held = {}, {}
            for name, flags in self._dirty.items():
                watched = self.watched.get(name)
                if watched is None:
                    continue
                if watched.reading is not None or (
                        watched.channel is not None and watched.channel.max_length != 1
                        and now - watched.last_sent < ARRAY_THROTTLE):
                    held[name] = flags    # its getter is still reading, or an array: later
                else:
                    batch[name] = flags
            self._dirty.clear()
            self._dirty.update(held)
            for count, (name, flags) in enumerate(batch.items(), 1):
                watched = self.watched.get(name)
                if watched is None:
                    continue
                if watched.channel is not None and watched.channel.needs_async_read:
                    # a getter may take its time: it must not hold up the other PVs
                    watched.reading = asyncio.get_running_loop().create_task(
                        self._send_read(watched, flags))
                else:
                    await self._send_update(watched, flags)
                    watched.last_sent = time.monotonic()
                if count % SENDS_PER_YIELD == 0:
                    await asyncio.sleep(0)
            if self._dirty:
                self._wake.set()
            await asyncio.sleep(THROTTLE)

    async def _send_read(self, watched: _Watched, flags: int) -> None:
        try:
            await self._send_update(watched, flags)
        finally:
            watched.reading = None
            watched.last_sent = time.monotonic()
            if watched.name in self._dirty:
                self._wake.set()

    async def _send_update(self, watched: _Watched, flags: int) -> None:
        channel = watched.channel
        if channel is None:
            if watched.sent.get("severity") != "UNDEFINED":
                watched.sent = {"severity": "UNDEFINED", "readonly": True}
                await self._send(_valueless(watched.name, "UNDEFINED", True))
                await self._error(f"PV {watched.name!r} is not served by this host")
            return
        try:
            check_read(channel, self.peer)
            if watched.display is None or flags & DBE_PROPERTY:
                watched.display = replace(read_display(channel),
                                          description=self._description(watched))
            reading = await aread_value(channel)
        except Exception as exc:  # a broken channel must not end the socket
            if watched.channel is channel:
                await self._refused(watched, exc)
            return
        if watched.channel is not channel:  # cleared or removed while reading
            return
        if watched.refused is not None:    # readable again: everything anew
            watched.refused = None
            watched.sent = {}
        message = update_message(watched.name, reading, watched.display,
                                 self._readonly(channel), watched.sent)
        self.updates_sent += 1
        await self._send(message)

    def _description(self, watched: _Watched) -> str:
        """The DESC of the record a PV is the value of ("" for any other PV), as pvws'
        ``description``."""
        name = watched.name.removeprefix(CA_SCHEME).removesuffix(".VAL")
        desc = None if "." in name else self.database.resolve(name + ".DESC")
        try:
            if desc is None or desc.needs_async_read:
                return ""
            check_read(desc, self.peer)
            text = read_value(desc).value
        except Exception:  # no description is no reason to fail the PV
            return ""
        return text if isinstance(text, str) else ""

    async def _refused(self, watched: _Watched, exc: Exception) -> None:
        """The PV cannot be read (no read access, its getter failed): an update without a
        value and an error, once for each new reason."""
        refusal = exc if isinstance(exc, ReadRefused) else read_failure(exc)
        if watched.refused == str(refusal):
            return
        if not isinstance(exc, ReadRefused):
            log.warning("web: reading %s failed: %s", watched.name, exc)
        watched.refused = str(refusal)
        watched.sent = {}
        assert watched.channel is not None
        await self._send(_valueless(watched.name, "INVALID", self._readonly(watched.channel)))
        await self._error(f"cannot read {watched.name}: {refusal}")

    # -- writes --------------------------------------------------------------------------------
    async def _write(self, request: dict[str, Any]) -> None:
        name = request.get("pv")
        if not isinstance(name, str) or "value" not in request:
            await self._error("a write needs 'pv' and 'value'")
            return
        if name not in self.watched:    # as pvws: a socket writes only what it shows
            await self._error(f"cannot write {name}: not subscribed (subscribe to it first)")
            return
        try:
            if not self.writable:
                raise WritesDisabled()
            channel = self.database.resolve(name.removeprefix(CA_SCHEME))
            if channel is None:
                await self._error(f"cannot write unknown PV {name}")
                return
            await web_put(channel, request["value"], self.peer)
        except (WritesDisabled, PutRefused) as exc:
            await self._error(f"write to {name} refused: {exc}")

