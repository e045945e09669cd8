"""Fuzz the phone XML services' query handling (/xml/, /xml/yealink/, /xml/polycom/).

Contract (gateway/web/phone_xml.py): whatever the page, query string, Host and
Accept-Charset, a GET is answered (200, or 404 for no such page) with a well-formed XML
document in the character set its Content-Type names; a bad argument is a screen saying
so, never an exception (twisted.web would answer 500 with a traceback). Each input starts
from a fresh ACD (the demo site, agent 3000 logged on at 2101), so a crash replays alone.

Input: one octet choosing the dialect and page, then lines: the query string, the
Accept-Charset header, the Host header (the last two optional).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from acdgate.acd.commands import Login
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from acdgate.gateway.web.phone_screens import Page
from acdgate.gateway.web.phone_xml import PhoneAgentService, make_phone_resource
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.web.http import parse_qs
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_SITE = load_site(None)
_PAGES = list(Page)
_DIALECTS: tuple[list[bytes], ...] = ([], [b"yealink"], [b"polycom"])
_ROOT = Path(tempfile.mkdtemp(prefix="fuzz-phone-xml-"))
atexit.register(shutil.rmtree, _ROOT, True)


class _Request(DummyRequest):
    """twisted.web's test request, plain HTTP (it has no isSecure of its own)."""

    def isSecure(self) -> bool:
        return False


def _request(data: bytes) -> _Request:
    selector, rest = (data[0], data[1:]) if data else (0, b"")
    lines = rest.split(b"\n")
    page = _PAGES[selector % len(_PAGES)].value.encode()
    request = _Request(_DIALECTS[selector // len(_PAGES) % 3] + [page])
    request.args = parse_qs(lines[0], 1)  # type: ignore[no-untyped-call]  # as twisted.web does
    if len(lines) > 1:
        request.requestHeaders.setRawHeaders(b"accept-charset", [lines[1]])
    if len(lines) > 2:
        request.requestHeaders.setRawHeaders(b"host", [lines[2]])
    return request


def check(data: bytes) -> None:
    """One input as a GET of one page of one dialect."""
    state = Path(tempfile.mkdtemp(dir=_ROOT))
    store = StateStore(state)
    acd = AcdService(Clock(), _SITE, store)
    try:
        acd.execute(Login("3000", "1234", "2101"))
        request = _request(data)
        request.client = IPv4Address("TCP", "127.0.0.1", 5060)  # the phone, registered there
        client = "127.0.0.1"
        # every station registered from the request's host: the actions run, not only refusals
        root = make_phone_resource(PhoneAgentService(acd), station_hosts=lambda ext: {client},
                                   station_lookup=lambda host: None)
        resource = getChildForRequest(root, request)  # type: ignore[no-untyped-call]
        body = resource.render(request)
        assert isinstance(body, bytes), body
        assert request.responseCode in (None, 200, 404), request.responseCode
        content_type = (request.responseHeaders.getRawHeaders(b"content-type") or [b""])[0]
        charset = content_type.partition(b"charset=")[2].decode("ascii") or "utf-8"
        text = body.decode(charset)  # the charset it says is the one it wrote
        # well-formed, whatever the query echoed into it (parsed as text: expat reads no
        # multi-byte declaration such as Shift_JIS)
        ET.fromstring(_DECLARATION.sub("", text, count=1))
    finally:
        acd.stop()
        store.close()
        shutil.rmtree(state, True)


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
