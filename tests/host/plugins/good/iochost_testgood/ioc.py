"""The test plugin's IOC: a counter with startup and shutdown hooks that leave traces."""
from __future__ import annotations

import os

from iochost import PVGroup, pvproperty


class CounterIOC(PVGroup):
    """COUNT starts at ``start``; its shutdown hook records that it ran."""

    COUNT = pvproperty(value=0, doc="Set to `start` by the startup hook")
    STEP = pvproperty(value=1.0, doc="The step (from the options)")
    LABEL = pvproperty(value="", dtype=str, max_length=40, doc="Free text (from the options)")

    def __init__(self, *args, start: int = 0, step: float = 1.0, label: str = "counter",
                 fail_startup: bool = False, **kwargs) -> None:
        if start < 0:
            raise ValueError("start must not be negative")
        super().__init__(*args, **kwargs)
        self.start, self.step, self.label, self.fail_startup = start, step, label, fail_startup

    @COUNT.startup
    async def COUNT(self, instance, async_lib):
        from .plugin import record

        if self.fail_startup:
            raise RuntimeError("sensor offline")
        await self.STEP.write(self.step)
        await self.LABEL.write(self.label)
        await instance.write(self.start)
        record(f"ioc-startup {self.prefix}")

    @COUNT.shutdown
    async def COUNT(self, instance, async_lib):
        from .plugin import record

        # a device that takes a while to stop (an environment variable, not an option:
        # tests check the option list)
        await async_lib.library.sleep(float(os.environ.get("IOCHOST_TESTGOOD_SHUTDOWN_S", 0)))
        record(f"ioc-shutdown {self.prefix} {instance.value}")
