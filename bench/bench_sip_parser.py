"""SIP parser throughput: parses/s of a typical REGISTER and INVITE, serialisations/s.

Baseline measured in the same run: the standard library's `email.parser.BytesParser`
(headersonly) over the same header block, i.e. a generic RFC 822 header parser that does
no SIP validation. Ratio > 1 means ours is faster. Each figure is the best of 5 short rounds. About 20 s.
Run: .venv/bin/python bench/bench_sip_parser.py [seconds-per-case]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser

from acdgate.gateway.sip.message import Request, make_response
from acdgate.gateway.sip.parser import parse_message

REGISTER = (
    b"REGISTER sip:acd.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "201" <sip:201@acd.example.com>\r\n'
    b'From: "201" <sip:201@acd.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 REGISTER\r\n"
    b'Contact: <sip:201@192.0.2.10:5060;line=f2fd53eb>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000B82A1B2C3>"\r\n'
    b'Authorization: Digest username="201", realm="acd.example.com", nonce="5f2c1a", '
    b'uri="sip:acd.example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5\r\n'
    b"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO, SUBSCRIBE, MESSAGE\r\n"
    b"Supported: path, outbound, gruu\r\n"
    b"Expires: 3600\r\n"
    b"Content-Length: 0\r\n\r\n"
)
SDP = (
    b"v=0\r\no=- 20518 0 IN IP4 192.0.2.10\r\ns=SDP Data\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 11780 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
)
INVITE = (
    b"INVITE sip:*35*1234#@acd.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds8;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:*35*1234#@acd.example.com>\r\n"
    b'From: "Agent 201" <sip:201@acd.example.com>;tag=1928301774\r\n'
    b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Contact: <sip:201@192.0.2.10:5060>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`: best of 5 rounds of about `seconds`/5 (the machine is shared)."""
    best = 0.0
    for _ in range(5):
        n, batch = 0, 100
        start = time.perf_counter()
        deadline = start + seconds / 5
        while True:
            for _ in range(batch):
                fn()
            n += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5
    email_parser = BytesParser(policy=policy.compat32)
    print(f"{'case':<40}{'ours/s':>12}{'baseline/s':>14}{'ratio':>8}")
    for name, data in (("REGISTER", REGISTER), ("INVITE", INVITE)):
        request = parse_message(data)
        assert isinstance(request, Request), request
        head = data[data.index(b"\r\n") + 2 : data.index(b"\r\n\r\n") + 4]
        baseline = rate(lambda h=head: email_parser.parsebytes(h, headersonly=True), seconds)

        def parse_and_read(d: bytes = data) -> object:
            # what the server transaction and registrar read from every request
            m = parse_message(d)
            assert isinstance(m, Request)
            return (m.top_via, m.cseq, m.call_id, m.from_addr, m.to_addr, m.contacts)

        ours = rate(lambda d=data: parse_message(d), seconds)
        print(f"{'parse ' + name:<40}{ours:>12,.0f}{baseline:>14,.0f}{ours / baseline:>8.2f}")
        ours = rate(parse_and_read, seconds)
        print(f"{'parse + Via/CSeq/From/To/Contact ' + name:<40}{ours:>12,.0f}"
              f"{baseline:>14,.0f}{ours / baseline:>8.2f}")  # fmt: skip
        ours = rate(request.to_bytes, seconds)
        msg = email_parser.parsebytes(head, headersonly=True)
        baseline = rate(msg.as_bytes, seconds)
        print(f"{'serialise ' + name:<40}{ours:>12,.0f}{baseline:>14,.0f}{ours / baseline:>8.2f}")
    ours = rate(lambda: make_response(request, 200, to_tag="abc").to_bytes(), seconds)
    print(f"{'make_response(INVITE, 200).to_bytes()':<40}{ours:>12,.0f}")


if __name__ == "__main__":
    main()
