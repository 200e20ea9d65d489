"""``async_lib`` in hooks: threads feed PVs through ThreadsafeQueue (blocking put/get on
the thread side, async_put/async_get on the loop side), and a thread's Event.set() wakes a
putter, so a client's put completes when threaded work is done."""
import asyncio
import threading
import time

import pytest

from iochost import AsyncioAsyncLayer, AsyncLibraryLayer, PVGroup, pvproperty
from iochost.ca.dbr import DBE_VALUE
from test_group_helpers import client, mount, TIMEOUT  # noqa: F401  (fixtures)


class ThreadFed(PVGroup):
    reading = pvproperty(value=0, read_only=True)
    work = pvproperty(value=0.0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ready = threading.Event()

    @reading.startup
    async def reading(self, instance, async_lib):
        assert async_lib.library is asyncio and async_lib.name == "asyncio"
        self.async_lib = async_lib
        self.inbox = async_lib.ThreadsafeQueue()
        self.outbox = async_lib.ThreadsafeQueue()
        self.ready.set()
        while True:
            item = await self.inbox.async_get()
            await instance.write(item)
            await self.outbox.async_put(item * 2)

    @work.putter
    async def work(self, instance, value):
        done = self.async_lib.Event()
        threading.Thread(target=lambda: (time.sleep(value), done.set()), daemon=True).start()
        assert await done.wait(timeout=TIMEOUT)
        return value


@pytest.fixture
def fed(mount, unique_prefix):
    group = mount(ThreadFed(prefix=unique_prefix))
    assert group.ready.wait(TIMEOUT)
    return group


def test_thread_feeds_a_pv_through_the_queue(fed, client):
    monitor = client.monitor(fed.prefix + "reading", DBE_VALUE)
    monitor.wait_for(1)
    for item in (1, 2, 3):
        fed.inbox.put(item)                       # plain thread (the test's) -> loop
    assert [event.data[0] for event in monitor.wait_for(4)[1:]] == [1, 2, 3]
    assert [fed.outbox.get(timeout=TIMEOUT) for _ in range(3)] == [2, 4, 6]   # loop -> thread


def test_put_completes_when_the_thread_sets_the_event(fed, client):
    started = time.monotonic()
    assert client.write(fed.prefix + "work", 0.3) == "ECA_NORMAL"
    assert time.monotonic() - started >= 0.3
    assert client.value(fed.prefix + "work") == 0.3


async def test_layer_api_in_the_loop():
    lib = AsyncioAsyncLayer()
    assert isinstance(lib, AsyncLibraryLayer)
    await lib.sleep(0)
    event = lib.Event()
    assert await event.wait(timeout=0.01) is False
    threading.Thread(target=event.set).start()
    assert await event.wait(timeout=TIMEOUT) is True
    queue = lib.ThreadsafeQueue()
    with pytest.raises(RuntimeError, match="would block the event loop"):
        queue.get()
    queue.put("from the loop thread")                 # does not block the loop
    assert await queue.async_get() == "from the loop thread"


def test_queue_needs_a_running_loop():
    with pytest.raises(RuntimeError, match="inside the event loop"):
        AsyncioAsyncLayer.ThreadsafeQueue()


def test_a_thread_waiting_on_the_queue_ends_quietly_when_the_loop_stops(monkeypatch):
    """caproto's worker-thread pattern: a daemon thread blocked in ``queue.get()`` when the
    IOC stops ends without a traceback (SystemExit, which threading keeps quiet)."""
    ended: list[type] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: ended.append(args.exc_type))
    threads = []

    async def ioc():
        queue = AsyncioAsyncLayer.ThreadsafeQueue()
        thread = threading.Thread(target=queue.get, daemon=True)
        thread.start()
        threads.append(thread)
        await asyncio.sleep(0.1)

    asyncio.run(ioc())
    threads[0].join(5)
    assert not threads[0].is_alive() and ended == [SystemExit]
