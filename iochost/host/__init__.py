"""The plugin host: hookspecs, plugin discovery, the host config and the Host that mounts IOCs.

Plugin authors need only ``hookimpl``::

    from iochost.host import hookimpl

    @hookimpl
    def iochost_register_iocs(register):
        register("my-device", MyDeviceIOC)
"""
from .hostconfig import (
    CAConfig,
    HostConfig,
    HostSection,
    MountConfig,
    load_config,
    load_config_text,
    read_config,
)
from .hookspecs import hookimpl, hookspec
from .host import Host, Mount
from .iocinfo import OptionInfo
from .plugins import PluginCatalog, PluginInfo, load_plugins, make_plugin_manager
from .problems import ConfigError, ConfigProblem, Location
from .validation import validate

__all__ = [
    "CAConfig", "ConfigError", "ConfigProblem", "Host", "HostConfig", "HostSection", "Location",
    "Mount", "MountConfig", "OptionInfo", "PluginCatalog", "PluginInfo", "hookimpl", "hookspec",
    "load_config",
    "load_config_text", "load_plugins", "make_plugin_manager", "read_config", "validate",
]
