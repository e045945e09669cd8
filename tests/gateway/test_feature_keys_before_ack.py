"""Keys a phone presses between our 200 OK and its ACK reach the feature (a lost ACK delays
`answer()` by the 2xx retransmission; the lab's lossy LAN showed PINs and the Forced Login `1`
lost that way)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from acdgate.acd.states import AgentState
from acdgate.codecs.tones import CONFIRMATION_TONE, DIAL_TONE, Cadence
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.short_code_calls import FeatureHandler, Outcome
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from twisted.internet import defer, task


class SlowAckLeg:
    """A leg whose `answer()` fires only when the test delivers the ACK."""

    def __init__(self, station: str, dialled: str) -> None:
        self.station = station
        self.dialled = dialled
        self.on_digit: Callable[[str, str], None] | None = None
        self.on_ended: Callable[[EndReason], None] | None = None
        self.ack: defer.Deferred[None] = defer.Deferred()
        self.tones: list[Cadence] = []
        self.hung_up = False

    has_media = True
    media_problem = ""

    def answer(self) -> defer.Deferred[None]:
        return self.ack

    def refuse(self, refusal: Refusal) -> None:
        raise AssertionError(f"refused {refusal}")

    def play_tone(self, cadence: Cadence, duration_ms: int) -> defer.Deferred[None]:
        self.tones.append(cadence)
        return defer.succeed(None)

    def play_samples(self, samples: object) -> defer.Deferred[None]:
        raise AssertionError("no spoken prompt on this site")

    def stop_playing(self) -> None:
        pass

    def hangup(self) -> None:
        self.hung_up = True

    def press(self, keys: str) -> None:
        for key in keys:
            assert self.on_digit is not None, f"nobody listens for {key!r}"
            self.on_digit(key, "rfc4733")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[task.Clock, AcdService, FeatureHandler]]:
    clock = task.Clock()
    clock.advance(1_800_000_000)
    site = load_site(None)
    service = AcdService(clock, site, StateStore(tmp_path / "state"))
    yield clock, service, FeatureHandler(clock, site, service)
    service.stop()
    service.store.close()


def outcome_of(d: defer.Deferred[Outcome | None]) -> Outcome:
    results: list[object] = []
    d.addBoth(results.append)
    assert results and isinstance(results[0], Outcome), results
    return results[0]


def test_pin_keyed_before_the_ack_logs_on(world: tuple[task.Clock, AcdService, FeatureHandler]) -> None:
    _clock, service, handler = world
    leg = SlowAckLeg("2101", "#3000")
    d = handler.run(leg, handler.match(leg.dialled))
    leg.press("1234#")  # the phone has our 200 OK; its ACK is lost and comes 0.5 s later
    assert not d.called
    leg.ack.callback(None)
    outcome = outcome_of(d)
    assert outcome.ok, outcome
    assert leg.tones == [CONFIRMATION_TONE]  # no dial-tone prompt: the keys came first
    agent = service.acd.agent("3000")
    assert agent is not None and agent.station == "2101" and agent.state is AgentState.NOT_READY


def test_forced_login_key_before_the_ack(world: tuple[task.Clock, AcdService, FeatureHandler]) -> None:
    _clock, service, handler = world
    first = SlowAckLeg("2101", "*35*3000*1234#")
    d = handler.run(first, handler.match(first.dialled))
    first.ack.callback(None)
    assert outcome_of(d).ok
    second = SlowAckLeg("2102", "*35*3000*1234#")
    d = handler.run(second, handler.match(second.dialled))
    second.press("1")  # keyed as the Forced Login prompt would start
    second.ack.callback(None)
    assert outcome_of(d).ok
    assert second.tones == [CONFIRMATION_TONE]
    agent = service.acd.agent("3000")
    assert agent is not None and agent.station == "2102"


def test_keys_are_still_collected_one_by_one_after_the_prompt(
        world: tuple[task.Clock, AcdService, FeatureHandler]) -> None:
    clock, _service, handler = world
    leg = SlowAckLeg("2101", "#3000")
    d = handler.run(leg, handler.match(leg.dialled))
    leg.ack.callback(None)
    assert leg.tones == [DIAL_TONE]
    leg.press("12")
    clock.advance(4.0)  # less than the inter-digit timeout
    leg.press("34")
    clock.advance(6.0)  # no `#`: the timeout ends the PIN
    assert outcome_of(d).ok
    assert leg.on_digit is None and leg.on_ended is None  # released when the feature ended


def test_hang_up_before_the_ack_with_keys_queued_aborts(
        world: tuple[task.Clock, AcdService, FeatureHandler]) -> None:
    _clock, service, handler = world
    leg = SlowAckLeg("2101", "#3000")
    d = handler.run(leg, handler.match(leg.dialled))
    leg.press("12")
    assert leg.on_ended is not None
    leg.on_ended(EndReason.REMOTE_HANGUP)
    leg.ack.callback(None)  # the ACK still comes (a late retransmission answered)
    results: list[object] = []
    d.addBoth(results.append)
    assert results == [None]
    agent = service.acd.agent("3000")
    assert agent is None or agent.state is AgentState.LOGGED_OUT
    assert leg.tones == []  # neither prompt nor error tone to a leg that has gone
