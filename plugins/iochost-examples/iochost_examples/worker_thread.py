"""Blocking work on a worker thread, with put completion: a put to ``request`` (seconds of
work) completes only when the thread has done it, so ``caput -c`` / ``put(wait=True)``
returns then; ``done`` counts finished requests."""
import threading
import time

from iochost import PVGroup, ioc_arg_parser, pvproperty, run


def worker(requests) -> None:
    """The blocking side: sleep as asked (standing in for slow I/O), then signal."""
    while True:
        event, seconds = requests.get()
        time.sleep(seconds)
        event.set()                       # thread-safe: wakes the waiting putter


class WorkerThreadIOC(PVGroup):
    """request: seconds of blocking work per put; done: requests finished."""

    request = pvproperty(value=0.0, doc="Seconds of work; the put completes when done",
                         lower_ctrl_limit=0.0, upper_ctrl_limit=10.0)
    done = pvproperty(value=0, read_only=True, doc="Requests finished")

    @request.startup
    async def request(self, instance, async_lib):
        self.requests = async_lib.ThreadsafeQueue()
        self.Event = async_lib.Event
        threading.Thread(target=worker, args=(self.requests,), daemon=True,
                         name="worker").start()

    @request.putter
    async def request(self, instance, value):
        finished = self.Event()
        await self.requests.async_put((finished, value))
        await finished.wait()
        await self.done.write(self.done.value + 1)
        return value


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="wt:", desc=WorkerThreadIOC.__doc__)
    run(WorkerThreadIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()
