"""The agent state table and the menus derived from it (IP Phone Agent guide)."""

from __future__ import annotations

import pytest
from acdgate.acd.states import (
    CHOICE_INPUTS,
    TRANSITIONS,
    AgentInput,
    AgentState,
    MenuChoice,
    Rule,
    menu,
    next_step,
)

S = AgentState


def test_login_lands_in_not_ready() -> None:
    assert next_step(S.LOGGED_OUT, AgentInput.LOGIN) is S.NOT_READY


@pytest.mark.parametrize("state", [s for s in AgentState if s is not S.NOT_READY])
def test_logout_only_from_not_ready(state: AgentState) -> None:
    assert next_step(state, AgentInput.LOGOUT) is None
    assert MenuChoice.LOGOUT not in menu(state)


def test_not_ready_menu_is_figure_6_plus_not_ready_again() -> None:
    assert menu(S.NOT_READY) == [MenuChoice.READY, MenuChoice.NOT_READY, MenuChoice.LOGOUT]


def test_talking_menu_is_figure_7_and_every_choice_pends() -> None:
    assert menu(S.TALKING) == [
        MenuChoice.READY,
        MenuChoice.NOT_READY,
        MenuChoice.WORK_READY,
        MenuChoice.WORK_NOT_READY,
    ]
    for event in CHOICE_INPUTS.values():
        assert next_step(S.TALKING, event) is Rule.PEND


def test_other_menus() -> None:
    assert menu(S.LOGGED_OUT) == []
    assert menu(S.READY) == [MenuChoice.NOT_READY]
    assert menu(S.RESERVED) == []
    assert menu(S.WORK_READY) == [MenuChoice.READY, MenuChoice.NOT_READY, MenuChoice.WORK_NOT_READY]
    assert menu(S.WORK_NOT_READY) == [MenuChoice.READY, MenuChoice.NOT_READY, MenuChoice.WORK_READY]


def test_routed_offers_only_reach_ready_agents() -> None:
    offered_from = {s for (s, i) in TRANSITIONS if i is AgentInput.OFFER}
    assert offered_from == {S.READY}


def test_direct_calls_ring_in_every_state_off_a_call() -> None:
    # Table 2 names Ready and Not Ready; a call may ring (or be placed) in wrap-up too (issue 16)
    assert {s for (s, i) in TRANSITIONS if i is AgentInput.DIRECT_RING} == {
        S.READY,
        S.NOT_READY,
        S.WORK_READY,
        S.WORK_NOT_READY,
    }


def test_forced_logout_never_from_a_call() -> None:
    for state in (S.RESERVED, S.TALKING, S.LOGGED_OUT):
        assert next_step(state, AgentInput.FORCED_LOGOUT) is None


def test_every_pair_is_either_in_the_table_or_refused() -> None:
    # The table is total in the sense that next_step answers for every pair.
    for state in AgentState:
        for event in AgentInput:
            step = next_step(state, event)
            assert step is None or isinstance(step, AgentState | Rule)
            assert (step is None) == ((state, event) not in TRANSITIONS)


def test_wrapup_expiry_only_ends_work_ready() -> None:
    assert {s for (s, i) in TRANSITIONS if i is AgentInput.WRAPUP_EXPIRED} == {S.WORK_READY}
    assert next_step(S.WORK_READY, AgentInput.WRAPUP_EXPIRED) is S.READY
