"""SDP parse/serialise and RFC 3264 offer/answer over offers shaped like real phones' and
tools' (pyVoIP's is produced by pyVoIP itself)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pytest
from acdgate.gateway.media.sdp import (
    Direction,
    MediaFormat,
    Negotiated,
    SdpError,
    SessionDescription,
    build_offer,
    negotiate_answer,
    parse_answer,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def crlf(text: str) -> bytes:
    return "".join(line.strip() + "\r\n" for line in text.strip().splitlines()).encode()


def pyvoip_offer(port: int = 10000) -> bytes:
    """The SDP body of pyVoIP 1.6.8's INVITE, from its own gen_invite."""
    sip, rtp = pyvoip_modules()
    client = sip.SIPClient("127.0.0.1", 5060, "alice", "pw", phone=None, myIP="127.0.0.1",
                           myPort=5070)
    media = {port: {0: rtp.PayloadType.PCMU, 101: rtp.PayloadType.EVENT}}
    invite = client.gen_invite("*35*1001#", "1234", media, rtp.TransmitType.SENDRECV,
                               "z9hG4bK1", "call-1")
    body: str = invite.split("\r\n\r\n", 1)[1]
    return body.encode()


def pyvoip_modules() -> tuple[Any, Any]:
    """pyVoIP's SIP and RTP modules (pyVoIP.SIP imports cleanly only after pyVoIP.VoIP)."""
    importlib.import_module("pyVoIP.VoIP")
    return importlib.import_module("pyVoIP.SIP"), importlib.import_module("pyVoIP.RTP")


BARESIP = crlf("""
    v=0
    o=- 1917375460 3584122604 IN IP4 192.168.1.21
    s=-
    c=IN IP4 192.168.1.21
    t=0 0
    a=tool:baresip 1.1.0
    m=audio 10330 RTP/AVP 96 97 9 0 8 101
    b=AS:64
    a=rtpmap:96 opus/48000/2
    a=fmtp:96 stereo=1;sprop-stereo=1
    a=rtpmap:97 speex/8000
    a=rtpmap:9 G722/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=rtcp-rsize
    a=ssrc:2381289236 cname:4a2f1e77-2c1b-4d70-9b0c-9a9e6a4c4d21
    a=sendrecv
    a=label:1
    a=ptime:20
""")

SIPP = crlf("""
    v=0
    o=user1 53655765 2353687637 IN IP4 127.0.0.1
    s=-
    c=IN IP4 127.0.0.1
    t=0 0
    m=audio 6000 RTP/AVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
""")

POLYCOM = crlf("""
    v=0
    o=- 1700000000 1700000000 IN IP4 10.1.2.33
    s=Polycom IP Phone
    c=IN IP4 10.1.2.33
    t=0 0
    a=sendrecv
    m=audio 2226 RTP/AVP 9 102 0 8 18 127
    a=rtpmap:9 G722/8000
    a=rtpmap:102 G7221/16000
    a=fmtp:102 bitrate=32000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=rtpmap:127 telephone-event/8000
""")

YEALINK = crlf("""
    v=0
    o=- 20010 20010 IN IP4 192.168.0.45
    s=SDP data
    c=IN IP4 192.168.0.45
    t=0 0
    m=audio 11782 RTP/AVP 8 0 9 18 101
    a=rtpmap:8 PCMA/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:9 G722/8000
    a=rtpmap:18 G729/8000
    a=fmtp:18 annexb=no
    a=ptime:20
    a=sendrecv
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
""")

PCMA_ONLY = crlf("""
    v=0
    o=- 1 1 IN IP4 10.0.0.7
    s=-
    t=0 0
    m=audio 4000 RTP/AVP 8
    c=IN IP4 10.0.0.7
""")

NO_COMMON = crlf("""
    v=0
    o=- 1 1 IN IP4 10.0.0.7
    s=-
    c=IN IP4 10.0.0.7
    t=0 0
    m=audio 4000 RTP/AVP 3 18 101
    a=rtpmap:101 telephone-event/8000
""")

