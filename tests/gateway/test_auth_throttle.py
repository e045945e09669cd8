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
