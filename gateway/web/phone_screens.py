"""The IP Phone Agent screens as vendor-neutral data: ACD state in, screen description out.

Each builder here draws one screen of the Cisco IP Phone Agent user guide (Agent Login,
Forced Login, Skill Stats, Caller Data, Change State, Reason Code, Wrap-up Data, Options, and
the error messages) from frozen ACD views. Nothing here does I/O or knows a phone's XML
dialect: `cisco_xml` and `yealink_xml` turn a `Screen` into a document, and `phone_xml`
serves it. Every link a screen carries is built by `Links`, which keeps the station's
`ext=` on it, so the whole flow works whatever address the phone's requests come from.
Every text a screen shows goes through the `gettext.NullTranslations` it is handed (the
catalog of the user's language, `acdgate.gateway.i18n`); the default is English.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum
from gettext import NullTranslations
from typing import Protocol
from urllib.parse import urlencode

from acdgate.acd.agents import AgentView
from acdgate.acd.site import Code
from acdgate.acd.states import AgentState, MenuChoice
from acdgate.acd.stats import GroupStats, format_hms
from acdgate.gateway.i18n.catalogs import N_

SKILL_STATS_REFRESH_SECONDS = 10  # guide "Refresh Rate": the Skill Stats default is 10 s
ENGLISH = NullTranslations()  # the messages as written: the English screens


class Key(StrEnum):
    """Soft key actions the phone performs itself (no request to us)."""

    SUBMIT = "submit"  # send the input screen's fields
    BACKSPACE = "backspace"  # guide Table 1 "<<": delete one character
    EXIT = "exit"  # leave the service
    SELECT = "select"  # open the highlighted menu item


class Page(StrEnum):
    """The service's pages: the last path segment under the vendor prefix."""

    HOME = ""  # Login screen when nobody is logged on at the station, else Skill Stats
    LOGIN = "login"  # the form; with `id` in the query, the login attempt itself
    FORCED = "forced"  # choice 1 of the Forced Login menu
    STATS = "stats"
    CDATA = "cdata"
    STATE = "state"  # the Change State menu
    REASON = "reason"  # Reason Code menu for `to=not-ready|logout`
    WRAPUP = "wrapup"  # Wrap-up Data menu for `to=work-ready|work-not-ready`
    OPTIONS = "options"
    SET = "set"  # executes `to=<MenuChoice>` with `reason=`/`wrapup=`
    RECORD = "record"  # `on=1` starts, `on=0` stops agent-initiated recording
    OWED = "owed"  # gives `wrapup=` for the routed call that has ended (the code is owed)
    IDLE = "idle"  # "No User" and the extension, or the agent's home screen (issue 16)


class FieldKind(StrEnum):
    """What an input field accepts."""

    TEXT = "text"  # letters and digits (guide: the login screen accepts both)
    DIGITS = "digits"
    PIN = "pin"  # digits, shown masked


class Notice(StrEnum):
    """Supervisor/recording notices of the status line (guide "Monitoring/Recording")."""

    REC = N_("Rec")
    MON = N_("Mon")


@dataclass(frozen=True, slots=True)
class SoftKey:
    """A soft key: a label and either a URL or a phone-local action."""

    label: str
    target: str | Key


@dataclass(frozen=True, slots=True)
class InputField:
    label: str
    param: str  # the query parameter the phone sends the value in
    kind: FieldKind
    default: str = ""


@dataclass(frozen=True, slots=True)
class InputScreen:
    """A form; Submit sends `url?<param>=<value>&...`."""

    title: str
    prompt: str
    url: str
    fields: tuple[InputField, ...]
    soft_keys: tuple[SoftKey, ...]


@dataclass(frozen=True, slots=True)
class MenuItem:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class MenuScreen:
    """A numbered menu; `status` is the guide's bottom line (current state)."""

    title: str
    status: str
    items: tuple[MenuItem, ...]
    soft_keys: tuple[SoftKey, ...]