HOLD_SENDONLY = crlf("""
    v=0
    o=- 1 2 IN IP4 10.0.0.7
    s=-
    c=IN IP4 10.0.0.7
    t=0 0
    m=audio 4000 RTP/AVP 0 101
    a=rtpmap:101 telephone-event/8000
    a=sendonly
""")

HOLD_OLD_STYLE = crlf("""
    v=0
    o=- 1 3 IN IP4 10.0.0.7
    s=-
    c=IN IP4 0.0.0.0
    t=0 0
    m=audio 4000 RTP/AVP 0
""")

INACTIVE = crlf("""
    v=0
    o=- 1 3 IN IP4 10.0.0.7
    s=-
    c=IN IP4 10.0.0.7
    t=0 0
    m=audio 4000 RTP/AVP 8 0
    a=inactive
""")

VIDEO_AND_AUDIO = crlf("""
    v=0
    o=- 5 5 IN IP4 10.0.0.9
    s=-
    c=IN IP4 10.0.0.9
    t=0 0
    m=video 5002 RTP/AVP 96
    a=rtpmap:96 H264/90000
    a=fmtp:96 profile-level-id=42801F
    m=audio 5000 RTP/AVP 96 0
    a=rtpmap:96 opus/48000/2
    m=image 5004 udptl t38
    a=T38FaxVersion:0
""")

DYNAMIC_PCMU = crlf("""
    v=0
    o=- 5 5 IN IP6 ::1
    s=-
    c=IN IP6 ::1
    t=0 0
    m=audio 5000 RTP/AVP 112 98
    a=rtpmap:112 pcmu/8000
    a=rtpmap:98 TELEPHONE-EVENT/8000
    a=fmtp:98 0-16
""")


@dataclass(frozen=True)
class Case:
    name: str
    offer: bytes
    codec: tuple[int, str]
    event_pt: int | None
    remote: tuple[str, int]
    direction: Direction


