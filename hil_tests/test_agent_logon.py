"""Agent logon and logoff scenarios (IP Office logon users; Cisco IP Phone Agent), on every
softphone kind, on a clean and a lossy lab LAN."""

from __future__ import annotations

from acdgate.lab.drivers.base import DtmfMethod, Endpoint, FeatureKey, KeyKind, ObservationKind
from acdgate.lab.inventory import EndpointKind
from conftest import Lab, LabNetwork, kinds

K = ObservationKind


def _pin_method(ep: Endpoint) -> DtmfMethod:
    for m in (DtmfMethod.RFC4733, DtmfMethod.SIP_INFO, DtmfMethod.INBAND):
        if m in ep.dtmf_methods:
            return m
    raise AssertionError(f"{ep.spec.kind.value} sends no DTMF")


def feature(ep: Endpoint, code: str, *, then: str = "", tone: str = "confirmation") -> None:
    """Dial a short code (and maybe key more digits), expect the tone and the gateway's hang-up."""
    obs = ep.call(code, timeout=20)
    assert obs.kind is K.CALL_ANSWERED, f"{code}: {obs}"
    if then:
        ep.send_dtmf(then, _pin_method(ep))
    ep.wait_for(K.CALL_ENDED, 30)
    assert ep.tones()[-1:] == [tone] or tone in ep.tones()[-2:], f"{code}: heard {ep.tones()}"


def logged_on(lab: Lab, user: str, station: str) -> None:
    agent = lab.agent(user)
    assert agent is not None and agent["station"] == station, lab.api("/api/agents")


def test_logon_by_star35(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "*35*3000*1234#")
    logged_on(lab, "3000", ep.spec.station)
    assert lab.agent("3000")["state"] == "NOT_READY"  # type: ignore[index]


def test_logon_by_hash_code_then_pin(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "#3001", then="1234#")
    logged_on(lab, "3001", ep.spec.station)


def test_wrong_pin_is_refused_with_the_error_tone(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "*35*3000*9999#", tone="error")
    assert lab.agent("3000") is None


def test_logoff_by_short_code_shows_no_user(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "*35*3002*1234#")
    feature(ep, "*36")
    assert lab.agent("3002") is None
    assert lab.station(ep.spec.station).get("user") in (None, "", "No User")


def test_logoff_by_programmed_key(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "*35*3003*1234#")
    ep.press_key(FeatureKey(KeyKind.PROGRAMMED, "*36"))
    assert ep.wait_for({K.CALL_ANSWERED, K.CALL_REFUSED}, 20).kind is K.CALL_ANSWERED
    ep.wait_for(K.CALL_ENDED, 30)
    assert lab.agent("3003") is None


def test_ready_and_not_ready_with_reasons_back_to_back(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "*35*3004*1234#")
    feature(ep, "*37")
    assert lab.agent("3004")["state"] == "READY"  # type: ignore[index]
    feature(ep, "*38*2#")
    agent = lab.agent("3004")
    assert agent is not None and (agent["state"], agent["reason_code"]) == ("NOT_READY", 2)
    feature(ep, "*38*3#")
    agent = lab.agent("3004")
    assert agent is not None and (agent["state"], agent["reason_code"]) == ("NOT_READY", 3)
    feature(ep, "*37")
    assert lab.agent("3004")["state"] == "READY"  # type: ignore[index]


def test_wrap_up_with_and_without_data(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    ep = lab.endpoint(kind)
    feature(ep, "*35*3005*1234#")
    # Wrap-up follows a routed call (Cisco IP Phone Agent): outside one, codes with and
    # without valid data are refused with the error tone and the agent stays as it was.
    # With routed calls (later) this scenario gains the in-call wrap-up.
    feature(ep, "*39*1#", tone="error")
    feature(ep, "*40*2#", tone="error")
    feature(ep, "*39*7#", tone="error")  # no wrap-up code 7 on the demo site either
    assert lab.agent("3005")["state"] == "NOT_READY"  # type: ignore[index]
    logged_on(lab, "3005", ep.spec.station)


def test_forced_login_moves_the_agent(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    first = lab.endpoint(kind)
    second = lab.endpoint(kind)
    feature(first, "*35*3006*1234#")
    obs = second.call("*35*3006*1234#", timeout=20)
    assert obs.kind is K.CALL_ANSWERED
    second.send_dtmf("1", _pin_method(second))  # 1 = log the other session out, this one in
    second.wait_for(K.CALL_ENDED, 30)
    assert "confirmation" in second.tones(), second.tones()  # the prompt stops at the first key
    logged_on(lab, "3006", second.spec.station)
    assert lab.station(first.spec.station).get("user") in (None, "", "No User")


@kinds(EndpointKind.SIPP)
def test_logon_by_feature_event_key(lab: Lab, conditions: LabNetwork, kind: EndpointKind) -> None:
    from acdgate.gateway.presence.feature_event_xml import (
        RequestedAgentState,
        SetAgentState,
        build_request,
    )

    ep = lab.endpoint(kind)
    feature(ep, "*35*3007*1234#")
    body = build_request(SetAgentState(RequestedAgentState.READY, device=ep.spec.station)).decode("iso-8859-1")
    ep.press_key(FeatureKey(KeyKind.FEATURE_EVENT, body))
    state = ep.wait_for(K.AGENT_STATE, 30, lambda o: o.data["event"] == "AgentReadyEvent")
    assert state.data["event"] == "AgentReadyEvent"
    assert lab.agent("3007")["state"] == "READY"  # type: ignore[index]
