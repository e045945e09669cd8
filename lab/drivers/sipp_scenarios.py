"""SIPp scenario files: the SIP messages a `sipp -sf` process sends and expects, as XML text.

One source for the lab's SIPp endpoint and the tests' SIPp callers and agent phones: a
`<send>` of one message, an SDP offer, the INVITE (first without, then with digest
credentials), in-dialog requests, the ACK of a refusal, and whole scenarios built of them;
plus the injection file that gives SIPp each caller's user and credentials. Bracketed words
([field0], [last_Via:], [next_url], ...) are SIPp keywords it expands per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

VIA = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport"
CONTACT = "Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>"
SERVICE_URI = "sip:[service]@[remote_ip]:[remote_port]"
CREDENTIALS = "[field1]"  # the injection file's [authentication ...] keyword: SIPp's Authorization
UAS_TAG = ";tag=[pid]SIPpTag01[call_number]"  # the To tag of a SIPp UAS's responses
RTPMAP = {0: "PCMU/8000", 8: "PCMA/8000", 3: "GSM/8000", 101: "telephone-event/8000"}
END = "</scenario>\n"

# the lab's call takes every final refusal the gateway may send; the tests name the ones they expect
LAB_REFUSALS = (403, 404, 480, 486, 488, 500, 501, 503, 603)
FEATURE_REFUSALS = (403, 404, 486, 488, 501)


def injection(rows: Iterable[tuple[str, str]]) -> str:
    """A SIPp SEQUENTIAL injection file: field0 the user, field1 its digest credentials."""
    lines = ["SEQUENTIAL", *(f"{user};[authentication username={user} password={password}]"
                             for user, password in rows)]
    return "\n".join(lines) + "\n"


def head(name: str) -> str:
    """The XML declaration and the opening `<scenario>`; a scenario ends with `END`."""
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="{name}">\n'


def from_header(display: str = "") -> str:
    """Our From (user field0) with SIPp's per-call tag; `display` a name or a SIPp keyword."""
    name = f'"{display}" ' if display else ""
    return f"From: {name}<sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]"


def send(lines: Iterable[str], *, retrans: bool = False, body: Iterable[str] = ()) -> str:
    """A `<send>` of one SIP message: start line and headers, a blank line, then the body.
    `retrans`: SIPp retransmits from 500 ms over UDP (RFC 3261 17.1.1.2 Timer A)."""
    text = ['  <send retrans="500">' if retrans else "  <send>", "    <![CDATA["]
    text += [f"      {line}" for line in lines]
    text.append("")
    text += [f"      {line}" for line in body]
    text += ["    ]]>", "  </send>", ""]
    return "\n".join(text)


def log(what: str) -> str:
    """An action line logging `what` and the Call-ID (SIPp -trace_logs)."""
    return f'    <action><log message="{what} [call_id]"/></action>\n'


def sdp_offer(owner: str, address: str, port: str, formats: str, rtpmaps: Sequence[int]) -> list[str]:
    """RFC 4566 audio offer lines: `formats` on the m= line, an rtpmap for each of `rtpmaps`."""
    return ["v=0", f"o={owner} 1 1 IN IP4 {address}", "s=-", f"c=IN IP4 {address}", "t=0 0",
            f"m=audio {port} RTP/AVP {formats}", *(f"a=rtpmap:{pt} {RTPMAP[pt]}" for pt in rtpmaps),
            "a=fmtp:101 0-16", "a=sendrecv"]


def invite(cseq: int, from_: str, sdp: Sequence[str], *, credentials: bool, user_agent: str = "SIPp") -> str:
    """The INVITE to the service dialled, first without credentials, then with them (after 401)."""
    return send([f"INVITE {SERVICE_URI} SIP/2.0", VIA, from_, f"To: <{SERVICE_URI}>", "Call-ID: [call_id]",
                 f"CSeq: {cseq} INVITE", CONTACT, "Max-Forwards: 70", f"User-Agent: {user_agent}",
                 CREDENTIALS if credentials else "", "Content-Type: application/sdp", "Content-Length: [len]"],
                retrans=True, body=sdp)


def in_dialog(method: str, cseq: int, from_: str, *, retrans: bool = False, uri: str = "[next_url]",
              via: str = VIA, content_type: str = "", body: Sequence[str] = ()) -> str:
    """A request in the dialog (ACK, INFO, BYE) along the route set the 200 recorded."""
    lines = [f"{method} {uri} SIP/2.0", via, from_, "[last_To:]", "Call-ID: [call_id]", f"CSeq: {cseq} {method}",
             "[routes]", "Max-Forwards: 70"]
    lines += [f"Content-Type: {content_type}", "Content-Length: [len]"] if content_type else ["Content-Length: 0"]
    return send(lines, retrans=retrans, body=body)


