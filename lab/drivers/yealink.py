"""Yealink IP phones over Action URI (Yealink Administrator's Guide for SIP-T2/T4/T5 Series
IP Phones, "Action URI": HTTP/HTTPS GET Request, Variable Values List, Action URI
Configuration).

`GET http://<phone>/servlet?key=<value>[;<value>...]` presses keys (values separated by
semicolons run in order); `GET /servlet?key=number=<N>&outgoing_uri=<account URI>` places
a call to N from that account. The phone answers 200 OK once it took the request. The
phone must trust the sender (`features.action_uri_limit_ip`, the "Allow remote control?"
prompt) and asks for the web user's credentials (Basic or Digest). Values used: `OK`
(answers a ringing call), `CALLEND`, `0`..`9`, `STAR`, `POUND`, `UP`, `DOWN`, `F1`..`F4`
(the soft keys), `L<n>` (line keys, i.e. DSS keys: speed dial, XML Browser).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from acdgate.lab.drivers.base import Endpoint, EndpointError
from acdgate.lab.drivers.http_phone import HttpPhone, MenuAction, MenuStep, PhoneHttp, check_ok
from acdgate.lab.inventory import EndpointSpec

#: DSS keys of a lab phone: short code -> line key set up as a speed dial
DEFAULT_KEYS = {"*36": "L2", "*37": "L3", "*38": "L4"}
#: the line key set up as XML Browser with the gateway's `/xml/yealink/?ext=N`
DEFAULT_MENU_KEY = "L5"
_DIGITS = {"*": "STAR", "#": "POUND", **{d: d for d in "0123456789"}}


def key_value(digit: str) -> str:
    try:
        return _DIGITS[digit]
    except KeyError:
        raise ValueError(f"no keypad key {digit!r}") from None


class YealinkPhone(HttpPhone):
    """A Yealink phone (or its twin) driven by Action URI."""

    def __init__(self, spec: EndpointSpec, url: str, username: str, password: str, *,
                 outgoing_uri: str | None = None, mirror: Endpoint | None = None,
                 keys: Mapping[str, str] | None = None, menu_key: str = DEFAULT_MENU_KEY,
                 on_start: Callable[[], Any] | None = None, on_stop: Callable[[], Any] | None = None) -> None:
        super().__init__(spec, PhoneHttp(url, username, password), mirror=mirror,
                         keys=DEFAULT_KEYS if keys is None else keys, on_start=on_start, on_stop=on_stop)
        self.outgoing_uri = outgoing_uri or spec.username
        self.menu_key = menu_key

    def keys_pressed(self, *values: str) -> None:
        """`/servlet?key=V1;V2;...` (the semicolons stay literal, as in the guide's examples)."""
        if not values:
            return
        path = "/servlet?key=" + ";".join(quote(v, safe="") for v in values)
        check_ok(self.http.request("GET", path), f"Action URI key={';'.join(values)}")

    def dial(self, digits: str) -> None:
        # the guide's form: /servlet?key=number=xxx&outgoing_uri=URI
        query = urlencode({"number": digits, "outgoing_uri": self.outgoing_uri})
        answer = self.http.request("GET", f"/servlet?key={query}")
        check_ok(answer, f"Action URI dial {digits}")

    def answer(self) -> None:
        self.keys_pressed("OK")

    def hangup(self) -> None:
        self.keys_pressed("CALLEND")

    def press(self, name: str) -> None:
        self.keys_pressed(name)

    def press_digit(self, digit: str) -> None:
        self.keys_pressed(key_value(digit))

    def menu(self, steps: list[MenuStep]) -> None:
        values: list[str] = []
        for step in steps:
            if step.action is MenuAction.SERVICES:
                values.append(self.menu_key)
            elif step.action is MenuAction.TYPE:
                values += [key_value(d) for d in step.arg]
            elif step.action is MenuAction.DOWN:
                values.append("DOWN")
            elif step.action is MenuAction.UP:
                values.append("UP")
            elif step.action is MenuAction.SOFT:
                values.append(f"F{step.arg}")
            elif step.action is MenuAction.ITEM:
                if len(step.arg) != 1:
                    raise EndpointError(f"menu item {step.arg}: only items 1-9 have a keypad number")
                values.append(step.arg)  # numbered menus: the digit opens that item
        self.keys_pressed(*values)
