"""The feature handler's flows on an in-memory leg with a fake clock (no sockets).

The SIP leg is tested end to end with SIPp elsewhere; here every branch of the flows is
driven key by key: complete codes, codes that need more digits, PIN collection, the Forced
Login menu, timeouts, hang-ups, and refusals when the phone offered no usable media.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from acdgate.acd.commands import Login, SetState
from acdgate.acd.states import AgentState
from acdgate.codecs.tones import CONFIRMATION_TONE, ERROR_TONE, Cadence
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.short_code_calls import FORCED_LOGIN_PROMPT, FeatureHandler, Outcome
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.media.session import Samples
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure


class MemoryLeg:
    """A leg that records what the handler did to it; the test presses its keys."""

    def __init__(self, station: str | None, dialled: str, *, media: bool = True) -> None:
        self.station = station
        self.dialled = dialled
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self._media = media
        self.log: list[str] = []
        self.tones: list[Cadence] = []
        self.spoken: list[int] = []  # lengths of the spoken prompts played
        self.playing: defer.Deferred[None] | None = None  # the spoken prompt until it ends
        self.refusal: Refusal | None = None
        self.hung_up = False

    @property
    def has_media(self) -> bool:
        return self._media

    @property
    def media_problem(self) -> str:
        return "" if self._media else "No common codec"

    def answer(self) -> defer.Deferred[None]:
        self.log.append("answer")
        return defer.succeed(None)

    def refuse(self, refusal: Refusal) -> None:
        self.log.append(f"refuse {refusal.status}")
        self.refusal = refusal

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        self.tones.append(cadence)
        self.log.append("tone")
        return defer.succeed(None)

    def play_samples(self, samples: Samples) -> defer.Deferred[None]:
        self.spoken.append(len(samples))
        self.log.append("spoken")
        self.playing = defer.Deferred()
        return self.playing

    def stop_playing(self) -> None:
        self.log.append("stop")
        playing, self.playing = self.playing, None
        if playing is not None:
            playing.callback(None)

    def hangup(self) -> None:
        self.log.append("hangup")
        self.hung_up = True

    def press(self, keys: str, method: str = "rfc4733") -> None:
        for key in keys:
            assert self.on_digit is not None, f"nobody listens for {key!r}; log {self.log}"
            self.on_digit(key, method)

    def caller_hangs_up(self) -> None:
        assert self.on_ended is not None
        self.on_ended(EndReason.REMOTE_HANGUP)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[task.Clock, AcdService, FeatureHandler]]:
    clock = task.Clock()
    clock.advance(1_800_000_000)
    site = load_site(None)
    service = AcdService(clock, site, StateStore(tmp_path / "state"))
    yield clock, service, FeatureHandler(clock, site, service)
    service.stop()
    service.store.close()


def dial(handler: FeatureHandler, leg: MemoryLeg) -> defer.Deferred[Outcome | None]:
    match = handler.match(leg.dialled)
    return handler.run(leg, match)


def result_of(d: defer.Deferred[Outcome | None]) -> Outcome:
    results: list[object] = []
    d.addBoth(results.append)
    assert results, "the flow has not finished"
    outcome = results[0]
    assert isinstance(outcome, Outcome), outcome
    return outcome


def state_of(service: AcdService, user: str) -> AgentState | None:
    agent = service.acd.agent(user)
    return None if agent is None else agent.state


def test_complete_login_code_answers_confirms_and_hangs_up(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    leg = MemoryLeg("2101", "*35*3000*1234#")
    outcome = result_of(dial(handler, leg))
    assert outcome.ok
    assert leg.log == ["answer", "tone", "hangup"] and leg.tones == [CONFIRMATION_TONE]
    assert state_of(service, "3000") is AgentState.NOT_READY
    journal = list(service.store.journal(kinds=["FeatureUsed"]))
    assert journal[-1]["dialled"] == "*35*3000*xxxx#" and journal[-1]["ok"] is True


def test_wrong_pin_plays_error_tone_and_four_lock_the_user(world) -> None:  # type: ignore[no-untyped-def]
    clock, _service, handler = world
    for _ in range(4):
        leg = MemoryLeg("2101", "*35*3000*9999#")
        outcome = result_of(dial(handler, leg))
        assert not outcome.ok and outcome.status == 403
        assert leg.tones == [ERROR_TONE] and leg.hung_up
    leg = MemoryLeg("2101", "*35*3000*1234#")  # right PIN, but locked now
    outcome = result_of(dial(handler, leg))
    assert not outcome.ok and "locked" in outcome.reason.lower()
    clock.advance(91)  # the lockout ends on the engine's timer
    leg = MemoryLeg("2101", "*35*3000*1234#")
    assert result_of(dial(handler, leg)).ok


def test_per_user_code_collects_the_pin_ended_by_hash(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    leg = MemoryLeg("2102", "#3001")
    d = dial(handler, leg)
    assert leg.log == ["answer", "tone"]  # prompt playing, waiting for digits
    leg.press("1234#", method="info")
    outcome = result_of(d)
    assert outcome.ok and state_of(service, "3001") is AgentState.NOT_READY
    assert service.acd.agent("3001").station == "2102"  # type: ignore[union-attr]


def test_partial_code_collects_the_rest_key_by_key(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    leg = MemoryLeg("2103", "*35")
    d = dial(handler, leg)
    leg.press("*3002*1234#")
    assert result_of(d).ok and state_of(service, "3002") is AgentState.NOT_READY


def test_inter_digit_timeout_ends_collection(world) -> None:  # type: ignore[no-untyped-def]
    clock, _service, handler = world
    leg = MemoryLeg("2104", "#3003")
    d = dial(handler, leg)
    leg.press("12")
    clock.advance(5.1)
    outcome = result_of(d)
    assert not outcome.ok and outcome.status == 403  # "12" is a wrong PIN
    assert leg.tones[-1] == ERROR_TONE


def test_caller_hanging_up_while_we_wait_ends_the_flow_quietly(world) -> None:  # type: ignore[no-untyped-def]
    clock, service, handler = world
    leg = MemoryLeg("2104", "#3003")
    d = dial(handler, leg)
    leg.caller_hangs_up()
    results: list[object] = []
    d.addBoth(results.append)
    assert results == [None]
    assert leg.hung_up
    last = list(service.store.journal(kinds=["FeatureUsed"]))[-1]
    assert (last["ok"], last["reason"], last["status"]) == (False, "Caller hung up", 487)
    assert [c for c in clock.getDelayedCalls() if c.func.__name__ == "settle"] == []


def test_state_codes_and_reason_codes(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    assert result_of(dial(handler, MemoryLeg("2101", "*35*3000*1234#"))).ok
    assert result_of(dial(handler, MemoryLeg("2101", "*37"))).ok
    assert state_of(service, "3000") is AgentState.READY
    refused = result_of(dial(handler, MemoryLeg("2101", "*36")))  # logout only from Not Ready
    assert not refused.ok and refused.status == 403
    assert result_of(dial(handler, MemoryLeg("2101", "*38*2#"))).ok
    assert service.acd.agent("3000").reason_code == 2  # type: ignore[union-attr]
    unknown = result_of(dial(handler, MemoryLeg("2101", "*38*9#")))
    assert not unknown.ok and unknown.status == 404
    assert result_of(dial(handler, MemoryLeg("2101", "*36"))).ok
    assert state_of(service, "3000") in (None, AgentState.LOGGED_OUT)
    nobody = result_of(dial(handler, MemoryLeg("2101", "*37")))
    assert not nobody.ok and "No user" in nobody.reason


def test_forced_login_menu_one_forces_two_cancels(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    assert result_of(dial(handler, MemoryLeg("2101", "*35*3000*1234#"))).ok
    leg = MemoryLeg("2102", "*35*3000*1234#")  # user in use at 2101
    d = dial(handler, leg)
    assert leg.tones == [FORCED_LOGIN_PROMPT]
    leg.press("2")
    outcome = result_of(d)
    assert not outcome.ok and "cancelled" in outcome.reason
    assert service.acd.agent("3000").station == "2101"  # type: ignore[union-attr]
    leg = MemoryLeg("2102", "*35*3000*1234#")
    d = dial(handler, leg)
    leg.press("1")
    assert result_of(d).ok
    assert service.acd.agent("3000").station == "2102"  # type: ignore[union-attr]
    assert service.acd.agent_at_station("2101") is None  # "No User"


def test_forced_login_refused_while_the_other_session_talks(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    assert result_of(dial(handler, MemoryLeg("2101", "*35*3000*1234#"))).ok
    service.execute(SetState("3000", AgentState.READY))
    from acdgate.acd.commands import CallAnswered, CallArrived

    service.execute(CallArrived("c1", "6000", ani="2301", dnis="6000"))
    service.execute(CallAnswered("c1", "3000"))
    assert state_of(service, "3000") is AgentState.TALKING
    leg = MemoryLeg("2102", "*35*3000*1234#")
    d = dial(handler, leg)
    leg.press("1")
    outcome = result_of(d)
    assert not outcome.ok and outcome.status == 486
    assert leg.tones[-1] == ERROR_TONE


def test_no_usable_media_refuses_with_the_reason(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    wrong = MemoryLeg("2101", "*35*3000*9999#", media=False)
    result_of(dial(handler, wrong))
    assert wrong.refusal is not None and wrong.refusal.status == 403 and "pin" in wrong.refusal.reason.lower()
    unknown = MemoryLeg("2101", "*35*3999*1234#", media=False)
    result_of(dial(handler, unknown))
    assert unknown.refusal is not None and unknown.refusal.status == 404
    ok = MemoryLeg("2101", "*35*3000*1234#", media=False)
    result_of(dial(handler, ok))
    assert ok.refusal is not None and ok.refusal.status == 488 and "No common codec" in ok.refusal.reason
    assert state_of(service, "3000") is AgentState.NOT_READY  # the feature itself was done
    busy = MemoryLeg("2102", "*35*3000*1234#", media=False)
    result_of(dial(handler, busy))
    assert busy.refusal is not None and busy.refusal.status == 486
    collect = MemoryLeg("2103", "#3001", media=False)
    result_of(dial(handler, collect))
    assert collect.refusal is not None and collect.refusal.status == 488


def test_login_is_journaled_with_the_pin_masked(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    result_of(dial(handler, MemoryLeg("2101", "*35*3000*9999#")))
    records = list(service.store.journal(kinds=["FeatureUsed"]))
    assert records and "9999" not in str(records) and records[-1]["status"] == 403


def test_unmatched_logins_do_not_touch_other_users(world) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    service.execute(Login("3005", "1234", "2106"))
    result_of(dial(handler, MemoryLeg("2101", "*35*3000*1234#")))
    assert service.acd.agent("3005").station == "2106"  # type: ignore[union-attr]


# -- a bug in a feature's code is not a caller hanging up -----------------------------------


class BuggyCallFeatures:
    """Call features (CallFeatures) with a bug in every method, as a typo would leave one."""

    def agent_recording(self, user_id: str, start: bool) -> str | None:
        return {}[user_id]  # type: ignore[no-any-return]

    def check(self, supervisor: str, target: str) -> Refusal | None:
        return {}[target]  # type: ignore[no-any-return]

    def join(self, leg: object, supervisor: str, target: str, feature: object) -> Refusal | None:
        raise AssertionError("not reached: check fails first")


class LegEndingBeforeTheAck(MemoryLeg):
    """The caller hangs up after our 200 OK, before the ACK: `answer()` fails as a SIP leg's does."""

    def answer(self) -> defer.Deferred[None]:
        self.log.append("answer")
        self.caller_hangs_up()
        return defer.fail(ConnectionError("leg ended: remote-hangup"))


