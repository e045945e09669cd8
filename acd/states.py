"""Agent states and the table that says which input moves an agent from which state.

Theory of operation
-------------------
An agent (a logged-on user) is always in exactly one `AgentState`, the states of the
Cisco IP Phone Agent guide (Table 2). Everything that can happen to an agent is an
`AgentInput`: the agent's own choices from the phone menu (`CHOOSE_*`, `LOGOUT`) and
what the ACD or the phone line does to it (an offered call, an answer, a hang-up, the
end of wrap-up time, a forced login elsewhere).

`TRANSITIONS` maps `(state, input)` to what happens. Most entries name the next
state. Three entries name a `Rule` the engine resolves, because the answer depends on
the call rather than on the state alone:

- `Rule.PEND`: a choice made while TALKING does not change the state; it is kept and
  takes effect when the call ends (guide: "Changing Your State While on a Call").
- `Rule.AFTER_CALL`: the call ended; the pending choice if any, else the default: back
  to where the agent was for a non-routed call, wrap-up (WORK_READY) or READY for a
  routed call.
- `Rule.RESUME`: a ring that ended unanswered without fault (the caller hung up, another
  member of a collective group answered, a direct call stopped ringing) puts the agent
  back in the state it had before the ring.

A non-routed call (`DIRECT_*`: incoming, outgoing, transferred, a supervisor's) makes the
agent RESERVED, then TALKING, from any state it is logged on in, and puts it back when the
station's last call ends (guide Table 2). While the station has such a call, whatever would
move the agent to a state off the call (its routed call ends, an offer is cancelled, the
login itself) becomes the state it goes back to, and the agent stays on the call: an agent
whose phone has a call is never READY, so it is never offered a routed one. Wrap-up time
runs on during the call; if it ends then, the agent goes back to READY.

A `(state, input)` pair with no entry is refused: the engine answers with a rejection
event naming the state, never silently ignores it. The phone menu of a state
(`menu(state)`, guide Figures 6 and 7) is derived from the same table, so the menu
offers exactly the choices the engine accepts.
"""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum


class AgentState(StrEnum):
    """An agent's ACD state (IP Phone Agent guide, Table 2)."""

    LOGGED_OUT = "logged-out"
    NOT_READY = "not-ready"
    READY = "ready"
    RESERVED = "reserved"  # a call is ringing on the agent's phone
    TALKING = "talking"
    WORK_READY = "work-ready"
    WORK_NOT_READY = "work-not-ready"


class AgentInput(Enum):
    """Everything that can happen to an agent."""

    LOGIN = "login"
    LOGOUT = "logout"
    FORCED_LOGOUT = "forced-logout"  # someone forced a login with this user or station
    CHOOSE_READY = "choose-ready"
    CHOOSE_NOT_READY = "choose-not-ready"
    CHOOSE_WORK_READY = "choose-work-ready"
    CHOOSE_WORK_NOT_READY = "choose-work-not-ready"
    OFFER = "offer"  # a routed call rings the agent
    OFFER_CANCELLED = "offer-cancelled"  # caller hung up, or answered elsewhere
    RING_NO_ANSWER = "ring-no-answer"  # the group's no-answer time passed
    OFFER_FAILED = "offer-failed"  # the station could not be rung
    ANSWER = "answer"
    CALL_END = "call-end"
    DIRECT_RING = "direct-ring"  # a non-routed call rings the agent's station (or it dials out)
    DIRECT_ANSWER = "direct-answer"
    DIRECT_END = "direct-end"
    WRAPUP_EXPIRED = "wrapup-expired"


class Rule(Enum):
    """Table outcomes the engine resolves from the call (see the module docstring)."""

    PEND = "pend"
    AFTER_CALL = "after-call"
    RESUME = "resume"


class MenuChoice(StrEnum):
    """An entry of the phone's Change State menu."""

    READY = "ready"
    NOT_READY = "not-ready"
    WORK_READY = "work-ready"
    WORK_NOT_READY = "work-not-ready"
    LOGOUT = "logout"


class SystemReason(IntEnum):
    """Reason codes the ACD itself sets; outside the range sites use for their own codes."""

    RING_NO_ANSWER = 32767  # routed call not answered in the group's no-answer time
    OFFER_FAILED = 32766  # the station could not be rung

    @property
    def label(self) -> str:
        """The reason as a report shows it."""
        return self.name.lower().replace("_", " ")


S = AgentState
I = AgentInput  # noqa: E741 - table shorthand

