"""The JSON API on `--http-port` (twisted.web): stations, agents, groups (read-only), and,
with a `CallControl`, recordings and supervisor actions on agents' calls.

The resources only format what a `GatewayView` returns, so the same view serves the HTTP API,
the tests and (later) the phone XML services.

With a token (site file `[http] token`), every request under `/api/` other than GET and HEAD
must carry `Authorization: Bearer <token>` (RFC 6750 2.1) or is answered 401; the read-only
views and the extra children (`/xml/`, which desk phones' XML browsers fetch with no
credentials) stay open.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.logger import Logger
from twisted.python.reflect import prefixedMethodNames
from twisted.web import resource, server

log = Logger(namespace="acdgate.http")

REALM = "acdgate"
_OPEN_METHODS = (b"GET", b"HEAD")  # read-only: never need the token


class GatewayView(Protocol):
    """What the API shows: plain JSON-able rows, computed when asked."""

    def stations_view(self) -> list[dict[str, Any]]: ...

    def agents_view(self) -> list[dict[str, Any]]: ...

    def groups_view(self) -> list[dict[str, Any]]: ...


class CallControl(Protocol):
    """Recordings and supervisor actions (gateway.supervision.Supervision)."""

    def recordings_view(self) -> list[dict[str, Any]]: ...

    def agent_action(self, target: str, action: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /api/agents/<target>/<action>` with a JSON object body: (status, JSON body)."""
        ...


def _json(request: server.Request, status: int, body: object) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"


class _Collection(resource.Resource):
    """GET returns the rows of one view method; anything else is 405."""

    isLeaf = True

    def __init__(self, view: GatewayView | CallControl, name: str) -> None:
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


class AgentStateActions(Protocol):
    """Agent-state actions (web.agent_actions.AgentActions): logout, not-ready, ready, groups."""

    names: tuple[str, ...]

    def run(self, user_id: str, path: Sequence[str], body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]: ...


class _Agents(_Collection):
    """`/api/agents` rows; `POST /api/agents/<user>/<action>` runs a supervisor action."""

    def __init__(self, view: GatewayView, calls: CallControl | None,
                 actions: AgentStateActions | None = None) -> None:
        super().__init__(view, "agents")
        self._calls = calls
        self._actions = actions

    @property
    def subroutes(self) -> tuple[tuple[str, str], ...]:
        """Every route `render` serves (for `api_routes`): the rows, and the supervisor actions."""
        routes = [("GET", "")]
        if self._calls is not None or self._actions is not None:
            routes.append(("POST", "/{agent}/{action}"))
        if self._actions is not None:  # -- agent-state actions (issue 17) --
            routes.append(("POST", "/{agent}/groups/{group}"))
        return tuple(routes)

    def render(self, request: server.Request) -> bytes:
        path = [p.decode(errors="replace") for p in request.postpath or [] if p]
        # -- agent-state actions (issue 17): logout, not-ready, ready, groups/<group> --
        state_action = self._actions is not None and len(path) >= 2 and path[1] in self._actions.names
        # -- end of agent-state actions --
        if request.method != b"POST" or (self._calls is None and not state_action) or (
                len(path) != 2 and not state_action):
            return super().render(request)
        try:
            body = json.loads(request.content.read() or b"{}") if request.content is not None else {}
        except ValueError:
            return _json(request, 400, {"error": "the body is not JSON"})
        if not isinstance(body, dict):
            return _json(request, 400, {"error": "the body must be a JSON object"})
        if state_action:
            assert self._actions is not None
            status, answer = self._actions.run(path[0], path[1:], body)
            return _json(request, status, answer)
        assert self._calls is not None
        status, answer = self._calls.agent_action(path[0], path[1], body)
        return _json(request, status, answer)


class _Unauthorized(resource.Resource):
    """401 for a control request without the right bearer token (RFC 6750 3)."""

    isLeaf = True

    def __init__(self, defect: str, invalid: bool) -> None:
        super().__init__()
        self._defect = defect
        self._invalid = invalid

    def render(self, request: server.Request) -> bytes:
        # RFC 6750 3.1: no error code when the request carried no token, invalid_token when it did.
        challenge = f'Bearer realm="{REALM}"'
        if self._invalid:
            challenge += ', error="invalid_token"'
        request.setHeader(b"www-authenticate", challenge.encode())
        return _json(request, 401, {"error": self._defect})


def _bearer_defect(request: server.Request, token: bytes) -> tuple[str, bool] | None:
    """None when `request` carries `Authorization: Bearer <token>`, else (what is wrong,
    whether a token was offered)."""
    header = request.getHeader(b"authorization")
    scheme, _, credentials = (header or b"").strip().partition(b" ")
    # RFC 7235 2.1: the auth-scheme is case-insensitive.
    if scheme.lower() != b"bearer" or not credentials.strip():
        return "missing bearer token", False
    if not hmac.compare_digest(credentials.strip(), token):
        return "wrong bearer token", True
    return None


class _NotFound(resource.Resource):
    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        return _json(request, 404, {"error": f"no such resource: {request.path.decode(errors='replace')}"})