@dataclass(frozen=True, slots=True)
class TextScreen:
    """Lines of text; `refresh_url` is fetched again every `refresh_seconds` when set."""

    title: str
    status: str
    lines: tuple[str, ...]
    soft_keys: tuple[SoftKey, ...]
    refresh_seconds: int | None = None
    refresh_url: str | None = None


Screen = InputScreen | MenuScreen | TextScreen


class SessionTokens(Protocol):
    """The per-station session tokens the screens' URLs carry (phone_xml.StationSessions)."""

    def token(self, ext: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Links:
    """Absolute URLs of the service's pages for one station (`base` has no trailing /); with
    `sessions`, every URL carries the station's current session token as `sid` (issue 19)."""

    base: str
    ext: str
    sessions: SessionTokens | None = field(default=None, compare=False)

    def url(self, page: Page, **params: str | int) -> str:
        """`page` with the station, `params` and the session token in the query."""
        values = {"ext": self.ext, **{k: str(v) for k, v in params.items()}}
        if self.sessions is not None and self.ext:
            # read when the URL is made: a logon or logoff on the way has rotated it
            values["sid"] = self.sessions.token(self.ext)
        query = urlencode(values)
        return f"{self.base}/{page.value}?{query}"

    def form(self, page: Page) -> str:
        """`page` without a query: input screens append theirs (`?id=..&pin=..&ext=..`)."""
        return f"{self.base}/{page.value}"


@dataclass(frozen=True, slots=True)
class CallerData:
    """What the Caller Data screen shows for the agent's current call."""

    call_id: str
    ani: str
    dnis: str
    data: tuple[tuple[str, str], ...] = ()
    routed: bool = True
    group: str = ""  # the group that routed it: its Caller Data layout (issue 16)


@dataclass(frozen=True, slots=True)
class AgentScreenState:
    """Everything an agent screen needs: the agent, its status line, what keys apply."""

    view: AgentView
    status: str
    recording: bool  # agent-initiated recording is enabled (the Option soft key)
    tr: NullTranslations = field(default=ENGLISH, compare=False)  # the user's language

    @property
    def on_call(self) -> bool:
        return self.view.state in (AgentState.RESERVED, AgentState.TALKING)

    @property
    def talking(self) -> bool:
        return self.view.state is AgentState.TALKING

    def title(self, screen: str) -> str:
        """The guide's screen title, `Skill Stats - ID:2311`; `screen` is translated here."""
        return self.tr.gettext("{screen} - ID:{user_id}").format(
            screen=self.tr.gettext(screen), user_id=self.view.user_id
        )


STATE_LABELS: dict[AgentState, str] = {
    AgentState.LOGGED_OUT: N_("Logout"),
    AgentState.NOT_READY: N_("Not Ready"),
    AgentState.READY: N_("Ready"),
    AgentState.RESERVED: N_("Reserved"),
    AgentState.TALKING: N_("Talking"),
    AgentState.WORK_READY: N_("Work Ready"),
    AgentState.WORK_NOT_READY: N_("Work Not Ready"),
}

CHOICE_LABELS: dict[MenuChoice, str] = {
    MenuChoice.READY: N_("Ready"),
    MenuChoice.NOT_READY: N_("Not Ready"),
    MenuChoice.WORK_READY: N_("Work Ready"),
    MenuChoice.WORK_NOT_READY: N_("Work Not Ready"),
    MenuChoice.LOGOUT: N_("Logout"),
}


def status_line(state: AgentState, notices: Set[str], tr: NullTranslations = ENGLISH) -> str:
    """The guide's status line: `Not Ready`, `Talking : Rec`, `Talking : Rec/Mon`, ..."""
    label = tr.gettext(STATE_LABELS[state])
    shown = [tr.gettext(n.value) for n in Notice if n.value in notices]
    return f"{label} : {'/'.join(shown)}" if shown else label


def _keys(links: Links, s: AgentScreenState, names: Iterable[str]) -> tuple[SoftKey, ...]:
    """The agent soft keys of guide Table 1, by name; Option only on a call with recording."""
    targets: dict[str, str | Key] = {
        N_("Select"): Key.SELECT,
        N_("Update"): links.url(Page.STATS),
        N_("Stats"): links.url(Page.STATS),
        N_("CData"): links.url(Page.CDATA),
        N_("State"): links.url(Page.STATE),
        N_("Option"): links.url(Page.OPTIONS),
    }
    keys = []
    for name in names:
        if name == "Option" and not (s.recording and s.talking):
            continue
        keys.append(SoftKey(s.tr.gettext(name), targets[name]))
    return tuple(keys)


# -- logged-out screens -------------------------------------------------------------------


def login_screen(
    links: Links, *, user_id: str = "", tr: NullTranslations = ENGLISH
) -> InputScreen:
    """Agent Login (guide Figure 2): agent ID, password, extension; Submit, <<, Exit."""
    _ = tr.gettext
    return InputScreen(
        title=_("Agent Login"),
        prompt=_("Enter agent information."),
        url=links.form(Page.LOGIN),
        fields=(
            InputField(_("ID"), "id", FieldKind.TEXT, user_id),
            InputField(_("Password"), "pin", FieldKind.PIN),
            InputField(_("Extension"), "ext", FieldKind.DIGITS, links.ext),
        ),
        soft_keys=(
            SoftKey(_("Submit"), Key.SUBMIT),
            SoftKey("<<", Key.BACKSPACE),
            SoftKey(_("Exit"), Key.EXIT),
        ),
    )


def forced_login_menu(
    links: Links, user_id: str, token: str, *, tr: NullTranslations = ENGLISH
) -> MenuScreen:
    """Forced Login (guide Figure 3): 1 logs the other session out, 2 goes back to login."""
    _ = tr.gettext
    return MenuScreen(
        title=_("Forced Login"),
        status="",
        items=(
            MenuItem(
                _("{user_id} or ext {ext} in use. Press '1' to log other agent out.").format(
                    user_id=user_id, ext=links.ext
                ),
                links.url(Page.FORCED, token=token),
            ),
            MenuItem(
                _("Press '2' to log in with another name or extension."),
                links.url(Page.LOGIN),
            ),
        ),
        soft_keys=(SoftKey(_("Select"), Key.SELECT), SoftKey(_("Exit"), Key.EXIT)),
    )


def message_screen(
    title: str,
    lines: Sequence[str],
    status: str,
    ok_url: str,
    *,
    tr: NullTranslations = ENGLISH,
) -> TextScreen:
    """An error or notice (`title` and `lines` already translated); OK (guide Table 1:
    closes the screen) goes on to `ok_url`."""
    return TextScreen(
        title=title,
        status=status,
        lines=tuple(lines),
        soft_keys=(SoftKey(tr.gettext("OK"), ok_url), SoftKey(tr.gettext("Exit"), Key.EXIT)),
    )


# -- agent screens -----------------------------------------------------------------------


def skill_stats(
    links: Links,
    s: AgentScreenState,
    groups: Sequence[tuple[str, GroupStats]],
    refresh_seconds: int = SKILL_STATS_REFRESH_SECONDS,
) -> TextScreen:
    """Skill Stats (guide Figures 4 and 11): LQT h:mm:ss, CIQ and queue name per group,
    fetched again every `refresh_seconds` (guide "Refresh Rate"; 0: only on Update)."""
    _ = s.tr.gettext
    # the guide's column heads, kept as they are in every language (as its figures show)
    lines = ["LQT      CIQ Queue"]
    for name, stats in groups:
        lines.append(f"{format_hms(stats.lqt_seconds):>7} {stats.ciq:>4} {name}")
    if not groups:
        lines.append(_("(no queues)"))
    return TextScreen(
        title=s.title(N_("Skill Stats")),
        status=s.status,
        lines=tuple(lines),
        soft_keys=_keys(links, s, ("Update", "CData", "State", "Option")),
        refresh_seconds=refresh_seconds or None,
        refresh_url=links.url(Page.STATS) if refresh_seconds else None,
    )


def caller_data(links: Links, s: AgentScreenState, call: CallerData | None) -> TextScreen:
    """Caller Data (guide Figures 5 and 12): layout, ANI, DNIS, enterprise data."""
    _ = s.tr.gettext
    if call is None:
        lines: list[str] = [_("No caller data: no current call.")]
    else:
        lines = [_("Layout: Default") if call.routed else _("Layout: Non-routed call")]
        lines.append(f"ANI: {call.ani}")  # the guide's field names, in every language
        lines.append(f"DNIS: {call.dnis}")
        lines.extend(f"{key}: {value}" for key, value in call.data)
    return TextScreen(
        title=s.title(N_("Caller Data")),
        status=s.status,
        lines=tuple(lines),
        soft_keys=_keys(links, s, ("Stats", "Option")),
    )


def change_state_menu(
    links: Links,
    s: AgentScreenState,
    choices: Sequence[MenuChoice],
    *,
    reason_codes: bool,
    logout_codes: bool,
    wrapup_codes: bool,
) -> MenuScreen:
    """Change State (guide Figures 6 and 7): only the states reachable from the current one.

    Not Ready and Logout go through the Reason Code menu and the Work states through the
    Wrap-up Data menu when the site defines such codes; other choices execute at once.
    """
    items = []
    for choice in choices:
        if choice in (MenuChoice.NOT_READY, MenuChoice.LOGOUT) and (
            reason_codes if choice is MenuChoice.NOT_READY else logout_codes
        ):
            url = links.url(Page.REASON, to=choice.value)
        elif choice in (MenuChoice.WORK_READY, MenuChoice.WORK_NOT_READY) and wrapup_codes:
            url = links.url(Page.WRAPUP, to=choice.value)
        else:
            url = links.url(Page.SET, to=choice.value)
        items.append(MenuItem(s.tr.gettext(CHOICE_LABELS[choice]), url))
    return MenuScreen(
        title=s.title(N_("Change State")),
        status=s.status,
        items=tuple(items),
        soft_keys=_keys(links, s, ("Select", "CData", "Stats", "Option")),
    )


def code_menu(
    links: Links, s: AgentScreenState, choice: MenuChoice, codes: Sequence[Code]
) -> MenuScreen:
    """Reason Code (guide Figure 8) or Wrap-up Data (Figure 9) menu for `choice`."""
    wrapup = choice in (MenuChoice.WORK_READY, MenuChoice.WORK_NOT_READY)
    param = "wrapup" if wrapup else "reason"
    return MenuScreen(
        title=s.title(N_("Wrap-up Data") if wrapup else N_("Reason Code")),
        status=s.status,
        items=tuple(
            MenuItem(c.label, links.url(Page.SET, to=choice.value, **{param: c.code}))
            for c in codes
        ),
        soft_keys=_keys(links, s, ("Select", "Stats")),
    )


def owed_wrapup_menu(links: Links, s: AgentScreenState, codes: Sequence[Code]) -> MenuScreen:
    """Wrap-up Data for the routed call that has ended (guide: wrap-up data "after the call
    ends"): shown before any other agent screen until a code is chosen."""
    return MenuScreen(
        title=s.title(N_("Wrap-up Data")),
        status=s.status,
        items=tuple(MenuItem(c.label, links.url(Page.OWED, wrapup=c.code)) for c in codes),
        soft_keys=_keys(links, s, ("Select",)),
    )


def options_menu(links: Links, s: AgentScreenState, recording_now: bool) -> MenuScreen:
    """Options (guide Figure 10): only "Start recording" or only "Stop recording"."""
    _ = s.tr.gettext
    item = (
        MenuItem(_("Stop recording"), links.url(Page.RECORD, on=0))
        if recording_now
        else MenuItem(_("Start recording"), links.url(Page.RECORD, on=1))
    )
    return MenuScreen(
        title=s.title(N_("Options")),
        status=s.status,
        items=(item,),
        soft_keys=_keys(links, s, ("Select", "CData", "Stats")),
    )
