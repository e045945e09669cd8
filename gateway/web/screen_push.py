"""Pushing a screen to a desk phone: the Caller Data screen when a routed call rings its
station, the "No User" screen when its agent logs off, the home page (the Wrap-up Data menu)
when a feature key is refused because the agent owes a wrap-up code (issue 16).

Stations the site lists in `[[caller_data.push]]` are pushed to, over their vendor's HTTP API:
Cisco `POST /CGI/Execute` with a CiscoIPPhoneExecute whose ExecuteItem is the screen's URL
(Basic credentials); Polycom `POST /push` with a PolycomIPPhone `<URL>` relative to the
phone's `apps.push.serverRootURL` (Digest credentials, RFC 7616); Yealink a GET of an Action
URI that presses the phone's XML browser key (Basic, or Digest when challenged), on offers only. A push never holds up or
fails a call: it runs beside it, gives up after `PUSH_TIMEOUT_SECONDS`, and a failure is
logged once per station until a push to it works again. `push_request` is the pure part.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from acdgate.acd.caller_data import PushKind, PushTarget
from acdgate.acd.events import Event, LoggedOut, OfferCall
from acdgate.acd.site import Site
from acdgate.gateway.sip.digest import Algorithm, Qop, digest_response, parse_auth_params
from acdgate.gateway.web.phone_screens import Links, Page
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

log = Logger(namespace="acdgate.push")

PUSH_TIMEOUT_SECONDS = 3.0
POLYCOM_CONTENT_TYPE = "application/x-com-polycom-spipx"
XML_PREFIX = {PushKind.CISCO: "/xml", PushKind.YEALINK: "/xml/yealink", PushKind.POLYCOM: "/xml/polycom"}


@dataclass(frozen=True, slots=True)
class PushRequest:
    """One HTTP request to a phone (credentials are added by the sender)."""

    url: str
    content_type: str
    body: bytes
    method: bytes = b"POST"


def push_request(target: PushTarget, service_base: str, page: Page) -> PushRequest | None:
    """The request that makes `target`'s phone show `page` of the phone service at
    `service_base` (`http://host:port`, no slash); None for a kind that takes no URL push."""
    links = Links(service_base + XML_PREFIX[target.kind], target.station)
    screen_url = links.url(page)
    if target.kind is PushKind.CISCO:
        # Cisco IP Phone Services: the form field XML holds the CiscoIPPhoneExecute object
        execute = f"<CiscoIPPhoneExecute><ExecuteItem Priority=\"0\" URL={quoteattr(screen_url)}/></CiscoIPPhoneExecute>"
        return PushRequest(target.url, "application/x-www-form-urlencoded", urlencode({"XML": execute}).encode())
    if target.kind is PushKind.POLYCOM:
        # Polycom "To Push the URIs": the URL is relative to apps.push.serverRootURL
        relative = screen_url[len(service_base):]
        body = f'<PolycomIPPhone><URL priority="Normal">{escape(relative)}</URL></PolycomIPPhone>'
        return PushRequest(target.url, POLYCOM_CONTENT_TYPE, body.encode())
    if page in (Page.CDATA, Page.HOME):
        # Yealink Action URI takes key presses, not a screen's URL: `url` presses the phone's
        # XML browser key (`/servlet?key=L5`), whose home page shows Caller Data during the
        # call, and the Wrap-up Data menu while a wrap-up code is owed
        return PushRequest(target.url, "text/plain", b"", method=b"GET")
    return None  # a Yealink key would show the Login screen, not "No User": nothing to push


def digest_authorization(target: PushTarget, challenge: str, method: str) -> str | None:
    """An `Authorization: Digest` answering a `WWW-Authenticate: Digest` challenge (RFC 7616
    3.4, MD5 or SHA-256, qop auth or none); None when the challenge cannot be answered."""
    scheme, _, rest = challenge.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params = parse_auth_params(rest)
    if not isinstance(params, dict) or "nonce" not in params or "realm" not in params:
        return None
    try:
        algorithm = Algorithm(params.get("algorithm", "MD5").upper())
    except ValueError:
        return None
    offered = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    qop = Qop.AUTH if "auth" in offered else None
    if offered and qop is None:
        return None
    split = urlsplit(target.url)
    uri = (split.path or "/") + (f"?{split.query}" if split.query else "")  # the request-target
    cnonce, nc = secrets.token_hex(8), "00000001"
    response = digest_response(algorithm=algorithm, username=target.username, realm=params["realm"],
                               password=target.password, method=method, uri=uri, nonce=params["nonce"],
                               qop=qop, nc=nc, cnonce=cnonce)
    fields = [f"username={_quoted(target.username)}", f"realm={_quoted(params['realm'])}",
              f"nonce={_quoted(params['nonce'])}", f"uri={_quoted(uri)}", f"response={_quoted(response)}",
              f"algorithm={algorithm.value}"]
    if qop is not None:
        fields += [f"qop={qop.value}", f"nc={nc}", f"cnonce={_quoted(cnonce)}"]
    if "opaque" in params:
        fields.append(f"opaque={_quoted(params['opaque'])}")
    return "Digest " + ", ".join(fields)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ScreenPush:
    """An `AcdService` listener: pushes the Caller Data screen on `OfferCall` and the "No User"
    screen on `LoggedOut` to the stations the site lists; `service_base` is where the phones
    reach our phone service (`http://host:port`)."""

    def __init__(self, reactor: Any, site: Site, service_base: str) -> None:
        self.reactor = reactor
        self.site = site
        self.service_base = service_base
        self._agent = Agent(reactor, connectTimeout=PUSH_TIMEOUT_SECONDS)
        self._failing: set[str] = set()  # stations whose last push failed (logged once)
        self.pending: set[Deferred[None]] = set()  # pushes in flight (stop waits for none: they time out)

    def owed(self, station: str) -> None:
        """A `FeatureSync.owed_listeners` listener: a key was refused while the agent owes a
        wrap-up code, so the phone is pushed its home page, the Wrap-up Data menu then."""
        self.push(station, Page.HOME)

    def on_events(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, OfferCall):
                self.push(event.station, Page.CDATA)
            elif isinstance(event, LoggedOut):
                self.push(event.station, Page.IDLE)

    def push(self, station: str, page: Page) -> None:
        """Start pushing `page` to `station`'s phone, if the site pushes to it; returns at once."""
        target = self.site.caller_data.push_target(station)
        request = push_request(target, self.service_base, page) if target is not None else None
        if target is None or request is None:
            return
        d: Deferred[None] = self._send(target, request, None)
        d.addTimeout(PUSH_TIMEOUT_SECONDS * 2, self.reactor)  # connect, then the answer
        d.addCallbacks(lambda _: self._worked(target, page), lambda failure: self._failed(target, page, failure))
        self.pending.add(d)
        d.addBoth(lambda _: self.pending.discard(d))

    def _send(self, target: PushTarget, request: PushRequest, authorization: str | None) -> Deferred[None]:
        headers = Headers({b"content-type": [request.content_type.encode()],
                           b"user-agent": [b"acdgate screen push"]})
        if authorization is not None:
            headers.addRawHeader(b"authorization", authorization.encode())
        elif target.kind is not PushKind.POLYCOM and target.username:
            basic = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
            headers.addRawHeader(b"authorization", f"Basic {basic}".encode())
        body = FileBodyProducer(BytesIO(request.body)) if request.body else None
        d: Deferred[IResponse] = self._agent.request(request.method, target.url.encode(), headers, body)
        return d.addCallback(self._answered, target, request, authorization is not None)

    def _answered(self, response: IResponse, target: PushTarget, request: PushRequest, retried: bool) -> Deferred[None]:
        challenge = response.headers.getRawHeaders(b"www-authenticate") or []
        if response.code == 401 and not retried:
            for offer in challenge:
                authorization = digest_authorization(target, offer.decode("latin-1"), request.method.decode())
                if authorization is not None:
                    return readBody(response).addCallback(self._retry, target, request, authorization)
        code = response.code

        def check(body: bytes) -> None:
            if not 200 <= code < 300:
                raise PushRefused(f"{code} {body[:200].decode('utf-8', 'replace')}")
            if target.kind is PushKind.CISCO and b"CiscoIPPhoneError" in body:
                raise PushRefused(body[:200].decode("utf-8", "replace"))

        return readBody(response).addCallback(check)

    def _retry(self, _body: bytes, target: PushTarget, request: PushRequest, authorization: str) -> Deferred[None]:
        """The same push again, answering the phone's Digest challenge."""
        return self._send(target, request, authorization)

    def _worked(self, target: PushTarget, page: Page) -> None:
        log.info("pushed {page} to station {station}", page=page.value or "home", station=target.station)
        if target.station in self._failing:
            self._failing.discard(target.station)
            log.info("push to station {station} works again", station=target.station)

    def _failed(self, target: PushTarget, page: Page, failure: Any) -> None:
        if target.station in self._failing:
            return
        self._failing.add(target.station)
        log.warn("push of {page} to station {station} ({url}) failed: {why} (logged once until a push works)",
                 page=page.value or "home", station=target.station, url=target.url,
                 why=failure.getErrorMessage())


class PushRefused(Exception):
    """The phone answered the push with an error."""
