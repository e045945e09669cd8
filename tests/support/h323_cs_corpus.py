"""The hostile call signalling corpus kept in tests/gateway/data/h323_cs_corpus/: how each file
was made, so that it can be read and made again (`python tests/support/h323_cs_corpus.py`).

Each file is a TCP byte stream as a peer could send it to port 1720 (TPKT-framed), each with one
defect; `test_h323_cs_codec.test_hostile_corpus` says which error each must give.
"""

from __future__ import annotations

import sys
from pathlib import Path

from acdgate.gateway.h323 import q931
from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import CallState, Setup, Status
from acdgate.gateway.h323.q931 import Ie, Q931Message
from acdgate.gateway.h323.ras_codec import _aper_fixed
from acdgate.gateway.h323.tpkt import frame
from pycrate_asn1dir import H225

CORPUS_DIR = Path(__file__).parent.parent / "gateway" / "data" / "h323_cs_corpus"
GUID = bytes(range(1, 17))
MARK = b"\xaa" * 8
SETUP = Setup(7, True, GUID, GUID, called_number="6000", calling_number="2201")


def uuie(value: dict[str, object]) -> bytes:
    """H323-UserInformation aligned PER of a pycrate value, with the User-user discriminator."""
    uu = H225.H323_MESSAGES.H323_UserInformation
    uu.set_val(value)
    with _aper_fixed():
        data: bytes = uu.to_aper()
    return q931.user_user(data)


def message(kind: int, ies: list[tuple[int, bytes]], call_reference: int = 7) -> bytes:
    return q931.build(Q931Message(call_reference, True, kind, tuple(ies)))


def setup_ies() -> list[tuple[int, bytes]]:
    parsed = q931.parse(CallSignalCodec().encode(SETUP))
    assert isinstance(parsed, Q931Message)
    return list(parsed.ies)


def _replace(ies: list[tuple[int, bytes]], ie: int, content: bytes) -> list[tuple[int, bytes]]:
    return [(i, content if i == ie else c) for i, c in ies]


def build() -> dict[str, bytes]:
    setup = CallSignalCodec().encode(SETUP)
    ies = setup_ies()
    uu = dict(ies)[Ie.USER_USER]
    per = uu[1:]
    fast_uu = dict(q931_ies(CallSignalCodec().encode(
        Setup(7, True, GUID, GUID, fast_start=(MARK,)))))[Ie.USER_USER]
    assert fast_uu.count(b"\x01\x08" + MARK) == 1
    corpus = {
        # TPKT
        "tpkt_truncated.bin": frame(setup)[:40],
        "tpkt_oversized_length.bin": b"\x03\x00\xff\xff" + setup,
        "tpkt_length_below_5.bin": b"\x03\x00\x00\x04" + setup,
        "tpkt_bad_version.bin": b"\x01\x00" + frame(setup)[2:],
        # Q.931 header and IE framing
        "q931_bad_discriminator.bin": frame(b"\x09" + setup[1:]),
        "q931_call_reference_3_octets.bin": frame(b"\x08\x03\x00\x00\x07" + setup[4:]),
        "q931_shorter_than_header.bin": frame(b"\x08\x02\x00"),
        "q931_ie_past_end.bin": frame(message(0x05, ies[:-1]) + b"\x28\x40Alice"),
        "q931_user_user_past_end.bin": frame(setup[:-10]),
        "q931_message_type_disconnect.bin": frame(message(0x45, ies)),
        # IEs a Setup must have, and their contents
        "setup_without_user_user.bin": frame(message(0x05, ies[:-1])),
        "setup_without_bearer_capability.bin": frame(message(0x05, ies[1:])),
        "setup_bearer_capability_1_octet.bin": frame(message(0x05, _replace(ies, Ie.BEARER_CAPABILITY, b"\x88"))),
        "user_user_discriminator_4.bin": frame(message(0x05, _replace(ies, Ie.USER_USER, b"\x04" + per))),
        # PER
        "per_truncated.bin": frame(message(0x05, _replace(ies, Ie.USER_USER, uu[:30]))),
        # fastStart's one OCTET STRING says 16383 octets; then its count says 64 K elements
        "per_octet_string_length_past_end.bin": frame(message(0x05, _replace(
            ies, Ie.USER_USER, fast_uu.replace(b"\x01\x08" + MARK, b"\x01\xbf\xff" + MARK)))),
        "per_sequence_of_count_64k.bin": frame(message(0x05, _replace(
            ies, Ie.USER_USER, fast_uu.replace(b"\x01\x08" + MARK, b"\xc4\x08" + MARK)))),
        "per_unknown_message_body_extension.bin": frame(message(0x05, _replace(
            ies, Ie.USER_USER,
            uuie({"h323-uu-pdu": {"h323-message-body": ("_ext_20", b"\x00"),
                                  "h245Tunnelling": False}})))),
        "per_status_body_in_setup.bin": frame(message(0x05, _replace(
            ies, Ie.USER_USER, dict(q931_ies(CallSignalCodec().encode(
                Status(7, True, 30, CallState.ACTIVE, GUID))))[Ie.USER_USER]))),
        "status_without_cause.bin": frame(message(0x7D, [
            (Ie.CALL_STATE, b"\x0a"),
            *[(i, c) for i, c in q931_ies(CallSignalCodec().encode(Status(7, True, 30, CallState.ACTIVE, GUID)))
              if i == Ie.USER_USER]])),
    }
    return corpus


def q931_ies(data: bytes) -> list[tuple[int, bytes]]:
    parsed = q931.parse(data)
    assert isinstance(parsed, Q931Message)
    return list(parsed.ies)


if __name__ == "__main__":
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (CORPUS_DIR / name).write_bytes(data)
        print(name, len(data), file=sys.stderr)
