"""Per-source authentication failure counting: answer, delay, block, unblock, forget."""

from __future__ import annotations

from acdgate.acd.site import SipSettings
from acdgate.gateway.auth.throttle import AuthThrottle, ThrottleAction

HOST = "192.0.2.7"


def test_answer_then_delay_then_block_then_unblock() -> None:
    t = AuthThrottle(3, 6, 120, delay_seconds=1.0, max_delay_seconds=4.0)
    actions = [t.failure(HOST, 10.0 + i) for i in range(7)]
    assert [v.action for v in actions[:3]] == [ThrottleAction.ANSWER] * 3
    assert [v.delay for v in actions[:3]] == [0.0, 0.0, 0.0]
    assert [v.action for v in actions[3:6]] == [ThrottleAction.DELAY] * 3
    assert [v.delay for v in actions[3:6]] == [1.0, 2.0, 4.0]
    assert actions[6].action is ThrottleAction.BLOCK
    blocked_at = 16.0
    assert t.blocked(HOST, blocked_at + 119.9)
    assert t.failure(HOST, blocked_at + 100).action is ThrottleAction.BLOCK
    assert not t.blocked(HOST, blocked_at + 120)
    assert t.failures(HOST) == 0
    assert t.failure(HOST, blocked_at + 121).action is ThrottleAction.ANSWER


def test_delay_is_capped() -> None:
    t = AuthThrottle(0, 100, 60, delay_seconds=1.0, max_delay_seconds=8.0)
    delays = [t.failure(HOST, float(i)).delay for i in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0]


def test_block_expiry_without_blocked_query_starts_afresh() -> None:
    t = AuthThrottle(1, 2, 50)
    for i in range(3):
        t.failure(HOST, float(i))
    assert t.blocked(HOST, 10.0)
    assert t.failure(HOST, 60.0).action is ThrottleAction.ANSWER


def test_sources_are_counted_separately_and_success_clears() -> None:
    t = AuthThrottle(1, 5, 60)
    t.failure(HOST, 0.0)
    assert t.failure("198.51.100.1", 0.0).action is ThrottleAction.ANSWER
    assert t.failure(HOST, 1.0).action is ThrottleAction.DELAY
    t.success(HOST)
    assert t.failures(HOST) == 0
    assert t.failure(HOST, 2.0).action is ThrottleAction.ANSWER


def test_success_does_not_lift_a_block() -> None:
    t = AuthThrottle(0, 0, 60)
    assert t.failure(HOST, 0.0).action is ThrottleAction.BLOCK
    t.success(HOST)
    assert t.blocked(HOST, 30.0)


def test_quiet_source_is_forgotten() -> None:
    t = AuthThrottle(1, 5, 60, forget_seconds=30)
    t.failure(HOST, 0.0)
    assert t.failure(HOST, 31.0).action is ThrottleAction.ANSWER
    assert t.failure(HOST, 32.0).action is ThrottleAction.DELAY


def test_table_is_bounded() -> None:
    t = AuthThrottle(1, 5, 60, max_sources=3)
    for i in range(10):
        t.failure(f"10.0.0.{i}", 0.0)
    assert len(t) == 3
    assert t.failures("10.0.0.9") == 1
    assert t.failures("10.0.0.0") == 0


def test_from_settings_uses_site_thresholds() -> None:
    s = SipSettings(auth_failures_before_delay=2, auth_failures_before_block=3, auth_block_seconds=9)
    t = AuthThrottle.from_settings(s)
    got = [t.failure(HOST, 0.0).action for _ in range(4)]
    assert got == [ThrottleAction.ANSWER, ThrottleAction.ANSWER, ThrottleAction.DELAY, ThrottleAction.BLOCK]
    assert t.blocked(HOST, 8.9)
    assert not t.blocked(HOST, 9.0)


# -- per account: guessing spread over many addresses ---------------------------------------


