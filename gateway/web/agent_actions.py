"""Supervisor actions on agents over HTTP: `POST /api/agents/<user>/logout|not-ready|ready`
and `POST /api/agents/<user>/groups/<group>`.

`acd.supervisor_actions` turns the request into an engine command (or a 404/400); the ACD
service runs it (its events journaled as every command's are), and a `SupervisorActed`
record says who asked (`by`: the `[http] token_holder`, or "api") and what came of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from acdgate.acd.supervisor_actions import ACTIONS, ActionRefused, outcome, parse_action
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.journal import SupervisorActed
from twisted.logger import Logger

log = Logger(namespace="acdgate.http")


class AgentActions:
    """Runs the API's agent-state actions through the ACD service, journaled with `by`."""

    names: tuple[str, ...] = ACTIONS

    def __init__(self, service: AcdService, by: str) -> None:
        self.service = service
        self.by = by

    def run(self, user_id: str, path: Sequence[str], body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for `POST /api/agents/<user_id>/<path...>`."""
        parsed = parse_action(self.service.acd.site, user_id, path, body)
        if isinstance(parsed, ActionRefused):
            return parsed.status, {"error": parsed.reason}
        events = self.service.execute(parsed.command)
        status, answer = outcome(events)
        command = parsed.command
        self.service.journal([SupervisorActed(
            at=self.service.reactor.seconds(), by=self.by, user_id=user_id, action=parsed.action,
            reason_code=getattr(command, "reason_code", None), group=getattr(command, "group", None),
            status=status, result=str(answer.get("error") or answer.get("result")),
        )])  # fmt: skip
        log.info("API: {by} {action} {user}: {status}", by=self.by, action=parsed.action, user=user_id,
                 status=status)
        answer["by"] = self.by
        return status, answer
