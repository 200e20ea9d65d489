"""The OpenAPI 3.1 document of the JSON API, served at ``/api/openapi.json``.

Written as data next to the handlers in :mod:`.api`; the tests validate every answer of a
running host against the schemas here, so the two cannot drift apart silently.
"""
from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_NUMBER_OR_TEXT = {"oneOf": [{"type": "number"}, {"type": "string"}]}
_SEVERITY = {"type": "string", "enum": ["NONE", "MINOR", "MAJOR", "INVALID", "UNDEFINED"]}
_COUNT = {"type": "integer", "minimum": 0}
_CLIENT_REF = {"$ref": "#/components/schemas/Client"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "PutRefused": {
        "description": "a put or read refused with an ECA status, as a CA client sees it",
        "type": "object", "required": ["error", "eca", "status"],
        "properties": {"error": {"type": "string", "description": "the ECA text"},
                       "eca": {"type": "string", "pattern": "^ECA_"},
                       "status": {"type": "integer"}},
    },
    "Host": {
        "type": "object",
        "required": ["name", "version", "uptime", "cpu_percent", "memory_mb", "ca_port",
                     "clients", "channels", "subscriptions", "pvs", "updates_sent",
                     "updates_per_second", "bytes_sent", "web_writable", "loop_blocks",
                     "loop_max_block"],
        "properties": {
            "name": {"type": "string"}, "version": {"type": "string"},
            "uptime": {"type": "number", "minimum": 0},
            "cpu_percent": {"type": "number", "minimum": 0},
            "memory_mb": {"type": "number", "minimum": 0},
            "ca_port": {"type": ["integer", "null"]},
            "clients": _COUNT, "channels": _COUNT, "subscriptions": _COUNT, "pvs": _COUNT,
            "updates_sent": _COUNT, "updates_per_second": {"type": "number", "minimum": 0},
            "bytes_sent": _COUNT, "web_writable": {"type": "boolean"},
            "loop_blocks": dict(_COUNT, description="times code blocked the event loop "
                                                    "longer than host.loop_watchdog"),
            "loop_max_block": {"type": "number", "minimum": 0,
                               "description": "the longest such block, seconds"},
        },
    },
    "Mount": {
        "type": "object",
        "required": ["name", "ioc", "prefix", "state", "error", "pvs", "plugin",
                     "distribution", "version", "helpers", "description", "loop_blocks"],
        "properties": {
            "name": {"type": "string"}, "ioc": {"type": "string"},
            "prefix": {"type": "string"},
            "state": {"type": "string", "description": "running, failed, unmounted, disabled"},
            "error": {"type": ["string", "null"]}, "pvs": _COUNT,
            "plugin": {"type": ["string", "null"]},
            "distribution": {"type": ["string", "null"]},
            "version": {"type": ["string", "null"]},
            "helpers": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "loop_blocks": dict(_COUNT, description="event-loop blocks attributed to the "
                                                    "mount's code"),
        },
    },
    "MountDetail": {
        "allOf": [{"$ref": "#/components/schemas/Mount"},
                  {"type": "object", "required": ["pvnames"],
                   "properties": {"pvnames": {"type": "array", "items": {"type": "string"}}}}],
    },
    "PV": {
        "type": "object",
        "required": ["name", "type", "count", "value", "text", "units", "precision",
                     "severity", "status", "timestamp", "writable"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string",
                     "enum": ["STRING", "INT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE"]},
            "count": _COUNT,
            "value": {"description": "number, text, or a list of either; non-finite numbers "
                                     "as the text NaN/Infinity/-Infinity; null in a list "
                                     "for a PV that cannot be read (see error and eca)",
                      "oneOf": [{"type": "number"}, {"type": "string"}, {"type": "null"},
                                {"type": "array", "items": _NUMBER_OR_TEXT}]},
            "error": {"type": "string", "description": "only on a PV of a list that cannot "
                                                      "be read: why (the ECA text)"},
            "eca": {"type": "string", "pattern": "^ECA_",
                    "description": "ECA_NORDACCESS (no read access) or ECA_GETFAIL..."},
            "text": {"type": ["string", "null"], "description": "an enum's state string"},
            "units": {"type": "string"}, "precision": {"type": "integer"},
            "severity": _SEVERITY, "status": {"type": "integer", "minimum": 0},
            "timestamp": {"type": ["number", "null"], "description": "Unix seconds"},
            "writable": {"type": "boolean",
                         "description": "web writes on and this client has write access"},
        },
    },
    "PutRequest": {
        "type": "object", "required": ["value"],
        "properties": {"value": {"oneOf": [
            {"type": "number"}, {"type": "string"},
            {"type": "array", "items": {"type": "number"}},
            {"type": "array", "items": {"type": "string"}}]}},
    },
    "Client": {
        "type": "object",
        "required": ["client_id", "host", "user", "peer", "priority", "protocol_version",
                     "connected_at", "channels", "subscriptions", "bytes_sent",
                     "bytes_received", "updates_sent", "backlog", "rights"],
        "properties": {
            "client_id": {"type": "integer"}, "host": {"type": "string"},
            "user": {"type": "string"}, "peer": {"type": "string"},
            "priority": {"type": "integer"}, "protocol_version": {"type": "integer"},
            "connected_at": {"type": "number"}, "channels": _COUNT,
            "subscriptions": _COUNT, "bytes_sent": _COUNT, "bytes_received": _COUNT,
            "updates_sent": _COUNT, "backlog": _COUNT,
            "rights": {"type": "object",
                       "description": "how many of its channels it may read and write",
                       "required": ["read-write", "read-only", "no-access"],
                       "additionalProperties": _COUNT},
        },
    },
    "ClientDetail": {
        "allOf": [_CLIENT_REF, {"type": "object", "required": ["channel_list"], "properties": {
            "channel_list": {"type": "array", "items": {
                "type": "object", "required": ["name", "rights", "subscriptions"],
                "properties": {"name": {"type": "string"},
                               "rights": {"type": "string", "enum": [
                                   "read-write", "read-only", "write-only", "no-access"]},
                               "subscriptions": _COUNT}}}}}],
    },
    "AccessReloaded": {
        "type": "object", "required": ["reloaded"],
        "properties": {"reloaded": {"const": True}},
    },
    "Plugin": {
        "type": "object",
        "required": ["name", "loaded", "error", "iocs", "record_types", "helpers"],
        "properties": {
            "name": {"type": "string"}, "distribution": {"type": ["string", "null"]},
            "version": {"type": ["string", "null"]},
            "entry_point": {"type": ["string", "null"]}, "builtin": {"type": "boolean"},
            "disabled": {"type": "boolean"}, "loaded": {"type": "boolean"},
            "error": {"type": ["string", "null"]},
            "hooks": {"type": "array", "items": {"type": "string"}},
            "iocs": {"type": "array", "items": {"type": "string"}},
            "record_types": {"type": "array", "items": {"type": "string"}},
            "helpers": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Health": {
        "type": "object", "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unhealthy"]},
            "mounts": {"type": "array", "items": {
                "type": "object", "required": ["name", "state", "error"],
                "properties": {"name": {"type": "string"}, "state": {"type": "string"},
                               "error": {"type": ["string", "null"]}}}},
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


