"""What the three physical-phone drivers share: an HTTP client with the phone's admin
credentials, the vendor-neutral menu steps, and where a phone's observations come from.

A desk phone is driven over its vendor's remote-control HTTP API (`yealink`, `polycom`,
`cisco`); it registers and places calls itself. What it observed (registered, answered,
tones) comes from its `mirror`: for a phone twin, the softphone the twin acts through. A
real phone has no mirror yet (its event feeds, e.g. Yealink Action URL, are not wired), so
scenarios check a real phone's effect through the gateway's HTTP API instead.

Menu steps (`FeatureKey(KeyKind.MENU, "services type:3000 down type:1234 soft:1")`) are
what a person does on the phone's XML service, whatever the vendor: open the service,
key digits into the focused field, move down/up, press soft key N, pick menu item N.
Each driver maps them onto its vendor's key names.
"""

from __future__ import annotations

import base64
import enum
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from acdgate.lab.drivers.base import (
    DtmfMethod,
    Endpoint,
    EndpointError,
    FeatureKey,
    KeyKind,
    Observation,
    ObservationKind,
    Unsupported,
)
from acdgate.lab.inventory import EndpointSpec


class MenuAction(enum.Enum):
    SERVICES = "services"  # open the phone's XML service (Cisco Services key, Yealink XML-browser DSS key)
    TYPE = "type"  # key digits (0-9 * #) into the focused input field
    DOWN = "down"  # next field / next menu item
    UP = "up"
    SOFT = "soft"  # press soft key N (1-based, left to right)
    ITEM = "item"  # choose menu item N by its number


@dataclass(frozen=True, slots=True)
class MenuStep:
    action: MenuAction
    arg: str = ""


def parse_menu(text: str) -> list[MenuStep]:
    """`services type:3000 down type:1234 soft:1` -> steps; ValueError names a bad step."""
    steps = []
    for word in text.split():
        name, _, arg = word.partition(":")
        try:
            action = MenuAction(name)
        except ValueError:
            raise ValueError(f"unknown menu step {word!r} (known: {', '.join(a.value for a in MenuAction)})") from None
        if action is MenuAction.TYPE and (not arg or any(c not in "0123456789*#" for c in arg)):
            raise ValueError(f"{word!r}: type takes digits, * and #")
        if action in (MenuAction.SOFT, MenuAction.ITEM) and not (arg.isdigit() and 1 <= int(arg) <= 99):
            raise ValueError(f"{word!r}: {action.value} takes a number 1-99")
        steps.append(MenuStep(action, arg))
    return steps


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class PhoneHttp:
    """HTTP to one phone's web server with its admin credentials.

    `preemptive_basic`: send `Authorization: Basic` on the first request (Cisco's CGI
    answers a missing header with an error object instead of a challenge); otherwise the
    phone's 401 challenge (Basic or Digest, RFC 7616) is answered by urllib's handlers.
    """

    def __init__(self, base_url: str, username: str, password: str, *, preemptive_basic: bool = False,
                 timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.preemptive_basic = preemptive_basic
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, self.base_url, username, password)
        self._opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords),
                                                   urllib.request.HTTPBasicAuthHandler(passwords))
        self.log: list[str] = []

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> HttpAnswer:
        """One request; every status (also 4xx/5xx) comes back as an answer, never raised."""
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=dict(headers or {}))
        if self.preemptive_basic:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
            req.add_header("Authorization", f"Basic {token}")
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                answer = HttpAnswer(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            answer = HttpAnswer(exc.code, dict(exc.headers.items()), exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise EndpointError(f"{method} {self.base_url}{path}: {exc}") from None
        self.log.append(f"{method} {path} -> {answer.status} {answer.text[:200]}")
        return answer


class HttpPhone(Endpoint):
    """A desk phone driven over its HTTP API; `mirror` reports what it observed."""

    key_kinds = frozenset({KeyKind.PROGRAMMED, KeyKind.MENU})

    def __init__(self, spec: EndpointSpec, http: PhoneHttp, *, mirror: Endpoint | None = None,
                 keys: Mapping[str, str] | None = None, on_start: Callable[[], Any] | None = None,
                 on_stop: Callable[[], Any] | None = None) -> None:
        super().__init__(spec)
        self.http = http
        self.mirror = mirror
        #: programmed keys: short code -> the vendor's key name (`L2`, `Line2`)
        self.keys = dict(keys or {})
        self._on_start = on_start
        self._on_stop = on_stop
        # keypad presses in a call: sent as the phone (or the twin's softphone) sends DTMF
        self.dtmf_methods = mirror.dtmf_methods if mirror is not None else frozenset({DtmfMethod.RFC4733})

    # -- observations come from the mirror ------------------------------------------------

    def _mirror(self, what: str) -> Endpoint:
        if self.mirror is None:
            raise EndpointError(f"{self.spec.name}: a real {self.spec.kind.value} phone reports no {what} to the "
                                "lab yet (no event feed); check the gateway's HTTP API instead")
        return self.mirror

    def wait_for(self, kind: ObservationKind | set[ObservationKind], timeout: float = 15.0,
                 where: Callable[[Observation], bool] | None = None) -> Observation:
        return self._mirror("observations").wait_for(kind, timeout, where)

    def tones(self) -> list[str]:
        return self._mirror("tones").tones()

    def register(self, timeout: float = 15.0) -> Observation:
        """A phone registers by itself; its twin's softphone registers now."""
        return self._mirror("registration").register(timeout)

    def start(self) -> HttpPhone:
        if self._on_start is not None:
            self._on_start()
        return self

    def stop(self) -> None:
        if self._on_stop is not None:
            self._on_stop()

    def diagnostics(self) -> str:
        own = "\n".join(self.http.log[-20:])
        return own + ("\n" + self.mirror.diagnostics() if self.mirror is not None else "")

    # -- keys -----------------------------------------------------------------------------

    def press_key(self, key: FeatureKey) -> None:
        """A programmed key is pressed on the phone (its DSS/line key dials the code);
        a menu key runs menu steps on the phone's XML service."""
        if key.kind is KeyKind.PROGRAMMED:
            name = self.keys.get(key.value)
            if name is None:
                raise Unsupported(f"{self.spec.name}: no key programmed with {key.value!r} "
                                  f"(options.keys: {self.keys or 'none'})")
            self.press(name)
            return
        if key.kind is KeyKind.MENU:
            self.menu(parse_menu(key.value))
            return
        raise Unsupported(f"{self.spec.kind.value} phones have no {key.kind.value} keys in the lab")

    def press(self, name: str) -> None:
        """Press one of the phone's keys by its vendor name."""
        raise NotImplementedError

    def menu(self, steps: list[MenuStep]) -> None:
        raise Unsupported(f"{self.spec.kind.value}: no XML menu service")

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        """Digits in a call are keypad presses (the phone chooses how to send them)."""
        for digit in digits:
            self.press_digit(digit)

    def press_digit(self, digit: str) -> None:
        raise NotImplementedError


def check_ok(answer: HttpAnswer, what: str, expected: int = 200) -> HttpAnswer:
    if answer.status != expected:
        raise EndpointError(f"{what}: HTTP {answer.status}: {answer.text[:300]}")
    return answer