CASES = [
    Case("baresip", BARESIP, (0, "PCMU"), 101, ("192.168.1.21", 10330), Direction.SENDRECV),
    Case("sipp", SIPP, (0, "PCMU"), 101, ("127.0.0.1", 6000), Direction.SENDRECV),
    Case("polycom", POLYCOM, (0, "PCMU"), 127, ("10.1.2.33", 2226), Direction.SENDRECV),
    Case("yealink", YEALINK, (8, "PCMA"), 101, ("192.168.0.45", 11782), Direction.SENDRECV),
    Case("pcma-only", PCMA_ONLY, (8, "PCMA"), None, ("10.0.0.7", 4000), Direction.SENDRECV),
    Case("hold-sendonly", HOLD_SENDONLY, (0, "PCMU"), 101, ("10.0.0.7", 4000),
         Direction.RECVONLY),
    Case("hold-c0", HOLD_OLD_STYLE, (0, "PCMU"), None, ("0.0.0.0", 4000), Direction.RECVONLY),
    Case("inactive", INACTIVE, (8, "PCMA"), None, ("10.0.0.7", 4000), Direction.INACTIVE),
    Case("video+audio+t38", VIDEO_AND_AUDIO, (0, "PCMU"), None, ("10.0.0.9", 5000),
         Direction.SENDRECV),
    Case("dynamic-pcmu-ipv6", DYNAMIC_PCMU, (112, "PCMU"), 98, ("::1", 5000),
         Direction.SENDRECV),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_answer_real_world_offers(case: Case) -> None:
    neg = negotiate_answer(case.offer, "192.0.2.1", 20000, 42)
    assert (neg.codec.payload_type, neg.codec.encoding.upper()) == case.codec
    assert (neg.telephone_event.payload_type if neg.telephone_event else None) == case.event_pt
    assert neg.remote == case.remote
    assert neg.direction is case.direction
    offer = SessionDescription.parse(case.offer)
    answer = SessionDescription.parse(neg.local.to_bytes())
    # RFC 3264 6: same number and order of m-lines; only the audio stream accepted.
    assert [m.media for m in answer.media] == [m.media for m in offer.media]
    accepted = [m for m in answer.media if m.port != 0]
    assert len(accepted) == 1 and accepted[0].media == "audio" and accepted[0].port == 20000
    audio = accepted[0]
    expected_pts = [case.codec[0]] + ([case.event_pt] if case.event_pt is not None else [])
    assert [f.payload_type for f in audio.formats] == expected_pts
    assert audio.direction is case.direction
    assert answer.connection == "192.0.2.1" and answer.origin.session_id == "42"
    if case.event_pt is not None:
        assert audio.formats[1].fmtp in ("0-15", "0-16")
    for rejected, offered in zip(answer.media, offer.media, strict=True):
        if rejected is not audio:
            assert rejected.port == 0 and rejected.format_tokens() == offered.format_tokens()


def test_pyvoip_offer_answer_and_pyvoip_reads_our_answer() -> None:
    body = pyvoip_offer(port=10000)
    sdp = SessionDescription.parse(body)
    assert sdp.to_bytes() == body  # byte-exact round trip of pyVoIP's line order
    assert sdp.origin.username == "pyVoIP" and sdp.media[0].ptime == 20
    assert sdp.media[0].attribute("maxptime") == "150"
    neg = negotiate_answer(body, "127.0.0.1", 20002, 7)
    assert (neg.codec.encoding, neg.telephone_event) == (
        "PCMU", MediaFormat(101, "telephone-event", 8000, "0-15"))
    assert neg.remote == ("127.0.0.1", 10000)
    # pyVoIP must understand the answer we would put in our 200 OK.
    sip, _ = pyvoip_modules()
    answer = neg.local.to_bytes()
    message = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
               b"From: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:*35*1001#@127.0.0.1>;tag=b\r\n"
               b"Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
               b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer)
    parsed = sip.SIPMessage(message)
    media = parsed.body["m"][0]
    assert media["port"] == 20002 and media["methods"] == ["0", "101"]
    assert media["attributes"]["101"]["rtpmap"]["name"] == "telephone-event"
    assert parsed.body["c"][0]["address"] == "127.0.0.1"


@pytest.mark.parametrize("body", [BARESIP, SIPP, POLYCOM, YEALINK, VIDEO_AND_AUDIO,
                                  DYNAMIC_PCMU, HOLD_SENDONLY])
def test_parse_serialise_round_trip(body: bytes) -> None:
    sdp = SessionDescription.parse(body)
    again = SessionDescription.parse(sdp.to_bytes())
    assert again == sdp
    # Every line of the original survives (possibly moved to RFC 4566 order).
    assert set(body.splitlines()) <= set(sdp.to_bytes().splitlines())


def test_parse_details() -> None:
    sdp = SessionDescription.parse(POLYCOM)
    audio = sdp.media[0]
    assert audio.formats[1] == MediaFormat(102, "G7221", 16000, "bitrate=32000")
    assert audio.find("g729") == MediaFormat(18, "G729", 8000, "annexb=no")
    assert audio.direction is Direction.SENDRECV  # from the session-level attribute
    baresip = SessionDescription.parse(BARESIP).media[0]
    assert baresip.formats[0].channels == 2 and baresip.lines == (("b", "AS:64"),)
    assert baresip.attribute("rtcp-rsize") == "" and baresip.attribute("label") == "1"
    t38 = SessionDescription.parse(VIDEO_AND_AUDIO).media[2]
    assert (t38.proto, t38.formats, t38.other_formats) == ("udptl", (), ("t38",))
    # LF-only line ends are accepted (RFC 4566 5).
    assert SessionDescription.parse(SIPP.replace(b"\r\n", b"\n")) == SessionDescription.parse(SIPP)


