"""BroadSoft as-feature-event bodies and RFC 4235 dialog-info bodies: exact names, round trips."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from acdgate.gateway.presence.dialog_info import (
    Dialog,
    DialogInfo,
    DialogInfoError,
    DialogState,
    DialogStates,
    Direction,
    build_dialog_info,
    parse_dialog_info,
)
from acdgate.gateway.presence.feature_event_xml import (
    CSTA_NS,
    PRIVATE_NS,
    AgentEvent,
    AgentEventKind,
    DoNotDisturbEvent,
    FeatureXmlError,
    RequestedAgentState,
    SetAgentState,
    SetDoNotDisturb,
    build_event,
    build_request,
    parse_event,
    parse_request,
)

# As the Yealink firmware builds it (ACDModel::ReqChangeACDStatus), whitespace included.
YEALINK_NOT_READY = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\r\n '
    b'<SetAgentState xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">\r\n '
    b"<device></device>\r\n <requestedAgentState>notReady</requestedAgentState>\r\n "
    b"<extensions>\r\n <privateData>\r\n "
    b'<private xmlns:pri="http://schema.broadsoft.com/CSTAPrivateData">\r\n '
    b"<pri:AgentNotReadyReasonValue>3</pri:AgentNotReadyReasonValue>\r\n </private>\r\n "
    b"</privateData>\r\n </extensions>\r\n <agentID></agentID>\r\n <password></password>\r\n "
    b"</SetAgentState>\r\n"
)
YEALINK_DND = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?><SetDoNotDisturb '
    b'xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">'
    b"<doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>"
)


def test_yealink_set_agent_state_with_reason() -> None:
    assert parse_request(YEALINK_NOT_READY) == SetAgentState(RequestedAgentState.NOT_READY, reason_code=3)


def test_yealink_set_do_not_disturb() -> None:
    assert parse_request(YEALINK_DND) == SetDoNotDisturb(on=True)


@pytest.mark.parametrize("state", list(RequestedAgentState))
def test_set_agent_state_round_trip(state: RequestedAgentState) -> None:
    reason = 2 if state is RequestedAgentState.NOT_READY else None
    request = SetAgentState(state, reason_code=reason, device="2101", agent_id="3000", password="1234")
    body = build_request(request)
    assert parse_request(body) == request
    root = ET.fromstring(body)
    assert root.tag == f"{{{CSTA_NS}}}SetAgentState"
    assert root.find(f"{{{CSTA_NS}}}requestedAgentState") is not None
    assert root.findtext(f"{{{CSTA_NS}}}requestedAgentState") == state.value


@pytest.mark.parametrize("on", [True, False])
def test_dnd_round_trip_and_exact_text(on: bool) -> None:
    body = build_event(DoNotDisturbEvent(device="2101", on=on))
    assert parse_event(body) == DoNotDisturbEvent(device="2101", on=on)
    assert body.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    root = ET.fromstring(body)
    assert root.tag == f"{{{CSTA_NS}}}DoNotDisturbEvent"
    assert root.findtext(f"{{{CSTA_NS}}}device") == "2101"
    assert root.findtext(f"{{{CSTA_NS}}}doNotDisturbOn") == ("true" if on else "false")
    assert parse_request(build_request(SetDoNotDisturb(on, "2101"))) == SetDoNotDisturb(on, "2101")


@pytest.mark.parametrize("kind", list(AgentEventKind))
def test_agent_events_round_trip(kind: AgentEventKind) -> None:
    reason = 2 if kind is AgentEventKind.NOT_READY else None
    event = AgentEvent(kind, "2101", "3000", reason)
    body = build_event(event)
    assert parse_event(body) == event
    root = ET.fromstring(body)
    assert root.tag == f"{{{CSTA_NS}}}{kind.value}"
    private = root.find(f"{{{CSTA_NS}}}extensions/{{{CSTA_NS}}}privateData/{{{CSTA_NS}}}private/"
                        f"{{{PRIVATE_NS}}}AgentNotReadyReasonValue")
    assert (private.text if private is not None else None) == ("2" if reason else None)


def test_not_ready_reason_is_the_broadsoft_private_element_text() -> None:
    body = build_event(AgentEvent(AgentEventKind.NOT_READY, "2101", "3000", 17))
    assert b"<pri:AgentNotReadyReasonValue>17</pri:AgentNotReadyReasonValue>" in body
    assert f'xmlns:pri="{PRIVATE_NS}"'.encode() in body


def test_text_is_escaped() -> None:
    event = AgentEvent(AgentEventKind.READY, "21<01", "a&b")
    assert parse_event(build_event(event)) == event


@pytest.mark.parametrize("body, fragment", [
    (b"not xml", "not XML"),
    (b'<SetAgentState xmlns="x"><requestedAgentState>sleeping</requestedAgentState></SetAgentState>',
     "unknown requestedAgentState"),
    (b"<SetAgentState/>", "without requestedAgentState"),
    (b"<SetDoNotDisturb><doNotDisturbOn>maybe</doNotDisturbOn></SetDoNotDisturb>", "not a boolean"),
    (b"<SetForwarding/>", "unsupported"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><SetDoNotDisturb/>', "DTD"),
    (b"<SetAgentState><requestedAgentState>notReady</requestedAgentState><extensions><privateData>"
     b"<private><AgentNotReadyReasonValue>x</AgentNotReadyReasonValue></private></privateData>"
     b"</extensions></SetAgentState>", "not a number"),
])
def test_bad_requests_say_why(body: bytes, fragment: str) -> None:
    with pytest.raises(FeatureXmlError, match=fragment):
        parse_request(body)


@pytest.mark.parametrize("encoding", ["ISO-8858-1", "Shift_JIS"])
def test_a_declared_encoding_expat_cannot_read_is_a_feature_xml_error(encoding: str) -> None:
    """Found by fuzz/fuzz_feature_event_xml.py (fuzz/corpus/feature_event_xml/crash-unknown-
    encoding.xml): expat's LookupError (unknown) and ValueError (multi-byte) escaped."""
    body = f'<?xml version="1.0" encoding="{encoding}"?><SetDoNotDisturb/>'.encode()
    with pytest.raises(FeatureXmlError, match="encoding we cannot read"):
        parse_request(body)
    with pytest.raises(FeatureXmlError, match="encoding we cannot read"):
        parse_event(body)


