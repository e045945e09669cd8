"""What the RAS gatekeeper engine asks of its edge, and the registration record it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acdgate.gateway.h323.ras_messages import Alias, RasAnswer, TransportAddress

Address = tuple[str, int]


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
