"""The read-only JSON API on `--http-port` (twisted.web): stations, agents, groups.

The resources only format what a `GatewayView` returns, so the same view serves the HTTP API,
the tests and (later) the phone XML services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from twisted.web import resource, server


class GatewayView(Protocol):
    """What the API shows: plain JSON-able rows, computed when asked."""

    def stations_view(self) -> list[dict[str, Any]]: ...

    def agents_view(self) -> list[dict[str, Any]]: ...

    def groups_view(self) -> list[dict[str, Any]]: ...


def _json(request: server.Request, status: int, body: object) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"


class _Collection(resource.Resource):
    """GET returns the rows of one view method; anything else is 405."""

    isLeaf = True

    def __init__(self, view: GatewayView, name: str) -> None:
        super().__init__()
        self._view = view
        self._name = name

    def render_GET(self, request: server.Request) -> bytes:
        rows = getattr(self._view, f"{self._name}_view")()
        return _json(request, 200, rows)

    def render(self, request: server.Request) -> bytes:
        if request.method in (b"GET", b"HEAD"):
            return super().render(request)  # type: ignore[no-any-return]
        request.setHeader(b"allow", b"GET, HEAD")
        return _json(request, 405, {"error": f"{request.method.decode(errors='replace')} not allowed; GET only"})


class _NotFound(resource.Resource):
    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        return _json(request, 404, {"error": f"no such resource: {request.path.decode(errors='replace')}"})


class _Api(resource.Resource):
    def __init__(self, view: GatewayView) -> None:
        super().__init__()
        for name in ("stations", "agents", "groups"):
            self.putChild(name.encode(), _Collection(view, name))

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return _NotFound()

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"resources": ["/api/stations", "/api/agents", "/api/groups"]})


class Root(resource.Resource):
    """`/api/...` and any `extra_children` (`/xml/...`); other top-level paths answer 404 in JSON."""

    def __init__(
        self, view: GatewayView, extra_children: Mapping[bytes, resource.Resource] | None = None
    ) -> None:
        super().__init__()
        self.api = _Api(view)
        self.putChild(b"api", self.api)
        for name, child in (extra_children or {}).items():
            self.putChild(name, child)

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return _NotFound()

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"service": "acdgate", "api": "/api"})


def make_site(
    view: GatewayView, extra_children: Mapping[bytes, resource.Resource] | None = None
) -> server.Site:
    """The twisted.web site serving the API for `view`, plus `extra_children` at the top
    level (the gateway mounts the phone XML services as `b"xml"`)."""
    site = server.Site(Root(view, extra_children))
    site.displayTracebacks = False
    site.noisy = False
    return site
