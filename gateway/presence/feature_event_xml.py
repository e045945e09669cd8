"""BroadSoft "as-feature-event" bodies (`application/x-as-feature-event+xml`): parse and build.

Polycom and Yealink phones synchronise their DND and ACD agent keys with the server through
the BroadWorks Device Key Synchronization package: the phone puts an ECMA-323 (CSTA ed3)
request in a SUBSCRIBE body (`SetAgentState`, `SetDoNotDisturb`) and the server answers with
one event document per NOTIFY (`AgentReadyEvent`, `DoNotDisturbEvent`, ...).

Element names and layout follow what the phones send and parse, as found in:
- Yealink firmware `ACDModel::ReqChangeACDStatus` / `CSyncACDProcess::ProcessXMLInfo`
  (SetAgentState with `device`, `requestedAgentState`, BroadSoft private
  `pri:AgentNotReadyReasonValue` under `extensions/privateData/private`, `agentID`,
  `password`; NOTIFY roots AgentLoggedOnEvent, AgentReadyEvent, AgentNotReadyEvent,
  AgentLoggedOffEvent, AgentWorkingAfterCallEvent; `SetDoNotDisturb/doNotDisturbOn`);
- the AudioCodes WebRTC SDK `BroadsoftFeature` class (same SetAgentState and event roots);
- Asterisk `res_pjsip_features_body_generator.c` (DoNotDisturbEvent with `device` and
  `doNotDisturbOn`; the namespace must be present or Polycom phones reject the document);
- ECMA-323 ed3 for the agent event fields (`agentDevice`, `agentID`).
Pure: no I/O. Untrusted input: documents with a DTD are refused (no entity expansion).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import StrEnum
from xml.sax.saxutils import escape

CONTENT_TYPE = "application/x-as-feature-event+xml"
EVENT_PACKAGE = "as-feature-event"
CSTA_NS = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
PRIVATE_NS = "http://schema.broadsoft.com/CSTAPrivateData"
MAX_BODY = 16384

_XML_DECL = '<?xml version="1.0" encoding="ISO-8859-1"?>\r\n'


class FeatureXmlError(ValueError):
    """A body that is not a feature request we understand (answer 400)."""


class RequestedAgentState(StrEnum):
    """`requestedAgentState` values of ECMA-323 SetAgentState that phones send."""

    LOGGED_ON = "loggedOn"
    LOGGED_OFF = "loggedOff"
    READY = "ready"
    NOT_READY = "notReady"
    WORKING_AFTER_CALL = "workingAfterCall"


class AgentEventKind(StrEnum):
    """The root element of an agent-state NOTIFY body."""

    LOGGED_ON = "AgentLoggedOnEvent"
    LOGGED_OFF = "AgentLoggedOffEvent"
    READY = "AgentReadyEvent"
    NOT_READY = "AgentNotReadyEvent"
    WORKING_AFTER_CALL = "AgentWorkingAfterCallEvent"


@dataclass(frozen=True, slots=True)
class SetAgentState:
    """The phone asks for an agent state (agent_id/password are empty from Yealink/Polycom)."""

    requested: RequestedAgentState
    reason_code: int | None = None
    device: str = ""
    agent_id: str = ""
    password: str = ""


@dataclass(frozen=True, slots=True)
class SetDoNotDisturb:
    """The phone's DND key was pressed."""

    on: bool
    device: str = ""


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """The agent state we tell the phone (reason_code only for NOT_READY)."""

    kind: AgentEventKind
    device: str
    agent_id: str = ""
    reason_code: int | None = None


@dataclass(frozen=True, slots=True)
class DoNotDisturbEvent:
    """The station's DND state."""

    device: str
    on: bool


FeatureRequest = SetAgentState | SetDoNotDisturb
FeatureEvent = AgentEvent | DoNotDisturbEvent


# -- parsing ----------------------------------------------------------------------------------


def _root(body: bytes) -> ET.Element:
    if len(body) > MAX_BODY:
        raise FeatureXmlError("feature body too large")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise FeatureXmlError("feature body with a DTD refused")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise FeatureXmlError(f"feature body is not XML: {exc}") from None
    except (LookupError, ValueError) as exc:  # expat: unknown or multi-byte declared encoding
        raise FeatureXmlError(f"feature body in an encoding we cannot read: {exc}") from None


def _local(tag: str) -> str:
    """`{ns}name` -> `name`: phones differ in how carefully they declare namespaces."""
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _find_path(element: ET.Element, *names: str) -> ET.Element | None:
    node: ET.Element | None = element
    for name in names:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _reason(element: ET.Element) -> int | None:
    node = _find_path(element, "extensions", "privateData", "private", "AgentNotReadyReasonValue")
    if node is None or not (node.text or "").strip():
        return None
    try:
        return int((node.text or "").strip())
    except ValueError:
        raise FeatureXmlError("AgentNotReadyReasonValue is not a number") from None