_NAME = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
_NOT_FOUND = _answer("no such mount or PV", _ref("Error"))


def openapi_document(version: str) -> dict[str, Any]:
    """The document for this host's version of the API."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "iochost web API", "version": version,
                 "description": "Status of an iochost host: its mounts, PVs, CA clients and "
                                "plugins. See docs/web.md."},
        "paths": {
            "/api/host": {"get": {"summary": "The host at a glance",
                                  "responses": {"200": _answer("the host", _ref("Host"))}}},
            "/api/mounts": {"get": {"summary": "Every configured mount",
                                    "responses": {"200": _answer("mounts", _list("Mount"))}}},
            "/api/mounts/{name}": {"get": {
                "summary": "One mount and its PV names", "parameters": _NAME,
                "responses": {"200": _answer("the mount", _ref("MountDetail")),
                              "404": _NOT_FOUND}}},
            "/api/mounts/{name}/pvs": {"get": {
                "summary": "The current value, alarm and metadata of a mount's PVs",
                "parameters": _NAME,
                "responses": {"200": _answer("its PVs", _list("PV")), "404": _NOT_FOUND}}},
            "/api/pvs/{name}": {
                "get": {"summary": "One PV", "parameters": _NAME,
                        "responses": {"200": _answer("the PV", _ref("PV")),
                                      "403": _answer("no read access (ECA_NORDACCESS)",
                                                     _ref("PutRefused")),
                                      "404": _NOT_FOUND,
                                      "500": _answer("the PV's read failed (ECA_GETFAIL "
                                                     "or its own status)",
                                                     _ref("PutRefused"))}},
                "put": {"summary": "Write a PV (only with web.writable: true), through the "
                                   "same put path as a CA client",
                        "parameters": _NAME,
                        "requestBody": {"required": True, "content": {
                            "application/json": {"schema": _ref("PutRequest")}}},
                        "responses": {
                            "200": _answer("written; the PV now", _ref("PV")),
                            "400": _answer("the value was refused (ECA status)",
                                           {"anyOf": [_ref("PutRefused"), _ref("Error")]}),
                            "403": _answer("web writes are off, or no write access",
                                           {"anyOf": [_ref("PutRefused"), _ref("Error")]}),
                            "404": _NOT_FOUND}},
            },
            "/api/clients": {"get": {"summary": "Connected CA clients",
                                     "responses": {"200": _answer("clients",
                                                                  _list("Client"))}}},
            "/api/clients/{client_id}": {"get": {
                "summary": "One CA client and the rights it has on each channel it opened",
                "parameters": [{"name": "client_id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "responses": {"200": _answer("the client", _ref("ClientDetail")),
                              "404": _answer("not connected", _ref("Error"))}}},
            "/api/access/reload": {"post": {
                "summary": "Read the access rules file again (only with web.writable: true)",
                "responses": {
                    "200": _answer("the new rules are in force", _ref("AccessReloaded")),
                    "403": _answer("web writes are off", _ref("Error")),
                    "409": _answer("the host has no access rules", _ref("Error")),
                    "422": _answer("the file has errors; the old rules stay",
                                   _ref("Error"))}}},
            "/api/plugins": {"get": {"summary": "Installed plugins (as iochost list-plugins)",
                                     "responses": {"200": _answer("plugins",
                                                                  _list("Plugin"))}}},
            "/healthz": {"get": {"summary": "Whether every enabled mount runs",
                                 "responses": {"200": _answer("healthy", _ref("Health")),
                                               "503": _answer("failed mounts",
                                                              _ref("Health"))}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text format 0.0.4)",
                                 "responses": {"200": {"description": "metrics",
                                                       "content": {"text/plain": {}}}}}},
        },
        "components": {"schemas": SCHEMAS},
    }