def test_dialog_info_round_trip() -> None:
    info = DialogInfo("sip:2101@127.0.0.1", 4, True, (
        Dialog("c1", DialogState.EARLY, "c1", Direction.RECIPIENT, "sip:3000@x"),
        Dialog("c2", DialogState.CONFIRMED, "c2", Direction.INITIATOR),
    ))
    body = build_dialog_info(info)
    assert parse_dialog_info(body) == info
    root = ET.fromstring(body)
    assert root.tag == "{urn:ietf:params:xml:ns:dialog-info}dialog-info"
    assert (root.get("version"), root.get("state"), root.get("entity")) == ("4", "full", "sip:2101@127.0.0.1")


def test_idle_is_a_document_without_dialogs() -> None:
    body = build_dialog_info(DialogInfo("sip:2101@h", 0, True))
    assert b"<dialog " not in body
    assert parse_dialog_info(body).dialogs == ()


def test_dialog_info_refuses_garbage() -> None:
    with pytest.raises(DialogInfoError):
        parse_dialog_info(b"<x/>")


@pytest.mark.parametrize("encoding", ["UTF-6", "EUC-JP"])
def test_dialog_info_in_an_encoding_expat_cannot_read_is_a_dialog_info_error(encoding: str) -> None:
    """Found by fuzz/fuzz_dialog_info.py (fuzz/corpus/dialog_info/crash-unknown-encoding.xml):
    expat's LookupError (unknown) and ValueError (multi-byte) escaped."""
    with pytest.raises(DialogInfoError, match="encoding we cannot read"):
        parse_dialog_info(f'<?xml version="1.0" encoding="{encoding}"?><x/>'.encode())


def test_dialog_states_tell_listeners_of_changes_only() -> None:
    states = DialogStates()
    told: list[str] = []
    states.listeners.append(told.append)
    seen: list[tuple[DialogState, ...]] = []  # what a listener's document would list
    states.listeners.append(lambda ext: seen.append(tuple(d.state for d in states.dialogs(ext))))
    states.set("2101", "early", "c1", "recipient")
    states.set("2101", "early", "c1", "recipient")  # no change
    states.set("2101", "confirmed", "c1", "recipient")
    assert [d.state for d in states.dialogs("2101")] == [DialogState.CONFIRMED]
    states.set("2101", "terminated", "c1")
    states.set("2101", "terminated", "c1")  # already gone
    assert states.dialogs("2101") == ()
    assert told == ["2101", "2101", "2101"]
    # RFC 4235 3.7.1: the end is listed (terminated) while it is told, and only then
    assert seen == [(DialogState.EARLY,), (DialogState.CONFIRMED,), (DialogState.TERMINATED,)]