def test_no_common_codec_names_both_sides() -> None:
    with pytest.raises(SdpError) as err:
        negotiate_answer(NO_COMMON, "192.0.2.1", 20000, 1)
    assert str(err.value) == "No common codec: offered GSM/G729, we support PCMU, PCMA"
    with pytest.raises(SdpError, match="offered PCMA, we support PCMU"):
        negotiate_answer(PCMA_ONLY, "192.0.2.1", 20000, 1, codecs=("PCMU",))


def test_codec_preference_follows_the_offer() -> None:
    # Yealink lists PCMA first: RFC 3264 6.1 says the offer's order is its preference.
    assert negotiate_answer(YEALINK, "192.0.2.1", 20000, 1).codec.payload_type == 8
    only_ulaw = negotiate_answer(YEALINK, "192.0.2.1", 20000, 1, codecs=("PCMU",))
    assert only_ulaw.codec.payload_type == 0


@pytest.mark.parametrize(("body", "defect"), [
    (b"", "does not start with v=0"),
    (b"o=- 1 1 IN IP4 1.2.3.4\r\n", "does not start with v=0"),
    (b"v=0\r\ns=-\r\nt=0 0\r\n", "no o= line"),
    (b"v=0\r\no=- 1 IN IP4 1.2.3.4\r\n", "Bad o= line"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nhello\r\n", "line 3 is not <type>=<value>"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4\r\n", "Bad c= line"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=ATM NSAP x\r\n", "Unsupported network type"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP\r\n", "Bad m= line"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n", "Bad port in m=audio"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", "Bad port in m=audio"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP zero\r\n",
     "Bad payload type in m=audio"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
     "Bad a=rtpmap"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:fast\r\n",
     "Bad a=ptime"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\nt=0 0\r\n",
     "Unexpected t= line of m=audio"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n"
     b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMU/8000\r\n", "Duplicate a=rtpmap"),
    (b"v=0\r\n" + b"a=x\r\n" * 3000, "too many lines"),
    # found by fuzz/fuzz_sdp.py (fuzz/corpus/sdp/crash-payload-type-twice.sdp): accepted, but
    # written back with two a=rtpmap:0 lines that no longer parsed
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0 8 00\r\n",
     "Payload type 0 twice in m=audio"),
    (b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 8 8\r\n",
     "Payload type 8 twice in m=audio"),
])
def test_malformed_sdp_names_the_defect(body: bytes, defect: str) -> None:
    with pytest.raises(SdpError, match=defect):
        SessionDescription.parse(body)


@pytest.mark.parametrize(("body", "defect"), [
    (crlf("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0"), "No c= line"),
    (crlf("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 pbx.example\nt=0 0\nm=audio 4000 RTP/AVP 0"),
     "c= address 'pbx.example' in the offer is not an IP address"),
    (crlf("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 0 RTP/AVP 0"),
     "No audio stream"),
    (crlf("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\n"
          "m=audio 4000 RTP/SAVP 0"), "No audio stream"),
    (crlf("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=video 4000 RTP/AVP 31"),
     "No audio stream"),
])
def test_unanswerable_offers(body: bytes, defect: str) -> None:
    with pytest.raises(SdpError, match=defect):
        negotiate_answer(body, "192.0.2.1", 20000, 1)


def test_offer_and_answer_round_trip_between_us() -> None:
    offer = build_offer("127.0.0.1", 20000, 99)
    assert [f.payload_type for f in offer.media[0].formats] == [0, 8, 101]
    answerer = negotiate_answer(offer.to_bytes(), "127.0.0.2", 30000, 5)
    offerer = parse_answer(answerer.local.to_bytes(), offer)
    assert offerer.codec == MediaFormat(0, "PCMU") and answerer.codec == MediaFormat(0, "PCMU")
    assert offerer.telephone_event is not None and offerer.telephone_event.payload_type == 101
    assert offerer.remote == ("127.0.0.2", 30000) and answerer.remote == ("127.0.0.1", 20000)
    assert offerer.direction is Direction.SENDRECV and offerer.local is offer
    # The peer puts us on hold: it answers recvonly to our sendonly re-offer.
    reoffer = build_offer("127.0.0.1", 20000, 99, 2, direction=Direction.SENDONLY)
    held = negotiate_answer(reoffer.to_bytes(), "127.0.0.2", 30000, 5)
    assert held.direction is Direction.RECVONLY
    assert parse_answer(held.local.to_bytes(), reoffer).direction is Direction.SENDONLY


