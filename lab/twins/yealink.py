"""The Yealink phone twin: Action URI as Yealink phones serve it (Yealink Administrator's
Guide, "Action URI": `GET /servlet?key=value[;value]`, the old forms
`/cgi-bin/ConfigManApp.com?key=...` and `/cgi-bin/cgiServer.exx?key=...`, the variable
values list, `features.action_uri_limit_ip`).

A request from an address outside the trusted list gets 403; without the web user's
credentials (Digest or Basic) 401 with both challenges; a handled request 200 OK. A query
without `key`, or a value the twin does not know or cannot carry out now, gets 400 naming
it (the twin is stricter than a phone, which answers 200 and ignores it, so a driver's
mistake cannot pass unseen). `key=number=N&outgoing_uri=URI` dials N.

Values: `0`-`9`, `STAR`, `POUND` (menu item by number, a character in an input field, DTMF
in a call), `OK`/`ENTER` (answer a ringing call; select / submit on an XML screen), `UP`,
`DOWN`, `F1`-`F4` (soft keys of the XML screen), `CALLEND`, `SPEAKER`, `X`/`CANCEL` (leave
the XML screen), `L<n>` (line keys: the line, speed dials, the XML Browser key that opens
the gateway's `/xml/yealink/?ext=N`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

from acdgate.lab.drivers.base import Endpoint
from acdgate.lab.twins.base import AuthScheme, Credentials, PhoneTwin, Reply, TwinError
from acdgate.lab.twins.browser import Connect, Dialect, XmlBrowser

PATHS = ("/servlet", "/cgi-bin/ConfigManApp.com", "/cgi-bin/cgiServer.exx")
_DIGITS = {"STAR": "*", "POUND": "#", **{d: d for d in "0123456789"}}


def default_keys(menu_url: str) -> dict[str, tuple[str, str]]:
    """L1 the line, L2-L4 speed dials for logoff/ready/not ready, L5 the XML Browser key."""
    return {"L1": ("line", ""), "L2": ("speed-dial", "*36"), "L3": ("speed-dial", "*37"),
            "L4": ("speed-dial", "*38"), "L5": ("xml", menu_url)}


class YealinkTwin(PhoneTwin):
    vendor = "yealink"

    def __init__(self, softphone: Endpoint, *, username: str, password: str, menu_url: str,
                 connect: Connect, keys: Mapping[str, tuple[str, str]] | None = None,
                 trusted: Sequence[str] = ("any",)) -> None:
        super().__init__(softphone, Credentials(username, password, "Yealink", (AuthScheme.DIGEST, AuthScheme.BASIC)),
                         keys=default_keys(menu_url) if keys is None else keys,
                         browser=XmlBrowser(Dialect.YEALINK, connect, self._uri, "Yealink SIP-T46U (twin)"))
        self.trusted = tuple(trusted)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, client: str) -> Reply:
        parts = urlsplit(path)
        if parts.path not in PATHS:
            return Reply(404, b"404 Not Found")
        if "any" not in self.trusted and client not in self.trusted:
            return Reply(403, b"403 Forbidden: not in the Action URI allow list")
        if method != "GET":
            return Reply(405, b"405 Method Not Allowed", headers=(("Allow", "GET"),))
        if not self.authorized(headers, method):
            return self.unauthorized()
        query = parse_qs(parts.query, keep_blank_values=True)
        values = query.get("key")
        if not values or not values[0]:
            return Reply(400, b"400 Bad Request: no key")
        key = values[0]
        try:
            if key.startswith("number="):
                self.dial(key.partition("=")[2])  # the guide's key=number=N&outgoing_uri=URI
            else:
                for value in key.split(";"):
                    self._value(value)
        except TwinError as exc:
            return Reply(400, f"400 Bad Request: {exc}".encode())
        return Reply(200, b"200 OK")

    def _uri(self, url: str) -> None:
        scheme, _, arg = url.partition(":")
        if scheme == "Dial":
            self.dial(arg)
        else:
            raise TwinError(f"URI {url!r} not supported")

    def _value(self, value: str) -> None:
        shown = self.browser is not None and self.browser.showing
        if value in _DIGITS:
            self.keypad(_DIGITS[value])
        elif value in ("OK", "ENTER"):
            if shown:
                self._browse(lambda b: b.select())
            elif self.call_state() == "ringing":
                self.softphone.answer()
            else:
                raise TwinError(f"{value}: nothing to confirm")
        elif value in ("UP", "DOWN"):
            self._browse(lambda b: b.move(-1 if value == "UP" else 1))
        elif value in ("F1", "F2", "F3", "F4"):
            self._browse(lambda b: b.soft(int(value[1])))
        elif value in ("X", "CANCEL"):
            self._browse(lambda b: b.exit())
        elif value in ("CALLEND", "CallEnd"):
            self.hangup()
        elif value == "SPEAKER":
            self.hook()
        elif value.startswith("L") and value[1:].isdigit():
            self.programmed(value)
        else:
            raise TwinError(f"unknown key value {value!r}")
