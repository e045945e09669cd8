"""Busy lamps for short code calls: a station dialling `*37` is on a call for its watchers.

The short code layer (`agents.short_code_calls`) tells its listeners each feature call's
phases and knows nothing of presence; this calls-layer adapter turns them into the station's
RFC 4235 dialog: early while the code is being served, confirmed once answered, terminated
when the feature is over (refused before the answer: early, then terminated).
"""

from __future__ import annotations

from acdgate.gateway.agents.short_code_calls import FeatureCallPhase, FeatureHandler
from acdgate.gateway.legs.leg import Leg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.presence.dialog_info import DialogState, DialogStates, Direction

# RFC 4235 3.7.1: the dialog state each phase of a feature call shows
_STATE_FOR_PHASE: dict[FeatureCallPhase, DialogState] = {
    FeatureCallPhase.STARTED: DialogState.EARLY,
    FeatureCallPhase.ANSWERED: DialogState.CONFIRMED,
    FeatureCallPhase.ENDED: DialogState.TERMINATED,
}


class FeatureLamps:
    """Reports the feature calls of `features` to `dialogs` (the station is the initiator)."""

    def __init__(self, features: FeatureHandler, dialogs: DialogStates) -> None:
        self.features = features
        self.dialogs = dialogs
        features.call_listeners.append(self.phase)

    def stop(self) -> None:
        if self.phase in self.features.call_listeners:
            self.features.call_listeners.remove(self.phase)

    def phase(self, leg: Leg, phase: FeatureCallPhase) -> None:
        """A `FeatureHandler` listener: the station's dialog for this feature call."""
        if leg.station is None:
            return
        self.dialogs.set(leg.station, _STATE_FOR_PHASE[phase], _dialog_id(leg), Direction.INITIATOR)


def _dialog_id(leg: Leg) -> str:
    """The leg's SIP Call-ID where it has one: the phone's own name for the dialog, and the id
    `Supervision` reports a joined supervisor's leg under (`*45*N#`), so the lamp shows one
    dialog that the supervision ends (our terminated then finds it gone: no second NOTIFY)."""
    if isinstance(leg, SipLeg) and leg.invite.call_id:
        return leg.invite.call_id
    return f"feature-{id(leg):x}"
