"""RFC 4733 payloads, the sender's packet train and the receiver's exactly-once key presses."""

from __future__ import annotations

import random

import pytest
from acdgate.codecs.rtp import RtpPacket
from acdgate.codecs.telephone_event import (
    MAX_DURATION,
    KeyPress,
    TelephoneEvent,
    TelephoneEventError,
    TelephoneEventReceiver,
    TelephoneEventSender,
    digit_to_event,
    event_to_digit,
)


def test_payload_golden() -> None:
    # Digit 5, end, volume 10 (-10 dBm0), duration 800 units.
    ev = TelephoneEvent.parse(bytes.fromhex("058a0320"))
    assert ev == TelephoneEvent(5, True, 10, 800)
    assert ev.build() == bytes.fromhex("058a0320")
    assert TelephoneEvent.parse(bytes.fromhex("0b3f0000")) == TelephoneEvent(11, False, 63, 0)
    # The reserved bit is ignored on parse.
    assert TelephoneEvent.parse(bytes.fromhex("0bff0000")) == TelephoneEvent(11, True, 63, 0)
    with pytest.raises(TelephoneEventError):
        TelephoneEvent.parse(b"\x01\x02")
    assert [event_to_digit(digit_to_event(d)) for d in "0123456789*#ABCD"] == list("0123456789*#ABCD")
    assert event_to_digit(16) is None
    with pytest.raises(ValueError):
        digit_to_event("E")


def test_sender_standard_train() -> None:
    tx = TelephoneEventSender(ssrc=0x1234, sequence=0xFFFE)
    train = tx.key_press("7", timestamp=0xFFFFFF00, duration_ms=100)
    events = [TelephoneEvent.parse(s.packet.payload) for s in train]
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert {e.event for e in events} == {7}
    assert [s.packet.marker for s in train] == [True] + [False] * 6
    assert {s.packet.timestamp for s in train} == {0xFFFFFF00}
    assert [s.packet.sequence for s in train] == [0xFFFE, 0xFFFF, 0, 1, 2, 3, 4]
    assert [round(s.send_at, 3) for s in train] == [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14]
    assert tx.sequence == 5
    # The wire form parses back to the same packets.
    assert [RtpPacket.parse(s.packet.build()) for s in train] == [s.packet for s in train]


def test_sender_segments_long_events() -> None:
    tx = TelephoneEventSender(ssrc=1)
    train = tx.key_press("#", timestamp=1000, duration_ms=20_000)  # 160,000 units
    stamps = sorted({s.packet.timestamp for s in train})
    assert stamps == [1000, 1000 + MAX_DURATION, 1000 + 2 * MAX_DURATION]
    evs = [(s.packet.timestamp, TelephoneEvent.parse(s.packet.payload)) for s in train]
    closing = [e for ts, e in evs if e.duration == MAX_DURATION]
    assert len(closing) == 2 and not any(e.end for e in closing)
    finals = [e for _, e in evs if e.end]
    assert len(finals) == 3 and {e.duration for e in finals} == {160_000 - 2 * MAX_DURATION}
    assert sum(s.packet.marker for s in train) == 1
    rx = TelephoneEventReceiver()
    assert [k.digit for s in train for k in rx.feed(s.packet)] == ["#"]


def _train(tx: TelephoneEventSender, digits: str, ts0: int, gap_ms: int = 100,
           dur_ms: int = 100) -> list[list[RtpPacket]]:
    out = []
    ts = ts0
    for d in digits:
        out.append([s.packet for s in tx.key_press(d, ts, dur_ms)])
        ts = (ts + 8 * (dur_ms + gap_ms)) & 0xFFFFFFFF
    return out


def _digits(rx: TelephoneEventReceiver, packets: list[RtpPacket]) -> str:
    presses: list[KeyPress] = [k for p in packets for k in rx.feed(p)]
    return "".join(k.digit or "?" for k in presses)


def test_receiver_repeated_digits_and_end_packets() -> None:
    tx = TelephoneEventSender(ssrc=9)
    trains = _train(tx, "1155", ts0=0)
    assert _digits(TelephoneEventReceiver(), [p for t in trains for p in t]) == "1155"


def test_receiver_lost_first_packets_and_lost_end_packets() -> None:
    tx = TelephoneEventSender(ssrc=9)
    a, b, c = _train(tx, "333", ts0=5000)
    # a: first three packets lost; b: all end packets lost; c: only one end packet survives.
    stream = a[3:] + b[:4] + c[-1:]
    assert _digits(TelephoneEventReceiver(), stream) == "333"


def test_receiver_reordering_and_late_packets() -> None:
    tx = TelephoneEventSender(ssrc=9)
    a, b = _train(tx, "28", ts0=77)
    stream = [a[1], a[0], a[3], a[2], b[0], a[4], a[5], b[2], b[1], a[6], *b[3:]]
    rx = TelephoneEventReceiver()
    assert _digits(rx, stream) == "28"
    assert rx.late == 3  # a[4], a[5] and a[6] arrived after event b began


def test_receiver_timestamp_and_sequence_wrap() -> None:
    tx = TelephoneEventSender(ssrc=9, sequence=0xFFFA)
    trains = _train(tx, "99A", ts0=0xFFFFFC00, gap_ms=60)
    assert trains[1][0].timestamp < trains[0][0].timestamp  # wrapped
    assert _digits(TelephoneEventReceiver(), [p for t in trains for p in t]) == "99A"


def test_receiver_random_loss_duplication_local_reorder() -> None:
    rnd = random.Random(4733)
    for _ in range(30):
        tx = TelephoneEventSender(ssrc=rnd.getrandbits(32), sequence=rnd.getrandbits(16))
        digits = "".join(rnd.choice("0123456789*#ABCD") for _ in range(12))
        trains = _train(tx, digits, ts0=rnd.getrandbits(32), gap_ms=rnd.choice([40, 80]),
                        dur_ms=rnd.choice([40, 60, 100, 200]))
        stream = []
        for t in trains:
            kept = [p for p in t if rnd.random() > 0.4] or [rnd.choice(t)]
            kept += [p for p in kept if rnd.random() < 0.2]  # duplicates
            for i in range(len(kept) - 1):  # adjacent swaps inside the event
                if rnd.random() < 0.3:
                    kept[i], kept[i + 1] = kept[i + 1], kept[i]
            stream += kept
        assert _digits(TelephoneEventReceiver(), stream) == digits