def answer_to(offer: SessionDescription, m_lines: str, direction: str = "sendrecv") -> bytes:
    return crlf(f"v=0\no=- 1 1 IN IP4 10.0.0.5\ns=-\nc=IN IP4 10.0.0.5\nt=0 0\n{m_lines}\n"
                f"a={direction}")


def test_parse_answer_checks_against_our_offer() -> None:
    offer = build_offer("127.0.0.1", 20000, 99, codecs=("PCMA", "PCMU"))
    neg: Negotiated = parse_answer(answer_to(offer, "m=audio 7000 RTP/AVP 0 101"), offer)
    assert neg.codec.encoding == "PCMU" and neg.remote == ("10.0.0.5", 7000)
    assert neg.telephone_event is not None
    recv_only = parse_answer(answer_to(offer, "m=audio 7000 RTP/AVP 8", "recvonly"), offer)
    assert recv_only.direction is Direction.SENDONLY and recv_only.telephone_event is None
    with pytest.raises(SdpError, match="rejected the audio stream"):
        parse_answer(answer_to(offer, "m=audio 0 RTP/AVP 0"), offer)
    with pytest.raises(SdpError, match="2 m-lines, the offer had 1"):
        parse_answer(answer_to(offer, "m=audio 7000 RTP/AVP 0\nm=video 0 RTP/AVP 31"), offer)
    with pytest.raises(SdpError, match="No common codec: offered GSM"):
        parse_answer(answer_to(offer, "m=audio 7000 RTP/AVP 3"), offer)
    sendonly = build_offer("127.0.0.1", 20000, 99, direction=Direction.SENDONLY)
    with pytest.raises(SdpError, match="does not fit"):
        parse_answer(answer_to(sendonly, "m=audio 7000 RTP/AVP 0", "sendrecv"), sendonly)


REAL_OFFERS = [BARESIP, SIPP, POLYCOM, YEALINK, PCMA_ONLY, NO_COMMON, HOLD_SENDONLY,
               HOLD_OLD_STYLE, INACTIVE, VIDEO_AND_AUDIO, DYNAMIC_PCMU]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(REAL_OFFERS), st.data())
def test_mangled_offers_fail_only_with_sdp_error(offer: bytes, data: st.DataObject) -> None:
    """Dropped, duplicated and corrupted lines: an answer or an SdpError, nothing else."""
    lines = offer.split(b"\r\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    action = data.draw(st.sampled_from(["drop", "dup", "garble", "truncate"]))
    if action == "drop":
        del lines[i]
    elif action == "dup":
        lines.insert(i, lines[i])
    elif action == "garble":
        lines[i] = data.draw(st.binary(max_size=40))
    else:
        lines[i] = lines[i][: data.draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
    body = b"\r\n".join(lines)
    try:
        neg = negotiate_answer(body, "192.0.2.1", 20000, 1)
    except SdpError as exc:
        assert str(exc)
        return
    assert neg.codec.encoding.upper() in ("PCMU", "PCMA")
    assert SessionDescription.parse(neg.local.to_bytes()) is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_fail_only_with_sdp_error(body: bytes) -> None:
    try:
        sdp = SessionDescription.parse(b"v=0\r\n" + body)
    except SdpError:
        return
    assert SessionDescription.parse(sdp.to_bytes()) == sdp
