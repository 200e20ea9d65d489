"""The examples' iochost plugin: each example IOC, registered under a short name.

Declared in this distribution's ``pyproject.toml`` exactly as a third-party plugin does::

    [project.entry-points.iochost]
    examples = "iochost_examples.plugin"

The IOCs that read standard input (``io_interrupt``) or are not PVGroup classes
(``no_pvproperty``) are run as scripts only.
"""
from iochost.host import hookimpl

from . import (
    custom_write,
    decay,
    demo_mirror,
    enums,
    macros,
    mini_beamline,
    random_walk,
    records,
    rpc_function,
    scan_rate,
    setpoint_rbv,
    simple,
    skip_write,
    startup_and_shutdown_hooks,
    subgroups,
    worker_thread,
)

#: mount name (``ioc:`` in a host config) -> IOC class
EXAMPLE_IOCS = {
    "simple": simple.SimpleIOC,
    "custom-write": custom_write.CustomWrite,
    "decay": decay.Decay,
    "macros": macros.MacroifiedNames,
    "random-walk": random_walk.RandomWalkIOC,
    "setpoint-rbv": setpoint_rbv.PairsIOC,
    "skip-write": skip_write.SkipWriteIOC,
    "startup-shutdown": startup_and_shutdown_hooks.StartupAndShutdown,
    "subgroups": subgroups.SubgroupsIOC,
    "worker-thread": worker_thread.WorkerThreadIOC,
    "records": records.RecordsIOC,
    "enums": enums.EnumIOC,
    "scan-rate": scan_rate.ScanRateIOC,
    "mini-beamline": mini_beamline.MiniBeamline,
    "demo-mirror": demo_mirror.DemoMirror,
    "rpc-function": rpc_function.RpcIOC,
}


@hookimpl
def iochost_register_iocs(register):
    for name, ioc_class in EXAMPLE_IOCS.items():
        register(name, ioc_class)
