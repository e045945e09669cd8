"""The IP Phone Agent service over HTTP: the screen flow, served as Cisco and Yealink XML
and as Polycom microbrowser XHTML.

Phones fetch pages with GET (`/xml/<page>` for Cisco, `/xml/yealink/<page>` for Yealink,
`/xml/polycom/<page>` for Polycom);
choosing a menu item is a GET of the item's URL, which runs the ACD command through
`AcdService.execute` (journaled before the answer) and answers with the next screen, or a
text screen saying why the ACD refused. Which station a request is for: the `ext` query
parameter (every link we hand out carries it), else the station whose SIP registration
comes from the request's source address (when exactly one does), else the phone must enter
its extension on the login screen. A request that acts for a station (logs on or off, forces a
login, changes state, gives a code, records) is taken only from the host the station is
registered from (its SIP bindings' sources, its H.323 registration's addresses) or with the
station's session token (`sid`, in every URL the screens hand out to the phone, rotated at each
logon and logoff); a PIN only from the registered host (issue 19). Screens are in the language of the user (the agent at the
station, or the one logging on), else the station's, else the site's (`Site.language_for`),
and go out in the character set each phone's browser expects (`charsets`). See
docs/phone-services.md.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from gettext import NullTranslations
from typing import Any

from acdgate.acd.agents import AgentView
from acdgate.acd.caller_data import DataFields
from acdgate.acd.code_prompts import wrapup_owed
from acdgate.acd.commands import Command, GiveWrapupCode, Login, Logout, SetState
from acdgate.acd.events import (
    CommandRejected,
    Event,
    LoggedIn,
    LoggedOut,
    LoginRejected,
    LoginRejectReason,
    OfferCall,
    StateChanged,
    UserLocked,
)
from acdgate.acd.feature_levels import FeatureLevel, LevelFeature, allows
from acdgate.acd.languages import Language
from acdgate.acd.login_names import LoginDirectory
from acdgate.acd.site import Site
from acdgate.acd.states import ON_CALL, AgentState, MenuChoice
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.journal import PhoneRequestRefused
from acdgate.gateway.i18n.catalogs import N_, rejection_text, translations
from acdgate.gateway.sip.registrar import Registrar
from acdgate.gateway.web import charsets, cisco_xml, polycom_xhtml, yealink_xml
from acdgate.gateway.web.caller_data_screen import laid_out, no_user_screen
from acdgate.gateway.web.phone_screens import (
    CHOICE_LABELS,
    AgentScreenState,
    CallerData,
    Links,
    Notice,
    Page,
    Screen,
    TextScreen,
    caller_data,
    change_state_menu,
    code_menu,
    forced_login_menu,
    login_screen,
    message_screen,
    options_menu,
    owed_wrapup_menu,
    skill_stats,
    status_line,
)
from twisted.logger import Logger
from twisted.web import resource, server

log = Logger(namespace="acdgate.phone")

RecordingFlags = Callable[[str], Set[str]]  # user id -> {"Rec", "Mon"} (phone_screens.Notice)
RecordingControl = Callable[[str, bool], "str | None"]  # (user id, start?) -> None or why not
StationLookup = Callable[[str], "str | None"]  # client IP address -> station extension
StationHosts = Callable[[str], Set[str]]  # station extension -> hosts it is registered from
CharsetChoice = Callable[[Language, "str | None"], str]  # (language, Accept-Charset) -> charset
PageHandler = Callable[[Links, Mapping[str, str], NullTranslations], Screen]

SOURCE_ARG = "\0source"  # the HTTP client's host, added to the page's args by PhonePages (not a query key)
UNREACHABLE = N_("Unable to communicate with the IP Phone Agent service.")
FORCED_LOGIN_SECONDS = 60.0  # how long choice 1 of a Forced Login menu stays valid
SERVICE_TITLE = N_("IP Phone Agent")
LEVEL_NAMES = {FeatureLevel.STANDARD: N_("Standard"), FeatureLevel.ENHANCED: N_("Enhanced"),
               FeatureLevel.PREMIUM: N_("Premium")}


def no_recording(user_id: str) -> Set[str]:
    """The default recording provider: nothing is recorded or monitored."""
    return frozenset()


class CallerBook:
    """ANI, DNIS and enterprise data of each agent's current routed call, from ACD events.

    The engine's views do not carry caller data, so the phone service keeps what `OfferCall`
    said until the agent leaves the call (guide: caller data stays throughout the call).
    """

    def __init__(self) -> None:
        self._by_user: dict[str, CallerData] = {}

    def on_events(self, events: list[Event]) -> None:
        """An `AcdService` listener."""
        for e in events:
            if isinstance(e, OfferCall):
                self._by_user[e.user_id] = CallerData(e.call_id, e.ani, e.dnis, e.data, group=e.group)
            elif isinstance(e, StateChanged) and e.new not in ON_CALL:
                self._by_user.pop(e.user_id, None)

    def for_agent(self, view: AgentView) -> CallerData | None:
        """The agent's current call; a non-routed call has no ANI/DNIS here."""
        if view.call_id is None:
            return None
        data = self._by_user.get(view.user_id)
        if data is not None and data.call_id == view.call_id:
            return data
        return CallerData(view.call_id, "", "", routed=False)