def test_failures_on_one_account_from_many_sources_hold_it_with_a_growing_delay() -> None:
    t = AuthThrottle(5, 20, 300, account_failures_before_delay=3, account_delay_seconds=1.0,
                     account_max_delay_seconds=8.0)
    for i in range(3):  # three sources, one failure each: no source is slowed
        assert t.failure(f"198.51.100.{i}", 100.0, "2101").action is ThrottleAction.ANSWER
    assert not t.holding(100.0)
    assert not t.account_held("2101", "198.51.100.50", 100.0)
    t.failure("198.51.100.3", 100.0, "2101")  # the 4th: held 1 s
    assert t.account_held("2101", "198.51.100.50", 100.5)
    assert not t.account_held("2101", "198.51.100.50", 101.0)
    t.failure("198.51.100.4", 101.0, "2101")  # the 5th: 2 s, then 4, 8, and 8 at most
    assert t.account_held("2101", "198.51.100.50", 102.9)
    assert not t.account_held("2101", "198.51.100.50", 103.0)
    for at in (103.0, 110.0, 120.0):
        t.failure("198.51.100.5", at, "2101")
    assert t.account_held("2101", "198.51.100.50", 127.9)
    assert not t.account_held("2101", "198.51.100.50", 128.0)
    assert not t.account_held("2102", "198.51.100.50", 121.0)  # other accounts are free
    assert t.account_failures("2101") == 8


def test_a_held_account_is_not_held_for_its_usual_addresses() -> None:
    t = AuthThrottle(5, 20, 300, account_failures_before_delay=0, usual_seconds=3600)
    t.success("192.0.2.10", "2101", 50.0)  # the phone registered from here
    t.failure("198.51.100.1", 100.0, "2101")
    assert t.account_held("2101", "198.51.100.9", 100.0)
    assert not t.account_held("2101", "192.0.2.10", 100.0)  # its usual address
    assert not t.account_held("2101", "192.0.2.77", 100.0, usual=True)  # the caller says so
    assert t.usual("2101", "192.0.2.10", 3650.0) and not t.usual("2101", "192.0.2.10", 3651.0)
    assert t.refused_total == 1 and t.refused_by_account() == [("2101", 1)]


def test_a_success_does_not_reopen_the_guessing_and_the_count_is_forgotten_later() -> None:
    t = AuthThrottle(5, 20, 300, account_failures_before_delay=1, account_forget_seconds=600)
    t.failure("198.51.100.1", 0.0, "2101")
    t.success("192.0.2.10", "2101", 1.0)
    assert t.account_failures("2101") == 1
    t.failure("198.51.100.2", 2.0, "2101")
    assert t.account_held("2101", "198.51.100.3", 2.5)
    t.failure("198.51.100.2", 700.0, "2101")  # 600 s quiet: counted from the start again
    assert t.account_failures("2101") == 1 and not t.holding(700.0)


def test_held_accounts_and_their_count_are_bounded() -> None:
    t = AuthThrottle(5, 20, 300, account_failures_before_delay=0, max_accounts=3)
    for i in range(10):
        t.failure("198.51.100.1", 0.0, f"u{i}")
    assert t.held_accounts(0.5) == 3
    assert t.account_failures("u0") == 0 and t.account_failures("u9") == 1


def test_one_report_per_interval_sums_up_the_attack() -> None:
    t = AuthThrottle(5, 20, 300, account_failures_before_delay=0, report_seconds=60)
    assert t.report(0.0) is None  # nothing happened
    t.failure("198.51.100.1", 10.0, "2101")
    first = t.report(10.0)  # the first after a quiet time: at once
    assert first is not None and (first.failures, first.sources, first.accounts) == (1, 1, ("2101",))
    for i in range(50):
        t.failure(f"198.51.100.{i}", 11.0 + i * 0.1, "2101" if i % 5 else "2102")
        t.account_held("2101", "203.0.113.1", 11.0 + i * 0.1)
        assert t.report(11.0 + i * 0.1) is None  # within the interval: nothing
    assert t.next_report() == 70.0  # 60 s after the last report: the interval's tail is due
    later = t.report(70.0)
    assert later is not None
    # (the first attempt came as the hold from 10.0 ended: 49 refused)
    assert (later.failures, later.refused, later.sources, later.accounts) == (50, 49, 51, ("2101", "2102"))
    assert t.report(80.0) is None and t.next_report() is None


def test_unauthenticated_requests_count_one_failure_in_ten_until_a_success() -> None:
    t = AuthThrottle(1, 2, 60, unauthenticated_per_failure=10)
    for i in range(9):
        assert t.unauthenticated(HOST, float(i)).action is ThrottleAction.ANSWER
    assert t.failures(HOST) == 0
    t.unauthenticated(HOST, 9.0)
    assert t.failures(HOST) == 1
    t.success(HOST)  # a phone's authenticated INVITE clears it
    assert t.failures(HOST) == 0
    verdicts = [t.unauthenticated(HOST, 10.0 + i) for i in range(30)]
    assert verdicts[-1].action is ThrottleAction.BLOCK and t.blocked(HOST, 40.0)
    assert t.unauthenticated(HOST, 41.0).action is ThrottleAction.BLOCK
