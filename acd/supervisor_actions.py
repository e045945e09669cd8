"""Supervisor actions on agents from the HTTP API: log out, Not Ready, Ready, group membership.

Pure: `parse_action` checks what the request names against the site (unknown agent or group:
404; a malformed body or a code the site does not list: 400) and gives the engine command;
`outcome` reads the engine's events back as (HTTP status, JSON body). The state rules stay
the engine's (`Acd.handle`: logout only from Not Ready, as the IP Phone Agent guide says; no
Ready while logged out ...): a command it refuses is a 409 with the engine's reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acdgate.acd import commands as cmd
from acdgate.acd.events import CommandRejected, Event, MembershipChanged, StateChanged, StatePending
from acdgate.acd.site import Site
from acdgate.acd.states import AgentState

ACTIONS = ("logout", "not-ready", "ready", "groups")


@dataclass(frozen=True, slots=True)
class ActionRefused:
    """Why a request cannot become a command: the HTTP status and the reason."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class AgentAction:
    """A parsed action: the command to run and what to journal about it."""

    command: cmd.Logout | cmd.SetState | cmd.SetMembership
    action: str  # logout | not-ready | ready | group-enable | group-disable


def _code(body: Mapping[str, Any], codes: Sequence[int], family: str, required: bool) -> int | ActionRefused | None:
    """The body's `reason` code: an int the site lists, or None when absent and allowed."""
    value = body.get("reason")
    if value is None:
        return ActionRefused(400, f"a {family} \"reason\" is required by the site") if required else None
    if isinstance(value, bool) or not isinstance(value, int):
        return ActionRefused(400, f"\"reason\" must be a {family} code number")
    if value not in codes:
        listed = ", ".join(str(c) for c in codes) or "none"
        return ActionRefused(400, f"unknown {family} {value} (the site lists {listed})")
    return value


def parse_action(site: Site, user_id: str, path: Sequence[str], body: Mapping[str, Any]) -> AgentAction | ActionRefused:
    """`POST /api/agents/<user_id>/<path...>` with a JSON object `body`, as a command."""
    if site.user(user_id) is None:
        return ActionRefused(404, f"no agent {user_id}")
    action = path[0] if path else ""
    policy = site.policy
    if action == "logout" and len(path) == 1:
        code = _code(body, [c.code for c in site.logout_reasons], "logout reason", policy.logout_reason_required)
        return code if isinstance(code, ActionRefused) else AgentAction(cmd.Logout(user_id, code), "logout")
    if action == "not-ready" and len(path) == 1:
        code = _code(body, [c.code for c in site.not_ready_reasons], "Not Ready reason",
                     policy.not_ready_reason_required)
        if isinstance(code, ActionRefused):
            return code
        return AgentAction(cmd.SetState(user_id, AgentState.NOT_READY, reason_code=code), "not-ready")
    if action == "ready" and len(path) == 1:
        return AgentAction(cmd.SetState(user_id, AgentState.READY), "ready")
    if action == "groups" and len(path) == 2:
        group = site.group(path[1])
        if group is None:
            return ActionRefused(404, f"no group {path[1]}")
        if user_id not in group.members:
            return ActionRefused(404, f"agent {user_id} is not a member of group {path[1]}")
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            return ActionRefused(400, "the body needs \"enabled\": true or false")
        return AgentAction(cmd.SetMembership(user_id, group.number, enabled),
                           "group-enable" if enabled else "group-disable")
    return ActionRefused(404, f"no action {'/'.join(path)!r}; use logout, not-ready, ready or groups/<group>")


def outcome(events: Sequence[Event]) -> tuple[int, dict[str, Any]]:
    """The engine's answer to an action as (HTTP status, JSON body): 409 with its reason when it
    refused, 202 when the choice waits for the agent's call to end, else 200 with the state."""
    for e in events:
        if isinstance(e, CommandRejected):
            return 409, {"error": e.reason}
    for e in events:
        if isinstance(e, StatePending):
            return 202, {"result": f"{e.state.value} when the call ends", "pending": e.state.value}
    states = [e for e in events if isinstance(e, StateChanged)]
    if states:
        return 200, {"result": "done", "state": states[-1].new.value}
    changed = [e for e in events if isinstance(e, MembershipChanged)]
    if changed:
        return 200, {"result": "done", "group": changed[-1].group, "enabled": changed[-1].enabled}
    return 200, {"result": "done"}


__all__ = ["ACTIONS", "ActionRefused", "AgentAction", "outcome", "parse_action"]
