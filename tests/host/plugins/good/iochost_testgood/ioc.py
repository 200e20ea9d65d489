"""The test plugin's IOC (a stand-in with a ``pvdb`` until the framework is importable)."""
from __future__ import annotations


class CounterIOC:
    """Counts up; the options are what a test mount sets."""

    def __init__(self, prefix: str = "", *, macros=None, start: int = 0, step: float = 1.0,
                 label: str = "counter", fail_startup: bool = False) -> None:
        if start < 0:
            raise ValueError("start must not be negative")
        self.prefix = prefix
        self.macros = dict(macros or {})
        self.pvdb = {f"{prefix}{name}": object() for name in ("COUNT", "STEP", "LABEL")}