class _Api(resource.Resource):
    def __init__(self, view: GatewayView, calls: CallControl | None = None,
                 reports: resource.Resource | None = None,
                 children: Mapping[bytes, resource.Resource] | None = None,
                 live: LiveChildren | None = None) -> None:
        super().__init__()
        self.names = ["stations", "agents", "groups"]
        for name in ("stations", "groups"):
            self.putChild(name.encode(), _Collection(view, name))
        self.putChild(b"agents", _Agents(view, calls, live.actions if live is not None else None))
        if calls is not None:
            self.putChild(b"recordings", _Collection(calls, "recordings"))
            self.names.append("recordings")
        # -- archived reports (issue 17): /api/reports/agents|groups|html (web.report_api) --
        if reports is not None:
            self.putChild(b"reports", reports)
            self.names += ["reports/agents", "reports/groups", "reports/html"]
        # -- end of archived reports --
        # -- more resources under /api/ (health, openapi.json: issue 17) --
        for path, child in (children or {}).items():
            self.putChild(path, child)
            self.names.append(path.decode())
        # -- end of more resources --
        # -- real time (issue 17): the wallboard's event stream --
        if live is not None:
            self.putChild(b"events", live.events)
            self.names.append("events")
        # -- end of real time --

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return _NotFound()

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"resources": [f"/api/{name}" for name in self.names]})


# -- real time (issue 17): the wallboard, its event stream, agent-state actions --
@dataclass(frozen=True, slots=True)
class LiveChildren:
    """The real-time resources: `/wallboard`, `/api/events` and the agent-state actions.

    With a token, the page and the stream (GETs) need it too, as `Authorization: Bearer` or
    as `?token=` (EventSource cannot send headers; the page passes its own `?token=` on)."""

    wallboard: resource.Resource
    events: resource.Resource
    actions: AgentStateActions


def _live_defect(request: server.Request, token: bytes) -> tuple[str, bool] | None:
    """Like `_bearer_defect`, with `?token=` accepted as well."""
    offered = (request.args or {}).get(b"token")
    if offered:
        return None if hmac.compare_digest(offered[-1], token) else ("wrong token", True)
    return _bearer_defect(request, token)


def _is_live_read(path: bytes, request: server.Request) -> bool:
    """`/wallboard`, or `/api/events`: GETs that need the token when the site sets one."""
    rest = [p for p in request.postpath or [] if p]
    return path == b"wallboard" or (path == b"api" and rest[:1] == [b"events"])
# -- end of real time --


class Root(resource.Resource):
    """`/api/...` and any `extra_children` (`/xml/...`); other top-level paths answer 404 in JSON.

    With `token`, a request under `/api/` that may change something (any method but GET and
    HEAD) is answered 401 unless it carries that bearer token.
    """

    def __init__(
        self, view: GatewayView, extra_children: Mapping[bytes, resource.Resource] | None = None,
        calls: CallControl | None = None, *, token: str | None = None,
        reports: resource.Resource | None = None,
        api_children: Mapping[bytes, resource.Resource] | None = None, live: LiveChildren | None = None,
    ) -> None:
        super().__init__()
        self.api = _Api(view, calls, reports, api_children, live)
        self._token = token.encode() if token is not None else None
        self.putChild(b"api", self.api)
        if live is not None:
            self.putChild(b"wallboard", live.wallboard)
        for name, child in (extra_children or {}).items():
            self.putChild(name, child)

    def getChildWithDefault(self, path: bytes, request: server.Request) -> resource.Resource:
        refused = None
        if self._token is not None and _is_live_read(path, request):
            refused = _live_defect(request, self._token)
        elif path == b"api" and self._token is not None and request.method not in _OPEN_METHODS:
            refused = _bearer_defect(request, self._token)
        if refused is not None:
            defect, offered = refused
            peer: Any = request.getClientAddress()
            log.warn("HTTP API: refused {method} {path} from {peer}: {defect}",
                     method=request.method.decode(errors="replace"),
                     path=request.path.decode(errors="replace"),
                     peer=f"{getattr(peer, 'host', peer)}:{getattr(peer, 'port', '')}", defect=defect)
            return _Unauthorized(defect, offered)
        return super().getChildWithDefault(path, request)  # type: ignore[no-any-return]

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return _NotFound()

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"service": "acdgate", "api": "/api"})


def make_site(
    view: GatewayView, extra_children: Mapping[bytes, resource.Resource] | None = None, *,
    calls: CallControl | None = None, token: str | None = None,
    reports: resource.Resource | None = None,
    api_children: Mapping[bytes, resource.Resource] | None = None, live: LiveChildren | None = None,
) -> server.Site:
    """The twisted.web site serving the API for `view`, plus `extra_children` at the top
    level (the gateway mounts the phone XML services as `b"xml"`, the metrics as `b"metrics"`),
    `api_children` under `/api/` and, with `calls`, `/api/recordings` and the agents'
    supervisor actions; with `token`, control requests under `/api/` need
    `Authorization: Bearer <token>`; `reports` (web.report_api.Reports) is served as
    `/api/reports/...`; `live`: `/wallboard`, `/api/events` and the agent-state actions."""
    site = server.Site(Root(view, extra_children, calls, token=token, reports=reports,
                            api_children=api_children, live=live))
    site.displayTracebacks = False
    site.noisy = False
    return site


# -- the routing table, read back (for the OpenAPI description and its test), issue 17 ------

def api_routes(root: Root) -> list[tuple[str, str]]:
    """Every (method, path) the JSON API serves, read from the resource tree: `/api` itself, and
    each child of it with the methods its resource renders (`render_<METHOD>`, HEAD aside:
    twisted answers it with GET's headers); a child that serves paths below its own (a leaf that
    reads `postpath`) names all its routes instead, as `subroutes`: (method, path below it)."""
    routes = {("GET", "/api")}
    for name, child in root.api.children.items():
        path = "/api/" + name.decode()
        subroutes = getattr(child, "subroutes", None)
        if subroutes is not None:
            routes.update((method, path + sub) for method, sub in subroutes)
        else:
            routes.update((method, path) for method in prefixedMethodNames(type(child), "render_")
                          if method != "HEAD")
    return sorted(routes)