@dataclass(frozen=True, slots=True)
class _PendingForce:
    user_id: str
    pin: str
    station: str
    expires: float


class ForcedLogins:
    """Logins refused as "in use", kept briefly so choice 1 can force them.

    The menu item's URL carries a random token, never the PIN; one pending login per
    station, dropped once used or expired.
    """

    def __init__(self, ttl: float = FORCED_LOGIN_SECONDS) -> None:
        self._ttl = ttl
        self._pending: dict[str, _PendingForce] = {}

    def add(self, user_id: str, pin: str, station: str, now: float) -> str:
        """Remember the login; the token for the Forced Login menu."""
        self._pending = {
            t: p for t, p in self._pending.items() if p.expires > now and p.station != station
        }
        token = secrets.token_urlsafe(12)
        self._pending[token] = _PendingForce(user_id, pin, station, now + self._ttl)
        return token

    def take(self, token: str, station: str, now: float) -> _PendingForce | None:
        """The login for `token` at `station`, once; None when unknown or expired."""
        pending = self._pending.pop(token, None)
        if pending is None or pending.expires <= now or pending.station != station:
            return None
        return pending


class StationSessions:
    """A random token per station session, for phones whose HTTP requests do not come from the
    address they register from: the screens' URLs carry it (`Links.sessions`), a logon or
    logoff at the station replaces it, and it is compared in constant time."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}

    def token(self, ext: str) -> str:
        """The station's current token (made on first use)."""
        return self._tokens.setdefault(ext, secrets.token_urlsafe(16))

    def valid(self, ext: str, offered: str) -> bool:
        """True when `offered` is the station's current token."""
        current = self._tokens.get(ext)
        return current is not None and hmac.compare_digest(current.encode(), offered.encode())

    def on_events(self, events: list[Event]) -> None:
        """An `AcdService` listener: a new session at each logon and logoff."""
        for e in events:
            if isinstance(e, (LoggedIn, LoggedOut)):
                self._tokens[e.station] = secrets.token_urlsafe(16)


# pages that change something for the station (the login page too, with `id`: a login attempt)
_ACTING_PAGES = frozenset({Page.FORCED, Page.SET, Page.RECORD, Page.OWED, Page.REASON, Page.WRAPUP})


def acts(page: Page, args: Mapping[str, str]) -> bool:
    """True when a GET of `page` with `args` may change the station's or agent's state (the
    Reason Code and Wrap-up Data menus set the state at once when the site has no codes)."""
    return page in _ACTING_PAGES or (page is Page.LOGIN and "id" in args)


class _Unavailable(Exception):
    """The ACD service failed to run a command (logged where it happened)."""


