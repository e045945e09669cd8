"""Feature key synchronisation (BroadSoft as-feature-event) and busy lamp fields (RFC 4235).

`FeatureSync` serves SUBSCRIBE for two event packages:

- `as-feature-event`: a station's own ACD agent keys and DND key (Polycom, Yealink). The
  phone subscribes to its own AOR; re-SUBSCRIBEs carry `SetAgentState` or
  `SetDoNotDisturb`, which become ACD commands for the agent logged on at the station (or
  the station's DND flag). Every agent state change, whatever caused it (short code, menu,
  API, routing, ring-no-answer), reaches every subscription of the station through
  `AcdService.listeners`.
- `dialog`: busy lamp fields. Any authenticated station may watch a station's extension;
  the call states come from `DialogStates`, which the call layer feeds.

NOTIFYs are client transactions through `SipStack.send_request`, one in flight per
subscription (the next waits for the answer, so they arrive in CSeq order); a NOTIFY
answered 481 or timing out ends the subscription (RFC 6665 4.2.2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acdgate.acd.code_prompts import wrapup_owed
from acdgate.acd.commands import Command, Login, Logout, SetState
from acdgate.acd.events import Event, LoggedIn, LoggedOut, StateChanged, StatePending
from acdgate.acd.login_names import LoginDirectory
from acdgate.acd.site import Site
from acdgate.acd.states import ON_CALL, AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.presence import dialog_info, feature_event_xml
from acdgate.gateway.presence.dialog_info import DialogInfo, DialogStates, build_dialog_info
from acdgate.gateway.presence.feature_event_xml import (
    AgentEvent,
    AgentEventKind,
    DoNotDisturbEvent,
    FeatureRequest,
    FeatureXmlError,
    RequestedAgentState,
    SetAgentState,
    SetDoNotDisturb,
    build_event,
    parse_request,
)
from acdgate.gateway.sip.message import (
    Request,
    Response,
    SipSyntaxError,
    parse_name_addr,
    parse_uri,
)
from acdgate.gateway.sip.service import USER_AGENT, SipService
from acdgate.gateway.sip.stack import Incoming, SipStack, TransactionFailed
from acdgate.gateway.sip.subscription import (
    DialogKey,
    ExpiresPolicy,
    SubInput,
    SubscribeOutcome,
    Subscription,
    SubscriptionError,
    SubscriptionTable,
    SubState,
    TerminationReason,
    event_type,
)
from acdgate.gateway.storage.store import StateStore
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

log = Logger(namespace="acdgate.features")

FEATURE = feature_event_xml.EVENT_PACKAGE
DIALOG = dialog_info.EVENT_PACKAGE
ALLOW_EVENTS = f"{FEATURE}, {DIALOG}"
DND_SNAPSHOT = "feature_dnd"  # the store's snapshot row for the stations' DND flags

_CONTENT_TYPES = {FEATURE: feature_event_xml.CONTENT_TYPE, DIALOG: dialog_info.CONTENT_TYPE}

# How an agent state shows on the phone's ACD key (BroadWorks has no talking state: the
# key keeps the state chosen before the call, see `_shown`).
_KIND_FOR_STATE: dict[AgentState, AgentEventKind] = {
    AgentState.LOGGED_OUT: AgentEventKind.LOGGED_OFF,
    AgentState.READY: AgentEventKind.READY,
    AgentState.NOT_READY: AgentEventKind.NOT_READY,
    AgentState.WORK_READY: AgentEventKind.WORKING_AFTER_CALL,
    AgentState.WORK_NOT_READY: AgentEventKind.WORKING_AFTER_CALL,
}

# SetAgentState -> the agent state asked of the engine (loggedOn/loggedOff are Login/Logout).
_STATE_FOR_REQUEST: dict[RequestedAgentState, AgentState] = {
    RequestedAgentState.READY: AgentState.READY,
    RequestedAgentState.NOT_READY: AgentState.NOT_READY,
    # BroadWorks "Wrap-Up" ends by itself like the Cisco guide's Work Ready
    RequestedAgentState.WORKING_AFTER_CALL: AgentState.WORK_READY,
}


@dataclass(frozen=True, slots=True)
class _Pending:
    """A NOTIFY waiting for the one before it to be answered."""

    request: Request
    destination: tuple[str, int]
    transport: str


class FeatureSync:
    """SUBSCRIBE handling for as-feature-event and dialog, and the NOTIFYs they are owed."""

    def __init__(
        self,
        reactor: Any,
        sip_service: SipService,
        acd_service: AcdService,
        site: Site,
        store: StateStore,
        dialogs: DialogStates | None = None,
        *,
        feature_policy: ExpiresPolicy | None = None,
        dialog_policy: ExpiresPolicy | None = None,
    ) -> None:
        self.reactor = reactor
        self.sip = sip_service
        self.acd_service = acd_service
        self.site = site
        self.store = store
        self.dialogs = dialogs if dialogs is not None else DialogStates()
        self.policies = {FEATURE: feature_policy or ExpiresPolicy(), DIALOG: dialog_policy or ExpiresPolicy()}
        self.table = SubscriptionTable()
        self.logins = LoginDirectory(site)  # agentID: an agent ID or login name, as the XML login
        snapshot = store.load_snapshot(DND_SNAPSHOT) or {}
        self._dnd: dict[str, bool] = {str(k): bool(v) for k, v in dict(snapshot.get("stations", {})).items()}
        self._last_user: dict[str, str] = {}  # station -> user last logged on there
        self._journal_scanned = False
        self._shown: dict[str, tuple[AgentState, int | None]] = {}  # user -> state before a call
        self._queues: dict[DialogKey, deque[_Pending]] = {}
        self._busy: set[DialogKey] = set()
        self._subs_by_key: dict[DialogKey, Subscription] = {}
        self._expiry_call: IDelayedCall | None = None
        self._stopped = False
        # told of each subscription the subscriber ended by rejecting a NOTIFY (481, timeout)
        self.gave_up_listeners: list[Callable[[Subscription], None]] = []
        # told the station whose key was refused because its agent owes a wrap-up code (the
        # app pushes the phone's XML home page, which shows the Wrap-up Data menu then)
        self.owed_listeners: list[Callable[[str], None]] = []
        sip_service.add_method("SUBSCRIBE", self.subscribe_received)
        acd_service.listeners.append(self.acd_events)
        self.dialogs.listeners.append(self.station_dialogs_changed)

    # -- public --------------------------------------------------------------------------

    def dnd(self, extension: str) -> bool:
        """Whether the station has Do Not Disturb on (for the call layer)."""
        return self._dnd.get(extension, False)

    def set_dnd(self, extension: str, on: bool) -> None:
        """Set a station's DND, persist it, and NOTIFY every as-feature-event subscription of it."""
        if on:
            self._dnd[extension] = True
        else:
            self._dnd.pop(extension, None)
        self.store.save_snapshot(DND_SNAPSHOT, {"stations": dict(self._dnd)})
        body = build_event(DoNotDisturbEvent(device=extension, on=on))
        for sub in self.table.subscriptions(FEATURE, extension):
            self._send(sub, body)

    def stop(self) -> None:
        """Cancel the expiry timer (subscriptions are not kept across restarts: phones resubscribe)."""
        self._stopped = True
        if self._expiry_call is not None and self._expiry_call.active():
            self._expiry_call.cancel()
        self._expiry_call = None
        if self.acd_events in self.acd_service.listeners:
            self.acd_service.listeners.remove(self.acd_events)
        if self.station_dialogs_changed in self.dialogs.listeners:
            self.dialogs.listeners.remove(self.station_dialogs_changed)

    # -- SUBSCRIBE -----------------------------------------------------------------------

    @property
    def stack(self) -> SipStack:
        assert self.sip.stack is not None, "SipService.attach(stack) first"
        return self.sip.stack

    def subscribe_received(self, request: Request, incoming: Incoming) -> None:
        """Serve one SUBSCRIBE: authenticate, create/refresh/end the dialog, act, NOTIFY."""
        username = self.sip.authenticate(request, incoming)
        if username is None:
            return  # challenged (401) or refused
        try:
            event, _ = event_type(request.headers.get("Event"))
            if event not in self.policies:
                raise SubscriptionError(489, "Bad Event", [("Allow-Events", ALLOW_EVENTS)])
            self._check_accept(request, event)
            resource = self._resource(request, event, username)
            action = self._feature_request(request) if event == FEATURE else None
            outcome = self.table.receive(
                request, self.reactor.seconds(), resource=resource, subscriber=username,
                policy=self.policies[event], source=incoming.source, transport=incoming.transport,
            )
        except SubscriptionError as exc:
            self.stack.respond(request, exc.status, exc.reason,
                               headers=[*exc.headers, ("Server", USER_AGENT)])
            return
        sub = outcome.subscription
        self._subs_by_key[sub.key] = sub
        log.info("{who} subscribed to {event} of {what} for {expires} s", who=username, event=event,
                 what=resource, expires=outcome.expires)
        self.stack.respond(request, 200, headers=[
            ("Expires", str(outcome.expires)),
            ("Contact", self._contact(sub.transport)),
            ("Allow-Events", ALLOW_EVENTS),
            ("Server", USER_AGENT),
        ], to_tag=sub.key.local_tag)
        # RFC 6665 4.2.1.2: a NOTIFY follows every accepted SUBSCRIBE
        if event == FEATURE:
            self._feature_subscribed(outcome, action)
        else:
            self._send(sub, self._dialog_body(sub))
        self._schedule_expiry()

    def _check_accept(self, request: Request, event: str) -> None:
        accepts = [a.split(";")[0].strip().lower() for v in request.headers.get_all("Accept") for a in v.split(",")]
        accepts = [a for a in accepts if a]
        wanted = _CONTENT_TYPES[event]
        if accepts and not any(a in (wanted, "*/*", "application/*") for a in accepts):
            raise SubscriptionError(406, "Not Acceptable", [("Accept", wanted)])

    def _resource(self, request: Request, event: str, username: str) -> str:
        """The station extension the SUBSCRIBE watches (403/404 when it may not or does not exist)."""
        try:
            user = parse_uri(request.uri).user or ""
        except SipSyntaxError:
            raise SubscriptionError(400, "Invalid Request-URI") from None
        own = self.site.station_by_username(username)
        if own is None:
            raise SubscriptionError(403, "Not a Station")
        if event == FEATURE:
            # a phone synchronises its own keys only
            if user not in (own.extension, own.sip_username):
                raise SubscriptionError(403, "Only Your Own Features")
            return own.extension
        station = self.site.station(user) or self.site.station_by_username(user)
        if station is None:
            raise SubscriptionError(404, "No Such Station")
        return station.extension

    @staticmethod
    def _feature_request(request: Request) -> FeatureRequest | None:
        if not request.body.strip():
            return None
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type and content_type != feature_event_xml.CONTENT_TYPE:
            raise SubscriptionError(415, "Unsupported Media Type", [("Accept", feature_event_xml.CONTENT_TYPE)])
        try:
            return parse_request(request.body)
        except FeatureXmlError as exc:
            raise SubscriptionError(400, f"Bad feature request: {exc}"[:120]) from None

    # -- as-feature-event ----------------------------------------------------------------

    def _feature_subscribed(self, outcome: SubscribeOutcome, action: FeatureRequest | None) -> None:
        sub = outcome.subscription
        station = sub.resource
        if outcome.expires == 0:
            # unsubscribe or fetch: one final NOTIFY (terminated) with the agent state
            self._send_agent_state(sub, force=True)
            return
        if action is None:
            # initial SUBSCRIBE or refresh: the whole state, one document per NOTIFY
            self._send(sub, build_event(DoNotDisturbEvent(device=station, on=self.dnd(station))))
            self._send_agent_state(sub, force=True)
            return
        before = sub.notifies
        if isinstance(action, SetDoNotDisturb):
            self.set_dnd(station, action.on)
        else:
            refusal = self._set_agent_state(station, action)
            if refusal is not None:
                log.warn("station {station}: SetAgentState {state} refused: {why}", station=station,
                         state=action.requested.value, why=refusal)
        if sub.notifies == before:
            # nothing changed (refused, or already so): the phone still gets the real state
            self._send_agent_state(sub, force=True)

    def _set_agent_state(self, station: str, action: SetAgentState) -> str | None:
        """Run the ACD command for a SetAgentState; the refusal reason, or None when executed."""
        acd = self.acd_service.acd
        agent = acd.agent_at_station(station)
        command: Command
        if action.requested is RequestedAgentState.LOGGED_ON:
            if agent is not None:
                return f"{agent.user_id} is already logged on"
            found = self.site.station(station)
            owner = found.agent if found is not None else None
            user = self.logins.by_text(action.agent_id) if action.agent_id.strip() else None
            user = user or owner or self._last_user_at(station)
            if not user:
                return "nobody has logged on at this station yet: log on with a short code first"
            if action.password:
                command = Login(user, action.password, station)
            elif user == owner:
                # BroadWorks phones send no PIN: the SUBSCRIBE was digest-authenticated as the
                # station, and the site says this user belongs to it (`Station.agent`)
                command = Login(user, "", station, station_authenticated=True)
            else:
                return f"logon of {user} needs the PIN (<password>), none was sent"
        elif agent is None:
            return "no user is logged on at this station"
        elif wrapup_owed(agent) and self.site.wrapup_codes:
            # A key cannot prompt: SetAgentState has no wrap-up code and SUBSCRIBE collects no
            # digits. Refused, as the short codes and XML screens ask for the owed code first;
            # the phone's XML service shows the Wrap-up Data menu (pushed, or on its next fetch).
            for listener in list(self.owed_listeners):
                listener(station)
            return ("the wrap-up code of the last call is owed: enter it on the Wrap-up Data "
                    "screen or dial the next short code")
        elif action.requested is RequestedAgentState.LOGGED_OFF:
            command = Logout(agent.user_id)
        else:
            # Reason 0 is "none" for phones that always send a value (AudioCodes SDK default)
            reason = action.reason_code or None
            command = SetState(agent.user_id, _STATE_FOR_REQUEST[action.requested], reason_code=reason)
        events = self.acd_service.execute(command)
        rejected = [e for e in events if type(e).__name__ in ("CommandRejected", "LoginRejected")]
        if rejected:
            return str(getattr(rejected[0], "reason", "rejected"))
        return None

    def _last_user_at(self, station: str) -> str | None:
        """The user last logged on at the station: remembered, else from the journal."""
        if station not in self._last_user and not self._journal_scanned:
            self._journal_scanned = True
            for record in self.store.journal(kinds=["LoggedIn"]):
                self._last_user[str(record["station"])] = str(record["user_id"])
        return self._last_user.get(station)

    def agent_event(self, station: str) -> AgentEvent:
        """What the station's ACD key shows now."""
        agent = self.acd_service.acd.agent_at_station(station)
        if agent is None:
            return AgentEvent(AgentEventKind.LOGGED_OFF, station, self._last_user.get(station, ""))
        state, reason = agent.state, agent.reason_code
        if agent.pending_state is not None:
            state, reason = agent.pending_state, None
        elif state in ON_CALL:
            state, reason = self._shown.get(agent.user_id, (AgentState.READY, None))
        kind = _KIND_FOR_STATE.get(state, AgentEventKind.READY)
        return AgentEvent(kind, station, agent.user_id,
                          reason if kind is AgentEventKind.NOT_READY else None)

    def _send_agent_state(self, sub: Subscription, *, force: bool = False) -> None:
        body = build_event(self.agent_event(sub.resource))
        if force or sub.data.get("agent") != body:
            sub.data["agent"] = body
            self._send(sub, body)

    def acd_events(self, events: list[Event]) -> None:
        """AcdService listener: NOTIFY the stations whose agent state these events changed."""
        touched: dict[str, list[bytes]] = {}
        for e in events:
            if isinstance(e, LoggedIn):
                self._last_user[e.station] = e.user_id
                touched.setdefault(e.station, []).append(
                    build_event(AgentEvent(AgentEventKind.LOGGED_ON, e.station, e.user_id)))
            elif isinstance(e, StateChanged):
                if e.new not in ON_CALL:
                    self._shown[e.user_id] = (e.new, e.reason_code)
                touched.setdefault(e.station, [])
            elif isinstance(e, LoggedOut | StatePending):
                touched.setdefault(e.station, [])
        for station, extra in touched.items():
            for sub in self.table.subscriptions(FEATURE, station):
                for body in extra:
                    sub.data["agent"] = body
                    self._send(sub, body)
                self._send_agent_state(sub)

    # -- dialog (BLF) --------------------------------------------------------------------

    def _dialog_body(self, sub: Subscription) -> bytes:
        # RFC 4235 4.1: version starts at 0 and goes up by one per document sent
        version = int(str(sub.data.get("version", -1))) + 1
        sub.data["version"] = version
        host, port = self.stack.local_address
        info = DialogInfo(entity=f"sip:{sub.resource}@{host}:{port}", version=version, full=True,
                          dialogs=self.dialogs.dialogs(sub.resource))
        return build_dialog_info(info)

    def station_dialogs_changed(self, extension: str) -> None:
        """DialogStates listener: full state to every BLF watching the station."""
        for sub in self.table.subscriptions(DIALOG, extension):
            self._send(sub, self._dialog_body(sub))

    # -- NOTIFY --------------------------------------------------------------------------

    def _contact(self, transport: str) -> str:
        host, port = self.stack.local_address
        if ":" in host:
            host = f"[{host}]"
        tail = "" if transport == "UDP" else f";transport={transport.lower()}"
        return f"<sip:acdgate@{host}:{port}{tail}>"

    def _destination(self, sub: Subscription) -> tuple[tuple[str, int], str]:
        """Where the NOTIFY goes: the first Route, else the registered binding of the
        subscriber's contact (its source: the NAT mapping), else where the SUBSCRIBE came from."""
        if sub.route_set:
            try:
                uri = parse_name_addr(sub.route_set[0]).uri
                return (uri.host.strip("[]"), uri.port or 5060), sub.transport
            except SipSyntaxError:
                pass
        for binding in self.sip.registrar.bindings(sub.subscriber, self.reactor.seconds()):
            if _same_uri(binding.contact, sub.remote_target):
                return binding.source, binding.transport
        return sub.source, sub.transport

    def _send(self, sub: Subscription, body: bytes) -> None:
        """Queue a NOTIFY; it goes out when the previous one of the subscription is answered."""
        destination, transport = self._destination(sub)
        request = sub.notify(
            self.reactor.seconds(), via=self.stack.via_for(transport), contact=self._contact(transport),
            body=body, content_type=_CONTENT_TYPES[sub.event], user_agent=USER_AGENT,
        )
        self._subs_by_key[sub.key] = sub
        self._queues.setdefault(sub.key, deque()).append(_Pending(request, destination, transport))
        if sub.key not in self._busy:
            self._pump(sub.key)

    def _pump(self, key: DialogKey) -> None:
        queue = self._queues.get(key)
        if not queue:
            self._queues.pop(key, None)
            self._busy.discard(key)
            sub = self._subs_by_key.get(key)
            if sub is not None and sub.state is SubState.TERMINATED:
                del self._subs_by_key[key]
            return
        pending = queue.popleft()
        self._busy.add(key)
        d = self.stack.send_request(pending.request, pending.destination, pending.transport)

        def answered(response: Response) -> None:
            if response.status == 481:
                self._give_up(key, "answered 481")
                return
            if response.status >= 300:
                log.warn("NOTIFY for {key} answered {status}", key=key.call_id, status=response.status)
            self._busy.discard(key)
            self._pump(key)

        def failed(failure: Any) -> None:
            failure.trap(TransactionFailed)
            self._give_up(key, f"failed ({failure.value})")

        d.addCallbacks(answered, failed)

    def _give_up(self, key: DialogKey, why: str) -> None:
        """RFC 6665 4.2.2: a NOTIFY answered 481 or timing out ends the subscription."""
        self._busy.discard(key)
        self._queues.pop(key, None)
        sub = self._subs_by_key.pop(key, None)
        if sub is not None:
            log.info("subscription {event} of {who} to {what} ended: NOTIFY {why}", event=sub.event,
                     who=sub.subscriber, what=sub.resource, why=why)
            self.table.terminate(sub, SubInput.NOTIFY_REJECTED, TerminationReason.GIVEUP)
            self._schedule_expiry()
            for listener in list(self.gave_up_listeners):
                listener(sub)

    # -- expiry --------------------------------------------------------------------------

    def _schedule_expiry(self) -> None:
        if self._stopped:
            return  # NOTIFYs failing as the stack stops must not arm a timer again
        when = self.table.next_expiry()
        if self._expiry_call is not None and self._expiry_call.active():
            if when is not None and abs(self._expiry_call.getTime() - when) < 1e-6:
                return
            self._expiry_call.cancel()
        self._expiry_call = None
        if when is not None:
            self._expiry_call = self.reactor.callLater(max(0.0, when - self.reactor.seconds()), self._expire)

    def _expire(self) -> None:
        self._expiry_call = None
        for sub in self.table.expire(self.reactor.seconds()):
            # RFC 6665 4.2.2: a final NOTIFY with Subscription-State: terminated;reason=timeout
            if sub.event == FEATURE:
                self._send(sub, build_event(self.agent_event(sub.resource)))
            else:
                self._send(sub, self._dialog_body(sub))
        self._schedule_expiry()


def _same_uri(a: str, b: str) -> bool:
    try:
        ua, ub = parse_uri(a.strip("<>")), parse_uri(b.strip("<>"))
    except SipSyntaxError:
        return a == b
    return (ua.user, ua.host.lower(), ua.port) == (ub.user, ub.host.lower(), ub.port)