@pytest.fixture
def logged() -> Iterator[list[dict[str, object]]]:
    """The log events emitted meanwhile."""
    events: list[dict[str, object]] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def _failures(events: list[dict[str, object]]) -> list[Failure]:
    return [e["log_failure"] for e in events if isinstance(e.get("log_failure"), Failure)]  # type: ignore[misc]


def test_a_bug_before_the_answer_is_logged_with_its_traceback_and_refused_500(  # type: ignore[no-untyped-def]
        world, logged) -> None:
    clock, service, _handler = world
    handler = FeatureHandler(clock, load_site(None), service, call_features=BuggyCallFeatures())
    service.execute(Login("3000", "1234", "2101"))
    leg = MemoryLeg("2101", "*43")
    results: list[object] = []
    dial(handler, leg).addBoth(results.append)
    assert results == [None]
    assert leg.log == ["refuse 500", "hangup"] and leg.refusal is not None and leg.refusal.status == 500
    (failure,) = _failures(logged)
    assert failure.check(KeyError) and "agent_recording" in failure.getTraceback()
    last = list(service.store.journal(kinds=["FeatureUsed"]))[-1]
    assert (last["ok"], last["status"]) == (False, 500) and last["reason"].startswith("Internal error")


def test_a_bug_after_the_answer_is_logged_and_the_caller_hears_the_error_tone(  # type: ignore[no-untyped-def]
        world, logged) -> None:
    clock, service, _handler = world
    handler = FeatureHandler(clock, load_site(None), service, call_features=BuggyCallFeatures())
    service.execute(Login("3000", "1234", "2101"))
    leg = MemoryLeg("2101", "*45")  # the supervisor dials the agent's number after the prompt
    results: list[object] = []
    dial(handler, leg).addBoth(results.append)
    leg.press("*3001#")
    assert results == [None]
    assert leg.log[0] == "answer" and leg.log[-2:] == ["tone", "hangup"] and leg.tones[-1] == ERROR_TONE
    (failure,) = _failures(logged)
    assert failure.check(KeyError) and "check" in failure.getTraceback()
    last = list(service.store.journal(kinds=["FeatureUsed"]))[-1]
    assert (last["ok"], last["status"], last["feature"]) == (False, 500, "monitor")
    assert handler.active == set()


