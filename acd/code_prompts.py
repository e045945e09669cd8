"""Which code a short code still needs from the agent, asked for on the same call.

The guide's Reason Code menu appears when the agent picks Not Ready or Logout on a site that
requires a reason; its wrap-up screen appears "after the call ends" when the agent chose Work
Ready / Work Not Ready during a routed call. A short code dialled without the code therefore
does not fail at once: the gateway prompts, collects digits up to `#` and runs the command
with them; only a missing or wrong code after the prompt is refused.
"""

from __future__ import annotations

from enum import StrEnum

from acdgate.acd.agents import AgentView
from acdgate.acd.site import Code, Feature, Policy, Site
from acdgate.acd.states import CHOICE_INPUTS, ON_CALL, AgentInput, AgentState, next_step


class CodeKind(StrEnum):
    """The kind of code a prompt asks for."""

    NOT_READY_REASON = "not-ready-reason"
    LOGOUT_REASON = "logout-reason"
    WRAPUP = "wrap-up"


_WORK = {Feature.WORK_READY: AgentState.WORK_READY, Feature.WORK_NOT_READY: AgentState.WORK_NOT_READY}


def code_to_ask(policy: Policy, feature: Feature, argument: str, agent: AgentView) -> CodeKind | None:
    """The code to prompt for before running `feature` with `argument` for `agent`, or None.

    Only when the site requires that code, none was dialled, and the agent's state accepts
    the command at all (a logout from READY is refused without a prompt). Work (Not) Ready
    while on a call is not asked now: on a routed call the code is owed when it ends.
    """
    if argument:
        return None
    if feature is Feature.NOT_READY and policy.not_ready_reason_required:
        allowed = next_step(agent.state, CHOICE_INPUTS[AgentState.NOT_READY]) is not None
        return CodeKind.NOT_READY_REASON if allowed else None
    if feature is Feature.LOGOUT and policy.logout_reason_required:
        allowed = next_step(agent.state, AgentInput.LOGOUT) is not None
        return CodeKind.LOGOUT_REASON if allowed else None
    if feature in _WORK and policy.wrapup_code_required and agent.state not in ON_CALL:
        allowed = next_step(agent.state, CHOICE_INPUTS[_WORK[feature]]) is not None
        return CodeKind.WRAPUP if allowed else None
    return None


def wrapup_owed(agent: AgentView | None) -> bool:
    """True when the agent owes the wrap-up code of a routed call that has ended: any short
    code from its station asks for it first."""
    return agent is not None and agent.wrapup_owed is not None and agent.state not in ON_CALL


def codes(site: Site, kind: CodeKind) -> tuple[Code, ...]:
    """The codes the site offers for `kind` (what the phone's menu would list)."""
    if kind is CodeKind.NOT_READY_REASON:
        return site.not_ready_reasons
    if kind is CodeKind.LOGOUT_REASON:
        return site.logout_reasons
    return site.wrapup_codes


def parse_keyed_code(site: Site, kind: CodeKind, keyed: str) -> int | None:
    """The code keyed after a prompt (digits, `#` already stripped) when the site has it."""
    if not keyed or not keyed.isascii() or not keyed.isdigit() or len(keyed) > 6:
        return None
    number = int(keyed)
    return number if any(c.code == number for c in codes(site, kind)) else None
