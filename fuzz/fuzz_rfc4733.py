"""Fuzz the RFC 4733 telephone-event payload parser and receiver against their contract.

Contract (codecs/telephone_event.py): `TelephoneEvent.parse` raises only
`TelephoneEventError` and an accepted payload builds back to its first four octets (the
reserved bit aside); `TelephoneEventReceiver.feed` raises only `TelephoneEventError` (what
MediaSession counts as invalid) and reports each key press with the digit of its event code.
"""

from __future__ import annotations

from acdgate.codecs.rtp import RtpError, RtpPacket
from acdgate.codecs.telephone_event import (
    TelephoneEvent,
    TelephoneEventError,
    TelephoneEventReceiver,
    event_to_digit,
)
from atheris_driver import datagrams


def check(data: bytes) -> None:
    """One input as a payload, then as a stream of RTP datagrams of one event stream."""
    try:
        event = TelephoneEvent.parse(data)
    except TelephoneEventError:
        pass
    else:
        assert event.build(reserved=bool(data[1] & 0x40)) == data[:4], event
    receiver = TelephoneEventReceiver()
    for datagram in datagrams(data):
        try:
            packet = RtpPacket.parse(datagram)
        except RtpError:
            continue
        try:
            presses = receiver.feed(packet)
        except TelephoneEventError:
            continue
        for press in presses:
            assert press.digit == event_to_digit(press.event), press


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
