"""Fixtures for the ACD engine tests: small sites built directly in Python."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from acdgate.acd.commands import Login, SetState
from acdgate.acd.engine import Acd
from acdgate.acd.pin import hash_pin
from acdgate.acd.site import Code, Group, GroupMode, Policy, Site, Station, User
from acdgate.acd.states import AgentState

ACD_TEST_PIN = "1234"
_PIN_HASH = hash_pin(ACD_TEST_PIN, salt=b"acd-test")


def acd_station_of(user_id: str) -> str:
    """The home station of a test user: u3 -> 203."""
    return f"2{int(user_id[1:]):02d}"


def acd_test_site(
    groups: Sequence[Group],
    *,
    users: int = 6,
    skills: dict[str, tuple[tuple[str, int], ...]] | None = None,
    policy: Policy | None = None,
) -> Site:
    """Users u1..uN with PIN 1234 and stations 201..20N plus a spare station 299."""
    skills = skills or {}
    user_ids = [f"u{i}" for i in range(1, users + 1)]
    return Site(
        name="test",
        stations=(
            *tuple(Station(acd_station_of(u), f"sip{u}", "pw") for u in user_ids),
            Station("299", "spare", "pw"),
        ),
        users=tuple(User(u, u.upper(), _PIN_HASH, skills=skills.get(u, ())) for u in user_ids),
        groups=tuple(groups),
        not_ready_reasons=(Code(1, "Break"), Code(2, "Paperwork")),
        logout_reasons=(Code(10, "End of shift"),),
        wrapup_codes=(Code(20, "Update customer record"), Code(21, "Log customer call")),
        policy=policy or Policy(),
    )


def acd_group(
    number: str, members: Sequence[str], mode: GroupMode = GroupMode.LINEAR, **kw: object
) -> Group:
    """A group with the given members and mode; keyword arguments override Group fields."""
    return Group(number, f"G{number}", mode, tuple(members), **kw)  # type: ignore[arg-type]


def acd_login_ready(acd: Acd, user_ids: Sequence[str], now: float, ready: bool = True) -> None:
    """Log users on at their home stations, then make them READY (in that order)."""
    for user_id in user_ids:
        acd.handle(Login(user_id, ACD_TEST_PIN, acd_station_of(user_id)), now)
        assert acd.agent(user_id) is not None
    if ready:
        for user_id in user_ids:
            acd.handle(SetState(user_id, AgentState.READY), now)


class AcdKit:
    """The helpers above, handed to tests as the `acd_kit` fixture."""

    pin = ACD_TEST_PIN
    site = staticmethod(acd_test_site)
    group = staticmethod(acd_group)
    login_ready = staticmethod(acd_login_ready)
    station_of = staticmethod(acd_station_of)

    @staticmethod
    def acd(groups: Sequence[Group], **kw: object) -> Acd:
        """An engine for `acd_test_site(groups, **kw)`."""
        return Acd(acd_test_site(groups, **kw))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def acd_kit() -> AcdKit:
    return AcdKit()
