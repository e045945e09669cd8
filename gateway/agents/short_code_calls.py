"""Short code features on legs: a dialled code becomes ACD commands, tones and a hang-up.

A complete code (`*35*3000*1234#`, `*36`, `*38*2#`) is answered, its feature runs, the
confirmation or error tone plays and the gateway hangs up. A code that needs more
(`#3000` then the PIN; `*35` then user and PIN) is answered with a prompt tone and the rest
is collected from the leg's digits (RFC 4733, SIP INFO or in-band), `#` ending it, with an
inter-digit timeout. A login refused because the user or station is in use offers the
Forced Login menu: `1` forces, `2` cancels. When the site requires a reason or wrap-up code
and the code was dialled without it (`*38`), the call prompts for it instead of refusing
(`acd.code_prompts`); a wrap-up code the agent owes for its last routed call is asked for
before any other code runs. Where the site has audio for a prompt (`reason_prompt_audio`,
`wrapup_prompt_audio`) it is spoken instead of the tone, and a key stops it. Every outcome
is journaled as a `FeatureUsed` record (PINs masked), in English; the reason phrase of a
refusal is in the phone user's language.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from acdgate.acd import commands as cmd
from acdgate.acd.code_prompts import CodeKind, code_to_ask, parse_keyed_code, wrapup_owed
from acdgate.acd.events import CommandRejected, Event, LoginRejected, LoginRejectReason
from acdgate.acd.languages import Language
from acdgate.acd.login_names import LoginDirectory
from acdgate.acd.shortcodes import (
    DigitCollector,
    MatchKind,
    ShortCodeMatch,
    ShortCodeTable,
    parse_code_argument,
    parse_login_argument,
)
from acdgate.acd.site import Feature, ShortCode, Site
from acdgate.acd.states import AgentState
from acdgate.codecs.tones import (
    CONFIRMATION_TONE,
    DIAL_TONE,
    ERROR_TONE,
    REASON_PROMPT,
    WRAPUP_PROMPT,
    Cadence,
    ToneSegment,
)
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.journal import FeatureUsed
from acdgate.gateway.legs.leg import EndReason, Leg, Refusal, Samples
from acdgate.gateway.legs.registry import LegOwner
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger(namespace="acdgate.features")

# The Forced Login prompt: three short high beeps, unlike any other tone we play.
FORCED_LOGIN_PROMPT = Cadence((ToneSegment((1400.0,), 100, 100),) * 3 + (ToneSegment((1400.0,), 100, 700),))
CONFIRMATION_MS = 1000
ERROR_MS = 1500
PROMPT_MS = 30_000  # the prompt plays until the first key (or the timeout)

# The prompt for a code a command lacks, and its name in journal reasons.
_PROMPTS = {CodeKind.NOT_READY_REASON: REASON_PROMPT, CodeKind.LOGOUT_REASON: REASON_PROMPT,
            CodeKind.WRAPUP: WRAPUP_PROMPT}
_NAMES = {CodeKind.NOT_READY_REASON: "reason code", CodeKind.LOGOUT_REASON: "logout reason",
          CodeKind.WRAPUP: "wrap-up code"}

# Features on a routed call (issue 6): the agent's recording, a supervisor's intervention.
_RECORDING = {Feature.RECORD_START: True, Feature.RECORD_STOP: False}
_INTERVENTIONS = frozenset({Feature.MONITOR, Feature.WHISPER, Feature.BARGE, Feature.INTERCEPT})


class CallFeatures(Protocol):
    """What the call layer offers the short codes (gateway.supervision.Supervision)."""

    def agent_recording(self, user_id: str, start: bool) -> str | None:
        """Start or stop recording the agent's call: None, or why not."""
        ...

    def check(self, supervisor: str, target: str) -> Refusal | None:
        """Whether the supervisor may intervene in `target`'s call now."""
        ...

    def join(self, leg: Leg, supervisor: str, target: str, feature: Feature) -> Refusal | None:
        """The supervisor's answered leg joins `target`'s call (the leg is theirs from now)."""
        ...


