"""H.225.0 call signalling (Q.931 call states), sans-IO: one engine per TCP connection.

Theory of operation. `CallSignallingConnection` holds the calls of one call signalling
connection, keyed by call reference value and who allocated it (`Call`, Q.931 4.3: a message
whose flag says "from the originating side" names a call its sender placed). Every input takes
`now` and returns actions (`call_signalling_actions`): `SendSignal` (the edge encodes it with
the codec and writes it), `CloseConnection`, `LogDefect` (the peer's protocol errors) and events
for the bridge above (`CallOffered`, `DigitsReceived`, `CallProgressed`, `CallAnswered`,
`H245Received`, `H245AddressOffered`, `CallReleased`). Inputs are the decoded messages
(`receive`, a `CallSignalDecodeError` included), `connection_lost`, `handle_timer` (the edge
arms one timer for `next_timer()`), and the bridge's commands: `setup` (a call we place),
`acknowledge_setup`/`proceed`/`alert`/`connect` (a call offered to us), `release`,
`send_h245`, `information`. Nothing the peer sends makes the engine raise; a bridge command a
live call's state has no entry for is the bridge's bug (`CallSignallingError`), and a command
for a call that has already ended does nothing (the peer may end a call at any time).

States (`_PEER` and `_LOCAL`, the one place a call's state changes; Q.931 4.5.7 values):

    ours:   CALL_INITIATED --Call Proceeding--> OUTGOING_CALL_PROCEEDING --Alerting--> CALL_DELIVERED
            any of them --Connect--> ACTIVE
    theirs: CALL_PRESENT --acknowledge_setup--> OVERLAP_RECEIVING --proceed--> INCOMING_CALL_PROCEEDING
            --alert--> CALL_RECEIVED --connect--> ACTIVE (each step may be skipped)
    both:   any state --Release Complete either way, a timer, connection lost--> NULL (forgotten)

Our Connect makes a call ACTIVE at once: H.225.0 has no Connect Acknowledge, so Q.931's
CONNECT_REQUEST is never held. We place calls en bloc (never canOverlapSend), so OVERLAP_SENDING
is never entered either. Timers, one per state (`CallSignallingSettings`): T303 (CALL_INITIATED),
T310 (OUTGOING_CALL_PROCEEDING), T301 (CALL_DELIVERED) release with cause 102; T302
(OVERLAP_RECEIVING, restarted by each Information) releases with cause 28 (the bridge did not
find the number complete); SETUP_ANSWER (CALL_PRESENT): H.225.0 wants an answer to a Setup
within 4 s (the caller's T303), so when the bridge has not answered after `setup_answer`
seconds the engine sends Call Proceeding itself (a later `proceed` sends nothing new).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from acdgate.gateway.h323.call_signalling_actions import (
    Call,
    CallAnswered,
    CallOffered,
    CallProgressed,
    CallReleased,
    CallSignallingAction,
    CallTimer,
    CloseConnection,
    DigitSource,
    DigitsReceived,
    H245AddressOffered,
    H245Received,
    LogDefect,
    ProgressKind,
    SendSignal,
)
from acdgate.gateway.h323.call_signalling_table import (
    LOCAL,
    PEER,
    STATE_TIMER,
    Command,
    message_type,
)
from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallProceeding,
    CallSignal,
    CallSignalDecodeError,
    CallState,
    Cause,
    Connect,
    Facility,
    FacilityReason,
    H245Tunnel,
    Information,
    MessageType,
    Progress,
    ReleaseComplete,
    ReleaseCompleteReason,
    Setup,
    SetupAcknowledge,
    Status,
    StatusEnquiry,
)
from acdgate.gateway.h323.ras_messages import Alias, TransportAddress

MAX_CALL_REFERENCE = 0x7FFF  # H.225.0 call references are two octets: 15 bits of value
GLOBAL_CALL_REFERENCE = 0  # Q.931 4.3: the dummy/global call reference

_FLAGGED = (Setup, CallProceeding, Alerting, Progress, Connect, Facility)  # carry maintainConnection
_ANSWERS = (CallProceeding, Alerting, Progress, Connect, Facility)  # settle the peer's tunnelling


@dataclass(frozen=True, slots=True)
class CallSignallingSettings:
    """Timers (seconds) and what we offer on a connection.

    T303 is H.225.0's 4 s; Q.931 Table 9-1 gives T310 30-120 s: 30 s, since a handset that
    answered Call Proceeding rings or refuses at once; T301 at least 3 min (the ACD's own
    ring-no-answer ends a routed call long before); T302 10-15 s. `setup_answer` stays under
    the caller's 4 s T303.
    """

    t301: float = 180.0
    t302: float = 15.0
    t303: float = 4.0
    t310: float = 30.0
    setup_answer: float = 3.0
    h245_tunnelling: bool = True  # accept and offer tunnelled H.245 (H.323 8.2.1)
    multiple_calls: bool = True  # take several calls on one connection (multipleCalls)
    maintain_connection: bool = False  # keep a connection with no call (maintainConnection)

    def duration(self, timer: CallTimer) -> float:
        """How long `timer` runs."""
        return {CallTimer.T301: self.t301, CallTimer.T302: self.t302, CallTimer.T303: self.t303,
                CallTimer.T310: self.t310, CallTimer.SETUP_ANSWER: self.setup_answer}[timer]


class CallSignallingError(RuntimeError):
    """Local fault: the bridge gave a command the call's state has no entry for."""


