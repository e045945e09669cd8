"""The Q.931 call state tables of `call_signalling`: which peer message and which bridge
command each state of a call takes, the state it leads to, and the timer each state runs.

Keys start with `outgoing` (True: a call we placed). A peer message with no entry gets Status
with cause 101 (Q.931 5.8.4); a bridge command with no entry is the bridge's bug. Release
Complete ends a call in every state, either way (Q.931 5.3; H.225.0 uses neither Disconnect
nor Release).
"""

from __future__ import annotations

from enum import Enum

from acdgate.gateway.h323.call_signalling_actions import CallTimer
from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallProceeding,
    CallSignal,
    CallState,
    Connect,
    Facility,
    Information,
    MessageType,
    Notify,
    Progress,
    ReleaseComplete,
    Setup,
    SetupAcknowledge,
    Status,
    StatusEnquiry,
)


class Command(Enum):
    """What the bridge can ask of a call."""

    SETUP = "setup"
    ACKNOWLEDGE_SETUP = "acknowledge_setup"
    PROCEED = "proceed"
    ALERT = "alert"
    CONNECT = "connect"
    RELEASE = "release"
    SEND_H245 = "send_h245"
    INFORMATION = "information"


_TYPES: dict[type[CallSignal], MessageType] = {
    Setup: MessageType.SETUP, SetupAcknowledge: MessageType.SETUP_ACKNOWLEDGE,
    CallProceeding: MessageType.CALL_PROCEEDING, Alerting: MessageType.ALERTING,
    Progress: MessageType.PROGRESS, Connect: MessageType.CONNECT,
    ReleaseComplete: MessageType.RELEASE_COMPLETE, Facility: MessageType.FACILITY,
    Information: MessageType.INFORMATION, Notify: MessageType.NOTIFY,
    StatusEnquiry: MessageType.STATUS_ENQUIRY, Status: MessageType.STATUS,
}


def message_type(message: CallSignal) -> MessageType:
    """The Q.931 message type of `message`."""
    return _TYPES[type(message)]


_S = CallState
OUTGOING_STATES = (_S.CALL_INITIATED, _S.OUTGOING_CALL_PROCEEDING, _S.CALL_DELIVERED, _S.ACTIVE)
INCOMING_STATES = (_S.CALL_PRESENT, _S.OVERLAP_RECEIVING, _S.INCOMING_CALL_PROCEEDING,
                   _S.CALL_RECEIVED, _S.ACTIVE)

_M = MessageType
PEER: dict[tuple[bool, CallState, MessageType], CallState] = {
    # -- calls the peer offered ------------------------------------------------------------
    (False, _S.NULL, _M.SETUP): _S.CALL_PRESENT,
    **{(False, s, _M.INFORMATION): s for s in INCOMING_STATES if s is not _S.CALL_PRESENT},
    **{(False, s, _M.NOTIFY): s for s in INCOMING_STATES
       if s not in (_S.CALL_PRESENT, _S.OVERLAP_RECEIVING)},
    # -- calls we placed --------------------------------------------------------------------
    (True, _S.CALL_INITIATED, _M.CALL_PROCEEDING): _S.OUTGOING_CALL_PROCEEDING,
    (True, _S.CALL_INITIATED, _M.ALERTING): _S.CALL_DELIVERED,
    (True, _S.CALL_INITIATED, _M.CONNECT): _S.ACTIVE,
    (True, _S.CALL_INITIATED, _M.PROGRESS): _S.CALL_INITIATED,
    (True, _S.OUTGOING_CALL_PROCEEDING, _M.ALERTING): _S.CALL_DELIVERED,
    (True, _S.OUTGOING_CALL_PROCEEDING, _M.CONNECT): _S.ACTIVE,
    (True, _S.OUTGOING_CALL_PROCEEDING, _M.PROGRESS): _S.OUTGOING_CALL_PROCEEDING,
    (True, _S.CALL_DELIVERED, _M.CONNECT): _S.ACTIVE,
    (True, _S.CALL_DELIVERED, _M.PROGRESS): _S.CALL_DELIVERED,
    **{(True, s, m): s for s in OUTGOING_STATES if s is not _S.CALL_INITIATED
       for m in (_M.INFORMATION, _M.NOTIFY)},
    # -- both: Facility (tunnelled H.245, startH245), Status (Enquiry), Release Complete ----
    **{(o, s, m): s for o, states in ((True, OUTGOING_STATES), (False, INCOMING_STATES))
       for s in states for m in (_M.FACILITY, _M.STATUS_ENQUIRY, _M.STATUS)},
    **{(o, s, _M.RELEASE_COMPLETE): _S.NULL
       for o, states in ((True, OUTGOING_STATES), (False, INCOMING_STATES)) for s in states},
}

_C = Command
LOCAL: dict[tuple[bool, CallState, Command], CallState] = {
    (True, _S.NULL, _C.SETUP): _S.CALL_INITIATED,
    (False, _S.CALL_PRESENT, _C.ACKNOWLEDGE_SETUP): _S.OVERLAP_RECEIVING,
    (False, _S.CALL_PRESENT, _C.PROCEED): _S.INCOMING_CALL_PROCEEDING,
    (False, _S.OVERLAP_RECEIVING, _C.PROCEED): _S.INCOMING_CALL_PROCEEDING,
    # after the engine's own Call Proceeding (SETUP_ANSWER): nothing new, see `proceed`
    (False, _S.INCOMING_CALL_PROCEEDING, _C.PROCEED): _S.INCOMING_CALL_PROCEEDING,
    **{(False, s, _C.ALERT): _S.CALL_RECEIVED
       for s in (_S.CALL_PRESENT, _S.OVERLAP_RECEIVING, _S.INCOMING_CALL_PROCEEDING)},
    **{(False, s, _C.CONNECT): _S.ACTIVE
       for s in (_S.CALL_PRESENT, _S.OVERLAP_RECEIVING, _S.INCOMING_CALL_PROCEEDING,
                 _S.CALL_RECEIVED)},
    **{(o, s, _C.RELEASE): _S.NULL
       for o, states in ((True, OUTGOING_STATES), (False, INCOMING_STATES)) for s in states},
    **{(o, s, _C.SEND_H245): s
       for o, states in ((True, OUTGOING_STATES), (False, INCOMING_STATES)) for s in states},
    # Information once the call is answered or proceeding, not over an unanswered Setup
    **{(o, s, _C.INFORMATION): s
       for o, states in ((True, OUTGOING_STATES), (False, INCOMING_STATES)) for s in states
       if s not in (_S.CALL_INITIATED, _S.CALL_PRESENT)},
}

STATE_TIMER: dict[CallState, CallTimer] = {
    _S.CALL_PRESENT: CallTimer.SETUP_ANSWER,
    _S.OVERLAP_RECEIVING: CallTimer.T302,
    _S.CALL_INITIATED: CallTimer.T303,
    _S.OUTGOING_CALL_PROCEEDING: CallTimer.T310,
    _S.CALL_DELIVERED: CallTimer.T301,
}