def test_a_caller_gone_before_the_ack_is_a_hang_up_not_a_bug(world, logged) -> None:  # type: ignore[no-untyped-def]
    _clock, service, handler = world
    leg = LegEndingBeforeTheAck("2101", "*35*3000*1234#")
    results: list[object] = []
    dial(handler, leg).addBoth(results.append)
    assert results == [None] and leg.tones == []
    assert _failures(logged) == []
    last = list(service.store.journal(kinds=["FeatureUsed"]))[-1]
    assert (last["ok"], last["reason"], last["status"]) == (False, "Caller hung up", 487)


def test_a_spoken_prompt_replaces_the_tone_and_the_timeout_starts_when_it_ends(tmp_path: Path) -> None:
    """Issue 16: where the site has audio for the reason prompt it is spoken instead of the
    tone; the inter-digit timeout counts from its end, and a key stops it."""
    import dataclasses

    import numpy as np

    clock = task.Clock()
    clock.advance(1_800_000_000)
    demo = load_site(None)
    site = dataclasses.replace(demo, policy=dataclasses.replace(demo.policy, not_ready_reason_required=True))
    service = AcdService(clock, site, StateStore(tmp_path / "state"))
    try:
        spoken = np.zeros(8000 * 10, dtype=np.int16)  # ten seconds: longer than the timeout
        handler = FeatureHandler(clock, site, service, reason_prompt={None: spoken})
        assert result_of(dial(handler, MemoryLeg("2101", "*35*3000*1234#"))).ok
        assert result_of(dial(handler, MemoryLeg("2101", "*37"))).ok
        # the prompt is still speaking after the inter-digit time: no timeout yet
        leg = MemoryLeg("2101", "*38")
        d = dial(handler, leg)
        assert leg.log == ["answer", "spoken"] and leg.spoken == [len(spoken)] and leg.tones == []
        clock.advance(site.policy.inter_digit_seconds + 1)
        assert not d.called
        # it ends: now the timeout runs, and no code is a refusal
        assert leg.playing is not None
        leg.playing.callback(None)
        clock.advance(site.policy.inter_digit_seconds + 0.1)
        outcome = result_of(d)
        assert not outcome.ok and outcome.reason == "No reason code entered after the prompt"
        assert leg.tones == [ERROR_TONE] and state_of(service, "3000") is AgentState.READY
        # a key while it speaks stops it, and the code is taken
        leg = MemoryLeg("2101", "*38")
        d = dial(handler, leg)
        leg.press("2")
        assert leg.log[-1] == "stop" and leg.playing is None
        leg.press("#")
        assert result_of(d).ok and leg.tones == [CONFIRMATION_TONE]
        agent = service.acd.agent("3000")
        assert agent is not None and agent.state is AgentState.NOT_READY and agent.reason_code == 2
        assert not clock.getDelayedCalls() or all(c.getTime() > clock.seconds() + 60
                                                  for c in clock.getDelayedCalls())
    finally:
        service.stop()
        service.store.close()
