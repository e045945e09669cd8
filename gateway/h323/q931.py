"""The Q.931 message layout H.225.0 uses, and the information elements the bridge reads/writes.

Theory of operation: `parse` splits a TPKT payload into the header (protocol discriminator 0x08,
a 2-octet call reference with its flag, the message type, H.225.0 7.2.1) and the codeset 0
information elements it carries; `build` writes them back. The IE contents are read and written
by the small functions below (one per IE, construct bit layouts from Q.931 4.5), which raise
`InvalidIe` on contents they cannot read: whether that is fatal is the message's business
(Q.931 5.8.6/5.8.7: a mandatory IE that does not read is an error, an optional one is ignored),
so `cs_codec` decides. Unknown IEs, and IEs of other codesets after a shift, are skipped
(Q.931 5.8.7.1), never fatal. Nothing here does I/O.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import IntEnum

from construct import (
    BitsInteger,
    BitStruct,
    Const,
    ConstructError,
    Flag,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Padding,
    Prefixed,
    Struct,
)

# Q.931 4.2: "Q.931/I.451 user-network call control messages"
PROTOCOL_DISCRIMINATOR = 0x08
# H.225.0 7.2.1: the call reference value is two octets long
CALL_REFERENCE_LENGTH = 2
# H.225.0 7.2.2: the User-user IE's protocol discriminator "X.208 and X.209 coded user information"
USER_USER_PROTOCOL = 0x05
MAX_CALL_REFERENCE = 0x7FFF


class Ie(IntEnum):
    """Codeset 0 information element identifiers the bridge reads or writes (Q.931 4.5, Table 4-3)."""

    BEARER_CAPABILITY = 0x04
    CAUSE = 0x08
    CALL_STATE = 0x14
    PROGRESS_INDICATOR = 0x1E
    DISPLAY = 0x28
    KEYPAD_FACILITY = 0x2C
    CALLING_PARTY_NUMBER = 0x6C
    CALLED_PARTY_NUMBER = 0x70
    USER_USER = 0x7E


class Location(IntEnum):
    """Q.931 4.5.12 / Q.850 2.2.5 location of a Cause or Progress indicator."""

    USER = 0
    PRIVATE_LOCAL = 1
    PUBLIC_LOCAL = 2


class InvalidIe(ValueError):
    """An information element whose contents do not read (Q.850 cause 100 when mandatory)."""


@dataclass(frozen=True, slots=True)
class Q931Message:
    """One Q.931 message: the header and its codeset 0 variable-length IEs, contents raw."""

    call_reference: int
    from_originator: bool
    message_type: int
    ies: tuple[tuple[int, bytes], ...] = ()

    def get(self, ie: int) -> bytes | None:
        """The contents of the first IE `ie` (Q.931 5.8.7.3: a repeated IE's first is used)."""
        for ident, content in self.ies:
            if ident == ie:
                return content
        return None


@dataclass(frozen=True, slots=True)
class Q931Defect:
    """A payload that is not a Q.931 message, and how far it read (for the answer's call reference)."""

    detail: str
    call_reference: int | None = None
    from_originator: bool = False
    message_type: int | None = None


# Q.931 4.3: call reference flag (0: sent by the side that allocated the value) then the value
_CALL_REFERENCE = BitStruct("flag" / Flag, "value" / BitsInteger(15))
_HEADER_OUT = Struct(
    Const(bytes([PROTOCOL_DISCRIMINATOR, CALL_REFERENCE_LENGTH])),
    "call_reference" / _CALL_REFERENCE,
    "message_type" / Int8ub,
)
_VARIABLE_IE = Struct("id" / Int8ub, "content" / Prefixed(Int8ub, GreedyBytes))
# H.225.0 7.2.2: the User-user IE has a two-octet length (Q.931 has one)
_USER_USER_IE = Struct("id" / Const(Ie.USER_USER.value, Int8ub),
                       "content" / Prefixed(Int16ub, GreedyBytes))


def parse(payload: bytes) -> Q931Message | Q931Defect:
    """The Q.931 message in a TPKT payload, or what is wrong with it. Never raises."""
    if len(payload) < 5:
        return Q931Defect(f"{len(payload)} octets: shorter than a Q.931 header")
    if payload[0] != PROTOCOL_DISCRIMINATOR:
        return Q931Defect(f"protocol discriminator 0x{payload[0]:02x}, not 0x08")
    # Q.931 4.3: octet 2 is 0000 + length; H.225.0 7.2.1 wants length 2
    if payload[1] != CALL_REFERENCE_LENGTH:
        return Q931Defect(f"call reference length octet 0x{payload[1]:02x}, not 0x02")
    cr = _CALL_REFERENCE.parse(payload[2:4])
    call_reference: int = cr.value
    from_originator = not cr.flag
    message_type = payload[4]
    if message_type & 0x80:  # Q.931 4.4: bit 8 is reserved for an escape to nationally specific types
        return Q931Defect(f"message type 0x{message_type:02x} has bit 8 set",
                          call_reference, from_originator)
    ies: list[tuple[int, bytes]] = []
    stream = io.BytesIO(payload)
    stream.seek(5)
    codeset, locked = 0, 0
    while stream.tell() < len(payload):
        ident = payload[stream.tell()]
        if ident & 0x80:  # Q.931 4.5.1: single-octet IEs (shift, sending complete ...)
            stream.seek(1, io.SEEK_CUR)
            if ident & 0xF0 == 0x90:  # Q.931 4.5.3/4.5.4: shift; bit 4 set means non-locking
                if ident & 0x08:
                    codeset = ident & 0x07
                    continue
                locked = codeset = ident & 0x07
            continue
        layout = _USER_USER_IE if ident == Ie.USER_USER and codeset == 0 else _VARIABLE_IE
        try:
            ie = layout.parse_stream(stream)
        except ConstructError:
            return Q931Defect(f"IE 0x{ident:02x} at octet {stream.tell()} runs past the end",
                              call_reference, from_originator, message_type)
        if codeset == 0:
            ies.append((ident, ie.content))
        codeset = locked  # a non-locking shift applies to one IE only
    return Q931Message(call_reference, from_originator, message_type, tuple(ies))


def build(message: Q931Message) -> bytes:
    """The octets of `message`, IEs in the order given (Q.931 4.5.1 wants ascending order)."""
    if not 0 <= message.call_reference <= MAX_CALL_REFERENCE:
        raise ValueError(f"call reference {message.call_reference} outside 0..32767")
    out = bytearray(_HEADER_OUT.build({
        "call_reference": {"flag": not message.from_originator, "value": message.call_reference},
        "message_type": message.message_type}))
    for ident, content in message.ies:
        layout = _USER_USER_IE if ident == Ie.USER_USER else _VARIABLE_IE
        if len(content) > (0xFFFF if ident == Ie.USER_USER else 0xFF):
            raise ValueError(f"IE 0x{ident:02x} of {len(content)} octets")
        out += layout.build({"id": ident, "content": content})
    return bytes(out)


# ------------------------------------------------------------------------------ IE contents

# Q.931 4.5.5 Bearer capability octets 3, 4 and 5 (layer 1)
_BEARER = Struct(
    "octet3" / BitStruct("ext" / Flag, "coding" / BitsInteger(2), "capability" / BitsInteger(5)),
    "octet4" / BitStruct("ext" / Flag, "mode" / BitsInteger(2), "rate" / BitsInteger(5)),
)
# H.225.0 7.2.2.1 Table 4: what an H.323 endpoint writes for each transfer capability
_BEARER_OUT: dict[int, bytes] = {
    0x08: bytes([0x88, 0x93, 0xA5]),  # unrestricted digital, 384 kbit/s (H0), H.221 and H.242
    0x00: bytes([0x80, 0x90, 0xA2]),  # speech, 64 kbit/s, G.711 mu-law
    0x10: bytes([0x90, 0x90, 0xA2]),  # 3.1 kHz audio, 64 kbit/s, G.711 mu-law
}


def read_bearer_capability(content: bytes) -> int:
    """The information transfer capability (Q.931 4.5.5 octet 3: 0 speech, 8 unrestricted ...)."""
    if len(content) < 2:
        raise InvalidIe(f"Bearer capability of {len(content)} octets, 2 at least")
    octets = _BEARER.parse(content)
    if octets.octet3.coding != 0:
        raise InvalidIe(f"Bearer capability coding standard {octets.octet3.coding}, not ITU-T")
    capability: int = octets.octet3.capability
    return capability


def bearer_capability(capability: int) -> bytes:
    """Bearer capability contents for a transfer capability, as H.225.0 7.2.2.1 writes them."""
    return _BEARER_OUT.get(capability, bytes([0x80 | capability, 0x90]))


# Q.931 4.5.12 Cause: octet 3 (coding standard, location), optional 3a, octet 4 (the value)
_CAUSE_OCTET3 = BitStruct("ext" / Flag, "coding" / BitsInteger(2), Padding(1),
                          "location" / BitsInteger(4))
_CAUSE_OCTET4 = BitStruct("ext" / Flag, "value" / BitsInteger(7))


def read_cause(content: bytes) -> tuple[int, int]:
    """(Q.850 cause value, location) of a Cause IE; diagnostics are ignored."""
    if len(content) < 2:
        raise InvalidIe(f"Cause of {len(content)} octets, 2 at least")
    octet3 = _CAUSE_OCTET3.parse(content[:1])
    value_at = 1 if octet3.ext else 2  # Q.931 4.5.12: octet 3a follows when bit 8 is 0
    if len(content) <= value_at:
        raise InvalidIe("Cause without its value octet")
    value: int = content[value_at] & 0x7F
    location: int = octet3.location
    return value, location


def cause(value: int, location: Location = Location.USER) -> bytes:
    """Cause contents: ITU-T coding, `location`, the Q.850 value, no diagnostics."""
    if not 0 <= value <= 0x7F:
        raise ValueError(f"cause value {value} outside 0..127")
    octet3: bytes = _CAUSE_OCTET3.build({"ext": True, "coding": 0, "location": location})
    octet4: bytes = _CAUSE_OCTET4.build({"ext": True, "value": value})
    return octet3 + octet4


# Q.931 4.5.7 Call state: coding standard (2 bits) and the state value (6 bits)
_CALL_STATE = BitStruct("coding" / BitsInteger(2), "value" / BitsInteger(6))


def read_call_state(content: bytes) -> int:
    if len(content) != 1:
        raise InvalidIe(f"Call state of {len(content)} octets, not 1")
    value: int = _CALL_STATE.parse(content).value
    return value


def call_state(value: int) -> bytes:
    built: bytes = _CALL_STATE.build({"coding": 0, "value": value})
    return built


# Q.931 4.5.23 Progress indicator: octet 3 as the Cause's, octet 4 the description
_PROGRESS = Struct("octet3" / _CAUSE_OCTET3,
                   "octet4" / BitStruct("ext" / Flag, "description" / BitsInteger(7)))


def read_progress(content: bytes) -> int:
    """The progress description (Q.931 4.5.23: 1 not end-to-end ISDN, 8 in-band information ...)."""
    if len(content) < 2:
        raise InvalidIe(f"Progress indicator of {len(content)} octets, 2 at least")
    description: int = _PROGRESS.parse(content).octet4.description
    return description


def progress(description: int, location: Location = Location.USER) -> bytes:
    built: bytes = _PROGRESS.build({
        "octet3": {"ext": True, "coding": 0, "location": location},
        "octet4": {"ext": True, "description": description}})
    return built


def read_ia5(content: bytes) -> str:
    """Display and Keypad facility (Q.931 4.5.16/4.5.18): IA5 characters.

    Read as Latin-1 so that a phone's non-IA5 octets still show (every octet reads); the
    trailing NUL OpenH323/OPAL endpoints write (Ekiga's Setup has one) is not text.
    """
    return content.decode("latin-1").rstrip("\x00")


def ia5(text: str) -> bytes:
    """IA5 contents; a character outside IA5 becomes '?' rather than failing the message."""
    return text.encode("ascii", errors="replace")


# Q.931 4.5.8/4.5.10 party numbers: octet 3 (type of number, numbering plan), then for the
# calling party octet 3a (presentation, screening) when octet 3's bit 8 is 0, then the digits
_NUMBER_OCTET3 = BitStruct("ext" / Flag, "type" / BitsInteger(3), "plan" / BitsInteger(4))
_NUMBER_OCTET3A = BitStruct("ext" / Flag, "presentation" / BitsInteger(2),
                            Padding(3), "screening" / BitsInteger(2))
# Type of number unknown, numbering plan ISDN/telephony (E.164): what H.323 endpoints write
_NUMBER_TYPE_UNKNOWN = 0
_PLAN_ISDN = 1


@dataclass(frozen=True, slots=True)
class PartyNumber:
    """A Calling or Called party number's digits and, for the calling party, octet 3a."""

    digits: str
    presentation: int = 0  # Q.931 4.5.10: 0 allowed, 1 restricted, 2 not available
    screening: int = 0  # 0 user-provided not screened ... 3 network provided


def read_party_number(content: bytes) -> PartyNumber:
    if not content:
        raise InvalidIe("party number without octet 3")
    octet3 = _NUMBER_OCTET3.parse(content[:1])
    if octet3.ext:
        return PartyNumber(read_ia5(content[1:]))
    # Q.931 4.5.10: without octet 3a, presentation allowed and user-provided, not screened
    if len(content) < 2:
        raise InvalidIe("Calling party number without octet 3a")
    octet3a = _NUMBER_OCTET3A.parse(content[1:2])
    return PartyNumber(read_ia5(content[2:]), octet3a.presentation, octet3a.screening)


def called_party_number(digits: str) -> bytes:
    octet3: bytes = _NUMBER_OCTET3.build({"ext": True, "type": _NUMBER_TYPE_UNKNOWN,
                                          "plan": _PLAN_ISDN})
    return octet3 + ia5(digits)


def calling_party_number(number: PartyNumber) -> bytes:
    octet3: bytes = _NUMBER_OCTET3.build({"ext": False, "type": _NUMBER_TYPE_UNKNOWN,
                                          "plan": _PLAN_ISDN})
    octet3a: bytes = _NUMBER_OCTET3A.build({"ext": True, "presentation": number.presentation,
                                            "screening": number.screening})
    return octet3 + octet3a + ia5(number.digits)


_USER_USER = Struct("protocol" / Int8ub, "information" / GreedyBytes)


def read_user_user(content: bytes) -> bytes:
    """The H323-UserInformation octets of a User-user IE (H.225.0 7.2.2: discriminator 5)."""
    if not content:
        raise InvalidIe("empty User-user")
    uu = _USER_USER.parse(content)
    if uu.protocol != USER_USER_PROTOCOL:
        raise InvalidIe(f"User-user protocol discriminator {uu.protocol}, not 5")
    if not uu.information:
        raise InvalidIe("User-user without user information")
    information: bytes = uu.information
    return information


def user_user(information: bytes) -> bytes:
    built: bytes = _USER_USER.build({"protocol": USER_USER_PROTOCOL, "information": information})
    return built
