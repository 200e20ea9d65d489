"""A stand-in for a browser with iochost's mount page open: ``python -m benchmarks.webclient
URL PV[,PV...] SECONDS``.

It does what the page's script does, with no rendering: subscribes to the PVs over
``/pvws/pv`` and reads every update, and re-reads ``/api/host`` once a second. It prints
``READY`` after the first update, then one JSON line with what it received, and exits after
SECONDS (bounded: it never runs longer, whatever the server does).
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def browse(url: str, pvs: list[str], seconds: float) -> dict:
    updates = polls = 0
    ready = False
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "pvws/pv") as ws:
        await ws.send_str(json.dumps({"type": "subscribe", "pvs": pvs}))

        async def poll() -> None:
            nonlocal polls
            while True:
                async with session.get(url + "api/host") as response:
                    await response.json()
                polls += 1
                await asyncio.sleep(1.0)

        poller = asyncio.get_running_loop().create_task(poll())
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = await ws.receive(timeout=left)
                except TimeoutError:
                    break
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                if json.loads(message.data).get("type") == "update":
                    updates += 1
                    if not ready:
                        ready = True
                        print("READY", flush=True)
        finally:
            poller.cancel()
    return {"web_updates": updates, "web_polls": polls}


def main() -> None:
    url, pvs, seconds = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
    print(json.dumps(asyncio.run(browse(url, pvs, seconds))), flush=True)


if __name__ == "__main__":
    main()
