"""Polycom (Poly VVX/SoundPoint) phones over the Push API (Web Application Developer's
Guide for Polycom Phones, UC Software 5.0: "Push Requests", "HTML Data Push", "To Push the
URIs for Execution", "Configuring Push Request Parameters").

`POST http://<phone>/push` with `Content-Type: application/x-com-polycom-spipx` and a
`<PolycomIPPhone><Data priority="Critical">URI...</Data></PolycomIPPhone>` body, one
internal URI per line, run in order (at most 2 KB). Every request is challenged with HTTP
Digest authentication for the `apps.push.username` / `apps.push.password` of the phone;
`apps.push.messageType` says which priorities the phone accepts (0 none ... 5 all; Critical
is shown even while the phone is busy). URIs used: `tel:\\\\N` (dial N), `Key:Line1`,
`Key:DialPad0`..`Key:DialPad9`, `Key:DialPadStar`, `Key:DialPadPound`, `Key:SoftkeyN`,
`Key:Handsfree` (answers a ringing call, hangs up an active one).

The Polycom microbrowser shows XHTML; the gateway serves Cisco and Yealink XML only, so a
Polycom phone has no menu service in this lab (`menu` raises `Unsupported`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from acdgate.lab.drivers.base import Endpoint, EndpointError
from acdgate.lab.drivers.http_phone import HttpPhone, PhoneHttp, check_ok
from acdgate.lab.inventory import EndpointSpec

CONTENT_TYPE = "application/x-com-polycom-spipx"
MAX_BODY = 2048  # "The maximum content length for push request is 2KB."
PRIORITIES = ("Critical", "Important", "High", "Normal")
#: line keys set up as speed dials: short code -> key
DEFAULT_KEYS = {"*36": "Line2", "*37": "Line3", "*38": "Line4"}


def dialpad(digit: str) -> str:
    if digit == "*":
        return "Key:DialPadStar"
    if digit == "#":
        return "Key:DialPadPound"
    if len(digit) == 1 and digit.isdigit():
        return f"Key:DialPad{digit}"
    raise ValueError(f"no dial pad key {digit!r}")


def push_body(uris: Sequence[str], priority: str = "Critical") -> bytes:
    """A `PolycomIPPhone` push of URIs for execution."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
    body = (f'<PolycomIPPhone><Data priority="{priority}">'
            + "\n".join(escape(u) for u in uris) + "</Data></PolycomIPPhone>").encode("utf-8")
    if len(body) > MAX_BODY:
        raise ValueError(f"push body of {len(body)} bytes: the phone takes at most {MAX_BODY}")
    return body


class PolycomPhone(HttpPhone):
    """A Polycom phone (or its twin) driven by the Push API."""

    def __init__(self, spec: EndpointSpec, url: str, username: str, password: str, *,
                 mirror: Endpoint | None = None, keys: Mapping[str, str] | None = None,
                 on_start: Callable[[], Any] | None = None, on_stop: Callable[[], Any] | None = None) -> None:
        super().__init__(spec, PhoneHttp(url, username, password), mirror=mirror,
                         keys=DEFAULT_KEYS if keys is None else keys, on_start=on_start, on_stop=on_stop)

    def push(self, *uris: str) -> None:
        answer = self.http.request("POST", "/push", push_body(uris), {"Content-Type": CONTENT_TYPE})
        check_ok(answer, f"push {list(uris)}")

    def dial(self, digits: str) -> None:
        if any(c not in "0123456789*#" for c in digits):
            raise EndpointError(f"{digits!r}: a tel URI takes digits, * and #")
        self.push(f"tel:\\\\{digits}")

    def answer(self) -> None:
        self.push("Key:Handsfree")

    def hangup(self) -> None:
        self.push("Key:Handsfree")

    def press(self, name: str) -> None:
        self.push(f"Key:{name}")

    def press_digit(self, digit: str) -> None:
        self.push(dialpad(digit))
