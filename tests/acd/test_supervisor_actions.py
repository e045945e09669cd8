"""The API's supervisor actions on agents (acd.supervisor_actions) against a real engine: what a
request becomes (404 for an unknown agent or group, 400 for a bad body), and the engine's
answer as a status (409 with its reason when the agent's state does not allow it)."""

from __future__ import annotations

from typing import Any

import pytest
from acdgate.acd import commands as cmd
from acdgate.acd.engine import Acd
from acdgate.acd.pin import hash_pin
from acdgate.acd.site import Code, Group, GroupMode, Policy, Site, Station, User
from acdgate.acd.states import AgentState
from acdgate.acd.supervisor_actions import ActionRefused, AgentAction, outcome, parse_action

PIN = "1234"


def site(policy: Policy | None = None) -> Site:
    pin = hash_pin(PIN, salt=b"actions")
    return Site(
        name="actions",
        stations=(Station("201", "s201", "pw"),),
        users=(User("u1", "U1", pin), User("u2", "U2", pin)),
        groups=(Group("600", "G600", GroupMode.LINEAR, ("u1",)), Group("601", "G601", GroupMode.LINEAR, ("u2",))),
        not_ready_reasons=(Code(1, "Break"),),
        logout_reasons=(Code(10, "End of shift"),),
        policy=policy or Policy(),
    )


def act(acd: Acd, path: list[str], body: dict[str, Any], user: str = "u1") -> tuple[int, dict[str, Any]]:
    parsed = parse_action(acd.site, user, path, body)
    if isinstance(parsed, ActionRefused):
        return parsed.status, {"error": parsed.reason}
    return outcome(acd.handle(parsed.command, 100.0))


@pytest.fixture
def acd() -> Acd:
    engine = Acd(site())
    engine.handle(cmd.Login("u1", PIN, "201"), 1.0)  # Not Ready after logon
    return engine


def test_requests_become_commands() -> None:
    s = site()
    assert parse_action(s, "u1", ["logout"], {"reason": 10}) == AgentAction(cmd.Logout("u1", 10), "logout")
    assert parse_action(s, "u1", ["not-ready"], {"reason": 1}) == AgentAction(
        cmd.SetState("u1", AgentState.NOT_READY, reason_code=1), "not-ready")
    assert parse_action(s, "u1", ["not-ready"], {}) == AgentAction(cmd.SetState("u1", AgentState.NOT_READY),
                                                                   "not-ready")
    assert parse_action(s, "u1", ["ready"], {}) == AgentAction(cmd.SetState("u1", AgentState.READY), "ready")
    assert parse_action(s, "u1", ["groups", "600"], {"enabled": False}) == AgentAction(
        cmd.SetMembership("u1", "600", False), "group-disable")


@pytest.mark.parametrize(("user", "path", "body", "status", "reason"), [
    ("u9", ["ready"], {}, 404, "no agent u9"),
    ("u1", ["groups", "699"], {"enabled": True}, 404, "no group 699"),
    ("u1", ["groups", "601"], {"enabled": True}, 404, "agent u1 is not a member of group 601"),
    ("u1", ["dance"], {}, 404, "no action 'dance'; use logout, not-ready, ready or groups/<group>"),
    ("u1", ["groups", "600"], {}, 400, 'the body needs "enabled": true or false'),
    ("u1", ["groups", "600"], {"enabled": "no"}, 400, 'the body needs "enabled": true or false'),
    ("u1", ["not-ready"], {"reason": "1"}, 400, '"reason" must be a Not Ready reason code number'),
    ("u1", ["not-ready"], {"reason": True}, 400, '"reason" must be a Not Ready reason code number'),
    ("u1", ["not-ready"], {"reason": 7}, 400, "unknown Not Ready reason 7 (the site lists 1)"),
    ("u1", ["logout"], {"reason": 1}, 400, "unknown logout reason 1 (the site lists 10)"),
])  # fmt: skip
def test_bad_requests(user: str, path: list[str], body: dict[str, Any], status: int, reason: str) -> None:
    assert parse_action(site(), user, path, body) == ActionRefused(status, reason)


def test_a_reason_the_site_requires() -> None:
    strict = site(Policy(logout_reason_required=True, not_ready_reason_required=True))
    assert parse_action(strict, "u1", ["logout"], {}) == ActionRefused(
        400, 'a logout reason "reason" is required by the site')
    assert parse_action(strict, "u1", ["not-ready"], {}) == ActionRefused(
        400, 'a Not Ready reason "reason" is required by the site')


def test_logout_only_from_not_ready(acd: Acd) -> None:
    assert act(acd, ["ready"], {}) == (200, {"result": "done", "state": "ready"})
    # the guide: log out from Not Ready only; the engine's refusal is a conflict
    assert act(acd, ["logout"], {"reason": 10}) == (409, {"error": "logout not allowed in ready"})
    assert act(acd, ["not-ready"], {"reason": 1}) == (200, {"result": "done", "state": "not-ready"})
    assert act(acd, ["logout"], {"reason": 10}) == (200, {"result": "done", "state": "logged-out"})
    assert act(acd, ["ready"], {}) == (409, {"error": "not logged in"})
    assert act(acd, ["logout"], {}) == (409, {"error": "not logged in"})


def test_a_choice_while_talking_waits_for_the_call(acd: Acd) -> None:
    acd.handle(cmd.SetState("u1", AgentState.READY), 2.0)
    acd.handle(cmd.CallArrived("c1", "600"), 3.0)
    acd.handle(cmd.CallAnswered("c1", "u1"), 4.0)
    assert act(acd, ["not-ready"], {"reason": 1}) == (202, {"result": "not-ready when the call ends",
                                                             "pending": "not-ready"})
    assert act(acd, ["logout"], {}) == (409, {"error": "logout not allowed in talking"})


def test_group_membership(acd: Acd) -> None:
    assert act(acd, ["groups", "600"], {"enabled": False}) == (200, {"result": "done", "group": "600",
                                                                     "enabled": False})
    assert acd.agent("u1").disabled_groups == ("600",)  # type: ignore[union-attr]
    assert act(acd, ["groups", "600"], {"enabled": True})[0] == 200
    assert acd.agent("u1").disabled_groups == ()  # type: ignore[union-attr]
