"""`/api/calls/<call-id>/data`: a routed call's enterprise data, read (GET) and added (POST).

An integration (a CRM, an IVR) posts a JSON object of string fields for a call in progress;
the fields join what the incoming call's headers gave, are journaled with the call, and show
on the agent's Caller Data screen (issue 16). The body is bounded (size, one level of
strings, at most `MAX_FIELDS` fields) before anything is stored. POST needs the site's
`[http] token` like every control request (http_api.Root checks it).
"""

from __future__ import annotations

import json
from typing import Protocol

from acdgate.acd.caller_data import DataFields, fields_from_json
from twisted.web import resource, server

MAX_BODY_BYTES = 16384


class CallData(Protocol):
    """What the API reads and adds (calls.routed.RoutedCalls)."""

    def data_of(self, call_id: str) -> DataFields | None: ...

    def add_data(self, call_id: str, fields: DataFields) -> bool: ...


def _json(request: server.Request, status: int, body: object) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"


class CallDataResource(resource.Resource):
    """`GET|POST /api/calls/<call-id>/data`; `calls` is asked when the request comes (the
    routed calls exist once the gateway listens)."""

    isLeaf = True
    subroutes = (("GET", "/{call}/data"), ("POST", "/{call}/data"))  # for http_api.api_routes

    def __init__(self, calls: CallData) -> None:
        super().__init__()
        self._calls = calls

    def _call_id(self, request: server.Request) -> str | None:
        path = request.postpath or []
        if len(path) != 2 or path[1] != b"data" or not path[0]:
            return None
        return path[0].decode(errors="replace")

    def render_GET(self, request: server.Request) -> bytes:
        call_id = self._call_id(request)
        data = self._calls.data_of(call_id) if call_id is not None else None
        if call_id is None or data is None:
            return _json(request, 404, {"error": "no such routed call in progress"})
        return _json(request, 200, {"call_id": call_id, "data": dict(data)})

    def render_POST(self, request: server.Request) -> bytes:
        call_id = self._call_id(request)
        if call_id is None:
            return _json(request, 404, {"error": "no such resource: POST /api/calls/<call-id>/data"})
        raw = request.content.read(MAX_BODY_BYTES + 1) if request.content is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            return _json(request, 400, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return _json(request, 400, {"error": "the body is not JSON"})
        fields = fields_from_json(body)
        if isinstance(fields, str):
            return _json(request, 400, {"error": fields})
        if not self._calls.add_data(call_id, fields):
            return _json(request, 404, {"error": "no such routed call in progress"})
        return _json(request, 200, {"call_id": call_id, "data": dict(self._calls.data_of(call_id) or ())})
