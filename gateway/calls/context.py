"""What the call controllers (direct calls, routed calls) share: the gateway's parts a call uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acdgate.acd.site import Site
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.legs.registry import LegRegistry
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.presence.dialog_info import DialogStates
from acdgate.gateway.sip.registrar import Registrar
from acdgate.gateway.sip.stack import SipStack


@dataclass(frozen=True, slots=True)
class CallContext:
    """The reactor, the site and ACD, where stations registered, the SIP stack, the RTP ports
    and address, (optionally) the stations' call states for busy lamp fields, and the live
    legs, where each controller registers the legs it owns (one registry per context)."""

    reactor: Any
    site: Site
    acd: AcdService
    registrar: Registrar
    stack: SipStack
    ports: RtpPortPool
    bind_ip: str
    dialog_states: DialogStates | None = None
    legs: LegRegistry = field(default_factory=LegRegistry)


class CallContextUser:
    """Base of a call controller: the context's parts as attributes (`self.stack`, ...)."""

    def __init__(self, context: CallContext) -> None:
        self.context = context
        self.reactor = context.reactor
        self.site = context.site
        self.acd = context.acd
        self.registrar = context.registrar
        self.stack = context.stack
        self.ports = context.ports
        self.bind_ip = context.bind_ip
        self.dialog_states = context.dialog_states
        self.legs = context.legs
