"""The quick path for a plain REGISTER agrees with the general one.

`scan_register` reads a REGISTER datagram without `parse_message`, and
`Registrar.register_scanned` answers it without `handle_register`'s objects. Both are only
worth having if nobody can tell: here every datagram Hypothesis can build (plain, odd, and
broken) is read both ways and compared field by field, the hostile and RFC 4475 corpora are
checked the same way, and sequences of registrations (challenges, refreshes, unregistering,
wrong passwords, replays, 423s, 403s, several contacts, time passing) run through two
registrars, one answering quickly where it can and one always the general way: the answers'
bytes and the bindings left must be the same.
"""

from __future__ import annotations

import re
from pathlib import Path

from acdgate.acd.site import SipSettings, Site, Station
from acdgate.gateway.sip.digest import Algorithm, Qop, digest_response
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.parser import ParseError, parse_message
from acdgate.gateway.sip.register_scan import scan_register
from acdgate.gateway.sip.registrar import Registrar, credentials_from_site
from acdgate.gateway.sip.stack import _with_received
from acdgate.gateway.sip.stateless import request_identity
from acdgate.gateway.sip.via import response_address
from hypothesis import given
from hypothesis import strategies as st

DATA = Path(__file__).parent / "data"
SOURCE = ("198.51.100.7", 5099)
SERVER = "acdgate/test"
NOW = 1_700_000_000.0
SETTINGS = SipSettings(
    realm="acdgate", min_expires=60, max_expires=3600, default_expires=1800,
    auth_failures_before_delay=2, auth_failures_before_block=4, auth_block_seconds=100,
)  # fmt: skip
SITE = Site(
    name="lab",
    stations=(Station("201", "201", "pw201"), Station("202", "202", "pw202")),
    users=(), groups=(), sip=SETTINGS,
)  # fmt: skip
SECRET = b"register-scan-test-secret-012345"


# -- the scan against the parser ------------------------------------------------------------


def assert_scan_agrees(data: bytes, source: tuple[str, int] = SOURCE) -> bool:
    """The scan of `data` is None or reads what the parser reads; True if it read it."""
    scan = scan_register(data, source)
    if scan is None:
        return False
    parsed = parse_message(data)
    assert isinstance(parsed, Request), (data, parsed)
    request = _with_received(parsed, source)
    headers = request.headers
    assert request.method == "REGISTER" and request.body == b""
    assert scan.uri == request.uri
    assert headers.get_all("Via") == [scan.via]
    assert request.top_via is not None and scan.destination == response_address(request.top_via)
    assert scan.identity == request_identity(request)
    assert scan.from_ == headers.get("From") and scan.to == headers.get("To")
    assert scan.call_id == request.call_id
    assert (scan.cseq, "REGISTER") == request.cseq and scan.cseq_text == headers.get("CSeq")
    assert headers.get_all("Contact") == ([] if scan.contact is None else [scan.contact])
    assert scan.expires == headers.get("Expires")
    assert headers.get_all("Authorization") == ([] if scan.authorization is None else [scan.authorization])
    assert scan.user_agent == (headers.get("User-Agent") or "")
    for name in ("Require", "Proxy-Require", "Proxy-Authorization", "Route"):
        assert name not in headers
    return True


PLAIN = (
    b"REGISTER sip:gw.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1;rport\r\n"
    b"From: <sip:201@gw.example>;tag=ft1\r\nTo: <sip:201@gw.example>\r\n"
    b"Call-ID: c1@192.0.2.10\r\nCSeq: 1 REGISTER\r\nContact: <sip:201@192.0.2.10:5062>\r\n"
    b"Max-Forwards: 70\r\nExpires: 3600\r\nUser-Agent: Phone/1\r\nContent-Length: 0\r\n\r\n"
)


def test_a_plain_register_is_scanned_with_received_and_rport_filled_in() -> None:
    assert assert_scan_agrees(PLAIN)
    scan = scan_register(PLAIN, SOURCE)
    assert scan is not None
    assert scan.via == "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1;rport=5099;received=198.51.100.7"
    assert scan.destination == SOURCE  # RFC 3581: back to the source port


