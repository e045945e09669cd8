"""The Polycom phone twin: the Push API as Polycom UC Software phones serve it (Web
Application Developer's Guide for Polycom Phones, UC Software 5.0: "Push Requests",
"HTML Data Push", "To Push the URIs for Execution", `apps.push.*` parameters).

`POST /push`, `Content-Type: application/x-com-polycom-spipx`, at most 2 KB, Digest
authentication with `apps.push.username`/`apps.push.password` (a request without it gets
401 and a challenge). The body is `<PolycomIPPhone>` with a `<Data priority="...">` of
internal URIs, one a line, run in order, or a `<URL>` that the microbrowser opens under
`apps.push.serverRootURL`. `apps.push.messageType` gates priorities (0 none, 1 Normal,
2 Important, 3 High, 4 Critical, 5 all); a refused priority gets 403 (twin's choice, as is
400 for a body that is not a PolycomIPPhone push, or for a URI it cannot carry out).

URIs: `tel:\\\\N` / `tel:N` (dial), `Key:Line1` (take the line: the dial pad then collects
digits), `Key:DialPad0`-`9`/`Star`/`Pound` (collect, or DTMF in a call), `Key:Softkey1`
(Send / Dial the collected digits), `Key:Handsfree` (answer / hang up), `Key:Line2`...
(speed dials). The microbrowser shows XHTML, which the gateway does not serve: a `<URL>`
push is fetched and recorded only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from urllib.parse import urljoin

from acdgate.lab.drivers.base import Endpoint
from acdgate.lab.twins.base import AuthScheme, Credentials, PhoneTwin, Reply, TwinError

CONTENT_TYPE = "application/x-com-polycom-spipx"
MAX_BODY = 2048
#: apps.push.messageType -> priorities accepted
MESSAGE_TYPES: dict[int, frozenset[str]] = {
    0: frozenset(), 1: frozenset({"Normal"}), 2: frozenset({"Important"}), 3: frozenset({"High"}),
    4: frozenset({"Critical"}), 5: frozenset({"Critical", "Important", "High", "Normal"}),
}
DEFAULT_LINES = {"Line1": ("line", ""), "Line2": ("speed-dial", "*36"), "Line3": ("speed-dial", "*37"),
                 "Line4": ("speed-dial", "*38")}
_PAD = {"DialPadStar": "*", "DialPadPound": "#", **{f"DialPad{d}": d for d in "0123456789"}}


class PolycomTwin(PhoneTwin):
    vendor = "polycom"

    def __init__(self, softphone: Endpoint, *, username: str, password: str, message_type: int = 5,
                 server_root_url: str = "", lines: Mapping[str, tuple[str, str]] | None = None) -> None:
        super().__init__(softphone, Credentials(username, password, "PUSH Authentication", (AuthScheme.DIGEST,)),
                         keys=DEFAULT_LINES if lines is None else lines)
        if message_type not in MESSAGE_TYPES:
            raise ValueError(f"apps.push.messageType: 0 to 5, not {message_type}")
        self.message_type = message_type
        self.server_root_url = server_root_url
        self.collected: str | None = None  # digits on the dial pad after Key:Line1
        self.pushed_urls: list[str] = []

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, client: str) -> Reply:
        if path.split("?", 1)[0] != "/push":
            return Reply(404, b"404 Not Found")
        if method != "POST":
            return Reply(405, b"405 Method Not Allowed", headers=(("Allow", "POST"),))
        if not self.authorized(headers, method):
            return self.unauthorized()
        if headers.get("content-type", "").split(";")[0].strip() != CONTENT_TYPE:
            return Reply(400, f"400 Bad Request: Content-Type must be {CONTENT_TYPE}".encode())
        if len(body) > MAX_BODY:
            return Reply(400, b"400 Bad Request: push larger than 2 KB")
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return Reply(400, b"400 Bad Request: not XML")
        element = root.find("Data")
        if element is None:
            element = root.find("URL")
        if root.tag != "PolycomIPPhone" or element is None:
            return Reply(400, b"400 Bad Request: a <PolycomIPPhone> with <Data> or <URL>")
        priority = element.get("priority", "Normal")
        if priority not in MESSAGE_TYPES[self.message_type]:
            return Reply(403, f"403 Forbidden: priority {priority} not accepted (apps.push.messageType "
                              f"{self.message_type})".encode())
        try:
            if element.tag == "URL":
                self.pushed_urls.append(urljoin(self.server_root_url + "/", (element.text or "").lstrip("/")))
            else:
                for line in (element.text or "").splitlines():
                    if line.strip():
                        self._uri(line.strip())
        except TwinError as exc:
            return Reply(400, f"400 Bad Request: {exc}".encode())
        return Reply(200, b"")

    def _uri(self, uri: str) -> None:
        scheme, _, arg = uri.partition(":")
        if scheme == "tel":
            self.dial(arg.lstrip("\\/"))
        elif scheme == "Key":
            self._key(arg)
        else:
            raise TwinError(f"URI {uri!r} not supported")

    def _key(self, name: str) -> None:
        if name in _PAD:
            if self.collected is not None:
                self.collected += _PAD[name]
            else:
                self.keypad(_PAD[name])
        elif name == "Line1":
            self.collected = ""
        elif name == "Softkey1" and self.collected is not None:
            number, self.collected = self.collected, None
            self.dial(number)
        elif name == "Handsfree":
            self.hook()
        elif name.startswith("Line") and name[4:].isdigit():
            self.programmed(name)
        else:
            raise TwinError(f"Key:{name} not supported by the twin")
