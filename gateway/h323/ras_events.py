"""What the RAS gatekeeper engine asks of its edge, and the registration record it keeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from acdgate.gateway.h323.ras_messages import Alias, AliasKind, RasAnswer, TransportAddress

Address = tuple[str, int]
# one registration's column values in `Registration.to_row` order (the store's
# H323_REGISTRATION_COLUMNS)
RegistrationRow = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Registration:
    """One registered H.323 endpoint of a station: what a store keeps to survive a restart."""

    endpoint_identifier: str
    extension: str  # the station
    aliases: tuple[Alias, ...]
    call_signal_address: TransportAddress
    ras_address: TransportAddress
    source: Address  # where its RRQ came from: later requests must come from here too
    time_to_live: int
    expires_at: float  # POSIX seconds
    endpoint_type: str = "terminal"
    vendor: str = ""

    def to_row(self) -> tuple[Any, ...]:
        """The store's columns: identifier, station, aliases (JSON), the three addresses,
        timeToLive, expiry, endpoint type, vendor."""
        aliases = json.dumps([[a.kind.value, a.value] for a in self.aliases])
        return (self.endpoint_identifier, self.extension, aliases,
                self.call_signal_address.host, self.call_signal_address.port,
                self.ras_address.host, self.ras_address.port, self.source[0], self.source[1],
                self.time_to_live, self.expires_at, self.endpoint_type, self.vendor)

    @classmethod
    def from_row(cls, row: RegistrationRow) -> Registration:
        """The registration a stored row holds (`to_row`'s inverse)."""
        (identifier, extension, aliases, cs_host, cs_port, ras_host, ras_port, source_host,
         source_port, ttl, expires_at, endpoint_type, vendor) = row
        return cls(
            endpoint_identifier=str(identifier), extension=str(extension),
            aliases=tuple(Alias(AliasKind(kind), str(value)) for kind, value in json.loads(aliases)),
            call_signal_address=TransportAddress(str(cs_host), int(cs_port)),
            ras_address=TransportAddress(str(ras_host), int(ras_port)),
            source=(str(source_host), int(source_port)), time_to_live=int(ttl),
            expires_at=float(expires_at), endpoint_type=str(endpoint_type), vendor=str(vendor))


class RemovalReason(StrEnum):
    """Why a registration ended."""

    UNREGISTERED = "unregistered"  # URQ
    EXPIRED = "expired"  # timeToLive passed without a keep-alive
    REPLACED = "replaced"  # a new full RRQ for the same station


@dataclass(frozen=True, slots=True)
class SendDatagram:
    """Send `data` (the encoded `message`) to `addr`."""

    data: bytes
    addr: Address
    message: RasAnswer
    delay: float = 0.0  # seconds to hold it first (the authentication throttle's verdict)


@dataclass(frozen=True, slots=True)
class RegistrationAdded:
    """A station's endpoint registered (full RRQ accepted)."""

    registration: Registration


@dataclass(frozen=True, slots=True)
class RegistrationRefreshed:
    """A keep-alive RRQ (or IRR) moved a registration's expiry."""

    registration: Registration


@dataclass(frozen=True, slots=True)
class RegistrationRemoved:
    """A registration ended."""

    registration: Registration
    reason: RemovalReason


@dataclass(frozen=True, slots=True)
class Dropped:
    """A datagram left unanswered, and why (the edge logs it: remote's fault)."""

    addr: Address
    defect: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A request answered with a reject, and the gatekeeper's own reason (never sent)."""

    addr: Address
    request: str
    reason: str


RasAction = (SendDatagram | RegistrationAdded | RegistrationRefreshed | RegistrationRemoved
             | Dropped | Refused)
