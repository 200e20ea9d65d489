"""I/O-interrupt style updates from a thread: each line read by a plain thread (from
stdin, standing in for a device driver's callback) is published on ``keypress``.

The thread hands values to the event loop through ``async_lib.ThreadsafeQueue``.
"""
import sys
import threading
from typing import TextIO
from collections.abc import Callable

from iochost import PVGroup, ioc_arg_parser, pvproperty, run


def read_lines(stream: TextIO, new_value: Callable[[str], None]) -> None:
    """Blocking reader (runs in its own thread): report each line without its newline."""
    for line in stream:
        new_value(line.rstrip("\n"))


class IOInterruptIOC(PVGroup):
    """keypress: the latest line typed on the IOC's standard input; count: how many."""

    keypress = pvproperty(value="", max_length=40, report_as_string=True, read_only=True,
                          doc="The latest line read")
    count = pvproperty(value=0, read_only=True, doc="Lines read so far")

    def __init__(self, *args, stream: TextIO | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stream = sys.stdin if stream is None else stream

    @keypress.startup
    async def keypress(self, instance, async_lib):
        queue = async_lib.ThreadsafeQueue()
        threading.Thread(target=read_lines, args=(self.stream, queue.put), daemon=True,
                         name="io_interrupt reader").start()
        while True:
            line = await queue.async_get()
            await instance.write(line)
            await self.count.write(self.count.value + 1)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="io:",
                                              desc=IOInterruptIOC.__doc__)
    run(IOInterruptIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()
