"""Live statistics: per group calls in queue, longest queue time and agents per state;
per agent time in state by reason code and calls handled (IP Phone Agent Skill Stats)."""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.acd.states import AgentState


@dataclass(frozen=True, slots=True)
class GroupStats:
    """A group at one moment: CIQ, LQT and how many enabled members are in each state."""

    number: str
    ciq: int
    lqt_seconds: float
    agents: dict[AgentState, int]


@dataclass(frozen=True, slots=True)
class AgentStats:
    """An agent's session so far: seconds per (state, reason code), calls handled."""

    user_id: str
    state: AgentState
    since: float
    calls_handled: int
    time_in_state: dict[tuple[AgentState, int | None], float]


def empty_state_counts() -> dict[AgentState, int]:
    """A zero count for every state."""
    return dict.fromkeys(AgentState, 0)


def format_hms(seconds: float) -> str:
    """`h:mm:ss`, as the Skill Stats screen shows LQT."""
    total = max(0, int(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
