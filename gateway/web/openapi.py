"""The JSON API described in OpenAPI 3.1, served at `GET /api/openapi.json`.

Written as data: one entry per route (`http_api.api_routes` lists the routes the resource tree
serves; tests/gateway/test_openapi.py checks that the two agree both ways and, with
schemathesis against a running gateway, that the answers match these schemas). Schemas are
JSON Schema 2020-12, as OpenAPI 3.1 takes them. `/metrics` (Prometheus text) and the phone XML
services under `/xml/` are not JSON and are described in docs/http-api.md instead.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.web import resource, server

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INTEGER = {"type": ["integer", "null"]}
_AGENT_STATES = ["NOT_READY", "READY", "RESERVED", "TALKING", "WORK_READY", "WORK_NOT_READY"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


_ERROR = {"description": "refused, with the reason", "content": _json_content(_ref("Error"))}

SCHEMAS: dict[str, Any] = {
    "CallData": {
        "type": "object", "required": ["call_id", "data"],
        "properties": {"call_id": {"type": "string"},
                       "data": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Index": {
        "type": "object", "required": ["resources"],
        "properties": {"resources": {"type": "array", "items": {"type": "string", "pattern": "^/api/"}}},
    },
    "Contact": {
        "type": "object",
        "required": ["contact", "transport", "source", "user_agent", "expires", "reachable"],
        "properties": {
            "contact": {"type": "string"},
            "transport": {"type": "string", "enum": ["UDP", "TCP", "TLS"]},
            "source": {"type": "string", "description": "host:port the REGISTER came from"},
            "user_agent": {"type": "string"},
            "expires": {"type": "integer", "minimum": 0, "description": "seconds left"},
            "reachable": {"type": "boolean", "description": "answers OPTIONS (qualify)"},
        },
    },
    "H323Registration": {
        "type": "object",
        "required": ["endpoint_identifier", "aliases", "call_signal_address", "ras_address", "source",
                     "endpoint_type", "vendor", "expires"],
        "properties": {
            "endpoint_identifier": {"type": "string"},
            "aliases": {"type": "array", "items": {
                "type": "object", "required": ["kind", "value"],
                "properties": {"kind": {"type": "string"}, "value": {"type": "string"}}}},
            "call_signal_address": {"type": "string"},
            "ras_address": {"type": "string"},
            "source": {"type": "string"},
            "endpoint_type": {"type": "string"},
            "vendor": {"type": "string"},
            "expires": {"type": "integer", "minimum": 0},
        },
    },
    "Station": {
        "type": "object",
        "required": ["extension", "label", "sip_username", "registered", "reachable", "contacts",
                     "h323_alias", "h323", "user", "display"],
        "properties": {
            "extension": {"type": "string"},
            "label": {"type": "string"},
            "sip_username": {"type": "string"},
            "registered": {"type": "boolean"},
            "reachable": {"type": "boolean"},
            "contacts": {"type": "array", "items": _ref("Contact")},
            "h323_alias": _NULLABLE_STRING,
            "h323": {"type": "array", "items": _ref("H323Registration")},
            "user": {**_NULLABLE_STRING, "description": "the agent logged on here"},
            "display": {"type": "string", "description": "the agent's name, or \"No User\""},
        },
    },
    "Agent": {
        "type": "object",
        "required": ["user", "name", "station", "state", "reason_code", "pending_state", "since",
                     "calls_handled"],
        "properties": {
            "user": {"type": "string"},
            "name": {"type": "string"},
            "station": _NULLABLE_STRING,
            "state": {"type": "string", "enum": _AGENT_STATES},
            "reason_code": _NULLABLE_INTEGER,
            "pending_state": {"type": ["string", "null"], "enum": [*_AGENT_STATES, None]},
            "since": {"type": "number", "description": "when the state began (Unix time)"},
            "calls_handled": {"type": "integer", "minimum": 0},
        },
    },
    "Group": {
        "type": "object",
        "required": ["number", "name", "mode", "members", "monitored", "ciq", "lqt", "agents"],
        "properties": {
            "number": {"type": "string"},
            "name": {"type": "string"},
            "mode": {"type": "string", "enum": ["linear", "circular", "most-idle", "collective", "skills"]},
            "members": {"type": "array", "items": {"type": "string"}},
            "monitored": {"type": "boolean"},
            "ciq": {"type": "integer", "minimum": 0, "description": "calls in queue"},
            "lqt": {"type": "number", "minimum": 0, "description": "longest queued time, seconds"},
            "agents": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
                       "description": "enabled members per agent state"},
        },
    },
    "Recording": {
        "type": "object",
        "required": ["call_id", "agent", "group", "started", "by", "supervisor", "path", "ended",
                     "duration", "size"],
        "properties": {
            "call_id": {"type": "string"},
            "agent": {"type": "string"},
            "group": {"type": "string"},
            "started": {"type": "number"},
            "by": {"type": "string"},
            "supervisor": {"type": "boolean"},
            "path": {"type": "string"},
            "ended": {"type": ["number", "null"], "description": "null while it runs"},
            "duration": {"type": "number", "minimum": 0},
            "size": {"type": "integer", "minimum": 0},
        },
    },
    "AgentAction": {
        "type": "object", "required": ["user"],
        "properties": {
            "user": {"type": "string", "description": "the supervisor's user id (logged on)"},
            "station": {"type": "string",
                        "description": "monitor/whisper/barge/intercept: the station to ring "
                                       "(default: where the supervisor is logged on)"},
            "on": {"type": "boolean", "description": "record: start (true, default) or stop"},
        },
    },
    "ActionResult": {
        "type": "object", "required": ["result"],
        "properties": {"result": {"type": "string"}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "reasons", "version", "uptime_seconds", "store_writable", "sip_listening",
                     "h323_listening"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "version": {"type": "string"},
            "uptime_seconds": {"type": "number", "minimum": 0},
            "store_writable": {"type": "boolean"},
            "sip_listening": {"type": "boolean"},
            "h323_listening": {"type": "boolean"},
        },
    },
}

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_SPAN = {
    "from": {"type": "string", "description": "ISO 8601, UTC"}, "to": {"type": "string"},
    "from_epoch": {"type": "number"}, "to_epoch": {"type": "number"},
}
SCHEMAS.update({
    "GroupReportRow": {
        "type": "object",
        "required": ["from", "to", "group", "name", "offered", "answered", "abandoned", "overflowed"],
        "properties": {
            **_SPAN, "group": {"type": "string"}, "name": {"type": "string"},
            "offered": {"type": "integer"}, "answered": {"type": "integer"},
            "answered_in_threshold": {"type": "integer"}, "abandoned": {"type": "integer"},
            "short_abandoned": {"type": "integer"}, "overflowed": {"type": "integer"},
            "asa_seconds": _NUMBER_OR_NULL, "longest_wait_seconds": _NUMBER_OR_NULL,
            "service_level_threshold_seconds": _NUMBER_OR_NULL, "service_level_percent": _NUMBER_OR_NULL,
            "abandon_rate_percent": _NUMBER_OR_NULL,
        },
    },
    "AgentReportRow": {
        "type": "object",
        "required": ["from", "to", "agent", "name", "logged_on_seconds", "states", "offered", "answered"],
        "properties": {
            **_SPAN, "agent": {"type": "string"}, "name": {"type": "string"},
            "logged_on_seconds": {"type": "number"},
            "states": {"type": "array", "items": {
                "type": "object", "required": ["state", "code", "label", "seconds"],
                "properties": {"state": {"type": "string"}, "code": _NULLABLE_INTEGER,
                               "label": {"type": "string"}, "seconds": {"type": "number"},
                               "periods": {"type": "integer"}}}},
            "offered": {"type": "integer"}, "answered": {"type": "integer"},
            "ring_no_answer": {"type": "integer"}, "completed": {"type": "integer"},
            "talk_seconds": {"type": "number"}, "average_talk_seconds": _NUMBER_OR_NULL,
            "wrapup_seconds": {"type": "number"}, "average_wrapup_seconds": _NUMBER_OR_NULL,
            "average_handle_seconds": _NUMBER_OR_NULL, "transfers": {"type": "integer"},
            "recordings": {"type": "integer"},
        },
    },
    "GroupReport": {
        "type": "object", "required": ["from", "to", "interval", "totals", "intervals"],
        "properties": {**_SPAN, "interval": {"type": "string"},
                       "totals": {"type": "array", "items": _ref("GroupReportRow")},
                       "intervals": {"type": "array", "items": _ref("GroupReportRow")}},
    },
    "AgentReport": {
        "type": "object",
        "required": ["from", "to", "interval", "totals", "intervals", "not_ready_periods", "sessions",
                     "wrapup_codes"],
        "properties": {**_SPAN, "interval": {"type": "string"},
                       "totals": {"type": "array", "items": _ref("AgentReportRow")},
                       "intervals": {"type": "array", "items": _ref("AgentReportRow")},
                       "not_ready_periods": {"type": "array", "items": {"type": "object"}},
                       "sessions": {"type": "array", "items": {"type": "object"}},
                       "wrapup_codes": {"type": "array", "items": {"type": "object"}}},
    },
})

# the archived reports' query (docs/reports.md)
_REPORT_PARAMETERS = [
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "epoch seconds or ISO 8601 (UTC unless it names an offset); default today 00:00 UTC"},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "as `from`; default now"},
    {"name": "interval", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["15", "30", "60", "day"]}, "description": "default 60"},
]
_REPORT_REFUSED = {"description": "a query parameter it cannot use, saying which and why",
                   "content": _json_content(_ref("Error"))}

_CALL_PARAMETER = {"name": "call", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "the caller's SIP Call-ID, percent-encoded"}

# One entry per (path, method) that http_api serves under /api.
PATHS: dict[str, Any] = {
    "/api": {"get": {
        "operationId": "index", "summary": "The API's resources",
        "responses": {"200": _ok("their paths", _ref("Index"))},
    }},
    "/api/stations": {"get": {
        "operationId": "stations", "summary": "Stations: SIP contacts, H.323 registrations, who is logged on",
        "responses": {"200": _ok("every station of the site", {"type": "array", "items": _ref("Station")})},
    }},
    "/api/agents": {"get": {
        "operationId": "agents", "summary": "Logged-on agents: station, state, reason code",
        "responses": {"200": _ok("every logged-on agent", {"type": "array", "items": _ref("Agent")})},
    }},
    "/api/agents/{agent}/{action}": {"post": {
        "operationId": "agentAction",
        "summary": "A supervisor action on an agent's call (needs the bearer token when the site sets one)",
        "parameters": [
            {"name": "agent", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "the agent's user id"},
            {"name": "action", "in": "path", "required": True,
             "schema": {"type": "string",
                        "enum": ["monitor", "whisper", "barge", "intercept", "leave", "record"]}},
        ],
        "requestBody": {"required": False, "content": _json_content(_ref("AgentAction"))},
        "security": [{}, {"bearer": []}],
        "responses": {
            "200": _ok("done", _ref("ActionResult")),
            "401": {"description": "no or a wrong bearer token (RFC 6750)", "content": _json_content(_ref("Error"))},
            "default": _ERROR,
        },
    }},
    "/api/groups": {"get": {
        "operationId": "groups", "summary": "Groups: mode, members, calls in queue, longest wait",
        "responses": {"200": _ok("every group of the site", {"type": "array", "items": _ref("Group")})},
    }},
    "/api/recordings": {"get": {
        "operationId": "recordings", "summary": "Call recordings, finished then running",
        "responses": {"200": _ok("every recording", {"type": "array", "items": _ref("Recording")})},
    }},
    "/api/reports/agents": {"get": {
        "operationId": "agentReport", "summary": "The archived agent report, from the journal (docs/reports.md)",
        "parameters": _REPORT_PARAMETERS,
        "responses": {"200": _ok("totals, intervals, Not Ready periods, sessions, wrap-up codes",
                                 _ref("AgentReport")),
                      "400": _REPORT_REFUSED},
    }},
    "/api/reports/groups": {"get": {
        "operationId": "groupReport", "summary": "The archived group report, from the journal (docs/reports.md)",
        "parameters": _REPORT_PARAMETERS,
        "responses": {"200": _ok("totals and intervals", _ref("GroupReport")), "400": _REPORT_REFUSED},
    }},
    "/api/reports/html": {"get": {
        "operationId": "htmlReport", "summary": "The archived report as an HTML page with charts",
        "parameters": _REPORT_PARAMETERS,
        "responses": {"200": {"description": "a page that opens with no network",
                              "content": {"text/html": {"schema": {"type": "string"}}}},
                      "400": _REPORT_REFUSED},
    }},
    "/api/health": {"get": {
        "operationId": "health", "summary": "Whether the gateway can take traffic (for load balancers)",
        "responses": {
            "200": _ok("it can", _ref("Health")),
            "503": _ok("it cannot: the state store is not writable, or it is stopping", _ref("Health")),
        },
    }},
    # -- caller data (issue 16) --
    "/api/calls/{call}/data": {
        "get": {
            "operationId": "callData", "summary": "A routed call's enterprise data (headers and API)",
            "parameters": [_CALL_PARAMETER],
            "responses": {"200": _ok("the call's fields", _ref("CallData")), "404": _ERROR},
        },
        "post": {
            "operationId": "addCallData",
            "summary": "Add fields to a routed call's enterprise data (needs the bearer token when the site sets one)",
            "parameters": [_CALL_PARAMETER],
            "requestBody": {"required": True, "content": _json_content(
                {"type": "object", "maxProperties": 32, "additionalProperties": {"type": "string", "maxLength": 256}})},
            "security": [{}, {"bearer": []}],
            "responses": {
                "200": _ok("the call's fields now", _ref("CallData")),
                "400": _ERROR,
                "401": {"description": "no or a wrong bearer token (RFC 6750)", "content": _json_content(_ref("Error"))},
                "404": _ERROR,
            },
        },
    },
    "/api/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This description",
        "responses": {"200": _ok("OpenAPI 3.1", {"type": "object", "required": ["openapi", "paths"]})},
    }},
}

# -- real time (issue 17): the wallboard's stream and the agent-state actions (docs/wallboard.md) --
PATHS["/api/agents/{agent}/{action}"]["post"]["parameters"][1]["schema"]["enum"] += ["logout", "not-ready", "ready"]
PATHS["/api/agents/{agent}/{action}"]["post"]["summary"] = (
    "A supervisor action on an agent's call, or on its state: logout (from Not Ready only), not-ready, ready "
    "(needs the bearer token when the site sets one)")
PATHS["/api/agents/{agent}/{action}"]["post"]["responses"]["202"] = _ok(
    "a state chosen while the agent talks: taken when the call ends", _ref("ActionResult"))
SCHEMAS["AgentAction"]["properties"]["reason"] = {
    "type": "integer", "description": "logout, not-ready: the logout or Not Ready reason code (the site's tables)"}
PATHS["/api/agents/{agent}/groups/{group}"] = {"post": {
    "operationId": "agentGroup",
    "summary": "Enable or disable an agent's membership of a group (needs the bearer token when the site sets one)",
    "parameters": [
        {"name": "agent", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "group", "in": "path", "required": True, "schema": {"type": "string"}},
    ],
    "requestBody": {"required": True, "content": _json_content({
        "type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}})},
    "security": [{}, {"bearer": []}],
    "responses": {
        "200": _ok("done", _ref("ActionResult")),
        "401": {"description": "no or a wrong bearer token (RFC 6750)", "content": _json_content(_ref("Error"))},
        "default": _ERROR,
    },
}}
PATHS["/api/events"] = {"get": {
    "operationId": "events",
    "summary": "The wallboard's Server-Sent Events stream: a snapshot, then deltas (docs/wallboard.md); "
               "with a site token, as a bearer token or ?token=",
    "parameters": [
        {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "resume after this event id (a snapshot when the gateway no longer holds it)"},
        {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
    ],
    "responses": {
        "200": {"description": "an endless stream of `snapshot`, `agent`, `group` and `call` events",
                "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        "401": {"description": "no or a wrong token", "content": _json_content(_ref("Error"))},
    },
}}
# -- end of real time --

# -- hardening (issue 19): guarded reads, bounded bodies --
_UNAUTHORIZED = {"description": "no or a wrong bearer token (RFC 6750)", "content": _json_content(_ref("Error"))}
_OPEN_READS = ("/api", "/api/health", "/api/openapi.json")
for _path, _item in PATHS.items():
    for _method, _operation in _item.items():
        if _method == "get" and _path not in _OPEN_READS:  # with a site token, reads need it too
            _operation.setdefault("security", [{}, {"bearer": []}])
            _operation["responses"].setdefault("401", _UNAUTHORIZED)
            if _path != "/api/events":
                _operation.setdefault("parameters", [])
                _operation["parameters"] = [*_operation["parameters"], {
                    "name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                    "description": "the site token, for clients that cannot send a header"}]
        if _method == "post":
            _operation["responses"].setdefault("400", _ERROR)  # not JSON, or nested too deep
            _operation["responses"]["413"] = {
                "description": "the body is larger than [http] max_body_bytes: refused unread, connection closed",
                "content": _json_content(_ref("Error"))}
# -- end of hardening --

DESCRIPTION: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "acdgate HTTP API",
        "version": "1",
        "description": "Stations, agents, groups and recordings of an acdgate ACD gateway, supervisor "
                       "actions, and its health. docs/http-api.md has the prose.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                       "description": "the site file's [http] token"}},
    },
}


def described_routes() -> list[tuple[str, str]]:
    """Every (METHOD, path) the description has an entry for."""
    return sorted((method.upper(), path) for path, item in PATHS.items() for method in item)


class OpenApiResource(resource.Resource):
    """`GET /api/openapi.json`."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self._body = json.dumps(DESCRIPTION, indent=2, sort_keys=True).encode() + b"\n"

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return self._body


__all__ = ["DESCRIPTION", "OpenApiResource", "described_routes"]
