"""RecentAnswers: stateless answers kept by request identity, bounded in time and count."""

from __future__ import annotations

from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.stateless import RecentAnswers, request_identity

DEST = ("198.18.0.2", 5060)


def test_kept_for_its_window_then_forgotten() -> None:
    recent = RecentAnswers(seconds=8.0, capacity=10)
    recent.remember("a", b"401 a", DEST, "UDP", now=100.0)
    assert recent.answer_to("a", now=107.9) == (b"401 a", DEST, "UDP", 100.0)  # and when it was sent
    assert recent.answer_to("a", now=108.0) is None
    assert len(recent) == 0


def test_the_oldest_goes_first_when_full() -> None:
    recent = RecentAnswers(seconds=8.0, capacity=3)
    for i, key in enumerate("abcd"):
        recent.remember(key, key.encode(), DEST, "UDP", now=100.0 + i / 10)
    assert recent.answer_to("a", now=100.5) is None
    assert [recent.answer_to(k, now=100.5) is not None for k in "bcd"] == [True, True, True]
    assert len(recent) == 3


def test_remembering_again_replaces_without_growing() -> None:
    recent = RecentAnswers(seconds=8.0, capacity=3)
    recent.remember("a", b"one", DEST, "UDP", now=100.0)
    recent.remember("a", b"two", DEST, "TCP", now=101.0)
    assert recent.answer_to("a", now=101.0) == (b"two", DEST, "TCP", 101.0)
    assert len(recent) == 1


def test_an_expected_answer_is_pending_until_remembered_and_can_be_forgotten() -> None:
    recent = RecentAnswers(seconds=32.0, capacity=10)
    recent.expect("a", now=100.0)
    assert recent.answer_to("a", now=100.5) == (b"", ("", 0), "", 100.0)  # pending: absorb
    recent.remember("a", b"200 a", DEST, "UDP", now=100.6)
    assert recent.answer_to("a", now=131.9) == (b"200 a", DEST, "UDP", 100.6)  # kept from the expect
    assert recent.answer_to("a", now=132.0) is None
    recent.expect("b", now=140.0)
    recent.forget("b")
    assert recent.answer_to("b", now=140.1) is None and len(recent) == 0


def test_the_default_window_covers_a_udp_clients_timer_f() -> None:
    assert RecentAnswers().seconds >= 64 * 0.5  # RFC 3261 17.1.2.2: Timer F = 64*T1


def _request(branch: str, cseq: int, call_id: str = "c1", via_host: str = "198.18.0.2",
             authorization: str = "") -> object:
    return parse_message(
        (
            f"REGISTER sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP {via_host}:5060;branch={branch}\r\n"
            f"From: <sip:2101@gw>;tag=1\r\nTo: <sip:2101@gw>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} REGISTER\r\n{authorization}Content-Length: 0\r\n\r\n"
        ).encode()
    )


def test_identity_is_the_transaction_identity() -> None:
    base = request_identity(_request("z9hG4bKa", 1))  # type: ignore[arg-type]
    assert base == request_identity(_request("z9hG4bKa", 1))  # type: ignore[arg-type]
    for other in (_request("z9hG4bKb", 1), _request("z9hG4bKa", 2), _request("z9hG4bKa", 1, "c2"),
                  _request("z9hG4bKa", 1, via_host="198.18.0.3"),
                  # the same branch and CSeq again, now with credentials (a client breaking RFC
                  # 3261 8.1.3.5): not the challenged request, so not its cached 401
                  _request("z9hG4bKa", 1, authorization='Authorization: Digest username="2101"\r\n')):
        assert request_identity(other) != base  # type: ignore[arg-type]
