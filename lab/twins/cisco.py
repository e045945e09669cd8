"""The Cisco phone twin: `POST /CGI/Execute` as Cisco IP phones serve it (Cisco Unified IP
Phone Services Application Development Notes: CiscoIPPhoneExecute, CiscoIPPhoneResponse,
CiscoIPPhoneError, "Internal URI Features"; usecallmanager.nz "CGI Execute").

The form field `XML` holds a CiscoIPPhoneExecute with 1-3 ExecuteItems; each runs in order
and gets a `ResponseItem Status="0" Data="Success"`. Errors are CiscoIPPhoneError objects:
1 when the object does not parse (or the field is missing), 4 when the Basic credentials are
wrong or missing (the twin also answers 401 with a Basic challenge; a real phone checks
them through its authentication URL). A URI the twin cannot carry out now gets
`Status="1"` with the reason in `Data` (the twin's choice; phones differ).

URIs: `Dial:N`; `Key:Services` (the XML browser opens the services URL: the gateway's
`/xml/?ext=N`); `Key:KeyPad0`..`9`/`Star`/`Pound` (menu item by number, a character in an
input field, DTMF in a call); `Key:NavUp`, `Key:NavDwn`, `Key:NavSelect`; `Key:SoftN`
(soft key N of the XML screen); `Key:Speaker` (answer / hang up); `Key:LineN` (Line1 the
line, others programmed speed dials); `http://...` (the browser fetches it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from urllib.parse import parse_qs
from xml.sax.saxutils import quoteattr

from acdgate.lab.drivers.base import Endpoint
from acdgate.lab.twins.base import AuthScheme, Credentials, PhoneTwin, Reply, TwinError
from acdgate.lab.twins.browser import Connect, Dialect, XmlBrowser

CONTENT_TYPE = "text/xml"
#: line buttons of the twin: Line1 is the line, Line2-4 speed dials for the logoff/state codes
DEFAULT_LINES = {"Line1": ("line", ""), "Line2": ("speed-dial", "*36"), "Line3": ("speed-dial", "*37"),
                 "Line4": ("speed-dial", "*38")}
_KEYPAD = {"KeyPadStar": "*", "KeyPadPound": "#", **{f"KeyPad{d}": d for d in "0123456789"}}


def error(number: int) -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<CiscoIPPhoneError Number="{number}"/>\n'.encode()


class CiscoTwin(PhoneTwin):
    vendor = "cisco"

    def __init__(self, softphone: Endpoint, *, username: str, password: str, services_url: str,
                 connect: Connect, lines: Mapping[str, tuple[str, str]] | None = None) -> None:
        super().__init__(softphone, Credentials(username, password, "Cisco IP Phone", (AuthScheme.BASIC,)),
                         keys=DEFAULT_LINES if lines is None else lines,
                         browser=XmlBrowser(Dialect.CISCO, connect, self._uri, "Allegro-Software-WebClient (twin)"))
        self.services_url = services_url

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, client: str) -> Reply:
        if path.split("?", 1)[0] != "/CGI/Execute":
            return Reply(404, b"Not Found")
        if method != "POST":
            return Reply(405, b"Method Not Allowed", headers=(("Allow", "POST"),))
        if not self.authorized(headers, method):
            return self.unauthorized(error(4), CONTENT_TYPE)
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
            root = ET.fromstring(form["XML"][0])
        except (UnicodeDecodeError, ValueError, KeyError, ET.ParseError):
            return Reply(200, error(1), CONTENT_TYPE)
        items = root.findall("ExecuteItem")
        if root.tag != "CiscoIPPhoneExecute" or not 1 <= len(items) <= 3 or any(i.get("URL") is None for i in items):
            return Reply(200, error(1), CONTENT_TYPE)
        out = []
        for item in items:
            url = item.get("URL", "")
            try:
                self._uri(url)
                status, data = 0, "Success"
            except TwinError as exc:
                status, data = 1, str(exc)
            out.append(f"<ResponseItem Status=\"{status}\" Data={quoteattr(data)} URL={quoteattr(url)}/>")
        xml = '<?xml version="1.0" encoding="utf-8"?>\n<CiscoIPPhoneResponse>' + "".join(out) + "</CiscoIPPhoneResponse>\n"
        return Reply(200, xml.encode("utf-8"), CONTENT_TYPE)

    def _uri(self, url: str) -> None:
        scheme, _, arg = url.partition(":")
        if scheme == "Dial":
            self.dial(arg)
        elif scheme in ("http", "https"):
            self._browse(lambda b: b.open(url))
        elif scheme == "Key":
            self._key(arg)
        else:
            raise TwinError(f"URI {url!r} not supported")

    def _key(self, name: str) -> None:
        if name in _KEYPAD:
            self.keypad(_KEYPAD[name])
        elif name == "Services":
            self._browse(lambda b: b.open(self.services_url))
        elif name == "NavDwn":
            self._browse(lambda b: b.move(1))
        elif name == "NavUp":
            self._browse(lambda b: b.move(-1))
        elif name == "NavSelect":
            self._browse(lambda b: b.select())
        elif name.startswith("Soft") and name[4:].isdigit():
            self._browse(lambda b: b.soft(int(name[4:])))
        elif name == "Speaker":
            self.hook()
        elif name.startswith("Line") and name[4:].isdigit():
            self.programmed(name)
        else:
            raise TwinError(f"Key:{name} not supported by the twin")
