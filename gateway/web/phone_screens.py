"""The IP Phone Agent screens as vendor-neutral data: ACD state in, screen description out.

Each builder here draws one screen of the Cisco IP Phone Agent user guide (Agent Login,
Forced Login, Skill Stats, Caller Data, Change State, Reason Code, Wrap-up Data, Options, and
the error messages) from frozen ACD views. Nothing here does I/O or knows a phone's XML
dialect: `cisco_xml` and `yealink_xml` turn a `Screen` into a document, and `phone_xml`
serves it. Every link a screen carries is built by `Links`, which keeps the station's
`ext=` on it, so the whole flow works whatever address the phone's requests come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

from acdgate.acd.agents import AgentView
from acdgate.acd.site import Code
from acdgate.acd.states import AgentState, MenuChoice
from acdgate.acd.stats import GroupStats, format_hms

SKILL_STATS_REFRESH_SECONDS = 10  # guide "Refresh Rate": the Skill Stats default is 10 s


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

    REC = "Rec"
    MON = "Mon"


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


@dataclass(frozen=True, slots=True)
class Links:
    """Absolute URLs of the service's pages for one station (`base` has no trailing /)."""

    base: str
    ext: str

    def url(self, page: Page, **params: str | int) -> str:
        """`page` with the station and `params` in the query."""
        query = urlencode({"ext": self.ext, **{k: str(v) for k, v in params.items()}})
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

    @property
    def on_call(self) -> bool:
        return self.view.state in (AgentState.RESERVED, AgentState.TALKING)

    @property
    def talking(self) -> bool:
        return self.view.state is AgentState.TALKING

    def title(self, screen: str) -> str:
        return f"{screen} - ID:{self.view.user_id}"


STATE_LABELS: dict[AgentState, str] = {
    AgentState.LOGGED_OUT: "Logout",
    AgentState.NOT_READY: "Not Ready",
    AgentState.READY: "Ready",
    AgentState.RESERVED: "Reserved",
    AgentState.TALKING: "Talking",
    AgentState.WORK_READY: "Work Ready",
    AgentState.WORK_NOT_READY: "Work Not Ready",
}

CHOICE_LABELS: dict[MenuChoice, str] = {
    MenuChoice.READY: "Ready",
    MenuChoice.NOT_READY: "Not Ready",
    MenuChoice.WORK_READY: "Work Ready",
    MenuChoice.WORK_NOT_READY: "Work Not Ready",
    MenuChoice.LOGOUT: "Logout",
}


def status_line(state: AgentState, notices: Set[str]) -> str:
    """The guide's status line: `Not Ready`, `Talking : Rec`, `Talking : Rec/Mon`, ..."""
    label = STATE_LABELS[state]
    shown = [n.value for n in Notice if n.value in notices]
    return f"{label} : {'/'.join(shown)}" if shown else label


def _keys(links: Links, s: AgentScreenState, names: Iterable[str]) -> tuple[SoftKey, ...]:
    """The agent soft keys of guide Table 1, by name; Option only on a call with recording."""
    targets: dict[str, str | Key] = {
        "Select": Key.SELECT,
        "Update": links.url(Page.STATS),
        "Stats": links.url(Page.STATS),
        "CData": links.url(Page.CDATA),
        "State": links.url(Page.STATE),
        "Option": links.url(Page.OPTIONS),
    }
    keys = []
    for name in names:
        if name == "Option" and not (s.recording and s.talking):
            continue
        keys.append(SoftKey(name, targets[name]))
    return tuple(keys)


# -- logged-out screens -------------------------------------------------------------------