def _boolean(text: str | None, name: str) -> bool:
    if text is None:
        raise FeatureXmlError(f"missing {name}")
    value = text.lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise FeatureXmlError(f"{name} is not a boolean: {text!r}")


def parse_request(body: bytes) -> FeatureRequest:
    """A SUBSCRIBE body: SetAgentState or SetDoNotDisturb; FeatureXmlError otherwise."""
    root = _root(body)
    name = _local(root.tag)
    if name == "SetAgentState":
        text = _child_text(root, "requestedAgentState")
        if text is None:
            raise FeatureXmlError("SetAgentState without requestedAgentState")
        try:
            requested = RequestedAgentState(text)
        except ValueError:
            raise FeatureXmlError(f"unknown requestedAgentState {text!r}") from None
        return SetAgentState(
            requested=requested,
            reason_code=_reason(root),
            device=_child_text(root, "device") or "",
            agent_id=_child_text(root, "agentID") or "",
            password=_child_text(root, "password") or "",
        )
    if name == "SetDoNotDisturb":
        return SetDoNotDisturb(
            on=_boolean(_child_text(root, "doNotDisturbOn"), "doNotDisturbOn"),
            device=_child_text(root, "device") or "",
        )
    raise FeatureXmlError(f"unsupported feature request {name!r}")


def parse_event(body: bytes) -> FeatureEvent:
    """A NOTIFY body (what a phone reads): for tests and the lab harness."""
    root = _root(body)
    name = _local(root.tag)
    if name == "DoNotDisturbEvent":
        return DoNotDisturbEvent(
            device=_child_text(root, "device") or "",
            on=_boolean(_child_text(root, "doNotDisturbOn"), "doNotDisturbOn"),
        )
    try:
        kind = AgentEventKind(name)
    except ValueError:
        raise FeatureXmlError(f"unsupported feature event {name!r}") from None
    return AgentEvent(
        kind=kind,
        device=_child_text(root, "agentDevice") or "",
        agent_id=_child_text(root, "agentID") or "",
        reason_code=_reason(root),
    )


# -- building ---------------------------------------------------------------------------------


def _private_reason(code: int) -> str:
    return (
        "<extensions><privateData>"
        f'<private xmlns:pri="{PRIVATE_NS}">'
        f"<pri:AgentNotReadyReasonValue>{code}</pri:AgentNotReadyReasonValue>"
        "</private></privateData></extensions>\r\n"
    )


def build_event(event: FeatureEvent) -> bytes:
    """The NOTIFY body for one event (one document per NOTIFY, as BroadWorks phones expect)."""
    if isinstance(event, DoNotDisturbEvent):
        inner = (
            f"<device>{escape(event.device)}</device>\r\n"
            f"<doNotDisturbOn>{'true' if event.on else 'false'}</doNotDisturbOn>\r\n"
        )
        root = "DoNotDisturbEvent"
    else:
        root = event.kind.value
        inner = f"<agentDevice>{escape(event.device)}</agentDevice>\r\n"
        inner += f"<agentID>{escape(event.agent_id)}</agentID>\r\n"
        if event.kind is AgentEventKind.NOT_READY and event.reason_code is not None:
            inner += _private_reason(event.reason_code)
    return f'{_XML_DECL}<{root} xmlns="{CSTA_NS}">\r\n{inner}</{root}>\r\n'.encode("iso-8859-1", "replace")


def build_request(request: FeatureRequest) -> bytes:
    """A SUBSCRIBE body as a phone sends it (Yealink layout): for tests and the lab harness."""
    if isinstance(request, SetDoNotDisturb):
        inner = (
            f"<device>{escape(request.device)}</device>\r\n"
            f"<doNotDisturbOn>{'true' if request.on else 'false'}</doNotDisturbOn>\r\n"
        )
        root = "SetDoNotDisturb"
    else:
        root = "SetAgentState"
        inner = f"<device>{escape(request.device)}</device>\r\n"
        inner += f"<requestedAgentState>{request.requested.value}</requestedAgentState>\r\n"
        if request.reason_code is not None:
            inner += _private_reason(request.reason_code)
        inner += f"<agentID>{escape(request.agent_id)}</agentID>\r\n"
        inner += f"<password>{escape(request.password)}</password>\r\n"
    return f'{_XML_DECL}<{root} xmlns="{CSTA_NS}">\r\n{inner}</{root}>\r\n'.encode("iso-8859-1", "replace")
