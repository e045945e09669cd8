"""Cisco IP phones over `POST /CGI/Execute` (Cisco Unified IP Phone Services Application
Development Notes, "CiscoIPPhoneExecute", "Internal URI Features"; usecallmanager.nz "CGI
Execute").

The request is a form post with one field `XML` holding a `CiscoIPPhoneExecute` object of
up to three `<ExecuteItem Priority="0" URL="..."/>` (Priority 0: execute immediately), with
`Authorization: Basic` of a user the phone's authentication URL accepts. The phone answers
a `CiscoIPPhoneResponse` (one `ResponseItem Status="0"` per item on success) or a
`CiscoIPPhoneError Number="N"` (1 parse error, 2 framing error, 3 internal file error,
4 authentication error). URIs used: `Dial:N`, `Key:Line1`, `Key:SoftN`, `Key:KeyPad0`..
`Key:KeyPad9`, `Key:KeyPadStar`, `Key:KeyPadPound`, `Key:Services`, `Key:NavUp`,
`Key:NavDwn`, `Key:Speaker` (answers a ringing call, hangs up an active one).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

from acdgate.lab.drivers.base import Endpoint, EndpointError
from acdgate.lab.drivers.http_phone import HttpPhone, MenuAction, MenuStep, PhoneHttp
from acdgate.lab.inventory import EndpointSpec

MAX_ITEMS = 3  # ExecuteItems per CiscoIPPhoneExecute object
ERRORS = {1: "error parsing the CiscoIPPhoneExecute object", 2: "error framing the CiscoIPPhoneResponse object",
          3: "internal file error", 4: "authentication error"}
#: programmed keys of a lab phone: short code -> line button configured as a speed dial
DEFAULT_KEYS = {"*36": "Line2", "*37": "Line3", "*38": "Line4"}


def keypad(digit: str) -> str:
    """The Key URI of a keypad button."""
    if digit == "*":
        return "Key:KeyPadStar"
    if digit == "#":
        return "Key:KeyPadPound"
    if len(digit) == 1 and digit.isdigit():
        return f"Key:KeyPad{digit}"
    raise ValueError(f"no keypad key {digit!r}")


def execute_body(urls: Sequence[str]) -> bytes:
    """The form body `XML=<CiscoIPPhoneExecute>...` for up to three URIs/URLs."""
    if not 1 <= len(urls) <= MAX_ITEMS:
        raise ValueError(f"a CiscoIPPhoneExecute holds 1 to {MAX_ITEMS} items, not {len(urls)}")
    items = "".join(f'<ExecuteItem Priority="0" URL={quoteattr(u)}/>' for u in urls)
    xml = f'<?xml version="1.0" encoding="utf-8"?><CiscoIPPhoneExecute>{items}</CiscoIPPhoneExecute>'
    return urlencode({"XML": xml}).encode("ascii")


def check_response(text: str, urls: Sequence[str]) -> None:
    """Raise `EndpointError` for a CiscoIPPhoneError or a ResponseItem with a non-zero status."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise EndpointError(f"CGI/Execute {list(urls)}: not XML: {text[:200]!r}") from None
    if root.tag == "CiscoIPPhoneError":
        number = int(root.get("Number", "0") or 0)
        raise EndpointError(f"CGI/Execute {list(urls)}: CiscoIPPhoneError {number} "
                            f"({ERRORS.get(number, 'unknown')}) {root.text or ''}".strip())
    if root.tag != "CiscoIPPhoneResponse":
        raise EndpointError(f"CGI/Execute {list(urls)}: unexpected answer <{root.tag}>")
    for item in root.iter("ResponseItem"):
        if item.get("Status", "0") != "0":
            raise EndpointError(f"CGI/Execute {item.get('URL')}: status {item.get('Status')} {item.get('Data')}")


class CiscoPhone(HttpPhone):
    """A Cisco phone (or its twin) driven through CGI/Execute."""

    def __init__(self, spec: EndpointSpec, url: str, username: str, password: str, *,
                 mirror: Endpoint | None = None, keys: Mapping[str, str] | None = None,
                 on_start: Callable[[], Any] | None = None, on_stop: Callable[[], Any] | None = None) -> None:
        super().__init__(spec, PhoneHttp(url, username, password, preemptive_basic=True), mirror=mirror,
                         keys=DEFAULT_KEYS if keys is None else keys, on_start=on_start, on_stop=on_stop)

    def execute(self, *urls: str) -> None:
        """Run URIs/URLs on the phone, three per request, in order."""
        for i in range(0, len(urls), MAX_ITEMS):
            chunk = urls[i:i + MAX_ITEMS]
            answer = self.http.request("POST", "/CGI/Execute", execute_body(chunk),
                                       {"Content-Type": "application/x-www-form-urlencoded"})
            if answer.status != 200 and "CiscoIPPhoneError" not in answer.text:
                raise EndpointError(f"CGI/Execute {list(chunk)}: HTTP {answer.status}: {answer.text[:200]}")
            check_response(answer.text, chunk)

    def dial(self, digits: str) -> None:
        self.execute(f"Dial:{digits}")

    def answer(self) -> None:
        self.execute("Key:Speaker")

    def hangup(self) -> None:
        self.execute("Key:Speaker")

    def press(self, name: str) -> None:
        self.execute(f"Key:{name}")

    def press_digit(self, digit: str) -> None:
        self.execute(keypad(digit))

    def menu(self, steps: list[MenuStep]) -> None:
        urls: list[str] = []
        for step in steps:
            if step.action is MenuAction.SERVICES:
                urls.append("Key:Services")
            elif step.action is MenuAction.TYPE:
                urls += [keypad(d) for d in step.arg]
            elif step.action is MenuAction.DOWN:
                urls.append("Key:NavDwn")
            elif step.action is MenuAction.UP:
                urls.append("Key:NavUp")
            elif step.action is MenuAction.SOFT:
                urls.append(f"Key:Soft{step.arg}")
            elif step.action is MenuAction.ITEM:
                if len(step.arg) != 1:
                    raise EndpointError(f"menu item {step.arg}: only items 1-9 have a keypad number")
                urls.append(keypad(step.arg))
        self.execute(*urls)