def login_screen(links: Links, *, user_id: str = "") -> InputScreen:
    """Agent Login (guide Figure 2): agent ID, password, extension; Submit, <<, Exit."""
    return InputScreen(
        title="Agent Login",
        prompt="Enter agent information.",
        url=links.form(Page.LOGIN),
        fields=(
            InputField("ID", "id", FieldKind.TEXT, user_id),
            InputField("Password", "pin", FieldKind.PIN),
            InputField("Extension", "ext", FieldKind.DIGITS, links.ext),
        ),
        soft_keys=(
            SoftKey("Submit", Key.SUBMIT),
            SoftKey("<<", Key.BACKSPACE),
            SoftKey("Exit", Key.EXIT),
        ),
    )


def forced_login_menu(links: Links, user_id: str, token: str) -> MenuScreen:
    """Forced Login (guide Figure 3): 1 logs the other session out, 2 goes back to login."""
    return MenuScreen(
        title="Forced Login",
        status="",
        items=(
            MenuItem(
                f"{user_id} or ext {links.ext} in use. Press '1' to log other agent out.",
                links.url(Page.FORCED, token=token),
            ),
            MenuItem(
                "Press '2' to log in with another name or extension.",
                links.url(Page.LOGIN),
            ),
        ),
        soft_keys=(SoftKey("Select", Key.SELECT), SoftKey("Exit", Key.EXIT)),
    )


def message_screen(title: str, lines: Sequence[str], status: str, ok_url: str) -> TextScreen:
    """An error or notice; OK (guide Table 1: closes the screen) goes on to `ok_url`."""
    return TextScreen(
        title=title,
        status=status,
        lines=tuple(lines),
        soft_keys=(SoftKey("OK", ok_url), SoftKey("Exit", Key.EXIT)),
    )


# -- agent screens -----------------------------------------------------------------------


def skill_stats(
    links: Links, s: AgentScreenState, groups: Sequence[tuple[str, GroupStats]]
) -> TextScreen:
    """Skill Stats (guide Figures 4 and 11): LQT h:mm:ss, CIQ and queue name per group."""
    lines = ["LQT      CIQ Queue"]
    for name, stats in groups:
        lines.append(f"{format_hms(stats.lqt_seconds):>7} {stats.ciq:>4} {name}")
    if not groups:
        lines.append("(no queues)")
    return TextScreen(
        title=s.title("Skill Stats"),
        status=s.status,
        lines=tuple(lines),
        soft_keys=_keys(links, s, ("Update", "CData", "State", "Option")),
        refresh_seconds=SKILL_STATS_REFRESH_SECONDS,
        refresh_url=links.url(Page.STATS),
    )


def caller_data(links: Links, s: AgentScreenState, call: CallerData | None) -> TextScreen:
    """Caller Data (guide Figures 5 and 12): layout, ANI, DNIS, enterprise data."""
    if call is None:
        lines: list[str] = ["No caller data: no current call."]
    else:
        lines = ["Layout: Default" if call.routed else "Layout: Non-routed call"]
        lines.append(f"ANI: {call.ani}")
        lines.append(f"DNIS: {call.dnis}")
        lines.extend(f"{key}: {value}" for key, value in call.data)
    return TextScreen(
        title=s.title("Caller Data"),
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
        items.append(MenuItem(CHOICE_LABELS[choice], url))
    return MenuScreen(
        title=s.title("Change State"),
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
        title=s.title("Wrap-up Data" if wrapup else "Reason Code"),
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
        title=s.title("Wrap-up Data"),
        status=s.status,
        items=tuple(MenuItem(c.label, links.url(Page.OWED, wrapup=c.code)) for c in codes),
        soft_keys=_keys(links, s, ("Select",)),
    )


def options_menu(links: Links, s: AgentScreenState, recording_now: bool) -> MenuScreen:
    """Options (guide Figure 10): only "Start recording" or only "Stop recording"."""
    item = (
        MenuItem("Stop recording", links.url(Page.RECORD, on=0))
        if recording_now
        else MenuItem("Start recording", links.url(Page.RECORD, on=1))
    )
    return MenuScreen(
        title=s.title("Options"),
        status=s.status,
        items=(item,),
        soft_keys=_keys(links, s, ("Select", "CData", "Stats")),
    )