def spelled(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from([*names, *(n.lower() for n in names), *(n.upper() for n in names)])


# SOURCE's own host too: a Via that needs no received (then only an empty rport changes it)
hosts = st.sampled_from(["192.0.2.10", "phone.example", "[2001:db8::1]", "PHONE.example", SOURCE[0]])
ports = st.none() | st.sampled_from(["5060", "5062", "65535", "05062", "0"])
via_params = st.lists(
    st.sampled_from(["rport", "rport=5062", "RPORT", "Rport=7", "received=192.0.2.99", "received",
                     f"Received={SOURCE[0]}", "ttl=1", "x", "BRANCH=z9hG4bK-up"]),
    max_size=3, unique=True,
)  # fmt: skip
plain_addresses = st.sampled_from([
    "<sip:201@gw.example>", '"Agent 201" <sip:201@gw.example>', "Agent <sip:201@gw.example>",
    "sip:201@gw.example", "<sip:202@gw.example>", "<sips:201@gw.example:5061>",
])  # fmt: skip
plain_contacts = st.sampled_from([
    "<sip:201@192.0.2.10:5062>", "<sip:201@192.0.2.10:5062>;expires=60",
    "<sip:201@192.0.2.10:5062;transport=udp>;q=0.5", "sip:201@192.0.2.10;expires=10",
    '<sip:201@192.0.2.10>;+sip.instance="<urn:uuid:1>";reg-id=1', "<sip:201@192.0.2.10>;expires=x",
])  # fmt: skip
AUTH = ('Digest username="201", realm="acdgate", nonce="abc", uri="sip:gw.example", '
        'response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"')

# What can be wrong with a REGISTER, or just unusual: (header name or None, value) replacing or
# adding a field, or a whole-message change (the name is a marker starting with "!")
DEFECTS = [
    ("Via", "SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK-a"), ("Via", "SIP/2.0/UDP  192.0.2.10"),
    ("Via", "SIP/2.0/UDP 192.0.2.10 ;branch=z9hG4bK-a"), ("Via", "SIP/2.0/UDP 192.0.2.10;maddr=h"),
    ("Via", "SIP/2.0/UDP h1;branch=z9hG4bK-a, SIP/2.0/UDP h2;branch=z9hG4bK-b"), ("Via", "garbage"),
    ("+Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-c"), ("From", "<sip:201@gw.example"),
    ("From", "<tel:201>;tag=1"), ("To", "<sip:20%31@gw.example>"), ("To", "<sip:201@gw.example>;tag=a;tag=b"),
    ("To", "<sip:201@gw.example> ;x=1"), ("Call-ID", "bad id"), ("Call-ID", "c@d@e"),
    ("CSeq", "1  REGISTER"), ("CSeq", "1 INVITE"), ("CSeq", "2147483648 REGISTER"), ("CSeq", "x REGISTER"),
    ("Contact", "*"), ("Contact", "<sip:a@h>, <sip:b@h>"), ("Contact", "<sip:201@192.0.2.10"),
    ("+Contact", "<sip:201@192.0.2.11>"), ("Expires", "abc"), ("Expires", "99999999"),
    ("+Authorization", AUTH), ("Max-Forwards", "300"), ("Max-Forwards", "x"), ("Content-Length", "5"),
    ("Content-Length", "-1"), ("Content-Length", "00"), ("Require", "foo"), ("Proxy-Require", "foo"),
    ("Proxy-Authorization", AUTH), ("Route", "<sip:p.example;lr>"), ("Record-Route", "<sip:p;lr>"),
    ("Allow", "INVITE, ACK, BYE"), ("Supported", ","), ("k", "path, outbound"), ("X-Custom", "1"),
    ("Content-Type", "application/sdp"), ("+Content-Type", "text/plain"), ("Bad Name", "1"),
    ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"), ("+Max-Forwards", "70"), ("+User-Agent", "Other"),
    ("!fold", ""), ("!tab", ""), ("!utf8", ""), ("!lf", ""), ("!nul", ""), ("!body", ""),
    ("!version", "SIP/3.0"), ("!uri", "sip:gw.example?x=1"), ("!uri", "tel:+1"), ("!uri", "sips:gw.example"),
    ("!uri", "sip:gw.example;transport=udp"), ("!colon", " : "), ("!colon", ":"), ("!dup-line", ""),
    ("!leading-crlf", ""), ("!many", ""),
]  # fmt: skip
NAMES = {
    "Via": ("Via", "v"), "From": ("From", "f"), "To": ("To", "t"), "Call-ID": ("Call-ID", "i"),
    "CSeq": ("CSeq",), "Contact": ("Contact", "m"), "Expires": ("Expires",),
    "Authorization": ("Authorization",), "User-Agent": ("User-Agent",),
    "Max-Forwards": ("Max-Forwards",), "Content-Length": ("Content-Length", "l"),
}  # fmt: skip


@st.composite
def registers(draw: st.DrawFn) -> bytes:
    """A plain REGISTER in any of the spellings a phone may use, with 0-2 defects or oddities."""
    host, port = draw(hosts), draw(ports)
    transport = draw(st.sampled_from(["UDP", "udp", "Udp"]))
    via = f"SIP/2.0/{transport} {host}" + ("" if port is None else f":{port}")
    via += draw(st.sampled_from([";branch=z9hG4bK-a", ";branch=z9hG4bK-a", ""]))  # RFC 2543: none
    via += "".join(f";{p}" for p in draw(via_params))
    fields: dict[str, str] = {
        "Via": via,
        "From": draw(plain_addresses) + ";tag=ft1",
        "To": draw(plain_addresses) + draw(st.sampled_from(["", "", ";tag=tt1"])),
        "Call-ID": draw(st.sampled_from(["c1@192.0.2.10", "c2", "a-b.c!%*_+`'~()<>:/[]?{}"])),
        "CSeq": draw(st.sampled_from(["1 REGISTER", "2 REGISTER", "2147483647 REGISTER"])),
    }
    for name, value in (("Contact", plain_contacts), ("Expires", st.sampled_from(["3600", "0", "30"])),
                        ("Authorization", st.just(AUTH)), ("User-Agent", st.sampled_from(["Phone/1", ""])),
                        ("Max-Forwards", st.just("70")), ("Content-Length", st.just("0"))):  # fmt: skip
        if draw(st.booleans()):
            fields[name] = draw(value)
    lines = [(name, value) for name, value in fields.items()]
    marks: list[tuple[str, str]] = []
    for name, value in draw(st.lists(st.sampled_from(DEFECTS), max_size=2)):
        if name.startswith("!"):
            marks.append((name, value))
        elif name.startswith("+") or name not in fields:
            lines.append((name.lstrip("+"), value))
        else:
            lines = [(n, value if n == name else v) for n, v in lines]
    lines = draw(st.permutations(lines))
    mark = dict(marks)
    colon = mark.get("!colon", ": ")
    texts = [f"{draw(st.sampled_from(NAMES.get(n, (n,))))}{colon}{v}" for n, v in lines]
    texts = [draw(st.sampled_from([t, t, t.split(':', 1)[0].lower() + t[t.index(':'):]])) for t in texts]
    if "!dup-line" in mark and texts:
        texts.append(texts[0])
    if "!many" in mark:
        texts += [f"X-H{i}: {i}" for i in range(70)]
    start = f"REGISTER {mark.get('!uri', 'sip:gw.example')} {mark.get('!version', 'SIP/2.0')}"
    text = "\r\n".join([start, *texts]) + "\r\n\r\n" + ("body" if "!body" in mark else "")
    if "!fold" in mark:
        text = text.replace(";branch", "\r\n ;branch", 1)
    if "!tab" in mark:
        text = text.replace(": ", ":\t", 1)
    if "!utf8" in mark:
        text = text.replace("\r\n\r\n", "\r\nX-Name: Phoné\r\n\r\n")
    if "!lf" in mark:
        text = text.replace("\r\n", "\n")
    if "!nul" in mark:
        text = text.replace("ft1", "f\x00t1")
    if "!leading-crlf" in mark:
        text = "\r\n" + text
    return text.encode()


@given(registers())
def test_the_scan_reads_what_the_parser_reads_or_nothing(data: bytes) -> None:
    assert_scan_agrees(data)


def test_the_corpora_are_scanned_as_parsed_and_invalid_messages_never() -> None:
    scanned = 0
    for path in sorted((DATA / "hostile").glob("*.dat")) + sorted((DATA / "rfc4475").glob("*.dat")):
        data = path.read_bytes()
        if assert_scan_agrees(data):
            scanned += 1
        if isinstance(parse_message(data), ParseError):
            assert scan_register(data, SOURCE) is None, path.name
    assert scanned >= 1  # many_list_values.dat is a REGISTER; RFC 4475's are mostly odd


# -- two registrars, the quick way and the general way ----------------------------------------


def quick_answer(reg: Registrar, data: bytes, now: float) -> bytes:
    scan = scan_register(data, SOURCE)
    if scan is not None:
        answer = reg.register_scanned(scan, SOURCE, now, server=SERVER)
        if answer is not None:
            return answer.data
    return general_answer(reg, data, now)


def general_answer(reg: Registrar, data: bytes, now: float) -> bytes:
    parsed = parse_message(data)
    assert isinstance(parsed, Request)
    result = reg.handle_register(_with_received(parsed, SOURCE), SOURCE, "udp", now)
    if result.drop:
        return b"(dropped)"
    result.response.headers.add("Server", SERVER)
    return result.response.to_bytes()


def normalised(data: bytes) -> str:
    text = data.decode()
    text = re.sub(r";tag=[0-9a-f]{12}\b", ";tag=T", text)
    return re.sub(r'nonce="[^"]+"', 'nonce="N"', text)


class Phone:
    """One station's phone against one registrar, answering its challenges itself."""

    def __init__(self, reg: Registrar, answer: object) -> None:
        self.reg, self.answer = reg, answer
        self.nonce: str | None = None
        self.nc = 0

    def send(self, data: bytes, now: float) -> bytes:
        out: bytes = self.answer(self.reg, data, now)  # type: ignore[operator]
        found = re.search(rb'WWW-Authenticate: Digest [^\r]*nonce="([^"]+)"[^\r]*algorithm=MD5', out)
        if found:
            self.nonce, self.nc = found.group(1).decode(), 0
        return out

    def authorization(self, user: str, password: str, nc_step: int) -> str:
        assert self.nonce is not None
        self.nc += nc_step
        nc = f"{max(self.nc, 1):08x}"
        response = digest_response(
            algorithm=Algorithm.MD5, username=user, realm="acdgate", password=password,
            method="REGISTER", uri="sip:gw.example", nonce=self.nonce, qop=Qop.AUTH, nc=nc, cnonce="c0",
        )  # fmt: skip
        return (f'Digest username="{user}", realm="acdgate", nonce="{self.nonce}", uri="sip:gw.example", '
                f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="c0"')


def request(user: str, to_user: str, call_id: str, cseq: int, contact: str | None,
            expires: str | None, authorization: str | None) -> bytes:
    lines = [
        "REGISTER sip:gw.example SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{call_id}-{cseq};rport",
        f"From: <sip:{user}@gw.example>;tag=ft{cseq}", f"To: <sip:{to_user}@gw.example>",
        f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER", "Max-Forwards: 70", "User-Agent: Phone/1",
    ]  # fmt: skip
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


steps = st.fixed_dictionaries({
    "user": st.sampled_from(["201", "202", "999"]),
    "to_other": st.sampled_from([False, False, False, True]),
    "password_ok": st.sampled_from([True, True, True, False]),
    "call_id": st.sampled_from(["a", "a", "b"]),
    "cseq_step": st.sampled_from([1, 1, 0, -1]),
    "contact": st.sampled_from([
        None, "<sip:{u}@192.0.2.10:5062>", "<sip:{u}@192.0.2.10:5062>;expires=0",
        "<sip:{u}@192.0.2.10:5062>;expires=30", "<sip:{u}@192.0.2.11:5062>;q=0.7",
        "<sip:{u}@192.0.2.10:5062;transport=UDP>", "<sip:{u}@192.0.2.10:05062>",
        '<sip:{u}@192.0.2.12>;+sip.instance="<urn:uuid:1>";reg-id=1', "<sip:{u}@192.0.2.10>;q=2",
    ]),
    "expires": st.sampled_from([None, "3600", "0", "10", "99999"]),
    "challenge": st.sampled_from([True, True, False]),
    "nc_step": st.sampled_from([1, 1, 0]),
    "later": st.sampled_from([0.0, 0.0, 31.0, 400.0]),
})  # fmt: skip


@given(st.lists(steps, min_size=1, max_size=10))
def test_quick_and_general_registrars_answer_alike_and_keep_the_same_bindings(
    plan: list[dict[str, object]],
) -> None:
    registrars = [Registrar(SETTINGS, credentials_from_site(SITE), SECRET) for _ in range(2)]
    quick = {u: Phone(registrars[0], quick_answer) for u in ("201", "202", "999")}
    general = {u: Phone(registrars[1], general_answer) for u in ("201", "202", "999")}
    now, cseq = NOW, 1
    for step in plan:
        now += float(step["later"])  # type: ignore[arg-type]
        user = str(step["user"])
        cseq += int(step["cseq_step"])  # type: ignore[call-overload]
        cseq = max(cseq, 1)
        contact = None if step["contact"] is None else str(step["contact"]).format(u=user)
        to_user = "202" if step["to_other"] and user != "202" else user
        password = f"pw{user}" if step["password_ok"] else "wrong"
        answers: list[str] = []
        for phones in (quick, general):
            phone = phones[user]
            text = ""
            if step["challenge"] or phone.nonce is None:
                first = request(user, to_user, str(step["call_id"]), cseq, contact, step["expires"], None)  # type: ignore[arg-type]
                text += normalised(phone.send(first, now))
            if phone.nonce is None:  # never challenged: the source is blocked
                answers.append(text)
                continue
            auth = phone.authorization(user, password, int(step["nc_step"]))  # type: ignore[call-overload]
            second = request(user, to_user, str(step["call_id"]), cseq + 1, contact, step["expires"], auth)  # type: ignore[arg-type]
            text += normalised(phone.send(second, now))
            answers.append(text)
        cseq += 1
        assert answers[0] == answers[1], step
    rows = [sorted(b.to_row() for b in reg.all_bindings(now)) for reg in registrars]
    assert rows[0] == rows[1]
    assert registrars[0].next_expiry() == registrars[1].next_expiry()