TRANSITIONS: dict[tuple[AgentState, AgentInput], AgentState | Rule] = {
    # Guide "Logging In": "Your agent state is automatically set to Not Ready."
    (S.LOGGED_OUT, I.LOGIN): S.NOT_READY,
    # Guide "Logging Out": "You can log out only when your agent state is Not Ready."
    (S.NOT_READY, I.LOGOUT): S.LOGGED_OUT,
    (S.NOT_READY, I.CHOOSE_READY): S.READY,
    # Guide "Reason Codes": Not Ready again to enter another reason code.
    (S.NOT_READY, I.CHOOSE_NOT_READY): S.NOT_READY,
    (S.NOT_READY, I.DIRECT_RING): S.RESERVED,
    (S.NOT_READY, I.FORCED_LOGOUT): S.LOGGED_OUT,
    (S.READY, I.CHOOSE_NOT_READY): S.NOT_READY,
    (S.READY, I.OFFER): S.RESERVED,
    (S.READY, I.DIRECT_RING): S.RESERVED,
    (S.READY, I.FORCED_LOGOUT): S.LOGGED_OUT,
    # Guide "Reserved": a call is ringing on your phone; a non-routed call may ring (or be
    # placed) in wrap-up too, and the agent goes back to wrap-up after it.
    (S.WORK_READY, I.DIRECT_RING): S.RESERVED,
    (S.WORK_NOT_READY, I.DIRECT_RING): S.RESERVED,
    (S.RESERVED, I.ANSWER): S.TALKING,
    (S.RESERVED, I.DIRECT_ANSWER): S.TALKING,
    (S.RESERVED, I.OFFER_CANCELLED): Rule.RESUME,
    (S.RESERVED, I.DIRECT_END): Rule.RESUME,
    (S.RESERVED, I.RING_NO_ANSWER): S.NOT_READY,
    (S.RESERVED, I.OFFER_FAILED): S.NOT_READY,
    # Guide Figure 7: while on a call, Ready / Not Ready / Work Ready / Work Not Ready,
    # taking effect when the call ends.
    (S.TALKING, I.CHOOSE_READY): Rule.PEND,
    (S.TALKING, I.CHOOSE_NOT_READY): Rule.PEND,
    (S.TALKING, I.CHOOSE_WORK_READY): Rule.PEND,
    (S.TALKING, I.CHOOSE_WORK_NOT_READY): Rule.PEND,
    (S.TALKING, I.CALL_END): Rule.AFTER_CALL,
    (S.TALKING, I.DIRECT_END): Rule.AFTER_CALL,
    (S.WORK_READY, I.CHOOSE_READY): S.READY,
    (S.WORK_READY, I.CHOOSE_NOT_READY): S.NOT_READY,
    (S.WORK_READY, I.CHOOSE_WORK_NOT_READY): S.WORK_NOT_READY,
    (S.WORK_READY, I.WRAPUP_EXPIRED): S.READY,
    (S.WORK_READY, I.FORCED_LOGOUT): S.LOGGED_OUT,
    (S.WORK_NOT_READY, I.CHOOSE_READY): S.READY,
    (S.WORK_NOT_READY, I.CHOOSE_NOT_READY): S.NOT_READY,
    (S.WORK_NOT_READY, I.CHOOSE_WORK_READY): S.WORK_READY,
    (S.WORK_NOT_READY, I.FORCED_LOGOUT): S.LOGGED_OUT,
}

# Menu entries in the order a phone lists them, and the input each one sends.
MENU_INPUTS: dict[MenuChoice, AgentInput] = {
    MenuChoice.READY: I.CHOOSE_READY,
    MenuChoice.NOT_READY: I.CHOOSE_NOT_READY,
    MenuChoice.WORK_READY: I.CHOOSE_WORK_READY,
    MenuChoice.WORK_NOT_READY: I.CHOOSE_WORK_NOT_READY,
    MenuChoice.LOGOUT: I.LOGOUT,
}

# The input a SetState command sends for each target state.
CHOICE_INPUTS: dict[AgentState, AgentInput] = {
    S.READY: I.CHOOSE_READY,
    S.NOT_READY: I.CHOOSE_NOT_READY,
    S.WORK_READY: I.CHOOSE_WORK_READY,
    S.WORK_NOT_READY: I.CHOOSE_WORK_NOT_READY,
}

# States in which the agent is on a call (forced login refuses to log these out).
ON_CALL: frozenset[AgentState] = frozenset({S.RESERVED, S.TALKING})


def next_step(state: AgentState, event: AgentInput) -> AgentState | Rule | None:
    """The table entry for `(state, event)`; None: the input is not allowed there."""
    return TRANSITIONS.get((state, event))


def menu(state: AgentState) -> list[MenuChoice]:
    """The Change State menu a phone shows in `state` (guide Figures 6 and 7)."""
    return [choice for choice, event in MENU_INPUTS.items() if (state, event) in TRANSITIONS]
