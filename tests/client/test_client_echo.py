"""Circuit health by echo: a server that stops answering (its process frozen with SIGSTOP,
so the kernel keeps the TCP connection open) is declared dead after EPICS_CA_CONN_TMO of
silence plus the echo timeout, the channel reports the disconnect, and it reconnects by
itself once the server answers again."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time

from client_servers import PREFIX, config_for, start
from softioc_process import free_port

from iochost.client import Context
from iochost.client.circuit import ECHO_TIMEOUT

SILENCE = 0.5  # EPICS_CA_CONN_TMO for this test: probe after half a second of silence


async def test_a_silent_server_is_declared_dead_by_echo_and_the_channel_comes_back():
    port = free_port()
    handle = start("caproto", port)  # a real server in a process of its own
    pid = handle.proc.pid
    config = dataclasses.replace(config_for(port), connection_timeout=SILENCE)
    events: list[tuple[bool, float]] = []
    try:
        async with Context(config) as context:
            channel = await context.connect(PREFIX + "LNG", timeout=20)
            channel.add_connection_callback(
                lambda _, connected: events.append((connected, time.monotonic())))
            assert (await channel.get()).value == 7
            os.kill(pid, signal.SIGSTOP)
            frozen = time.monotonic()
            try:
                for _ in range(int((SILENCE + ECHO_TIMEOUT + 10) / 0.1)):
                    if events:
                        break
                    await asyncio.sleep(0.1)
                assert events and events[0][0] is False, "no disconnect while frozen"
                dead_after = events[0][1] - frozen
                assert SILENCE + ECHO_TIMEOUT - 0.5 <= dead_after <= SILENCE + ECHO_TIMEOUT + 5
            finally:
                os.kill(pid, signal.SIGCONT)
            await channel.wait_connected(timeout=30)
            assert events[-1][0] is True
            assert (await channel.get()).value == 7
    finally:
        os.kill(pid, signal.SIGCONT)
        handle.stop()
