"""IP Office "Force Login" (tip 014): a force-login user logs on with the PIN everywhere; a
user with force_login = false may leave it out at the station it owns only; check-config
names a monitored group's member that is not a force-login user."""

from __future__ import annotations

from acdgate.acd.commands import Login
from acdgate.acd.config import parse_site, site_warnings
from acdgate.acd.engine import Acd
from acdgate.acd.events import LoggedIn, LoginRejected, LoginRejectReason
from acdgate.acd.pin import hash_pin
from acdgate.acd.site import Group, GroupMode, Site, Station, User

PIN = hash_pin("1234", salt=b"force-login")


def site() -> Site:
    return Site(
        name="t",
        stations=(Station("2101", "2101", "pw", agent="3000"), Station("2102", "2102", "pw", agent="3001"),
                  Station("2103", "2103", "pw")),
        users=(User("3000", "Forced", PIN), User("3001", "Free", PIN, force_login=False)),
        groups=(Group("6000", "Sales", GroupMode.LINEAR, ("3000", "3001")),),
    )


def outcome(acd: Acd, user: str, pin: str, station: str) -> LoginRejectReason | None:
    events = acd.handle(Login(user, pin, station), 1.0)
    if any(isinstance(e, LoggedIn) for e in events):
        return None
    [rejected] = [e for e in events if isinstance(e, LoginRejected)]
    return rejected.reason


def test_pin_required_rule() -> None:
    s = site()
    assert s.pin_required("3000", "2101")  # force login: even at the station it owns
    assert not s.pin_required("3001", "2102")  # not force login, its own station
    assert s.pin_required("3001", "2103") and s.pin_required("3001", "2101")  # anywhere else
    assert s.pin_required("9999", "2101")  # unknown users: the PIN path says no


def test_a_force_login_user_needs_the_pin_at_its_own_station() -> None:
    acd = Acd(site())
    assert outcome(acd, "3000", "", "2101") is LoginRejectReason.WRONG_PIN
    assert acd.pin_failures("3000") == 1
    assert outcome(acd, "3000", "1234", "2101") is None


def test_a_user_without_force_login_logs_on_at_its_own_station_without_the_pin() -> None:
    acd = Acd(site())
    assert outcome(acd, "3001", "", "2103") is LoginRejectReason.WRONG_PIN  # not its station
    assert outcome(acd, "3001", "9999", "2102") is LoginRejectReason.WRONG_PIN  # a PIN given is checked
    assert outcome(acd, "3001", "", "2102") is None
    view = acd.agent("3001")
    assert view is not None and view.station == "2102"


def test_check_config_names_monitored_members_that_are_not_force_login_users() -> None:
    s = site()
    assert site_warnings(s) == [(
        "groups[0].members[1]",
        "user 3001 is not a force-login user (force_login = false): the reports cannot follow "
        "this member of monitored group 6000",
    )]
    quiet = Site(name="t", stations=s.stations, users=s.users,
                 groups=(Group("6000", "Sales", GroupMode.COLLECTIVE, ("3000", "3001"), monitored=False),))
    assert site_warnings(quiet) == []


def test_site_file_key_paths_match_the_file() -> None:
    text = """
name = "t"
[[stations]]
extension = "2101"
sip_password = "pw"
[[users]]
id = "3000"
name = "A"
pin = "1234"
[[users]]
id = "3001"
name = "B"
pin = "1234"
force_login = false
[[groups]]
number = "6001"
name = "Other"
mode = "linear"
members = ["3000"]
[[groups]]
number = "6000"
name = "Sales"
mode = "linear"
members = ["3000", "3001"]
"""
    [(key, reason)] = site_warnings(parse_site(text))
    assert key == "groups[1].members[1]" and "3001" in reason and "6000" in reason
