"""What every phone twin shares: an HTTP server for the vendor's remote-control API, the
phone's admin credentials (Basic, RFC 7617, or Digest, RFC 7616), and a softphone the twin
acts through (a lab `Endpoint`: pyVoIP worker or baresip).

A twin is a stand-in for a desk phone: requests in the vendor's format press its keys;
the keys dial, answer, hang up and send DTMF on the softphone, open programmed (DSS/line)
keys, and drive the twin's XML browser. The server listens on 127.0.0.1 of the harness; the
softphone and the browser's fetches live where the phone would (a lab host's namespace).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import parse_http_list, parse_keqv_list

from acdgate.lab.drivers.base import DtmfMethod, Endpoint, ObservationKind
from acdgate.lab.twins.browser import BrowserError, XmlBrowser


class AuthScheme(enum.Enum):
    BASIC = "Basic"
    DIGEST = "Digest"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer of the twin."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Credentials:
    """The phone's admin user and how it checks requests (Basic and/or Digest MD5, qop=auth)."""

    username: str
    password: str
    realm: str
    schemes: tuple[AuthScheme, ...]
    accepted: list[AuthScheme] = field(default_factory=list)  # scheme of each accepted request
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def challenges(self) -> list[tuple[str, str]]:
        """`WWW-Authenticate` headers of a 401 (RFC 7235 4.1), Digest first when offered."""
        out = []
        if AuthScheme.DIGEST in self.schemes:
            nonce = secrets.token_hex(16)
            with self._lock:
                self._nonces.add(nonce)
            out.append(("WWW-Authenticate",
                        f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, nonce="{nonce}", opaque="twin"'))
        if AuthScheme.BASIC in self.schemes:
            out.append(("WWW-Authenticate", f'Basic realm="{self.realm}"'))
        return out

    def check(self, header: str | None, method: str) -> bool:
        """Whether an `Authorization` header carries the right credentials."""
        if not header:
            return False
        scheme, _, rest = header.partition(" ")
        if scheme.lower() == "basic" and AuthScheme.BASIC in self.schemes:
            try:
                user, _, password = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            ok = hmac.compare_digest(user, self.username) and hmac.compare_digest(password, self.password)
            if ok:
                self.accepted.append(AuthScheme.BASIC)
            return ok
        if scheme.lower() == "digest" and AuthScheme.DIGEST in self.schemes:
            ok = self._check_digest(parse_keqv_list(parse_http_list(rest)), method)
            if ok:
                self.accepted.append(AuthScheme.DIGEST)
            return ok
        return False

    def _check_digest(self, p: Mapping[str, str], method: str) -> bool:
        # RFC 7616 3.4.1: response = H(H(A1):nonce:nc:cnonce:qop:H(A2)), MD5.
        with self._lock:
            known = p.get("nonce") in self._nonces
        if not known or p.get("username") != self.username or p.get("realm") != self.realm:
            return False
        if p.get("algorithm", "MD5").upper() != "MD5" or p.get("qop") != "auth":
            return False

        def h(text: str) -> str:
            return hashlib.md5(text.encode("utf-8")).hexdigest()

        ha1 = h(f"{self.username}:{self.realm}:{self.password}")
        ha2 = h(f"{method}:{p.get('uri', '')}")
        expected = h(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        return hmac.compare_digest(expected, p.get("response", ""))


class TwinError(Exception):
    """A key or URI the twin cannot carry out in its current state (reported in the
    vendor's error format by the vendor module)."""


class PhoneTwin(ABC):
    """A phone's HTTP API on 127.0.0.1, acting through `softphone`.

    `keys` maps the phone's programmable keys to what they do: `("speed-dial", "*36")` or
    `("xml", URL)` (an XML Browser key). `browser` is the XML browser when the vendor has one
    the gateway serves.
    """

    vendor = "phone"

    def __init__(self, softphone: Endpoint, credentials: Credentials, *,
                 keys: Mapping[str, tuple[str, str]] | None = None, browser: XmlBrowser | None = None,
                 bind: str = "127.0.0.1") -> None:
        self.softphone = softphone
        self.credentials = credentials
        self.keys = dict(keys or {})
        self.browser = browser
        self.bind = bind
        self.requests: list[str] = []  # "METHOD path -> status", for diagnostics
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one request acts on the phone at a time, as on a phone

    # -- HTTP -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("twin not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> PhoneTwin:
        """Serve the HTTP API (the softphone is started by whoever registers it)."""
        twin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}  # names are case-insensitive
                with twin._lock:
                    reply = twin.handle(self.command, self.path, headers, body, self.client_address[0])
                twin.requests.append(f"{self.command} {self.path} -> {reply.status}")
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = _serve
            do_POST = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((self.bind, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"twin-{self.vendor}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop the softphone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.softphone.stop()

    def authorized(self, headers: Mapping[str, str], method: str) -> bool:
        return self.credentials.check(headers.get("authorization"), method)

    def unauthorized(self, body: bytes = b"401 Unauthorized", content_type: str = "text/plain") -> Reply:
        return Reply(401, body, content_type, tuple(self.credentials.challenges()))

    @abstractmethod
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, client: str) -> Reply:
        """Answer one request of the vendor's API (`headers`: names in lower case)."""

    # -- what the phone does --------------------------------------------------------------

    def call_state(self) -> str:
        """idle | ringing | active, from the softphone's observations."""
        for obs in reversed(self.softphone.observed):
            if obs.kind is ObservationKind.CALL_ANSWERED:
                return "active"
            if obs.kind is ObservationKind.CALL_INCOMING:
                return "ringing"
            if obs.kind in (ObservationKind.CALL_ENDED, ObservationKind.CALL_REFUSED):
                return "idle"
        return "idle"

    def dial(self, number: str) -> None:
        if not number or any(c not in "0123456789*#" for c in number):
            raise TwinError(f"cannot dial {number!r}")
        self.softphone.dial(number)

    def hook(self) -> None:
        """Speaker / hands-free key: answer a ringing call, hang up an active one."""
        state = self.call_state()
        if state == "ringing":
            self.softphone.answer()
        elif state == "active":
            self.softphone.hangup()
        else:
            raise TwinError("no call to answer or end")

    def hangup(self) -> None:
        if self.call_state() == "idle":
            raise TwinError("no call to end")
        self.softphone.hangup()

    def keypad(self, digit: str) -> None:
        """A keypad key: into the XML screen when one is shown, else DTMF in a call."""
        if self.browser is not None and self.browser.showing:
            self._browse(lambda b: b.digit(digit))
        elif self.call_state() == "active":
            methods = self.softphone.dtmf_methods
            method = DtmfMethod.RFC4733 if DtmfMethod.RFC4733 in methods else DtmfMethod.INBAND
            self.softphone.send_dtmf(digit, method)
        else:
            raise TwinError(f"keypad {digit}: no screen and no call")

    def programmed(self, name: str) -> None:
        """A programmable key: a speed dial dials its number, an XML key opens its URL."""
        if name not in self.keys:
            raise TwinError(f"key {name} is not programmed")
        kind, value = self.keys[name]
        if kind == "speed-dial":
            self.dial(value)
        elif kind == "xml":
            self._browse(lambda b: b.open(value))
        elif kind == "line":
            return  # the line key itself: takes the line (nothing to do for the softphone)
        else:
            raise TwinError(f"key {name}: unknown type {kind}")

    def _browse(self, action: Callable[[XmlBrowser], object]) -> None:
        if self.browser is None:
            raise TwinError(f"the {self.vendor} twin has no XML browser for the gateway's service")
        try:
            action(self.browser)
        except BrowserError as exc:
            raise TwinError(str(exc)) from None

    def diagnostics(self) -> str:
        lines = [f"{self.vendor} twin requests:", *self.requests[-20:]]
        if self.browser is not None:
            lines += ["browser:", *self.browser.history[-20:], *[f"error: {e}" for e in self.browser.errors[-10:]]]
        return "\n".join(lines)
