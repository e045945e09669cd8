"""Fuzz the SIP parser (datagrams and TCP/TLS streams) against its contract.

Contract (gateway/sip/parser.py): `parse_message` and `StreamFramer.feed` never raise; a
defect is a `ParseError` naming it. A message they accept has Via, From, To, CSeq, Call-ID
and Contact readable without an exception, and serialises to bytes that parse again into the
same kind of message (unless it has MAX_HEADERS fields and no Content-Length: `to_bytes`
always writes one, and the 257th field is over the limit); an answerable `ParseError`
carries a request a response can be built to.
"""

from __future__ import annotations

from acdgate.gateway.sip.message import Request, Response, make_response
from acdgate.gateway.sip.parser import MAX_HEADERS, ParseError, StreamFramer, parse_message
from acdgate.gateway.sip.uri import SipSyntaxError


def _accepted(result: Request | Response | ParseError) -> None:
    if isinstance(result, ParseError):
        assert result.reason, "a ParseError names its defect"
        if result.answerable:
            assert result.request is not None, "an answerable ParseError carries its request"
            make_response(result.request, result.status).to_bytes()
        return
    assert isinstance(result, Request | Response), type(result)
    # RFC 3261 8.1.1: the mandatory fields are there and parse
    assert result.call_id and result.cseq and result.vias and result.top_via, result
    assert result.from_addr is not None and result.to_addr is not None, result
    assert isinstance(result.contacts, list), result
    if isinstance(result, Request):
        try:
            assert result.request_uri is not None
        except SipSyntaxError:
            pass  # documented: a tel: or other non-SIP Request-URI does not parse as SIP
        make_response(result, 200).to_bytes()
    if "Content-Length" not in result.headers and len(result.headers) >= MAX_HEADERS:
        return  # to_bytes adds a Content-Length, one header over the parser's limit
    again = parse_message(result.to_bytes())
    assert type(again) is type(result), (again, result)


def check(data: bytes) -> None:
    """One input as a UDP datagram and as the bytes of a TCP stream."""
    _accepted(parse_message(data))
    framer = StreamFramer()
    for result in framer.feed(data):
        _accepted(result)


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