def ack_refusal(cseq: int) -> str:
    """RFC 3261 17.1.1.3: the ACK of a non-2xx final response, its headers from that response."""
    return send([f"ACK {SERVICE_URI} SIP/2.0", "[last_Via:]", "[last_From:]", "[last_To:]", "[last_Call-ID:]",
                 f"CSeq: {cseq} ACK", "Max-Forwards: 70", "Content-Length: 0"])


def ok_to_request() -> str:
    """200 OK to the request just received (a BYE, a NOTIFY), no body."""
    return send(["SIP/2.0 200 OK", "[last_Via:]", "[last_From:]", "[last_To:]", "[last_Call-ID:]", "[last_CSeq:]",
                 "Content-Length: 0"])


def uas_response(status: str, *, to_tag: bool = True, cseq: str = "[last_CSeq:]", sdp: Sequence[str] = (),
                 retrans: bool = False) -> str:
    """A SIPp UAS's response to the request just received, with its Contact and maybe an SDP."""
    lines = [f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]", "[last_To:]" + (UAS_TAG if to_tag else ""),
             "[last_Call-ID:]", cseq, "Contact: <sip:[local_ip]:[local_port];transport=[transport]>"]
    lines += ["Content-Type: application/sdp"] if sdp else []
    return send([*lines, "Content-Length: [len]"], retrans=retrans, body=sdp)


def info_digit(cseq: int, from_: str, digit: str, pause_ms: int) -> str:
    """After `pause_ms`, one digit as SIP INFO application/dtmf-relay, and its 200."""
    return (f'  <pause milliseconds="{pause_ms}"/>\n'
            + in_dialog("INFO", cseq, from_, retrans=True, content_type="application/dtmf-relay",
                        body=[f"Signal={digit}", "Duration=160"])
            + '  <recv response="200"/>\n')


def refusals(statuses: Iterable[int], label: str) -> str:
    """Optional receives of final refusals, each going to `label`."""
    return "".join(f'  <recv response="{status}" optional="true" next="{label}"/>\n' for status in statuses)


def _challenged(request: Callable[[int, bool], str]) -> str:
    """The request without credentials, its 401 (SIPp keeps the challenge), then with them."""
    return request(1, False) + '  <recv response="401" auth="true"/>\n' + request(2, True)


# -- the lab's SIPp endpoint ------------------------------------------------------------------


def register_scenario() -> str:
    """REGISTER the injection file's user (401, then with credentials), expecting 200."""
    def register(cseq: int, credentials: bool) -> str:
        return send(["REGISTER sip:[remote_ip]:[remote_port] SIP/2.0", VIA, from_header(),
                     "To: <sip:[field0]@[remote_ip]>", "Call-ID: [call_id]", f"CSeq: {cseq} REGISTER", CONTACT,
                     "Expires: 3600", "Max-Forwards: 70", "User-Agent: SIPp", CREDENTIALS if credentials else "",
                     "Content-Length: 0"], retrans=True)

    return head("register") + _challenged(register) + '  <recv response="200"/>\n' + END


def call_scenario(info_digits: str, rtp_port: int, info_pause_ms: int = 400) -> str:
    """INVITE (401, then with credentials); then 200/ACK, the digits as SIP INFO, and the
    gateway's BYE answered; or a final refusal that is ACKed."""
    f = from_header("[field0]")
    sdp = sdp_offer("sipp", "[local_ip]", str(rtp_port), "0 101", (0, 101))
    parts = [head("lab call"), invite(1, f, sdp, credentials=False)]
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="401" auth="true"/>\n')
    parts.append(in_dialog("ACK", 1, f, uri=SERVICE_URI, via="[last_Via:]"))
    parts.append(invite(2, f, sdp, credentials=True))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
                 '  <recv response="183" optional="true"/>\n')
    parts.append(refusals(LAB_REFUSALS, "refused"))
    parts.append('  <recv response="200" rrs="true"/>\n')
    parts.append(in_dialog("ACK", 2, f))
    parts += [info_digit(cseq, f, digit, info_pause_ms) for cseq, digit in enumerate(info_digits, 3)]
    parts.append('  <recv request="BYE"/>\n' + ok_to_request() + '  <nop next="end"/>\n')
    parts.append('  <label id="refused"/>\n')
    parts.append(in_dialog("ACK", 2, f, uri=SERVICE_URI, via="[last_Via:]"))
    parts.append('  <label id="end"/>\n' + END)
    return "".join(parts)


