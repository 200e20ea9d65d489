"""A scan whose rate is the record's ``.SCAN`` field.

    python -m iochost_examples.scan_rate --prefix scan:
    camonitor scan:scanned          # the seconds between the last two scans
    caput scan:scanned.SCAN ".5 second"
    caput scan:scanned.SCAN Passive # pauses the scan
"""
import time

from iochost import PVGroup, ioc_arg_parser, pvproperty, run


class ScanRateIOC(PVGroup):
    """``scanned`` holds the time between its last two scans; ``count`` the scans so far."""

    scanned = pvproperty(value=0.0, record="ai", units="s", precision=3, read_only=True,
                         doc="Seconds between the last two scans")
    count = pvproperty(value=0, read_only=True, doc="Scans so far")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_scan: float | None = None

    @scanned.scan(period=1.0, use_scan_field=True)
    async def scanned(self, instance, async_lib):
        now = time.monotonic()
        if self.last_scan is not None:
            await instance.write(now - self.last_scan)
        self.last_scan = now
        await self.count.write(self.count.value + 1)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="scan:", desc=ScanRateIOC.__doc__)
    run(ScanRateIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()
