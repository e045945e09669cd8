"""The JSON API on `--http-port` (twisted.web): stations, agents, groups (read-only), and,
with a `CallControl`, recordings and supervisor actions on agents' calls.

The resources only format what a `GatewayView` returns, so the same view serves the HTTP API,
the tests and (later) the phone XML services.

With a token (site file `[http] token`), every request under `/api/` other than GET and HEAD
must carry `Authorization: Bearer <token>` (RFC 6750 2.1) or is answered 401, and so must the
reads that show who is where (`/api/stations`, `/api/agents`, `/api/groups`, `/api/recordings`,
`/api/calls/...`, `/api/reports/...`, `/metrics`, `/wallboard`, `/api/events`; `?token=` is
taken too): only `/api`, `/api/health`, `/api/openapi.json` and `/xml/` (which desk phones'
XML browsers fetch with no credentials; phone_xml binds its actions to the phone) stay open.

Bodies (issue 19): the site refuses a request whose Content-Length (or chunked body) is over
`[http] max_body_bytes` with 413 and closes the connection without reading it, refuses a
control request with a body and without the token before reading the body, and JSON bodies
nested deeper than `[http] max_json_depth` are answered 400 before the parser sees them.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.logger import Logger
from twisted.python.reflect import prefixedMethodNames
from twisted.web import http, resource, server
from twisted.web.http_headers import Headers

log = Logger(namespace="acdgate.http")

REALM = "acdgate"
_OPEN_METHODS = (b"GET", b"HEAD")  # read-only: need the token only for the guarded reads
# reads open with a token: the API index, the health probe, the API's own description
_OPEN_API_READS = frozenset({b"", b"health", b"openapi.json"})
MAX_BODY_BYTES = 65536  # [http] max_body_bytes: a larger body is refused (413) unread
MAX_JSON_DEPTH = 32  # [http] max_json_depth: deeper JSON is refused (400) before parsing
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_NESTING = re.compile(rb"[\[\]{}]")


class GatewayView(Protocol):
    """What the API shows: plain JSON-able rows, computed when asked."""

    def stations_view(self) -> list[dict[str, Any]]: ...

    def agents_view(self) -> list[dict[str, Any]]: ...

    def groups_view(self) -> list[dict[str, Any]]: ...


class CallControl(Protocol):
    """Recordings and supervisor actions (gateway.supervision.Supervision)."""

    def recordings_view(self) -> list[dict[str, Any]]: ...

    def agent_action(self, target: str, action: str, body: Mapping[str, Any], *,
                     source: str, authenticated: bool) -> tuple[int, dict[str, Any]]:
        """`POST /api/agents/<target>/<action>` with a JSON object body: (status, JSON body);
        `source` is the client's host, `authenticated` whether it carried the site's token."""
        ...


def _json(request: server.Request, status: int, body: object) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"


def json_defect(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """What keeps `raw` from being parsed safely (nesting deeper than `max_depth`), or None.

    Runs in linear time before `json.loads`, whose recursion a deep body would exhaust (a
    100,000-deep array raised RecursionError: a 500 with a traceback)."""
    depth = 0
    for bracket in _JSON_NESTING.findall(_JSON_STRING.sub(b'""', raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > max_depth:
            return f"the body nests deeper than {max_depth} levels"
    return None


def read_json_object(request: server.Request, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any] | str:
    """The request's body as a JSON object ("" reads as {}), or the defect to answer 400 with.
    The site bounded its size before it was read (GuardedSite)."""
    raw = request.content.read() if request.content is not None else b""
    defect = json_defect(raw, max_depth)
    if defect is not None:
        return defect
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    return body


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
        self.max_json_depth = MAX_JSON_DEPTH  # Root sets the site's
        self.token_checked = False  # Root: the site has a token, checked before this renders
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
        body = read_json_object(request, self.max_json_depth)
        if isinstance(body, str):
            return _json(request, 400, {"error": body})
        if state_action:
            assert self._actions is not None
            status, answer = self._actions.run(path[0], path[1:], body)
            return _json(request, status, answer)
        assert self._calls is not None
        client: Any = request.getClientAddress()
        status, answer = self._calls.agent_action(path[0], path[1], body, source=str(getattr(client, "host", "")),
                                                  authenticated=self.token_checked)
        return _json(request, status, answer)


class _Unauthorized(resource.Resource):
    """401 for a control request without the right bearer token (RFC 6750 3)."""

    isLeaf = True

    def __init__(self, defect: str, invalid: bool) -> None:
        super().__init__()
        self._defect = defect
        self._invalid = invalid

    def render(self, request: server.Request) -> bytes:
        request.setHeader(b"www-authenticate", _challenge(self._invalid).encode())
        return _json(request, 401, {"error": self._defect})


def _challenge(invalid: bool) -> str:
    # RFC 6750 3.1: no error code when the request carried no token, invalid_token when it did.
    return f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid else "")


def _bearer_defect(request: server.Request, token: bytes) -> tuple[str, bool] | None:
    """None when `request` carries `Authorization: Bearer <token>`, else (what is wrong,
    whether a token was offered)."""
    return _defect_of(request.getHeader(b"authorization"), token)


def _defect_of(header: bytes | None, token: bytes) -> tuple[str, bool] | None:
    """`_bearer_defect` for the `Authorization` header's value."""
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