@dataclass(slots=True)
class _CallRecord:
    """What the engine keeps of one live call."""

    call: Call
    state: CallState
    call_identifier: bytes
    conference_id: bytes
    tunnelling: bool  # H.245 tunnelled: our flag on every message we send
    tunnelling_settled: bool  # the peer has said (its Setup, or its first answer to ours)
    can_overlap_send: bool = False
    timer: CallTimer | None = None
    deadline: float = 0.0
    h245_address: TransportAddress | None = None  # the last one the peer offered


class CallSignallingConnection:
    """The calls of one H.225.0 call signalling connection (see the module docstring)."""

    def __init__(self, settings: CallSignallingSettings | None = None,
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self.settings = settings if settings is not None else CallSignallingSettings()
        self._random = random_bytes
        self._calls: dict[Call, _CallRecord] = {}
        self._next_reference: int | None = None
        self._peer_maintains = False
        self._closed = False

    # ------------------------------------------------------------------------------ queries

    @property
    def closed(self) -> bool:
        """The connection is over (closed by us or lost): no input does anything any more."""
        return self._closed

    def calls(self) -> list[Call]:
        """The live calls."""
        return list(self._calls)

    def state(self, call: Call) -> CallState:
        """The call's Q.931 state (NULL once it ended)."""
        record = self._calls.get(call)
        return record.state if record is not None else CallState.NULL

    def tunnelling(self, call: Call) -> bool:
        """Whether the call carries H.245 tunnelled (`send_h245` works)."""
        record = self._calls.get(call)
        return record is not None and record.tunnelling

    def timer(self, call: Call) -> tuple[CallTimer, float] | None:
        """The call's running timer and when it fires."""
        record = self._calls.get(call)
        if record is None or record.timer is None:
            return None
        return record.timer, record.deadline

    def next_timer(self) -> float | None:
        """When `handle_timer` must next run, None with no timer running."""
        return min((r.deadline for r in self._calls.values() if r.timer is not None), default=None)

    # ---------------------------------------------------------------------------- the peer

    def receive(self, message: CallSignal | CallSignalDecodeError,
                now: float) -> list[CallSignallingAction]:
        """One message from the peer (or the codec's account of one it could not decode)."""
        if self._closed:
            return [LogDefect(f"{type(message).__name__} after the connection ended")]
        if isinstance(message, CallSignalDecodeError):
            return self._decode_error(message, now)
        if isinstance(message, _FLAGGED) and not (isinstance(message, Facility)
                                                  and message.reason is None):
            # the flag is in the UUIE: an empty-body Facility (H.225.0 7.4.2) has none
            self._peer_maintains = message.maintain_connection
        if message.call_reference == GLOBAL_CALL_REFERENCE:
            # Q.931 5.8.3.2 f, h: nothing is done on the global call reference but a Status
            if isinstance(message, Status):
                return []
            return [LogDefect(f"{type(message).__name__} on the global call reference"),
                    SendSignal(Status(GLOBAL_CALL_REFERENCE, not message.from_originator,
                                      Cause.INVALID_CALL_REFERENCE, CallState.NULL))]
        call = Call(message.call_reference, outgoing=not message.from_originator)
        if isinstance(message, Setup):
            return self._setup_received(message, call, now)
        record = self._calls.get(call)
        if record is None:
            return self._unknown_call(message)
        return self._in_call(record, message, now)

    def connection_lost(self, now: float) -> list[CallSignallingAction]:
        """The TCP connection went away: every call ends, by the peer. An ACTIVE call ends with
        normal clearing (16: an endpoint that closes the connection instead of sending Release
        Complete has hung up), any other with temporary failure (41: the call never came up)."""
        self._closed = True
        actions: list[CallSignallingAction] = []
        for record in list(self._calls.values()):
            cause = (Cause.NORMAL_CALL_CLEARING if record.state is CallState.ACTIVE
                     else Cause.TEMPORARY_FAILURE)
            actions.extend(self._end(record, cause, None, by_peer=True, why="connection lost"))
        return actions

    def handle_timer(self, now: float) -> list[CallSignallingAction]:
        """Run every call timer due at `now`."""
        actions: list[CallSignallingAction] = []
        due = sorted((r for r in self._calls.values() if r.timer is not None and r.deadline <= now),
                     key=lambda r: r.deadline)
        for record in due:
            if self._calls.get(record.call) is record:
                actions.extend(self._timer_fired(record, now))
        return actions

    # ------------------------------------------------------------------------- the bridge

    def setup(self, now: float, *, called_number: str | None = None,
              calling_number: str | None = None, display: str | None = None,
              source_aliases: tuple[Alias, ...] = (), destination_aliases: tuple[Alias, ...] = (),
              source_call_signal_address: TransportAddress | None = None,
              dest_call_signal_address: TransportAddress | None = None,
              fast_start: tuple[bytes, ...] = (), h245_address: TransportAddress | None = None,
              media_wait_for_connect: bool = False,
              h245: tuple[bytes, ...] = ()) -> tuple[Call, list[CallSignallingAction]]:
        """Place a call: a Setup with a new call reference, callIdentifier and conferenceID;
        T303 runs until the peer answers."""
        if self._closed:
            raise CallSignallingError("setup() on a connection that has ended")
        call = Call(self._new_reference(), outgoing=True)
        record = _CallRecord(call, CallState.NULL, call_identifier=self._random(16),
                             conference_id=self._random(16),
                             tunnelling=self.settings.h245_tunnelling, tunnelling_settled=False)
        tunnel = self._tunnel(record, h245)
        self._calls[call] = record
        self._enter(record, LOCAL[(True, CallState.NULL, Command.SETUP)], now)
        s = self.settings
        setup = Setup(
            call.reference, True, record.call_identifier, record.conference_id,
            source_aliases=source_aliases, destination_aliases=destination_aliases,
            calling_number=calling_number, called_number=called_number, display=display,
            source_call_signal_address=source_call_signal_address,
            dest_call_signal_address=dest_call_signal_address, h245_address=h245_address,
            fast_start=fast_start, media_wait_for_connect=media_wait_for_connect,
            multiple_calls=s.multiple_calls, maintain_connection=s.maintain_connection,
            h245=tunnel)
        return call, [SendSignal(setup)]

    def acknowledge_setup(self, call: Call, now: float) -> list[CallSignallingAction]:
        """Setup Acknowledge: the offered call's number is incomplete, the caller (which said
        canOverlapSend) sends the rest in Information messages; T302 runs."""
        record = self._command(call, Command.ACKNOWLEDGE_SETUP, now)
        if record is None:
            return []
        if not record.can_overlap_send:
            raise CallSignallingError(f"{call}: the Setup did not say canOverlapSend")
        self._enter(record, CallState.OVERLAP_RECEIVING, now)
        return [SendSignal(SetupAcknowledge(call.reference, False, record.call_identifier,
                                            self._tunnel(record, ())))]

    def proceed(self, call: Call, now: float, *, fast_start: tuple[bytes, ...] = (),
                h245_address: TransportAddress | None = None,
                h245: tuple[bytes, ...] = ()) -> list[CallSignallingAction]:
        """Call Proceeding: the offered call's number is complete. When the engine sent one
        already (`setup_answer`), what this one would carry goes in a Facility instead."""
        record = self._command(call, Command.PROCEED, now)
        if record is None:
            return []
        if record.state is CallState.INCOMING_CALL_PROCEEDING:
            if fast_start or h245_address is not None:
                return [self._send_facility(record, FacilityReason.UNDEFINED_REASON, fast_start,
                                            h245_address, h245)]
            return [self._send_facility(record, None, (), None, h245)] if h245 else []
        tunnel = self._tunnel(record, h245)
        self._enter(record, CallState.INCOMING_CALL_PROCEEDING, now)
        s = self.settings
        return [SendSignal(CallProceeding(
            call.reference, False, record.call_identifier, h245_address=h245_address,
            fast_start=fast_start, multiple_calls=s.multiple_calls,
            maintain_connection=s.maintain_connection, h245=tunnel))]

    def alert(self, call: Call, now: float, *, fast_start: tuple[bytes, ...] = (),
              h245_address: TransportAddress | None = None, display: str | None = None,
              h245: tuple[bytes, ...] = ()) -> list[CallSignallingAction]:
        """Alerting: the offered call rings (the caller's T301 runs, not ours)."""
        record = self._command(call, Command.ALERT, now)
        if record is None:
            return []
        tunnel = self._tunnel(record, h245)
        self._enter(record, CallState.CALL_RECEIVED, now)
        s = self.settings
        return [SendSignal(Alerting(
            call.reference, False, record.call_identifier, h245_address=h245_address,
            fast_start=fast_start, display=display, multiple_calls=s.multiple_calls,
            maintain_connection=s.maintain_connection, h245=tunnel))]

    def connect(self, call: Call, now: float, *, fast_start: tuple[bytes, ...] = (),
                h245_address: TransportAddress | None = None, display: str | None = None,
                connected_aliases: tuple[Alias, ...] = (),
                h245: tuple[bytes, ...] = ()) -> list[CallSignallingAction]:
        """Connect: the offered call is answered (ACTIVE: H.225.0 has no Connect Acknowledge)."""
        record = self._command(call, Command.CONNECT, now)
        if record is None:
            return []
        tunnel = self._tunnel(record, h245)
        self._enter(record, CallState.ACTIVE, now)
        s = self.settings
        return [SendSignal(Connect(
            call.reference, False, record.call_identifier, record.conference_id,
            h245_address=h245_address, fast_start=fast_start, display=display,
            connected_aliases=connected_aliases, multiple_calls=s.multiple_calls,
            maintain_connection=s.maintain_connection, h245=tunnel))]

    def release(self, call: Call, now: float, cause: int = Cause.NORMAL_CALL_CLEARING,
                reason: ReleaseCompleteReason | None = None,
                h245: tuple[bytes, ...] = ()) -> list[CallSignallingAction]:
        """Release Complete with `cause` (and the UUIE's `reason`): the call ends in any state."""
        record = self._command(call, Command.RELEASE, now)
        if record is None:
            return []
        return self._end(record, cause, reason, by_peer=False, why="released by the bridge",
                         send=True, h245=h245)

    def send_h245(self, call: Call, pdus: tuple[bytes, ...],
                  now: float) -> list[CallSignallingAction]:
        """Tunnelled H.245 PDUs in a Facility with an empty body (H.225.0 7.4.2); to have
        them ride on a message that goes anyway, pass them to that command's `h245`."""
        record = self._command(call, Command.SEND_H245, now)
        if record is None:
            return []
        if not record.tunnelling:
            raise CallSignallingError(f"{call} does not tunnel H.245: use the H.245 connection")
        return [self._send_facility(record, None, (), None, pdus)]

    def information(self, call: Call, now: float, *, display: str | None = None,
                    keypad: str | None = None) -> list[CallSignallingAction]:
        """Information (Q.931 3.1.6): a Display for the handset, or keypad digits."""
        record = self._command(call, Command.INFORMATION, now)
        if record is None:
            return []
        return [SendSignal(Information(call.reference, call.outgoing, record.call_identifier,
                                       keypad=keypad, display=display,
                                       h245=self._tunnel(record, ())))]

    # ------------------------------------------------------------------- peer messages

    def _setup_received(self, m: Setup, call: Call, now: float) -> list[CallSignallingAction]:
        if not m.from_originator:  # keyed as ours: the peer cannot offer it
            return [LogDefect("Setup with the call reference flag of an answer: ignored "
                              "(Q.931 5.8.3.2 d)")]
        if call in self._calls:
            return [LogDefect(f"Setup for call reference {m.call_reference}, which is in "
                              "progress: ignored (Q.931 5.8.3.2 e)", call)]
        if self._calls and not self.settings.multiple_calls:
            return [LogDefect("a second Setup on a connection without multipleCalls", call),
                    SendSignal(ReleaseComplete(m.call_reference, False, m.call_identifier,
                                               cause=Cause.RESOURCE_UNAVAILABLE))]
        record = _CallRecord(call, CallState.NULL, m.call_identifier, m.conference_id,
                             tunnelling=self.settings.h245_tunnelling and m.h245.tunnelling,
                             tunnelling_settled=True, can_overlap_send=m.can_overlap_send)
        self._calls[call] = record
        self._enter(record, PEER[(False, CallState.NULL, MessageType.SETUP)], now)
        return [CallOffered(call, m), *self._h245_events(record, m.h245_address, m.h245.control)]

    def _in_call(self, record: _CallRecord, m: CallSignal,
                 now: float) -> list[CallSignallingAction]:
        call = record.call
        kind = message_type(m)
        nxt = PEER.get((call.outgoing, record.state, kind))
        if nxt is None:  # Q.931 5.8.4: no action on it; Status with cause 101 and our state
            return [LogDefect(f"{kind.name} in state {record.state.name}", call),
                    self._status(record, Cause.MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE)]
        if isinstance(m, ReleaseComplete):
            # Q.931 5.8.6.1: a Release Complete without Cause is taken as cause 31
            cause = m.cause if m.cause is not None else Cause.NORMAL_UNSPECIFIED
            pdus: list[CallSignallingAction] = [H245Received(call, m.h245.control)] \
                if m.h245.control else []
            return [*pdus, *self._end(record, cause, m.reason, by_peer=True,
                                      why="Release Complete from the peer")]
        if isinstance(m, _ANSWERS) and not record.tunnelling_settled:
            # H.323 8.2.1: the first answer to our Setup says whether the peer tunnels
            record.tunnelling = record.tunnelling and m.h245.tunnelling
            record.tunnelling_settled = True
        before = record.state
        self._enter(record, nxt, now)
        actions: list[CallSignallingAction] = []
        address: TransportAddress | None = None
        match m:
            case CallProceeding() | Alerting() | Progress():
                progress = {CallProceeding: ProgressKind.PROCEEDING, Alerting: ProgressKind.ALERTING,
                            Progress: ProgressKind.PROGRESS}[type(m)]
                actions.append(CallProgressed(call, progress, m, m.fast_start, m.h245_address))
                address = m.h245_address
                if isinstance(m, Progress) and before is CallState.OUTGOING_CALL_PROCEEDING:
                    record.timer = None  # Q.931 5.1.6: Progress stops T310
            case Connect():
                actions.append(CallAnswered(call, m))
                address = m.h245_address
            case Facility():
                address = m.h245_address  # with startH245, or any other reason
            case Information():
                if before is CallState.OVERLAP_RECEIVING:  # Q.931 5.2.4: T302 restarts
                    record.deadline = now + self.settings.t302
                if m.called_number:
                    actions.append(DigitsReceived(call, m.called_number, DigitSource.CALLED_NUMBER))
                if m.keypad:
                    actions.append(DigitsReceived(call, m.keypad, DigitSource.KEYPAD))
            case StatusEnquiry():  # Q.931 5.8.10
                actions.append(self._status(record, Cause.RESPONSE_TO_STATUS_ENQUIRY))
            case Status():
                if m.call_state is CallState.NULL:  # Q.931 5.8.11: the peer has no such call
                    return self._end(record, m.cause, None, by_peer=True,
                                     why="Status reports the Null state")
            case _:  # Notify: nothing to do
                pass
        return [*actions, *self._h245_events(record, address, m.h245.control)]

    def _unknown_call(self, m: CallSignal) -> list[CallSignallingAction]:
        """A message for a call reference we do not know (Q.931 5.8.3.2)."""
        reference, answer_flag = m.call_reference, not m.from_originator
        match m:
            case ReleaseComplete():  # 5.8.3.2 c
                return []
            case StatusEnquiry():  # 5.8.10: the call is in the Null state
                return [SendSignal(Status(reference, answer_flag, Cause.RESPONSE_TO_STATUS_ENQUIRY,
                                          CallState.NULL, m.call_identifier))]
            case Status():  # 5.8.3.2 g -> 5.8.11
                if m.call_state is CallState.NULL:
                    return []
                return [LogDefect(f"Status reporting {m.call_state.name} for an unknown call "
                                  f"reference {reference}"),
                        SendSignal(ReleaseComplete(
                            reference, answer_flag, m.call_identifier,
                            cause=Cause.MESSAGE_NOT_COMPATIBLE_WITH_CALL_STATE))]
            case _:  # 5.8.3.2 a
                return [LogDefect(f"{type(m).__name__} for an unknown call reference {reference}"),
                        SendSignal(ReleaseComplete(reference, answer_flag, m.call_identifier,
                                                   cause=Cause.INVALID_CALL_REFERENCE))]

    def _decode_error(self, e: CallSignalDecodeError, now: float) -> list[CallSignallingAction]:
        """A message the codec could not decode: logged, and answered when its Q.931 header
        names a call (Q.931 5.8.4-5.8.6: Status with the cause, the call going on; a Setup we
        cannot serve gets Release Complete; a broken Release Complete still ends its call)."""
        if e.call_reference is None:
            return [LogDefect(e.defect)]
        kind = e.message_type
        answer_flag = not e.from_originator
        if e.call_reference == GLOBAL_CALL_REFERENCE:
            log = LogDefect(f"{e.defect} (global call reference)")
            if kind == MessageType.STATUS:
                return [log]
            return [log, SendSignal(Status(GLOBAL_CALL_REFERENCE, answer_flag, e.cause,
                                           CallState.NULL))]
        call = Call(e.call_reference, outgoing=answer_flag)
        log = LogDefect(e.defect, call)
        record = self._calls.get(call)
        if record is None:
            if kind in (MessageType.RELEASE_COMPLETE, MessageType.STATUS) \
                    or (kind == MessageType.SETUP and not e.from_originator):
                return [log]
            cause = e.cause if kind == MessageType.SETUP else Cause.INVALID_CALL_REFERENCE
            return [log, SendSignal(ReleaseComplete(e.call_reference, answer_flag, b"", cause=cause))]
        if kind == MessageType.RELEASE_COMPLETE:
            return [log, *self._end(record, Cause.NORMAL_UNSPECIFIED, None, by_peer=True,
                                    why="Release Complete from the peer (undecodable)")]
        if kind == MessageType.SETUP:  # Q.931 5.8.3.2 e
            return [log]
        return [log, self._status(record, e.cause)]

    # --------------------------------------------------------------------------- timers

    def _timer_fired(self, record: _CallRecord, now: float) -> list[CallSignallingAction]:
        timer = record.timer
        record.timer = None
        if timer is CallTimer.SETUP_ANSWER:  # H.225.0: answer a Setup within 4 s
            return self.proceed(record.call, now)
        if timer is CallTimer.T302:  # the bridge never found the number complete
            return self._end(record, Cause.INVALID_NUMBER_FORMAT, None, by_peer=False,
                             why="T302: overlap digits incomplete", send=True)
        return self._end(record, Cause.RECOVERY_ON_TIMER_EXPIRY, None, by_peer=False,
                         why=f"{timer} expired", send=True)

    # -------------------------------------------------------------------------- plumbing

    def _command(self, call: Call, command: Command, now: float) -> _CallRecord | None:
        """The live call a bridge command acts on (None: it ended); no entry is a local bug."""
        record = self._calls.get(call)
        if record is None:
            return None
        if (call.outgoing, record.state, command) not in LOCAL:
            raise CallSignallingError(f"{command.value} on {call} in state {record.state.name}")
        return record

    def _enter(self, record: _CallRecord, state: CallState, now: float) -> None:
        """Move the call to `state`; a new state starts its own timer (or none)."""
        if state is record.state:
            return
        record.state = state
        record.timer = STATE_TIMER.get(state)
        if record.timer is not None:
            record.deadline = now + self.settings.duration(record.timer)

    def _end(self, record: _CallRecord, cause: int, reason: ReleaseCompleteReason | None, *,
             by_peer: bool, why: str, send: bool = False,
             h245: tuple[bytes, ...] = ()) -> list[CallSignallingAction]:
        """The call is over: our Release Complete when `send`, `CallReleased`, and the
        connection closed when it was the last call and maintainConnection is not agreed."""
        actions: list[CallSignallingAction] = []
        call = record.call
        if send:
            actions.append(SendSignal(ReleaseComplete(
                call.reference, call.outgoing, record.call_identifier, cause=cause, reason=reason,
                h245=self._tunnel(record, h245))))
        del self._calls[call]
        record.state, record.timer = CallState.NULL, None
        actions.append(CallReleased(call, cause, reason, by_peer, why))
        if not self._calls and not self._closed \
                and not (self.settings.maintain_connection and self._peer_maintains):
            self._closed = True  # H.225.0: no maintainConnection both ways, no call: close
            actions.append(CloseConnection("the last call on the connection ended"))
        return actions

    def _h245_events(self, record: _CallRecord, address: TransportAddress | None,
                     pdus: tuple[bytes, ...]) -> list[CallSignallingAction]:
        actions: list[CallSignallingAction] = []
        if address is not None and address != record.h245_address:
            record.h245_address = address
            actions.append(H245AddressOffered(record.call, address))
        if pdus:
            actions.append(H245Received(record.call, pdus))
        return actions

    def _status(self, record: _CallRecord, cause: int) -> SendSignal:
        call = record.call
        return SendSignal(Status(call.reference, call.outgoing, cause, record.state,
                                 record.call_identifier, self._tunnel(record, ())))

    def _send_facility(self, record: _CallRecord, reason: FacilityReason | None,
                       fast_start: tuple[bytes, ...], h245_address: TransportAddress | None,
                       pdus: tuple[bytes, ...]) -> SendSignal:
        call = record.call
        s = self.settings
        return SendSignal(Facility(
            call.reference, call.outgoing, record.call_identifier, reason=reason,
            h245_address=h245_address, fast_start=fast_start, multiple_calls=s.multiple_calls,
            maintain_connection=s.maintain_connection, h245=self._tunnel(record, pdus)))

    @staticmethod
    def _tunnel(record: _CallRecord, pdus: tuple[bytes, ...]) -> H245Tunnel:
        if pdus and not record.tunnelling:
            raise CallSignallingError(f"{record.call} does not tunnel H.245: use the H.245 connection")
        return H245Tunnel(record.tunnelling, pdus)

    def _new_reference(self) -> int:
        """A call reference value none of our live calls uses (1..32767)."""
        if self._next_reference is None:
            self._next_reference = int.from_bytes(self._random(2), "big") % MAX_CALL_REFERENCE + 1
        for _ in range(MAX_CALL_REFERENCE):
            reference = self._next_reference
            self._next_reference = reference % MAX_CALL_REFERENCE + 1
            if Call(reference, outgoing=True) not in self._calls:
                return reference
        raise CallSignallingError("every call reference value is in use")


__all__ = [
    "GLOBAL_CALL_REFERENCE", "MAX_CALL_REFERENCE", "CallSignallingConnection",
    "CallSignallingError", "CallSignallingSettings",
]