_STATE_FEATURES = {
    Feature.READY: AgentState.READY,
    Feature.NOT_READY: AgentState.NOT_READY,
    Feature.WORK_READY: AgentState.WORK_READY,
    Feature.WORK_NOT_READY: AgentState.WORK_NOT_READY,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a feature ended: ok, or refused with a status and reason for a SIP refusal."""

    ok: bool
    reason: str
    status: int = 200
    events: tuple[Event, ...] = ()
    in_use: bool = False  # a login refused because user or station is in use (Forced Login)
    target: str = ""  # the agent a permitted supervisor intervention is for
    rejected: CommandRejected | None = None  # the ACD's rejection: its reason, translatable


class _Aborted(Exception):
    """The leg ended (the caller hung up) while we waited for it."""


class _Keys:
    """The keys a leg presses while its feature runs, queued from the start.

    The 200 OK starts the media, but `answer()` fires only on the ACK: a phone that got the
    200 keys its digits at once, and when the ACK is lost (RFC 3261 13.3.1.4: the 2xx is
    retransmitted until it comes) they arrive before we ask for a key. They are kept, not
    dropped; a key waited for is handed over as it comes.
    """

    __slots__ = ("_waiter", "ended", "leg", "queued")

    def __init__(self, leg: Leg) -> None:
        self.leg = leg
        self.queued: deque[str] = deque()
        self.ended: EndReason | None = None
        self._waiter: defer.Deferred[str] | None = None
        leg.on_digit = self._digit
        leg.on_ended = self._ended

    def _digit(self, key: str, method: str) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None:
            self.queued.append(key)
            return
        self.leg.stop_playing()
        waiter.callback(key)

    def _ended(self, reason: EndReason) -> None:
        self.ended = reason
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.errback(_Aborted(reason.value))

    def wait(self) -> defer.Deferred[str]:
        """The next key (queued or to come); fails with `_Aborted` once the leg has ended."""
        if self.queued:
            return defer.succeed(self.queued.popleft())
        if self.ended is not None:
            return defer.fail(_Aborted(self.ended.value))
        self._waiter = defer.Deferred()
        return self._waiter

    def give_up(self) -> None:
        """The inter-digit timeout: the key waited for is "" (none)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback("")

    def release(self) -> None:
        """Stop listening: the leg's keys and end belong to whoever has it next."""
        self._waiter = None
        if self.leg.on_digit == self._digit:
            self.leg.on_digit = None
        if self.leg.on_ended == self._ended:
            self.leg.on_ended = None


_R = TypeVar("_R")


class FeatureCallPhase(StrEnum):
    """Where a short code call is, for whoever shows the stations' calls (the busy lamps,
    fed by the calls layer: this layer knows nothing of presence)."""

    STARTED = "started"  # the INVITE is being served, not answered yet
    ANSWERED = "answered"  # answered and confirmed (the ACK came)
    ENDED = "ended"  # the feature is over: the leg is hung up (or handed to a joined call)


FeatureCallListener = Callable[[Leg, FeatureCallPhase], None]


class FeatureHandler(LegOwner):
    """Runs the short code features of one site on legs (owns them: none is handed over by
    REFER, none has partners)."""

    def __init__(self, reactor: Any, site: Site, acd: AcdService, *,
                 call_features: CallFeatures | None = None,
                 reason_prompt: Mapping[Language | None, Samples] | None = None,
                 wrapup_prompt: Mapping[Language | None, Samples] | None = None,
                 translate: Callable[[Language, CommandRejected], str] | None = None) -> None:
        self.reactor = reactor
        # the site's spoken prompts by language (None: every language; gateway.media.
        # prompt_audio, loaded by the app), where it has audio: played instead of the tones
        self.reason_prompt = reason_prompt or {}
        self.wrapup_prompt = wrapup_prompt or {}
        # an ACD rejection's reason in a language (the phone catalogs, gateway.i18n, given by
        # the app), for the reason phrases a phone shows; None: English
        self.translate = translate
        self.call_features = call_features
        self.site = site
        self.acd = acd
        self.table = ShortCodeTable(site.short_codes)
        self.logins = LoginDirectory(site)  # *35*25423*1234#: "alice" on the keypad, when enabled
        self.inter_digit = site.policy.inter_digit_seconds
        self.active: set[Leg] = set()
        self._keys: dict[Leg, _Keys] = {}
        self._answered: set[Leg] = set()  # active legs answered (an error tone reaches them)
        self.call_listeners: list[FeatureCallListener] = []  # told each call's phases

    def _tell(self, leg: Leg, phase: FeatureCallPhase) -> None:
        for listener in list(self.call_listeners):
            listener(leg, phase)

    def match(self, dialled: str) -> ShortCodeMatch:
        """What `dialled` is as a whole string."""
        return self.table.match(dialled)

    def run(self, leg: Leg, match: ShortCodeMatch) -> defer.Deferred[Outcome | None]:
        """Serve `leg`, which dialled a code that matched (COMPLETE or NEED_MORE)."""
        self.active.add(leg)
        self._keys[leg] = _Keys(leg)
        self._tell(leg, FeatureCallPhase.STARTED)
        d = defer.ensureDeferred(self._run(leg, match))

        def done(result: Outcome | None) -> Outcome | None:
            self.active.discard(leg)
            self._answered.discard(leg)
            self._release(leg)
            return result

        def ended(result: _R) -> _R:
            self._tell(leg, FeatureCallPhase.ENDED)
            return result

        def failed(failure: Failure) -> defer.Deferred[Outcome | None] | None:
            # The boundary guard of a feature call: the caller hanging up ends the flow
            # quietly; anything else is a bug, logged with its traceback, and the caller is
            # told (error tone, or 500 before the answer) instead of being left in silence.
            answered = leg in self._answered
            self.active.discard(leg)
            self._answered.discard(leg)
            self._release(leg)
            if isinstance(failure.value, _Aborted):
                if match.code is not None:
                    self._journal(leg, match.code, Outcome(False, "Caller hung up", 487))
                leg.hangup()
                return None
            log.failure("feature for {dialled} failed", failure, dialled=leg.dialled)
            if match.code is not None:
                self._journal(leg, match.code,
                              Outcome(False, f"Internal error: {failure.getErrorMessage()}", 500))
            if not answered:
                leg.refuse(Refusal(500, "Server Internal Error"))
                leg.hangup()
                return None
            hung_up: defer.Deferred[Outcome | None] = defer.Deferred()

            def hang_up(_: object) -> None:
                leg.hangup()
                hung_up.callback(None)

            leg.play_tone(ERROR_TONE, ERROR_MS).addBoth(hang_up)
            return hung_up

        return d.addCallbacks(done, failed).addBoth(ended)

    # -- the flows -------------------------------------------------------------------------

    async def _run(self, leg: Leg, match: ShortCodeMatch) -> Outcome | None:
        station = leg.station
        code = match.code
        assert code is not None
        if station is None:
            outcome = Outcome(False, "Calling station unknown", 403)
            return self._finish_refused(leg, code, outcome)
        if match.kind is MatchKind.COMPLETE and not self._needs_pin(station, code, match.argument):
            if leg.has_media and self._asks_first(station, code, match.argument):
                await self._answer(leg)
                return await self._finish(leg, code, await self._with_prompts(leg, station, code, match.argument))
            outcome = self._perform(station, code, match.argument)
            if not leg.has_media:
                return self._finish_refused(leg, code, outcome)
            await self._answer(leg)
            if outcome.in_use:
                outcome = await self._forced_login(leg, station, code, match.argument)
            return await self._finish(leg, code, outcome)
        # more digits needed: the rest of the code, or the PIN of `#3000`
        if not leg.has_media:
            outcome = Outcome(False, f"Cannot collect digits: {leg.media_problem}", 488)
            return self._finish_refused(leg, code, outcome)
        await self._answer(leg)
        if match.kind is MatchKind.COMPLETE:  # a login code without the PIN
            pin = await self._collect(leg, DIAL_TONE)
            argument = f"{match.argument}*{pin}" if pin else match.argument
            outcome = self._perform(station, code, argument) if pin else Outcome(False, "No PIN entered", 403)
            shown = argument
        else:
            final = await self._collect_code(leg, match)
            if final.kind is not MatchKind.COMPLETE or final.code is None:
                return await self._finish(leg, code, Outcome(False, "Incomplete or unknown code", 404))
            code, shown = final.code, final.argument
            if self._needs_pin(station, code, final.argument):
                pin = await self._collect(leg, DIAL_TONE)
                shown = f"{final.argument}*{pin}"
            outcome = await self._with_prompts(leg, station, code, shown)
        if outcome.in_use:
            outcome = await self._forced_login(leg, station, code, shown)
        return await self._finish(leg, code, outcome)

    async def _forced_login(self, leg: Leg, station: str, code: ShortCode, argument: str) -> Outcome:
        """The guide's Forced Login menu: 1 logs the other session out, 2 cancels."""
        while True:
            key = await self._one_key(leg, FORCED_LOGIN_PROMPT)
            if key == "1":
                return self._perform(station, code, argument, force=True)
            if key == "2" or key == "":
                return Outcome(False, "Forced login cancelled", 486)

    # -- prompts for a code the command lacks -----------------------------------------------

    def _code_to_ask(self, station: str, code: ShortCode, argument: str) -> CodeKind | None:
        agent = self.acd.acd.agent_at_station(station)
        if agent is None:
            return None
        return code_to_ask(self.site.policy, code.feature, argument, agent)

    def _asks_first(self, station: str, code: ShortCode, argument: str) -> bool:
        """Whether the call must be answered to prompt for a code before the command runs."""
        owed = code.feature is not Feature.LOGIN and wrapup_owed(self.acd.acd.agent_at_station(station))
        return owed or self._code_to_ask(station, code, argument) is not None

    async def _with_prompts(self, leg: Leg, station: str, code: ShortCode, argument: str) -> Outcome:
        """The owed wrap-up code first, then the reason or wrap-up code this command lacks
        (guide: the Reason Code menu), then the command itself."""
        if code.feature is not Feature.LOGIN:
            refused = await self._wrapup_first(leg, station)
            if refused is not None:
                return refused
        kind = self._code_to_ask(station, code, argument)
        if kind is None:
            return self._perform(station, code, argument)
        keyed = await self._collect(leg, self._prompt(kind, leg))
        if not keyed:
            return Outcome(False, f"No {_NAMES[kind]} entered after the prompt", 404)
        number = parse_keyed_code(self.site, kind, keyed)
        if number is None:
            return Outcome(False, f"Unknown {_NAMES[kind]} {keyed} entered after the prompt", 404)
        outcome = self._perform(station, code, str(number))
        if outcome.ok:
            return Outcome(True, f"Done with {_NAMES[kind]} {number} entered after the prompt", 200,
                           outcome.events)
        return outcome

    async def _wrapup_first(self, leg: Leg, station: str) -> Outcome | None:
        """Ask for the wrap-up code the station's agent owes, if any (the leg is answered):
        None once given (or none owed), else the refusal; the code then stays owed."""
        agent = self.acd.acd.agent_at_station(station)
        if agent is None or not wrapup_owed(agent):
            return None
        keyed = await self._collect(leg, self._prompt(CodeKind.WRAPUP, leg))
        number = parse_keyed_code(self.site, CodeKind.WRAPUP, keyed)
        if number is None:
            what = f"Unknown wrap-up code {keyed}" if keyed else "No wrap-up code"
            return Outcome(False, f"{what} entered for the last call; it is still owed", 404)
        events = tuple(self.acd.execute(cmd.GiveWrapupCode(agent.user_id, number)))
        judged = self._judge(events)
        return None if judged.ok else judged

    # -- commands --------------------------------------------------------------------------

    def _needs_pin(self, station: str, code: ShortCode, argument: str) -> bool:
        """A login dialled without the PIN, by a user that needs one here (Force Login)."""
        if code.feature is not Feature.LOGIN:
            return False
        user_id, pin = parse_login_argument(argument)
        return pin is None and self.site.pin_required(self.logins.by_digits(user_id), station)

    def _perform(self, station: str, code: ShortCode, argument: str, *, force: bool = False) -> Outcome:
        """Run the feature's ACD command for `station`; the outcome says whether it took."""
        feature = code.feature
        agent = self.acd.acd.agent_at_station(station)
        command: cmd.Command
        if feature is Feature.LOGIN:
            user_id, pin = parse_login_argument(argument)
            command = cmd.Login(self.logins.by_digits(user_id), pin or "", station, force=force)
        elif agent is None:
            return Outcome(False, "No user logged on at this station", 403)
        elif feature is Feature.LOGOUT:
            command = cmd.Logout(agent.user_id, self._number(argument))
        elif feature in _STATE_FEATURES:
            number = self._number(argument)
            if argument and number is None:
                return Outcome(False, f"Bad code {argument!r}", 404)
            if feature is Feature.NOT_READY:
                command = cmd.SetState(agent.user_id, AgentState.NOT_READY, reason_code=number)
            else:
                command = cmd.SetState(agent.user_id, _STATE_FEATURES[feature], wrapup_code=number)
        elif feature in (Feature.GROUP_DISABLE, Feature.GROUP_ENABLE):
            if not argument:
                return Outcome(False, "No group given", 404)
            command = cmd.SetMembership(agent.user_id, argument, feature is Feature.GROUP_ENABLE)
        else:
            return self._call_feature(agent.user_id, feature, argument)
        events = tuple(self.acd.execute(command))
        return self._judge(events)

    def _call_feature(self, user_id: str, feature: Feature, argument: str) -> Outcome:
        """Recording (`*43`/`*44`) and supervisor intervention (`*45*N#` ...) on routed calls."""
        if self.call_features is None:
            return Outcome(False, f"{feature.value} is not available on this gateway", 501)
        if feature in _RECORDING:
            why_not = self.call_features.agent_recording(user_id, _RECORDING[feature])
            if why_not is not None:
                return Outcome(False, why_not, 409)
            return Outcome(True, "Recording started" if _RECORDING[feature] else "Recording stopped")
        if feature not in _INTERVENTIONS:
            return Outcome(False, f"{feature.value} is not available on this gateway", 501)
        if not argument:
            return Outcome(False, "No agent given", 404)
        refused = self.call_features.check(user_id, argument)
        if refused is not None:
            return Outcome(False, refused.reason, refused.status)
        return Outcome(True, f"{feature.value} agent {argument}", target=argument)

    @staticmethod
    def _number(argument: str) -> int | None:
        return parse_code_argument(argument) if argument else None

    @staticmethod
    def _judge(events: tuple[Event, ...]) -> Outcome:
        for event in events:
            if isinstance(event, LoginRejected):
                status = {
                    LoginRejectReason.WRONG_PIN: 403,
                    LoginRejectReason.LOCKED: 403,
                    LoginRejectReason.SOURCE_LOCKED: 403,
                    LoginRejectReason.UNKNOWN_USER: 404,
                    LoginRejectReason.UNKNOWN_STATION: 404,
                    LoginRejectReason.IN_USE: 486,
                    LoginRejectReason.FORCE_REFUSED_BUSY: 486,
                }[event.reason]
                text = event.reason.value.replace("-", " ").capitalize()
                return Outcome(False, text, status, events, in_use=event.reason is LoginRejectReason.IN_USE)
            if isinstance(event, CommandRejected):
                status = 404 if event.reason.startswith("unknown") else 403
                return Outcome(False, _capital(event.reason), status, events, rejected=event)
        return Outcome(True, "Done", 200, events)

    # -- leg plumbing ----------------------------------------------------------------------

    async def _answer(self, leg: Leg) -> None:
        """Answer and wait for the confirmation (the ACK); `_Aborted` when the leg ended first."""
        try:
            await leg.answer()
        except (ConnectionError, TimeoutError) as exc:  # Leg.answer: it ended, or was never confirmed
            raise _Aborted() from exc
        self._answered.add(leg)
        self._tell(leg, FeatureCallPhase.ANSWERED)

    def _release(self, leg: Leg) -> None:
        keys = self._keys.pop(leg, None)
        if keys is not None:
            keys.release()

    async def _finish(self, leg: Leg, code: ShortCode, outcome: Outcome) -> Outcome:
        self._release(leg)  # keys pressed from now on are not ours (a joined call's, or none)
        if outcome.ok and outcome.target and self.call_features is not None:
            # a supervisor intervention: the answered leg stays up, joined to the agent's call
            agent = self.acd.acd.agent_at_station(leg.station) if leg.station else None
            refused = (self.call_features.join(leg, agent.user_id, outcome.target, code.feature)
                       if agent is not None else Refusal(403, "No user logged on at this station"))
            if refused is None:
                self._journal(leg, code, outcome)
                await self._joined(leg)
                return outcome
            outcome = Outcome(False, refused.reason, refused.status)
        self._journal(leg, code, outcome)
        tone, ms = (CONFIRMATION_TONE, CONFIRMATION_MS) if outcome.ok else (ERROR_TONE, ERROR_MS)
        await leg.play_tone(tone, ms)
        leg.hangup()
        return outcome

    @staticmethod
    def _joined(leg: Leg) -> defer.Deferred[None]:
        """Fires when a leg joined to a call (a supervisor's) ends: until then the feature
        still has it, so the call dispatcher keeps routing its in-dialog requests (its BYE)
        to it. Supervision owns `on_ended` from the join on; this chains onto its handler
        (should Supervision replace it later, the deferred stays unfired: the dispatcher
        then keeps a dead leg's entry, never drops a live one)."""
        d: defer.Deferred[None] = defer.Deferred()
        theirs = leg.on_ended

        def ended(reason: EndReason) -> None:
            if theirs is not None:
                theirs(reason)
            if not d.called:
                d.callback(None)

        leg.on_ended = ended
        return d

    def _finish_refused(self, leg: Leg, code: ShortCode, outcome: Outcome) -> Outcome:
        """No usable media: say it in the final response instead of with a tone."""
        self._release(leg)
        if outcome.ok:
            outcome = Outcome(True, f"{outcome.reason}, but no usable media: {leg.media_problem}", 488,
                              outcome.events)
        self._journal(leg, code, outcome)  # the journal keeps the English reason
        leg.refuse(Refusal(outcome.status, self._phrase(leg, outcome)))
        return outcome

    def _phrase(self, leg: Leg, outcome: Outcome) -> str:
        """The reason phrase of a refusal, which some phones show beside the error tone: the
        ACD's reason in the language of the station's user (RFC 3261 25.1: reason-phrase is
        UTF-8 text without CR or LF; kept short)."""
        text = outcome.reason
        if outcome.rejected is not None and self.translate is not None:
            text = _capital(self.translate(self._language(leg), outcome.rejected))
        return " ".join(text.split())[:100]

    def _language(self, leg: Leg) -> Language:
        """The language of the leg's station and the user logged on there (as its screens)."""
        agent = self.acd.acd.agent_at_station(leg.station) if leg.station else None
        return self.site.language_for(agent.user_id if agent else None, leg.station)

    def _journal(self, leg: Leg, code: ShortCode, outcome: Outcome) -> None:
        record = FeatureUsed(at=self.reactor.seconds(), station=leg.station,
                             dialled=_mask_pin(leg.dialled, code), feature=code.feature,
                             ok=outcome.ok, reason=outcome.reason, status=outcome.status)
        self.acd.journal([record])
        log.info("{station} dialled {dialled}: {feature} {result} ({reason})", station=leg.station,
                 dialled=record.dialled, feature=code.feature.value,
                 result="done" if outcome.ok else "refused", reason=outcome.reason)

    def _prompt(self, kind: CodeKind, leg: Leg) -> Cadence | Samples:
        """The site's spoken prompt for `kind` where it has one, else the prompt tone: the file
        of the station user's language, else the one for every language, else the site's
        language's."""
        files = self.wrapup_prompt if kind is CodeKind.WRAPUP else self.reason_prompt
        if files:
            for key in (self._language(leg), None, self.site.policy.language):
                if key in files:
                    return files[key]
        return _PROMPTS[kind]

    async def _collect(self, leg: Leg, prompt: Cadence | Samples) -> str:
        """Digits until `#` or the inter-digit timeout (the prompt stops at the first key)."""
        keys: list[str] = []
        while True:
            key = await self._one_key(leg, prompt if not keys else None)
            if key in ("", "#"):
                return "".join(keys)
            keys.append(key)

    async def _collect_code(self, leg: Leg, match: ShortCodeMatch) -> ShortCodeMatch:
        """The rest of a code dialled in part (`*35` ...), key by key."""
        collector = DigitCollector(self.table, prefix=leg.dialled)
        result = match
        first = True
        while True:
            key = await self._one_key(leg, DIAL_TONE if first else None)
            first = False
            if key == "":
                return collector.end()
            result = collector.press(key)
            if result.kind is MatchKind.NO_MATCH:
                return result
            if result.kind is MatchKind.COMPLETE and not result.more_possible:
                return result

    def _one_key(self, leg: Leg, prompt: Cadence | Samples | None) -> defer.Deferred[str]:
        """The next key press, or "" after the inter-digit timeout; fails if the leg ends.

        A key pressed already (before the ACK, or while the last one was handled) is taken
        at once, without the prompt: the prompt stops at the first key anyway. A spoken
        prompt is heard to its end before the inter-digit timeout starts.
        """
        keys = self._keys[leg]
        if keys.queued or keys.ended is not None:
            return keys.wait()
        d = keys.wait()
        timers: list[Any] = []

        def start_timer(_: object = None) -> None:
            if not d.called:
                timers.append(self.reactor.callLater(self.inter_digit, keys.give_up))

        if isinstance(prompt, Cadence):
            leg.play_tone(prompt, PROMPT_MS)
            start_timer()
        elif prompt is not None:
            leg.play_samples(prompt).addCallback(start_timer)
        else:
            start_timer()

        def settled(result: object) -> object:
            for timer in timers:
                if timer.active():
                    timer.cancel()
            return result

        return d.addBoth(settled)


def _capital(text: str) -> str:
    """The ACD's lower-case reasons as a phrase: "Reason code required"."""
    return text[:1].upper() + text[1:]


def _mask_pin(dialled: str, code: ShortCode) -> str:
    """`*35*3000*1234#` -> `*35*3000*xxxx#` for the journal: PINs never go to disk in clear."""
    if code.feature is not Feature.LOGIN:
        return dialled
    head, star, tail = dialled.rpartition("*")
    if not star or head.count("*") == 0 or head.endswith("*35"):
        return dialled
    pin = tail.rstrip("#")
    return f"{head}*{'x' * len(pin)}{tail[len(pin):]}"