# -- guarded reads and bodies (issue 19) -------------------------------------------------

def _is_guarded_read(path: bytes, request: server.Request) -> bool:
    """A read that shows extensions, names, addresses or figures: it needs the token when the
    site sets one (`/metrics`, and every `/api/...` but the index, health and openapi.json)."""
    rest = [p for p in request.postpath or [] if p]
    return path == b"metrics" or (path == b"api" and (rest[:1] or [b""])[0] not in _OPEN_API_READS)


def _refusal(status: int, body: object, headers: Mapping[bytes, bytes] = {}) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, for refusals made before a request
    resource exists (the body is not read)."""
    payload = json.dumps(body, sort_keys=True).encode() + b"\n"
    lines = [b"HTTP/1.1 %d %s" % (status, http.RESPONSES.get(status, b"Refused")),
             b"content-type: application/json; charset=utf-8", b"cache-control: no-store",
             b"connection: close", b"content-length: %d" % len(payload)]
    lines += [name + b": " + value for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


class _GuardedChannel(http.HTTPChannel):
    """An HTTP/1.1 channel that can refuse a request once its headers are in, answering and
    closing the connection without reading the body (RFC 9110 15.5.14: 413 Content Too Large)."""

    _refused = False

    def allHeadersReceived(self) -> None:
        site: Any = self.factory
        request = self.requests[-1]
        refusal = site.refusal_before_body(self._command, self._path, request.requestHeaders,
                                           self.length, request.getClientAddress())
        if refusal is None:
            super().allHeadersReceived()
            return
        self.refuse(refusal)

    def refuse(self, response: bytes) -> None:
        """Answer `response` and close; whatever else arrives on the connection is dropped."""
        if self._refused:
            return
        self._refused = True
        self.length = None  # not 0: the channel must not go on to render the request
        transport: Any = self.transport
        transport.write(response)
        self.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        if not self._refused:
            super().lineReceived(line)

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)


class _GuardedRequest(server.Request):
    """Counts a body without Content-Length (chunked) as it comes, refusing it once too large."""

    _received = 0

    def handleContentChunk(self, data: bytes) -> None:
        self._received += len(data)
        channel: Any = self.channel
        site: Any = channel.site if channel is not None else None
        limit = site.max_body_bytes if site is not None else MAX_BODY_BYTES
        if self._received > limit:
            channel.refuse(_refusal(413, {"error": f"the body is larger than {limit} bytes"}))
            return
        super().handleContentChunk(data)


class GuardedSite(server.Site):
    """The API's site: bodies are bounded, and control requests are authorized, before a body
    is read (issue 19: a 1 GiB POST was read into memory before its token was checked)."""

    protocol = _GuardedChannel  # type: ignore[assignment]  # HTTP/1.1 only: no h2 negotiation
    requestFactory = _GuardedRequest

    def __init__(self, root: Root, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        super().__init__(root)
        self.root = root
        self.max_body_bytes = max_body_bytes

    def refusal_before_body(self, method: bytes, target: bytes, headers: Headers, length: int | None,
                            peer: Any) -> bytes | None:
        """The response refusing the request whose headers are `headers`, or None to go on.
        `length` is the Content-Length (None: chunked or none)."""
        if length is not None and length > self.max_body_bytes:
            log.warn("HTTP: refused {method} with a body of {length} bytes from {peer}",
                     method=method.decode(errors="replace"), length=length,
                     peer=getattr(peer, "host", peer))
            return _refusal(413, {"error": f"the body is larger than {self.max_body_bytes} bytes"})
        announced = length != 0 or headers.hasHeader(b"transfer-encoding")
        path = target.split(b"?", 1)[0]
        if not announced or self.root.token is None or method in _OPEN_METHODS or not (
                path == b"/api" or path.startswith(b"/api/")):
            return None
        header = headers.getRawHeaders(b"authorization")
        defect = _defect_of(header[-1] if header else None, self.root.token)
        if defect is None:
            return None
        reason, offered = defect
        log.warn("HTTP API: refused {method} {path} from {peer}: {defect}",
                 method=method.decode(errors="replace"), path=path.decode(errors="replace"),
                 peer=f"{getattr(peer, 'host', peer)}:{getattr(peer, 'port', '')}", defect=reason)
        return _refusal(401, {"error": reason}, {b"www-authenticate": _challenge(offered).encode()})
# -- end of guarded reads and bodies --


class Root(resource.Resource):
    """`/api/...` and any `extra_children` (`/xml/...`); other top-level paths answer 404 in JSON.

    With `token`, a request under `/api/` that may change something (any method but GET and
    HEAD) is answered 401 unless it carries that bearer token, and so are the guarded reads
    (`_is_guarded_read`, `_is_live_read`) unless they carry it as the header or `?token=`.
    """

    def __init__(
        self, view: GatewayView, extra_children: Mapping[bytes, resource.Resource] | None = None,
        calls: CallControl | None = None, *, token: str | None = None,
        reports: resource.Resource | None = None,
        api_children: Mapping[bytes, resource.Resource] | None = None, live: LiveChildren | None = None,
    ) -> None:
        super().__init__()
        self.api = _Api(view, calls, reports, api_children, live)
        self.token = self._token = token.encode() if token is not None else None
        agents: Any = self.api.children[b"agents"]
        agents.token_checked = token is not None  # a POST reaches it only with the token (below)
        self.putChild(b"api", self.api)
        if live is not None:
            self.putChild(b"wallboard", live.wallboard)
        for name, child in (extra_children or {}).items():
            self.putChild(name, child)

    def getChildWithDefault(self, path: bytes, request: server.Request) -> resource.Resource:
        refused = None
        if self._token is not None and (_is_live_read(path, request) or (
                request.method in _OPEN_METHODS and _is_guarded_read(path, request))):
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
    max_body_bytes: int = MAX_BODY_BYTES, max_json_depth: int = MAX_JSON_DEPTH,
) -> GuardedSite:
    """The twisted.web site serving the API for `view`, plus `extra_children` at the top
    level (the gateway mounts the phone XML services as `b"xml"`, the metrics as `b"metrics"`),
    `api_children` under `/api/` and, with `calls`, `/api/recordings` and the agents'
    supervisor actions; with `token`, control requests under `/api/` need
    `Authorization: Bearer <token>`; `reports` (web.report_api.Reports) is served as
    `/api/reports/...`; `live`: `/wallboard`, `/api/events` and the agent-state actions."""
    root = Root(view, extra_children, calls, token=token, reports=reports,
                api_children=api_children, live=live)
    agents: Any = root.api.children[b"agents"]
    agents.max_json_depth = max_json_depth
    site = GuardedSite(root, max_body_bytes=max_body_bytes)
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