class PhoneAgentService:
    """The screen flow: (page, query, station) -> next screen, running commands on the way."""

    def __init__(
        self,
        acd_service: AcdService,
        *,
        recording_flags: RecordingFlags = no_recording,
        recording_control: RecordingControl | None = None,
    ) -> None:
        self._service = acd_service
        self.site = acd_service.acd.site
        self.logins = LoginDirectory(self.site)  # the login screen takes an agent ID or name
        self._flags = recording_flags
        self._recording = recording_control
        self.callers = CallerBook()
        # the enterprise data of a routed call now (RoutedCalls.data_of, set once calls are served)
        self.call_data: Callable[[str], DataFields | None] | None = None
        self.forced = ForcedLogins()
        self.sessions = StationSessions()
        acd_service.listeners.append(self.callers.on_events)
        acd_service.listeners.append(self.sessions.on_events)
        self._pages: dict[Page, PageHandler] = {
            Page.HOME: self._home,
            Page.LOGIN: self._login_page,
            Page.FORCED: self._forced,
            Page.STATS: self._agent_page(self._stats),
            Page.CDATA: self._agent_page(self._cdata),
            Page.STATE: self._agent_page(self._state_menu),
            Page.REASON: self._agent_page(self._reason_menu),
            Page.WRAPUP: self._agent_page(self._wrapup_menu),
            Page.OPTIONS: self._agent_page(self._options),
            Page.SET: self._agent_page(self._set),
            Page.RECORD: self._agent_page(self._record),
            Page.OWED: self._agent_page(self._owed, asks_owed=False),
            Page.IDLE: self._idle,
        }

    def is_station(self, extension: str) -> bool:
        return self.site.station(extension) is not None

    def language(self, page: Page, ext: str, args: Mapping[str, str]) -> Language:
        """The language of the answer to `page` at `ext`: that of the user logging on (the
        login form's `id`), else of the agent at the station, else the station's or the site's."""
        user_id: str | None = None
        if page is Page.LOGIN and "id" in args:
            user_id = self.logins.by_text(args["id"])
        elif ext:
            view = self._service.acd.agent_at_station(ext)
            user_id = view.user_id if view is not None else None
        return self.site.language_for(user_id, ext or None)

    def screen(
        self, page: Page, links: Links, args: Mapping[str, str], language: Language
    ) -> Screen:
        """The screen answering `page` for the station `links.ext` ("" when not known)."""
        tr = translations(language)
        try:
            return self._pages[page](links, args, tr)
        except _Unavailable:
            return message_screen(
                tr.gettext(SERVICE_TITLE), [tr.gettext(UNREACHABLE)], "", links.url(Page.HOME), tr=tr
            )

    # -- plumbing ------------------------------------------------------------------------

    def _now(self) -> float:
        return float(self._service.reactor.seconds())

    def refused(self, page: Page, ext: str, source: str, reason: str) -> None:
        """Journal and log an acting request refused for coming from elsewhere."""
        log.warn("phone service: refused /{page} for station {ext} from {source}: {reason}",
                 page=page.value, ext=ext, source=source, reason=reason)
        self._service.journal([PhoneRequestRefused(at=self._now(), station=ext, source=source,
                                                   page=page.value, reason=reason)])

    def _execute(self, command: Command) -> list[Event]:
        try:
            return self._service.execute(command)
        except Exception as exc:  # the store or engine failed: tell the phone, keep serving
            log.failure("phone command {command} failed", command=command)
            raise _Unavailable from exc

    def _screen_state(self, view: AgentView, tr: NullTranslations) -> AgentScreenState:
        notices = self._flags(view.user_id)
        return AgentScreenState(
            view=view,
            status=status_line(view.state, notices, tr),
            recording=self._recording is not None and self._may_record(view.user_id),
            tr=tr,
        )

    def _may_record(self, user_id: str) -> bool:
        """Guide "Feature Levels": agent-initiated recording (and its Option key) is not in
        Standard."""
        return allows(self.site.feature_level_of(user_id), LevelFeature.AGENT_RECORDING)

    def _level_refused(self, s: AgentScreenState) -> str:
        level = self.site.feature_level_of(s.view.user_id)
        return s.tr.gettext("Recording is not in your feature level ({level}).").format(
            level=s.tr.gettext(LEVEL_NAMES[level])
        )

    def _agent_page(
        self, page: Callable[[Links, AgentScreenState, Mapping[str, str]], Screen], *,
        asks_owed: bool = True,
    ) -> PageHandler:
        """Run `page` for the agent at the station; the Login screen when there is none, the
        Wrap-up Data screen first while the agent owes the code of a routed call."""

        def run(links: Links, args: Mapping[str, str], tr: NullTranslations) -> Screen:
            view = self._service.acd.agent_at_station(links.ext) if links.ext else None
            if view is None:
                return login_screen(links, tr=tr)
            s = self._screen_state(view, tr)
            if asks_owed and wrapup_owed(view) and self.site.wrapup_codes:
                return owed_wrapup_menu(links, s, self.site.wrapup_codes)
            return page(links, s, args)

        return run

    @staticmethod
    def _message(
        links: Links, s: AgentScreenState, screen: str, lines: list[str], then: Page
    ) -> TextScreen:
        """An agent's error screen titled `screen` (a message id), OK going on to `then`."""
        return message_screen(s.title(screen), lines, s.status, links.url(then), tr=s.tr)

    def _refused(self, links: Links, s: AgentScreenState, lines: list[str]) -> TextScreen:
        return self._message(links, s, N_("Change State"), lines, Page.STATE)

    # -- logging in ----------------------------------------------------------------------

    def _home(self, links: Links, args: Mapping[str, str], tr: NullTranslations) -> Screen:
        view = self._service.acd.agent_at_station(links.ext) if links.ext else None
        if view is None:
            return login_screen(links, tr=tr)
        s = self._screen_state(view, tr)
        call = self.callers.for_agent(view)
        if call is not None and call.routed:  # guide: caller data shows throughout the call
            return self._caller_data(links, s, call)
        if wrapup_owed(view) and self.site.wrapup_codes:  # guide: wrap-up data after the call
            return owed_wrapup_menu(links, s, self.site.wrapup_codes)
        return self._stats(links, s, args)

    def _login_page(self, links: Links, args: Mapping[str, str], tr: NullTranslations) -> Screen:
        if "id" not in args:
            return login_screen(links, tr=tr)
        user_id = self.logins.by_text(args["id"])
        if not links.ext:
            return message_screen(
                tr.gettext("Agent Login"),
                [tr.gettext("Enter your extension.")],
                "",
                links.url(Page.LOGIN),
                tr=tr,
            )
        return self._login(links, user_id, args.get("pin", ""), tr, force=False, source=args.get(SOURCE_ARG, ""))

    def _forced(self, links: Links, args: Mapping[str, str], tr: NullTranslations) -> Screen:
        pending = self.forced.take(args.get("token", ""), links.ext, self._now())
        if pending is None:
            return message_screen(
                tr.gettext("Forced Login"),
                [tr.gettext("The forced login request has expired. Log in again.")],
                "",
                links.url(Page.LOGIN),
                tr=tr,
            )
        return self._login(links, pending.user_id, pending.pin, tr, force=True, source=args.get(SOURCE_ARG, ""))

    def _login(
        self, links: Links, user_id: str, pin: str, tr: NullTranslations, *, force: bool, source: str
    ) -> Screen:
        _ = tr.gettext
        events = self._execute(Login(user_id, pin, links.ext, force=force, source=source))
        rejected: LoginRejected | None = None
        locked: UserLocked | None = None
        for e in events:
            if isinstance(e, LoggedIn):
                return self._agent_page(self._stats)(links, {}, tr)
            if isinstance(e, LoginRejected):
                rejected = e
            elif isinstance(e, UserLocked):
                locked = e
        if rejected is None:  # the engine always answers a login; be explicit if not
            return message_screen(_("Agent Login"), [_(UNREACHABLE)], "", links.url(Page.LOGIN), tr=tr)
        reason = rejected.reason
        if reason is LoginRejectReason.IN_USE:
            token = self.forced.add(user_id, pin, links.ext, self._now())
            return forced_login_menu(links, user_id, token, tr=tr)
        if reason in (LoginRejectReason.WRONG_PIN, LoginRejectReason.UNKNOWN_USER):
            lines = [_("Login failed: invalid agent ID or password.")]
            if locked is not None:
                seconds = round(locked.until - locked.at)
                lines.append(
                    _("Too many failed logins: ID {user_id} is locked for {seconds} s.").format(
                        user_id=user_id, seconds=seconds
                    )
                )
        elif reason is LoginRejectReason.LOCKED:
            lines = [
                _("ID {user_id} is locked after too many failed logins. Try again later.").format(
                    user_id=user_id
                )
            ]
        elif reason is LoginRejectReason.SOURCE_LOCKED:
            lines = [_("Too many failed logins from this phone. Try again later.")]
        elif reason is LoginRejectReason.UNKNOWN_STATION:
            lines = [_("Extension {ext} is not a station of this ACD.").format(ext=links.ext)]
        else:
            lines = [
                _("The agent ID or extension is on a call."),
                _("A forced login is possible when the call ends."),
            ]
        return message_screen(_("Agent Login"), lines, "", links.url(Page.LOGIN), tr=tr)

    # -- agent screens -------------------------------------------------------------------

    def _stats(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        now = self._now()
        user_id = s.view.user_id
        rows = [
            (f"{g.number} {g.name}", self._service.acd.group_stats(g.number, now))
            for g in self.site.groups
            if user_id in g.members and g.number not in s.view.disabled_groups
        ]
        return skill_stats(links, s, rows, self.site.policy.skill_stats_refresh_seconds)

    def _cdata(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        return self._caller_data(links, s, self.callers.for_agent(s.view))

    # -- caller data layouts and the idle screen (issue 16) -------------------------------

    def _caller_data(self, links: Links, s: AgentScreenState, call: CallerData | None) -> Screen:
        """The Caller Data screen in the layout of the call's group, with its data now."""
        data = self.call_data(call.call_id) if call is not None and self.call_data is not None else None
        return laid_out(caller_data(links, s, call), call, self.site, data)

    def _idle(self, links: Links, args: Mapping[str, str], tr: NullTranslations) -> Screen:
        """"No User" and the extension when nobody is logged on (what a phone is pushed after a
        logoff, or fetches as its idle URL); else the agent's home screen."""
        if not links.ext:
            return login_screen(links, tr=tr)
        if self._service.acd.agent_at_station(links.ext) is None:
            return no_user_screen(links, tr)
        return self._home(links, args, tr)

    def _state_menu(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        return change_state_menu(
            links,
            s,
            self._service.acd.allowed_transitions(s.view.user_id),
            reason_codes=bool(self.site.not_ready_reasons),
            logout_codes=bool(self.site.logout_reasons),
            wrapup_codes=bool(self.site.wrapup_codes),
        )

    def _choice(self, args: Mapping[str, str], allowed: tuple[MenuChoice, ...]) -> MenuChoice:
        choice = MenuChoice(args.get("to", ""))  # ValueError: caught by the caller
        if choice not in allowed:
            raise ValueError(choice)
        return choice

    def _reason_menu(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        try:
            choice = self._choice(args, (MenuChoice.NOT_READY, MenuChoice.LOGOUT))
        except ValueError:
            return self._refused(links, s, [s.tr.gettext("No reason codes for that choice.")])
        codes = (
            self.site.not_ready_reasons
            if choice is MenuChoice.NOT_READY
            else self.site.logout_reasons
        )
        if not codes:
            return self._set(links, s, {"to": choice.value})
        return code_menu(links, s, choice, codes)

    def _wrapup_menu(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        try:
            choice = self._choice(args, (MenuChoice.WORK_READY, MenuChoice.WORK_NOT_READY))
        except ValueError:
            return self._refused(links, s, [s.tr.gettext("No wrap-up data for that choice.")])
        if not self.site.wrapup_codes:
            return self._set(links, s, {"to": choice.value})
        return code_menu(links, s, choice, self.site.wrapup_codes)

    def _owed(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        """The code chosen on the owed Wrap-up Data screen: `GiveWrapupCode`, then Skill Stats."""
        try:
            code = int(args.get("wrapup", ""))
        except ValueError:
            return owed_wrapup_menu(links, s, self.site.wrapup_codes)
        for e in self._execute(GiveWrapupCode(s.view.user_id, code)):
            if isinstance(e, CommandRejected):
                line = s.tr.gettext("Wrap-up data refused: {reason}.").format(
                    reason=rejection_text(s.tr, e))
                return self._message(links, s, N_("Wrap-up Data"), [line], Page.STATS)
        return self._agent_page(self._stats)(links, {}, s.tr)

    def _set(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        try:
            choice = self._choice(args, tuple(MenuChoice))
            reason = int(args["reason"]) if args.get("reason") else None
            wrapup = int(args["wrapup"]) if args.get("wrapup") else None
        except ValueError:
            return self._refused(links, s, [s.tr.gettext("That choice is not on the menu.")])
        user_id = s.view.user_id
        command: Command = (
            Logout(user_id, reason)
            if choice is MenuChoice.LOGOUT
            else SetState(user_id, AgentState(choice.value), reason, wrapup)
        )
        for e in self._execute(command):
            if isinstance(e, CommandRejected):
                _ = s.tr.gettext
                lines = [
                    _("{choice} refused: {reason}.").format(
                        choice=_(CHOICE_LABELS[choice]), reason=rejection_text(s.tr, e)
                    )
                ]
                if choice is MenuChoice.LOGOUT:
                    lines.append(_("You can log out only when your agent state is Not Ready."))
                return self._refused(links, s, lines)
            if isinstance(e, LoggedOut):  # guide: back to the Login screen
                return login_screen(links, user_id=user_id, tr=s.tr)
        return self._agent_page(self._stats)(links, {}, s.tr)

    def _options(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        if self._recording is None:
            lines = [s.tr.gettext("Agent-initiated recording is not enabled.")]
        elif not self._may_record(s.view.user_id):
            lines = [self._level_refused(s)]
        elif not s.talking:
            lines = [s.tr.gettext("Recording needs an active call.")]
        else:
            return options_menu(links, s, Notice.REC in self._flags(s.view.user_id))
        return self._message(links, s, N_("Options"), lines, Page.STATS)

    def _record(self, links: Links, s: AgentScreenState, args: Mapping[str, str]) -> Screen:
        if self._recording is None or not s.talking or args.get("on") not in ("0", "1"):
            return self._options(links, s, args)
        why_not = self._recording(s.view.user_id, args["on"] == "1")  # checks the level, journals
        if why_not is not None:
            if not self._may_record(s.view.user_id):
                why_not = self._level_refused(s)  # the same refusal, in the user's language
            else:  # the recording service's reasons are messages of the catalogs (N_)
                why_not = s.tr.gettext(why_not)
            return self._message(links, s, N_("Options"), [why_not], Page.STATS)
        # guide "Agent-Initiated Recording": the Skill Stats screen appears
        return self._agent_page(self._stats)(links, {}, s.tr)


# -- HTTP ---------------------------------------------------------------------------------


def station_by_registration(site: Site, registrar: Registrar, clock: Any) -> StationLookup:
    """A `StationLookup`: the one station whose SIP binding comes from that address
    (None when none does, or several do, as softphones on one lab host)."""

    def lookup(host: str) -> str | None:
        found = set()
        for b in registrar.all_bindings(clock.seconds()):
            station = site.station_by_username(b.username) if b.source[0] == host else None
            if station is not None:
                found.add(station.extension)
        return found.pop() if len(found) == 1 else None

    return lookup


def registered_hosts(site: Site, registrar: Registrar, clock: Any,
                     h323: Callable[[], Iterable[tuple[str, Set[str]]]] = lambda: ()) -> StationHosts:
    """A `StationHosts`: the source hosts of the station's unexpired SIP bindings, and the hosts
    `h323` gives for it ((extension, hosts) per live H.323 registration)."""

    def hosts(ext: str) -> Set[str]:
        if site.station(ext) is None:
            return frozenset()
        found = set()
        for b in registrar.all_bindings(clock.seconds()):
            station = site.station_by_username(b.username)
            if station is not None and station.extension == ext:
                found.add(b.source[0])
        for extension, more in h323():
            if extension == ext:
                found |= more
        return found

    return hosts


class _PageResource(resource.Resource):
    """One page of one dialect: GET answers the screen as that dialect's document."""

    isLeaf = True

    def __init__(self, pages: PhonePages, page: Page) -> None:
        super().__init__()
        self._pages = pages
        self._page = page

    def render_GET(self, request: server.Request) -> bytes:
        return self._pages.answer(self._page, request)


class _NoPage(resource.Resource):
    isLeaf = True

    def __init__(self, pages: PhonePages) -> None:
        super().__init__()
        self._pages = pages

    def render_GET(self, request: server.Request) -> bytes:
        request.setResponseCode(404)
        links = Links(self._pages.base_url(request), "")
        language = self._pages.service.site.policy.language
        tr = translations(language)
        screen = message_screen(
            tr.gettext(SERVICE_TITLE), [tr.gettext("No such page.")], "", links.url(Page.HOME), tr=tr
        )
        return self._pages.send(request, screen, language)


class PhonePages(resource.Resource):
    """`/xml/` (Cisco), `/xml/yealink/` (Yealink) or `/xml/polycom/` (Polycom): one child
    per `Page`."""

    def __init__(
        self,
        service: PhoneAgentService,
        render: Callable[[Screen, str], bytes],
        content_type: Callable[[str], bytes],
        charset: CharsetChoice,
        prefix: str,
        station_lookup: StationLookup | None,
        station_hosts: StationHosts,
    ) -> None:
        super().__init__()
        self.service = service
        self._render = render
        self._content_type = content_type
        self._charset = charset
        self._prefix = prefix
        self._lookup = station_lookup
        self._hosts = station_hosts

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        try:
            return _PageResource(self, Page(path.decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            return _NoPage(self)

    def render_GET(self, request: server.Request) -> bytes:
        return self.answer(Page.HOME, request)

    def base_url(self, request: server.Request) -> str:
        header = request.getHeader(b"host")
        if header is None:
            address: Any = request.getHost()
            host = f"{address.host}:{address.port}"
        else:
            host = header.decode("ascii", "replace")
        scheme = "https" if request.isSecure() else "http"
        return f"{scheme}://{host}{self._prefix}"

    def answer(self, page: Page, request: server.Request) -> bytes:
        args = {
            k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace")
            for k, v in (request.args or {}).items()
            if v
        }
        base = self.base_url(request)
        ext = args.get("ext", "").strip()
        client: Any = request.getClientAddress()
        source = str(getattr(client, "host", ""))
        if not ext and self._lookup is not None:
            ext = self._lookup(source) or ""
        known = not ext or self.service.is_station(ext)
        from_station = bool(ext) and known and source in self._hosts(ext)
        trusted = from_station or (bool(ext) and known and self.service.sessions.valid(ext, args.get("sid", "")))
        # the session token goes only to the phone itself (or whoever already holds it)
        links = Links(base, ext, self.service.sessions if trusted else None)
        language = self.service.language(page, ext if known else "", args)
        tr = translations(language)
        _ = tr.gettext
        if not known:
            screen: Screen = message_screen(
                _(SERVICE_TITLE),
                [_("Extension {ext} is not a station of this ACD.").format(ext=ext)],
                "",
                f"{base}/{Page.LOGIN.value}",
                tr=tr,
            )
        elif not ext and page not in (Page.HOME, Page.LOGIN):
            screen = message_screen(
                _(SERVICE_TITLE),
                [_("This phone is not identified."), _("Add ?ext=<extension> to the service URL.")],
                "",
                f"{base}/{Page.LOGIN.value}",
                tr=tr,
            )
        elif acts(page, args) and not (from_station if page is Page.LOGIN else trusted):
            # issue 19: a GET from another host (a web page a browser was lured to) must not act
            # for the station; a PIN is taken only from the phone, so nobody elsewhere can guess
            # it or lock the user out by guessing
            if page is Page.LOGIN:
                why = _("A login is taken only from the phone registered as extension {ext}.")
            else:
                why = _("This request did not come from the phone registered as extension {ext}.")
            self.service.refused(page, ext, source, why.format(ext=ext))
            screen = message_screen(_(SERVICE_TITLE), [why.format(ext=ext)], "", links.url(Page.HOME), tr=tr)
        else:
            screen = self.service.screen(page, links, {**args, SOURCE_ARG: source}, language)
        return self.send(request, screen, language)

    def send(self, request: server.Request, screen: Screen, language: Language) -> bytes:
        accept = request.getHeader(b"accept-charset")
        charset = self._charset(language, None if accept is None else accept.decode("latin-1"))
        request.setHeader(b"content-type", self._content_type(charset))
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"expires", b"-1")
        if isinstance(screen, TextScreen) and screen.refresh_seconds and screen.refresh_url:
            # Cisco and Polycom phones refresh from this header (neither has a refresh element)
            value = f"{screen.refresh_seconds}; url={screen.refresh_url}"
            request.setHeader(b"refresh", value.encode("utf-8"))
        return self._render(screen, charset)


def make_phone_resource(
    service: PhoneAgentService, *, station_hosts: StationHosts,
    station_lookup: StationLookup | None = None,
) -> resource.Resource:
    """The `/xml` tree: Cisco pages at `/xml/<page>`, Yealink pages at `/xml/yealink/<page>`,
    Polycom pages at `/xml/polycom/<page>`; `station_hosts` says where each station is
    registered from (a request acting for it must come from there, or carry its `sid`)."""
    cisco = PhonePages(
        service, cisco_xml.render, cisco_xml.content_type, charsets.cisco_charset, "/xml",
        station_lookup, station_hosts,
    )
    yealink = PhonePages(
        service, yealink_xml.render, yealink_xml.content_type, charsets.utf8_charset,
        "/xml/yealink", station_lookup, station_hosts,
    )
    polycom = PhonePages(
        service, polycom_xhtml.render, polycom_xhtml.content_type, charsets.utf8_charset,
        "/xml/polycom", station_lookup, station_hosts,
    )
    cisco.putChild(b"yealink", yealink)
    cisco.putChild(b"polycom", polycom)
    return cisco