def subscribe_scenario(body: str) -> str:
    """SUBSCRIBE as-feature-event with a request body (401, then with credentials), 200, and
    the NOTIFYs that follow answered (up to three, 3 s apart at most)."""
    def subscribe(cseq: int, credentials: bool) -> str:
        return send(["SUBSCRIBE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0", VIA, from_header("[field0]"),
                     "To: <sip:[field0]@[remote_ip]:[remote_port]>", "Call-ID: [call_id]",
                     f"CSeq: {cseq} SUBSCRIBE", CONTACT, "Event: as-feature-event", "Expires: 60",
                     "Max-Forwards: 70", "User-Agent: SIPp", CREDENTIALS if credentials else "",
                     "Content-Type: application/x-as-feature-event+xml", "Content-Length: [len]"],
                    retrans=True, body=body.strip().splitlines())

    notify = f'  <recv request="NOTIFY" timeout="3000" ontimeout="end"/>\n{ok_to_request()}'
    return "".join([head("feature key"), _challenged(subscribe),
                    '  <recv response="202" optional="true" next="subscribed"/>\n  <recv response="200"/>\n'
                    '  <label id="subscribed"/>\n', notify * 3, '  <label id="end"/>\n', END])


# -- the tests' feature calls, agent phones and callers ---------------------------------------


def feature_call_scenario(*, answered: bool, info_digits: str = "", formats: str = "0 8 101",
                          rtp_port: int = 4000, info_delay_ms: int = 600) -> str:
    """INVITE (401, then with credentials), then either 200/ACK, the digits as INFO, and the
    gateway's BYE; or a final refusal (any 4xx/5xx) that is ACKed."""
    f = from_header("Desk")
    sdp = sdp_offer("sipp", "127.0.0.1", str(rtp_port), formats, (0, 8, 3, 101))
    parts = [head("feature call"), invite(1, f, sdp, credentials=False)]
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="401" auth="true"/>\n')
    parts.append(ack_refusal(1))
    parts.append(invite(2, f, sdp, credentials=True))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n')
    if answered:
        parts.append('  <recv response="200" rrs="true"/>\n')
        parts.append(in_dialog("ACK", 2, f))
        parts += [info_digit(cseq, f, digit, info_delay_ms) for cseq, digit in enumerate(info_digits, 3)]
        parts.append('  <recv request="BYE"/>\n' + ok_to_request())
    else:
        parts.append(refusals(FEATURE_REFUSALS, "refused"))
        parts.append('  <recv response="480" next="refused"/>\n')
        parts.append('  <label id="refused"/>\n')
        parts.append(ack_refusal(2))
    parts.append(END)
    return "".join(parts)


def agent_scenario(answer_ms: int | None) -> str:
    """An agent phone's UAS: ring, then answer after `answer_ms` (None: never); a CANCEL
    while ringing is answered 200 + 487. After the answer it waits for the BYE."""
    ring_wait = f' timeout="{answer_ms}" ontimeout="answer"' if answer_ms is not None else ""
    ringing = [] if answer_ms == 0 else [
        f'  <recv request="CANCEL"{ring_wait}>\n', log("CANCEL"), "  </recv>\n",
        uas_response("200 OK", cseq="[last_CSeq:]"),
        # RFC 3261 9.2: the INVITE is then answered 487; its CSeq has the CANCEL's number
        uas_response("487 Request Terminated", cseq="CSeq: [last_cseq_number] INVITE"),
        '  <recv request="ACK" next="end"/>\n',
    ]
    sdp = sdp_offer("agent", "[local_ip]", "[media_port]", "0 8 101", (0, 8, 101))
    return "".join([
        head("acd agent phone"),
        '  <recv request="INVITE" rrs="true">\n', log("INVITE"), "  </recv>\n",
        uas_response("180 Ringing"),
        *ringing,
        '  <label id="answer"/>\n',
        "  <nop>\n", log("ANSWERED"), "  </nop>\n",
        uas_response("200 OK", sdp=sdp, retrans=True),
        '  <recv request="ACK"/>\n',
        '  <recv request="BYE">\n', log("BYE"), "  </recv>\n",
        uas_response("200 OK"),
        '  <label id="end"/>\n',
        END,
    ])


def caller_scenario(hold_ms: int) -> str:
    """A customer: INVITE with digest auth, answered by the gateway, then waits up to
    `hold_ms` for the far end's BYE before hanging up itself (an abandon if nobody answered)."""
    f = from_header("Caller")
    sdp = sdp_offer("caller", "[local_ip]", "[media_port]", "0 8 101", (0, 8, 101))
    return "".join([
        head("acd caller"),
        invite(1, f, sdp, credentials=False, user_agent="SIPp caller"),
        '  <recv response="100" optional="true"/>\n  <recv response="401" auth="true"/>\n',
        ack_refusal(1),
        invite(2, f, sdp, credentials=True, user_agent="SIPp caller"),
        '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n',
        '  <recv response="200" rrs="true"/>\n',
        in_dialog("ACK", 2, f),
        f'  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup">\n', log("FAR-END-BYE"), "  </recv>\n",
        uas_response("200 OK", to_tag=False),
        '  <nop next="end"/>\n',
        '  <label id="hangup"/>\n',
        "  <nop>\n", log("CALLER-BYE"), "  </nop>\n",
        in_dialog("BYE", 3, f, retrans=True),
        '  <recv response="200"/>\n',
        '  <label id="end"/>\n',
        END,
    ])
