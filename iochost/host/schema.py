"""JSON Schema of the host config, including each installed IOC's options."""
from __future__ import annotations

from typing import Any

from . import hostconfig_keys as spec
from .iocinfo import options_schema
from .plugins import PluginCatalog

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: how an editor finds the schema (the YAML language server reads a config's first line)
EDITOR_HINT = ("Save with 'iochost schema > hostconfig.schema.json' and make this the first "
               "line of a host config: # yaml-language-server: $schema=hostconfig.schema.json")


def config_schema(catalog: PluginCatalog) -> dict[str, Any]:
    """The schema ``iochost schema`` prints: the config's structure from the config
    table, and per registered IOC (``ioc: name``) the options its class accepts."""
    mount = spec.section_schema(spec.MOUNT_FIELDS)
    if catalog.iocs:
        mount["properties"]["ioc"]["enum"] = sorted(catalog.iocs)
    if catalog.helpers:
        mount["properties"]["helpers"]["propertyNames"] = {"enum": sorted(catalog.helpers)}
    mount["allOf"] = [
        {"if": {"properties": {"ioc": {"const": name}}, "required": ["ioc"]},
         "then": {"properties": {"options": options_schema(registered.obj)}}}
        for name, registered in sorted(catalog.iocs.items())
    ]
    top = spec.section_schema(spec.TOP_FIELDS)
    top["properties"]["host"].update(spec.section_schema(spec.HOST_FIELDS))
    top["properties"]["ca"].update(spec.section_schema(spec.CA_FIELDS))
    top["properties"]["access"].update(spec.section_schema(spec.ACCESS_FIELDS))
    web = spec.section_schema(spec.WEB_FIELDS)
    top["properties"]["web"] = {"description": spec.TOP_FIELDS["web"].description,
                                "anyOf": [web, {"type": "boolean"}, {"type": "null"}]}
    top["properties"]["mounts"]["items"] = mount
    return {"$schema": SCHEMA_DIALECT, "title": "iochost host config",
            "description": EDITOR_HINT, **top}
