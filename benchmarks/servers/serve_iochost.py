"""Serve a PVSet with iochost's server: ``python -m benchmarks.servers.serve_iochost JSON``.

The same IOC code as for caproto (``pyioc``), on iochost's framework and server, with the
event loop iochost itself uses (uvloop when installed).
"""
from __future__ import annotations

import sys

from benchmarks.netenv import die_with_parent
from benchmarks.pvset import PVSet
from benchmarks.servers.pyioc import IocApi, build_pvdb
from iochost import PVGroup, pvproperty
from iochost.pv.data import ChannelDouble
from iochost.server import Server, ServerConfig, new_event_loop


async def serve(pvs: PVSet) -> None:
    server = Server(build_pvdb(pvs, IocApi(ChannelDouble, PVGroup, pvproperty)),
                    ServerConfig.from_env())
    await server.start()
    await server.serve_forever()


if __name__ == "__main__":
    die_with_parent()
    new_event_loop().run_until_complete(serve(PVSet.from_json(sys.argv[1])))
