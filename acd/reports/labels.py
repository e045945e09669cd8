"""Code labels for reports: each family of codes labelled from its own table.

Not Ready reasons, logout reasons and wrap-up codes are numbered independently in the site
file (`1` is Break as a Not Ready reason, "Update customer record" as a wrap-up code and
maybe "End of shift" as a logout reason), so a code is only meaningful with its family.
The ACD's own reasons (`SystemReason`, ring-no-answer ...) are Not Ready reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from acdgate.acd.site import Site
from acdgate.acd.states import AgentState, SystemReason


class CodeFamily(StrEnum):
    """Which table a code number belongs to."""

    NOT_READY = "not-ready-reason"
    LOGOUT = "logout-reason"
    WRAPUP = "wrap-up-code"


_WORK = frozenset({AgentState.WORK_READY, AgentState.WORK_NOT_READY})


def family_of(state: AgentState) -> CodeFamily | None:
    """The family of the code a stretch in `state` carries: Not Ready reason, wrap-up code in
    the work states, logout reason for the logged-out state; None for the others."""
    if state is AgentState.NOT_READY:
        return CodeFamily.NOT_READY
    if state in _WORK:
        return CodeFamily.WRAPUP
    if state is AgentState.LOGGED_OUT:
        return CodeFamily.LOGOUT
    return None


@dataclass(frozen=True, slots=True)
class CodeLabels:
    """The three label tables of a site."""

    not_ready: Mapping[int, str]
    logout: Mapping[int, str]
    wrapup: Mapping[int, str]

    @classmethod
    def of_site(cls, site: Site) -> CodeLabels:
        """The site's tables, with the ACD's system reasons among the Not Ready reasons."""
        not_ready = {int(r): r.label for r in SystemReason}
        not_ready.update((c.code, c.label) for c in site.not_ready_reasons)
        return cls(
            not_ready=not_ready,
            logout={c.code: c.label for c in site.logout_reasons},
            wrapup={c.code: c.label for c in site.wrapup_codes},
        )

    def label(self, family: CodeFamily | None, code: int | None) -> str:
        """The code's label in its family; "" without a code, `code N` for a code the site no
        longer lists (a past period re-reported after the site file changed)."""
        if code is None or family is None:
            return ""
        table = {
            CodeFamily.NOT_READY: self.not_ready,
            CodeFamily.LOGOUT: self.logout,
            CodeFamily.WRAPUP: self.wrapup,
        }[family]
        return table.get(code, f"code {code}")
