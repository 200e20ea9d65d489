"""Serve a PVSet with caproto's asyncio server:
``python -m benchmarks.servers.serve_caproto JSON``."""
from __future__ import annotations

import sys

from caproto import ChannelDouble
from caproto.asyncio.server import run
from caproto.server import PVGroup, pvproperty

from benchmarks.netenv import die_with_parent
from benchmarks.pvset import PVSet
from benchmarks.servers.pyioc import IocApi, build_pvdb

if __name__ == "__main__":
    die_with_parent()
    pvdb = build_pvdb(PVSet.from_json(sys.argv[1]), IocApi(ChannelDouble, PVGroup, pvproperty))
    run(pvdb, interfaces=["127.0.0.1"])
