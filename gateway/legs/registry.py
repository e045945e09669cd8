"""The live legs (SIP by dialog, H.323 by callIdentifier), each with the controller that owns it.

Controllers (direct and routed calls, transfers, supervision) add the legs they create and
remove them when they end; the call dispatcher adds the incoming legs it creates, owned by
the controller that serves them. An in-dialog request (ACK, BYE, INFO, UPDATE, REFER,
re-INVITE) is then found with one lookup: by Call-ID, then the leg's dialog checks the tags
(RFC 3261 12.2.2: a request matches a dialog by Call-ID, local and remote tag). A CANCEL
finds its leg by the INVITE's server transaction (RFC 3261 9.2).

An owner answers two questions about its legs through `LegOwner`: whom a leg talks to (a
blind transfer takes that party over) and which other legs share the leg's call (their RTP
statistics go into the journal when the call ends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from acdgate.gateway.legs.h323_leg import H323Leg
from acdgate.gateway.legs.h323_uac import OutgoingH323Leg
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.relay import Bridge
from acdgate.gateway.sip.message import Request

SipLegs = SipLeg | OutgoingSipLeg
CallerLeg = SipLeg | H323Leg  # an incoming leg: the caller of a direct or routed call
AgentLeg = OutgoingSipLeg | OutgoingH323Leg  # a leg we place to a station (an agent's desk)
RegisteredLeg = SipLeg | OutgoingSipLeg | H323Leg | OutgoingH323Leg


def leg_call_id(leg: RegisteredLeg) -> str:
    """The leg's call identity: its dialog's Call-ID (the caller's INVITE's, or the one we made
    for ours), or an H.323 leg's callIdentifier."""
    return leg.call_id


@dataclass(frozen=True, slots=True)
class Handover:
    """The party a connected leg talks to, and how to take that call from its owner: `release`
    ends the call for the ACD and the busy lamps and returns its bridge, still joining the legs."""

    party: SipLeg
    release: Callable[[], Bridge | None]


class LegOwner:
    """A controller that owns legs; by default it hands none over and knows no partners."""

    def handover(self, leg: SipLegs) -> Handover | None:
        """Whom `leg` (sending REFER) talks to in a connected call of ours; None: nobody."""
        return None

    def partners(self, leg: RegisteredLeg) -> list[tuple[str, RegisteredLeg]]:
        """(role, leg) of the other legs of the call whose caller leg is `leg`."""
        return []


@dataclass(slots=True)
class _Entry:
    leg: RegisteredLeg
    owner: LegOwner
    transaction_key: str | None


class LegRegistry:
    """Call-ID -> (leg, owner); the INVITE server transaction key -> leg for CANCEL."""

    def __init__(self) -> None:
        self._by_call_id: dict[str, _Entry] = {}
        self._by_transaction: dict[str, _Entry] = {}

    def add(self, leg: RegisteredLeg, owner: LegOwner, *, transaction_key: str | None = None) -> None:
        """Route `leg`'s in-dialog requests (and the CANCEL of its INVITE transaction) to it."""
        entry = _Entry(leg, owner, transaction_key)
        self._by_call_id[leg_call_id(leg)] = entry
        if transaction_key is not None:
            self._by_transaction[transaction_key] = entry

    def remove(self, leg: RegisteredLeg) -> None:
        """Forget `leg` (it ended); a leg registered since under its Call-ID stays."""
        entry = self._by_call_id.get(leg_call_id(leg))
        if entry is None or entry.leg is not leg:
            return
        del self._by_call_id[leg_call_id(leg)]
        if entry.transaction_key is not None and self._by_transaction.get(entry.transaction_key) is entry:
            del self._by_transaction[entry.transaction_key]

    def reown(self, leg: RegisteredLeg, owner: LegOwner) -> None:
        """`owner` takes `leg` over (a transfer takes the transferred party)."""
        entry = self._by_call_id.get(leg_call_id(leg))
        if entry is not None and entry.leg is leg:
            entry.owner = owner

    def find(self, request: Request, *, lenient: bool = False) -> tuple[SipLegs, LegOwner] | None:
        """The leg whose dialog `request` belongs to, and its owner. `lenient`: accept a To tag
        that is not ours (pyVoIP ACKs a 2xx with a fresh one)."""
        entry = self._by_call_id.get(request.call_id or "")
        if entry is None or isinstance(entry.leg, H323Leg | OutgoingH323Leg) or entry.leg.dialog is None \
                or not entry.leg.dialog.matches(request, lenient_to_tag=lenient):
            return None
        return entry.leg, entry.owner

    def by_transaction(self, transaction_key: str) -> SipLegs | None:
        """The leg created by the INVITE server transaction `transaction_key`."""
        entry = self._by_transaction.get(transaction_key)
        return entry.leg if entry is not None and not isinstance(entry.leg, H323Leg | OutgoingH323Leg) \
            else None

    def owner(self, leg: RegisteredLeg) -> LegOwner | None:
        """Who owns `leg` now; None once it is removed."""
        entry = self._by_call_id.get(leg_call_id(leg))
        return entry.owner if entry is not None and entry.leg is leg else None

    def __iter__(self) -> Iterator[RegisteredLeg]:
        return iter([entry.leg for entry in self._by_call_id.values()])

    def __len__(self) -> int:
        return len(self._by_call_id)


__all__ = ["AgentLeg", "CallerLeg", "Handover", "LegOwner", "LegRegistry", "RegisteredLeg", "SipLegs",
           "leg_call_id"]
