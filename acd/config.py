"""Site files: TOML text -> a validated `Site`, with every problem named by file and key path.

`parse_site` is pure (the caller reads the file). It reads the whole file, collects every
problem it finds (unknown keys, wrong types, bad values, broken cross references, numbering
collisions, shadowed short codes) and raises one `ConfigError` listing them all, so that a
gateway refuses a bad site at start-up with a full list rather than one typo at a time.
`acd.site_format.format_site` writes a `Site` back; the layout is described in
docs/site-file.md.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import tomllib
from collections.abc import Sequence
from typing import Any

from .caller_data import (
    MAX_KEY_CHARS,
    CallerDataSettings,
    Layout,
    LayoutField,
    PushKind,
    PushTarget,
)
from .feature_levels import FeatureLevel
from .languages import Language, parse_language
from .login_names import keypad_clashes, login_name_problem
from .pin import hash_pin, verify_pin
from .shortcodes import (
    MatchKind,
    ShortCodeTable,
    argument_problem,
    parse_login_argument,
    pattern_problem,
)
from .site import (
    Code,
    Feature,
    Group,
    GroupMode,
    HttpSettings,
    Policy,
    ReportSettings,
    ShortCode,
    SipSettings,
    Site,
    Station,
    StoreSettings,
    User,
    WallboardSettings,
)

Problem = tuple[str, str]  # (key path, reason)

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_HEADER_NAME = re.compile(r"[A-Za-z0-9.!%*_+`'~-]{1,64}\Z")  # RFC 3261 25.1: token
MAX_CAPTURED_HEADERS = 16
_TOML_POSITION = re.compile(r"\s*\((at line (\d+), column (\d+)|at end of document)\)\Z")
_DAY = 86400
AGENT_NOTICES = ("none", "recording", "monitoring", "both")  # Policy.agent_notice
_PIN_MIN_DIGITS = 4
# RFC 7616 3.3 / RFC 8760 2: the tokens the gateway's digest authentication knows.
_DIGEST_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess")
_STORE_SCHEMES = ("postgresql://", "postgres://")  # [store] url: libpq's URI schemes
HTTP_TOKEN_MIN_CHARS = 16  # [http] token: long enough not to be guessed over the network
# RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*\Z")


class ConfigError(ValueError):
    """A site file that cannot be used: `ConfigError(source, key, reason)` for one problem,
    `ConfigError(source, problems=[(key, reason), ...])` for several.

    `str()` gives one `<file>: <key path>: <reason>` line per problem; `key` and `reason`
    are the first problem's.
    """

    def __init__(
        self, source: str, key: str = "", reason: str = "", *, problems: Sequence[Problem] = ()
    ) -> None:
        self.source = source
        self.problems = list(problems) if problems else [(key, reason)]
        self.key, self.reason = self.problems[0]
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(
            f"{self.source}: {key}: {reason}" if key else f"{self.source}: {reason}"
            for key, reason in self.problems
        )


def key_path(parent: str, name: str) -> str:
    """`parent.name`, quoting `name` as TOML does when it is not a bare key."""
    part = name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)
    return f"{parent}.{part}" if parent else part


def _type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


class _Table:
    """One TOML table being read: typed getters record problems and return a usable fallback.

    Every key read is remembered; `done` reports the rest as unknown (typos must not pass).
    """

    def __init__(self, problems: list[Problem], path: str, data: dict[str, Any]) -> None:
        self.problems = problems
        self.path = path
        self.data = data
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return key_path(self.path, name)

    def problem(self, name: str, reason: str) -> None:
        self.problems.append((self.key(name), reason))

    def value(self, name: str, required: bool) -> object:
        """The raw value of `name` (None when absent), marking it read."""
        self.read.add(name)
        if name not in self.data:
            if required:
                self.problem(name, "required")
            return None
        value: object = self.data[name]
        return value

    def text(self, name: str, *, required: bool = False, empty_ok: bool = False) -> str | None:
        """A string (non-empty unless `empty_ok`), or None when absent or wrong."""
        value = self.value(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {_type_name(value)}")
            return None
        if not value and not empty_ok:
            self.problem(name, "must not be empty")
            return None
        return value

    def number_text(self, name: str, *, required: bool = False) -> str | None:
        """A dialled number: a string of digits (`"3000"`, quoted so leading zeros stay)."""
        value = self.value(name, required)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            self.problem(name, f'must be a string of digits (quote it: "{value}")')
            return None
        if not isinstance(value, str):
            self.problem(name, f"must be a string of digits, not {_type_name(value)}")
            return None
        if not _is_digits(value):
            self.problem(name, f"must be digits only, not {value!r}")
            return None
        return value

    def integer(self, name: str, low: int, high: int, *, required: bool = False) -> int | None:
        """An integer in low..high, or None when absent or wrong."""
        value = self.value(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, f"must be an integer, not {_type_name(value)}")
            return None
        if not low <= value <= high:
            self.problem(name, f"must be {low}-{high}, not {value}")
            return None
        return value

    def real(self, name: str, low: float, high: float) -> float | None:
        """A number (integer or float) in low..high, or None when absent or wrong."""
        value = self.value(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, f"must be a number, not {_type_name(value)}")
            return None
        if not low <= value <= high:
            self.problem(name, f"must be {low:g}-{high:g}, not {value:g}")
            return None
        return float(value)

    def boolean(self, name: str) -> bool | None:
        """true or false, or None when absent or wrong."""
        value = self.value(name, False)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(name, f"must be true or false, not {_type_name(value)}")
            return None
        return value

    def numbers(self, name: str) -> list[tuple[str, str]]:
        """An array of dialled numbers: [(key path of the item, number)]; bad items reported."""
        value = self.value(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(name, f"must be an array of strings, not {_type_name(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            item_key = f"{self.key(name)}[{i}]"
            if isinstance(item, str) and _is_digits(item):
                out.append((item_key, item))
            elif isinstance(item, int) and not isinstance(item, bool):
                self.problems.append((item_key, f'must be a string of digits (quote it: "{item}")'))
            else:
                self.problems.append((item_key, f"must be a string of digits, not {item!r}"))
        return out

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        """A sub-table, or None when absent or wrong."""
        value = self.value(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(name, f"must be a table, not {_type_name(value)}")
            return None
        return _Table(self.problems, self.key(name), value)

    def tables(self, name: str) -> list[_Table]:
        """An array of tables (`[[name]]`)."""
        value = self.value(name, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(name, f"must be an array of tables ([[{name}]]), not {_type_name(value)}")
            return []
        return [_Table(self.problems, f"{self.key(name)}[{i}]", v) for i, v in enumerate(value)]

    def done(self, hints: dict[str, str] | None = None) -> None:
        """Report every key of the table that no getter read."""
        for name in self.data:
            if name in self.read:
                continue
            hint = (hints or {}).get(name)
            if hint is None:
                close = difflib.get_close_matches(name, sorted(self.read), n=1)
                hint = f"did you mean {close[0]!r}?" if close else "expected one of " + ", ".join(sorted(self.read))
            self.problem(name, f"unknown key ({hint})")


def _is_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _pin_hash_ok(pin_hash: str) -> bool:
    """True when `pin_hash` has the form `acd.pin.hash_pin` writes."""
    parts = pin_hash.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2-sha256" or not _is_digits(parts[1]):
        return False
    try:
        return int(parts[1]) > 0 and len(bytes.fromhex(parts[3])) == 32 and bool(bytes.fromhex(parts[2]))
    except ValueError:
        return False


def _syntax_problem(error: tomllib.TOMLDecodeError) -> Problem:
    """(position, reason) from tomllib's message `Invalid value (at line 3, column 5)`."""
    message = str(error)
    m = _TOML_POSITION.search(message)
    if m is None:
        return ("", f"TOML syntax: {message}")
    where = f"line {m.group(2)}, column {m.group(3)}" if m.group(2) else "end of file"
    return (where, f"TOML syntax: {message[: m.start()]}")


def parse_site(text: str, source: str = "<site>") -> Site:
    """Parse and validate a site file's text; raises ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, *_syntax_problem(e)) from None
    return _SiteReader(source, data).site()


class _SiteReader:
    """Reads the top-level table section by section, then checks cross references."""

    def __init__(self, source: str, data: dict[str, Any]) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.top = _Table(self.problems, "", data)
        # The numbering plan: every dialled number -> key path of its first use.
        self.numbers: dict[str, str] = {}
        self.user_keys: dict[str, str] = {}  # user id -> key path of the user
        self.login_names: dict[str, str] = {}  # login name, lower case -> its key path
        self.group_keys: dict[str, str] = {}
        self.station_agents: list[tuple[str, str]] = []  # (key path, user id) to check

    def site(self) -> Site:
        top = self.top
        name = top.text("name", required=True) or ""
        stations = self.stations()
        users = self.users()
        groups = self.groups(users)
        self.check_supervised_groups(users, groups)
        for key, agent in self.station_agents:
            if agent not in self.user_keys:
                self.problems.append((key, f"no user {agent}"))
        not_ready, not_ready_required, logout, logout_required = self.reasons()
        wrapup, wrapup_required = self.codes_section(top.table("wrapup"), "wrap-up")
        policy = self.policy(not_ready_required, logout_required, wrapup_required)
        if policy.login_by_keypad_name:
            self.check_keypad_names(users)
        sip = self.sip()
        http = self.http()
        reports = self.reports()
        caller_data = self.caller_data(stations, groups)
        wallboard = self.wallboard()
        store = self.store()
        short_codes = self.short_codes(users, groups, not_ready, logout, wrapup)
        top.done()
        if self.problems:
            raise ConfigError(self.source, problems=self.problems)
        return Site(
            name=name,
            stations=tuple(stations),
            users=tuple(users),
            groups=tuple(groups),
            not_ready_reasons=tuple(not_ready),
            logout_reasons=tuple(logout),
            wrapup_codes=tuple(wrapup),
            short_codes=tuple(short_codes),
            policy=policy,
            sip=sip,
            http=http,
            reports=reports,
            caller_data=caller_data,
            wallboard=wallboard,
            store=store,
            source=self.source,
        )

    def dialled_number(self, t: _Table, name: str, number: str) -> None:
        """Claim `number` in the numbering plan (extensions, user ids, group numbers)."""
        first = self.numbers.get(number)
        if first is not None:
            t.problem(name, f"{number} is already used by {first}")
        else:
            self.numbers[number] = t.key(name)

    def stations(self) -> list[Station]:
        out = []
        usernames: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for t in self.top.tables("stations"):
            extension = t.number_text("extension", required=True) or ""
            if extension:
                self.dialled_number(t, "extension", extension)
            username = t.text("sip_username") or extension
            if username and any(c in username for c in " \t@:;"):
                t.problem("sip_username", "must not hold spaces, '@', ':' or ';'")
            elif username in usernames:
                t.problem("sip_username", f"{username} is already used by {usernames[username]}")
            else:
                usernames[username] = t.key("sip_username")
            password = t.text("sip_password", required=True) or ""
            alias = t.text("h323_alias")
            if alias is not None:
                if alias in aliases:
                    t.problem("h323_alias", f"{alias} is already used by {aliases[alias]}")
                aliases[alias] = t.key("h323_alias")
            label = t.text("label", empty_ok=True) or ""
            agent = t.number_text("agent")
            if agent is not None:
                self.station_agents.append((t.key("agent"), agent))
            language = _language(t)
            t.done()
            out.append(Station(extension, username, password, alias, label, agent, language))
        return out

    def users(self) -> list[User]:
        out = []
        for t in self.top.tables("users"):
            user_id = t.number_text("id", required=True) or ""
            if user_id:
                self.dialled_number(t, "id", user_id)
                self.user_keys.setdefault(user_id, t.path)
            name = t.text("name", required=True) or ""
            pin_hash = self.pin(t)
            force_login = t.boolean("force_login")
            login_name = t.text("login_name")
            if login_name is not None:
                problem = login_name_problem(login_name)
                first = self.login_names.get(login_name.lower())
                if problem is not None:
                    t.problem("login_name", problem)
                    login_name = None
                elif first is not None:
                    t.problem("login_name", f"{login_name!r} is already used by {first} (case does not count)")
                else:
                    self.login_names[login_name.lower()] = t.key("login_name")
            skills = []
            skills_table = t.table("skills")
            if skills_table is not None:
                for skill in skills_table.data:
                    level = skills_table.integer(skill, 1, 10)
                    if level is not None:
                        skills.append((skill, level))
            supervisor = t.boolean("supervisor") or False
            supervised = t.numbers("supervised_groups")
            if supervised and not supervisor:
                t.problem("supervised_groups", "only for supervisors (supervisor = true)")
            language = _language(t)
            feature_level = _feature_level(t)
            t.done()
            out.append(
                User(
                    user_id,
                    name,
                    pin_hash,
                    force_login=True if force_login is None else force_login,
                    skills=tuple(skills),
                    supervisor=supervisor,
                    supervised_groups=tuple(g for _, g in supervised),
                    login_name=login_name,
                    language=language,
                    feature_level=feature_level,
                )
            )
        return out

    def pin(self, t: _Table) -> str:
        """The user's `pin_hash`, from `pin` (hashed here) or `pin_hash` (checked)."""
        given_hash = t.text("pin_hash")
        if "pin" not in t.data:
            t.read.add("pin")
            if given_hash is None:
                if "pin_hash" not in t.data:
                    t.problem("pin", "required (or pin_hash)")
                return ""
            if not _pin_hash_ok(given_hash):
                t.problem("pin_hash", "must be a hash made by acdgate (pbkdf2-sha256$...)")
            return given_hash
        pin = t.number_text("pin")
        if given_hash is not None:
            t.problem("pin_hash", "give pin or pin_hash, not both")
        if pin is None:
            return ""
        if len(pin) < _PIN_MIN_DIGITS:
            t.problem("pin", f"must be at least {_PIN_MIN_DIGITS} digits")
            return ""
        return hash_pin(pin)

    def groups(self, users: list[User]) -> list[Group]:
        out = []
        skill_holders = {u.user_id: {s for s, _ in u.skills} for u in users}
        numbered = []
        for t in self.top.tables("groups"):  # all numbers first: overflow may point forward
            number = t.number_text("number", required=True) or ""
            if number:
                self.dialled_number(t, "number", number)
                self.group_keys.setdefault(number, t.path)
            numbered.append((t, number))
        for t, number in numbered:
            name = t.text("name", required=True) or ""
            mode_text = t.text("mode", required=True)
            mode = GroupMode.LINEAR
            if mode_text is not None:
                try:
                    mode = GroupMode(mode_text)
                except ValueError:
                    modes = ", ".join(m.value for m in GroupMode)
                    t.problem("mode", f"must be one of {modes}, not {mode_text!r}")
            members: list[str] = []
            for item_key, member in t.numbers("members"):
                if member in members:
                    self.problems.append((item_key, f"{member} is listed twice"))
                elif member not in self.user_keys:
                    self.problems.append((item_key, f"no user {member}"))
                else:
                    members.append(member)
            skill = t.text("skill")
            if mode is GroupMode.SKILLS and mode_text is not None and skill is None and "skill" not in t.data:
                t.problem("skill", "required for mode skills")
            if skill is not None and mode is not GroupMode.SKILLS:
                t.problem("skill", "only for mode skills")
            elif skill is not None and not any(skill in skill_holders.get(m, ()) for m in members):
                t.problem("skill", f"no member has skill {skill!r}")
            wrapup = t.integer("wrapup_seconds", 0, _DAY)
            no_answer = t.integer("no_answer_seconds", 1, 3600)
            overflow = t.number_text("overflow_group")
            overflow_seconds = t.integer("overflow_seconds", 0, _DAY)
            if overflow is not None and overflow not in self.group_keys:
                t.problem("overflow_group", f"no group {overflow}")
            if overflow is not None and overflow_seconds is None and "overflow_seconds" not in t.data:
                t.problem("overflow_seconds", "required with overflow_group")
            if overflow is None and overflow_seconds is not None and "overflow_group" not in t.data:
                t.problem("overflow_seconds", "only with overflow_group")
            max_queue = t.integer("max_queue", 0, 100_000)
            service_level = t.integer("service_level_seconds", 1, 3600)
            monitored = t.boolean("monitored")
            if monitored and mode is GroupMode.COLLECTIVE:
                t.problem(
                    "monitored",
                    "a collective group (IP Office group mode) cannot be monitored for "
                    "reporting; use linear, circular or most-idle",
                )
            t.done()
            out.append(
                Group(
                    number,
                    name,
                    mode,
                    tuple(members),
                    skill=skill,
                    wrapup_seconds=0 if wrapup is None else wrapup,
                    no_answer_seconds=15 if no_answer is None else no_answer,
                    overflow_group=overflow,
                    overflow_seconds=overflow_seconds,
                    max_queue=max_queue,
                    monitored=mode is not GroupMode.COLLECTIVE if monitored is None else monitored,
                    service_level_seconds=service_level,
                )
            )
        self.check_overflow_loops(out)
        return out

    def check_overflow_loops(self, groups: list[Group]) -> None:
        """Report each overflow cycle once, at the first of its groups in the file."""
        overflow = {g.number: g.overflow_group for g in groups if g.overflow_group}
        reported: set[str] = set()
        for g in groups:
            path = [g.number]
            nxt = overflow.get(g.number)
            while nxt is not None and nxt not in path:
                path.append(nxt)
                nxt = overflow.get(nxt)
            if nxt == g.number and g.number not in reported:
                reported.update(path)
                self.problems.append(
                    (
                        key_path(self.group_keys[g.number], "overflow_group"),
                        "overflow loop: " + " -> ".join([*path, g.number]),
                    )
                )

    def check_keypad_names(self, users: list[User]) -> None:
        """With `policy.login_by_keypad_name`, a name's keypad digits must name one user."""
        for user_id, other, digits in keypad_clashes((u.user_id, u.login_name) for u in users):
            key = key_path(self.user_keys.get(user_id, "users"), "login_name")
            what = f"user {other}'s id" if other == digits else f"the login name of user {other}"
            self.problems.append((key, f"keys as {digits} on the keypad, like {what} "
                                       "(policy.login_by_keypad_name is on)"))

    def check_supervised_groups(self, users: list[User], groups: list[Group]) -> None:
        numbers = {g.number for g in groups}
        for u in users:
            for i, number in enumerate(u.supervised_groups):
                if number not in numbers:
                    key = key_path(self.user_keys.get(u.user_id, "users"), "supervised_groups")
                    self.problems.append((f"{key}[{i}]", f"no group {number}"))

    def codes_section(self, t: _Table | None, what: str) -> tuple[list[Code], bool]:
        """A `{ required = bool, codes = { 1 = "label", ... } }` table: (codes, required)."""
        if t is None:
            return [], False
        required = t.boolean("required") or False
        codes: list[Code] = []
        table = t.table("codes")
        if table is not None:
            seen: dict[int, str] = {}
            for number in table.data:
                label = table.text(number)
                if not _is_digits(number) or len(number) > 6:
                    table.problem(number, f"{what} code numbers must be 1-6 digits")
                elif int(number) in seen:
                    table.problem(number, f"same number as {seen[int(number)]}")
                elif label is not None:
                    seen[int(number)] = table.key(number)
                    codes.append(Code(int(number), label))
        if required and not codes:
            t.problem("required", f"no {what} codes to choose from")
        t.done()
        return codes, required

    def reasons(self) -> tuple[list[Code], bool, list[Code], bool]:
        t = self.top.table("reasons")
        if t is None:
            return [], False, [], False
        not_ready, not_ready_required = self.codes_section(t.table("not_ready"), "reason")
        logout, logout_required = self.codes_section(t.table("logout"), "reason")
        t.done()
        return not_ready, not_ready_required, logout, logout_required

    def policy(self, not_ready_required: bool, logout_required: bool, wrapup_required: bool) -> Policy:
        default = Policy()
        t = self.top.table("policy")
        values: dict[str, Any] = {}
        if t is not None:
            values["pin_attempts"] = t.integer("pin_attempts", 1, 100)
            values["pin_lockout_seconds"] = t.integer("pin_lockout_seconds", 0, _DAY)
            values["pin_source_attempts"] = t.integer("pin_source_attempts", 1, 1000)
            escalation = t.value("pin_lockout_escalation", False)
            if escalation is not None:
                if not isinstance(escalation, list) or not all(
                        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _DAY for v in escalation):
                    t.problem("pin_lockout_escalation", f"must be an array of seconds (0 to {_DAY})")
                else:
                    values["pin_lockout_escalation"] = tuple(escalation)
            values["inter_digit_seconds"] = t.real("inter_digit_seconds", 0.5, 60.0)
            notice = t.text("agent_notice")
            if notice is not None and notice not in AGENT_NOTICES:
                t.problem("agent_notice", f"must be one of {', '.join(AGENT_NOTICES)}, not {notice!r}")
                notice = None
            values["agent_notice"] = notice
            values["notice_beep"] = t.boolean("notice_beep")
            every = t.real("notice_beep_every_seconds", 0.0, 3600.0)
            if every is not None and 0 < every < 1:
                t.problem("notice_beep_every_seconds", f"must be 0 (one beep) or at least 1, not {every}")
                every = None
            elif every and not values["notice_beep"]:
                t.problem("notice_beep_every_seconds", "repeats the notice beep: set notice_beep = true too")
                every = None
            values["notice_beep_every_seconds"] = every
            music = t.text("music_on_hold")
            if music is not None and not music.lower().endswith(".wav"):
                t.problem("music_on_hold", f"{music!r} is not a .wav file (8 kHz mono 16-bit PCM)")
            values["music_on_hold"] = music
            for prompt_key in ("reason_prompt_audio", "wrapup_prompt_audio"):
                values[prompt_key] = _prompt_audio(t, prompt_key)
            values["login_by_keypad_name"] = t.boolean("login_by_keypad_name")
            values["language"] = _language(t)
            values["feature_level"] = _feature_level(t)
            values["skill_stats_refresh_seconds"] = t.integer("skill_stats_refresh_seconds", 0, 3600)
            where = "set it as {}.required"
            t.done(
                {
                    "not_ready_reason_required": where.format("reasons.not_ready"),
                    "logout_reason_required": where.format("reasons.logout"),
                    "wrapup_code_required": where.format("wrapup"),
                }
            )
        return Policy(
            pin_attempts=values.get("pin_attempts") or default.pin_attempts,
            pin_lockout_seconds=_or(values.get("pin_lockout_seconds"), default.pin_lockout_seconds),
            pin_lockout_escalation=values.get("pin_lockout_escalation", default.pin_lockout_escalation),
            pin_source_attempts=values.get("pin_source_attempts") or default.pin_source_attempts,
            not_ready_reason_required=not_ready_required,
            logout_reason_required=logout_required,
            wrapup_code_required=wrapup_required,
            inter_digit_seconds=values.get("inter_digit_seconds") or default.inter_digit_seconds,
            agent_notice=values.get("agent_notice") or default.agent_notice,
            notice_beep=bool(_or(values.get("notice_beep"), default.notice_beep)),
            notice_beep_every_seconds=values.get("notice_beep_every_seconds") or default.notice_beep_every_seconds,
            music_on_hold=values.get("music_on_hold"),
            reason_prompt_audio=values.get("reason_prompt_audio") or (),
            wrapup_prompt_audio=values.get("wrapup_prompt_audio") or (),
            login_by_keypad_name=bool(values.get("login_by_keypad_name")),
            language=values.get("language") or default.language,
            feature_level=values.get("feature_level") or default.feature_level,
            skill_stats_refresh_seconds=_or(
                values.get("skill_stats_refresh_seconds"), default.skill_stats_refresh_seconds
            ),
        )

    def sip(self) -> SipSettings:
        d = SipSettings()
        t = self.top.table("sip")
        if t is None:
            return d
        bind = t.text("bind")
        if bind is not None:
            try:
                ipaddress.ip_address(bind)
            except ValueError:
                t.problem("bind", f"must be an IP address, not {bind!r}")
                bind = None
        port = _or(t.integer("port", 1, 65535), d.port)
        tls_port = t.integer("tls_port", 1, 65535)
        certificate = t.text("tls_certificate")
        key = t.text("tls_key")
        if tls_port is not None:
            if tls_port == port:
                t.problem("tls_port", f"must differ from port ({port})")
            for name, value in (("tls_certificate", certificate), ("tls_key", key)):
                if value is None and name not in t.data:
                    t.problem(name, "required with tls_port")
        elif "tls_port" not in t.data:
            for name, value in (("tls_certificate", certificate), ("tls_key", key)):
                if value is not None:
                    t.problem(name, "only with tls_port")
        realm = t.text("realm")
        algorithms = self.digest_algorithms(t)
        ints: dict[str, int] = {}
        for name, low, high in (
            ("min_expires", 1, _DAY),
            ("max_expires", 1, _DAY),
            ("default_expires", 1, _DAY),
            ("qualify_seconds", 0, _DAY),
            ("timer_t1_ms", 10, 10_000),
            ("timer_t2_ms", 100, 60_000),
            ("timer_t4_ms", 100, 60_000),
            ("rtp_port_min", 1024, 65534),
            ("rtp_port_max", 1025, 65535),
            ("nonce_seconds", 1, _DAY),
            ("auth_failures_before_delay", 1, 10_000),
            ("auth_failures_before_block", 1, 10_000),
            ("auth_block_seconds", 0, _DAY),
            ("tcp_idle_seconds", 0, _DAY),
            ("tcp_max_connections", 1, 1_000_000),
            ("tcp_max_connections_per_source", 1, 1_000_000),
        ):
            ints[name] = _or(t.integer(name, low, high), getattr(d, name))
        if not ints["min_expires"] <= ints["default_expires"] <= ints["max_expires"]:
            t.problem("default_expires", "must be between min_expires and max_expires")
        if ints["timer_t2_ms"] < ints["timer_t1_ms"]:
            t.problem("timer_t2_ms", "must be at least timer_t1_ms (RFC 3261 17.1.2.2)")
        if ints["rtp_port_max"] - ints["rtp_port_min"] < 1:
            t.problem("rtp_port_max", "must leave room for at least one RTP/RTCP port pair above rtp_port_min")
        if ints["auth_failures_before_block"] < ints["auth_failures_before_delay"]:
            t.problem("auth_failures_before_block", "must be at least auth_failures_before_delay")
        t.done()
        return SipSettings(
            bind=bind or d.bind,
            port=port,
            tls_port=tls_port,
            tls_certificate=certificate,
            tls_key=key,
            realm=realm or d.realm,
            digest_algorithms=d.digest_algorithms if algorithms is None else algorithms,
            **ints,
        )

    def http(self) -> HttpSettings:
        t = self.top.table("http")
        if t is None:
            return HttpSettings()
        token = t.text("token")
        if token is not None:
            # Reasons never quote the value: it is a secret, and errors end up in logs.
            if len(token) < HTTP_TOKEN_MIN_CHARS:
                t.problem("token", f"must be at least {HTTP_TOKEN_MIN_CHARS} characters, not {len(token)}")
                token = None
            elif not _B64TOKEN.match(token):
                t.problem("token", "may hold only letters, digits and - . _ ~ + / (then = padding): "
                                   "a bearer token as RFC 6750 2.1 sends it")
                token = None
        holder = t.text("token_holder")
        d = HttpSettings()
        body = t.integer("max_body_bytes", 1024, 64 * 1024 * 1024)
        depth = t.integer("max_json_depth", 2, 1000)
        t.done()
        return HttpSettings(token=token, token_holder=holder, max_body_bytes=_or(body, d.max_body_bytes),
                            max_json_depth=_or(depth, d.max_json_depth))

    def reports(self) -> ReportSettings:
        """`[reports]`: the short-abandon threshold and the default service level threshold."""
        d = ReportSettings()
        t = self.top.table("reports")
        if t is None:
            return d
        short = t.integer("short_abandon_seconds", 0, 3600)
        level = t.integer("service_level_seconds", 1, 3600)
        t.done()
        return ReportSettings(
            short_abandon_seconds=_or(short, d.short_abandon_seconds),
            service_level_seconds=_or(level, d.service_level_seconds),
        )

    # -- [caller_data] (issue 16): captured headers, Caller Data layouts, pushed stations --

    def caller_data(self, stations: list[Station], groups: list[Group]) -> CallerDataSettings:
        """`[caller_data]`: `headers`, `default_layout`, `[[caller_data.layouts]]` (name,
        fields = [{label, key}], groups) and `[[caller_data.push]]` (station, kind, url, ...)."""
        t = self.top.table("caller_data")
        if t is None:
            return CallerDataSettings()
        headers = self.captured_headers(t)
        layouts = self.layouts(t, {g.number for g in groups})
        default = t.text("default_layout")
        if default is not None and all(layout.name != default for layout in layouts):
            t.problem("default_layout", f"no layout named {default!r}")
            default = None
        push = self.push_targets(t, {s.extension for s in stations})
        t.done()
        return CallerDataSettings(headers=headers, layouts=layouts, default_layout=default, push=push)

    @staticmethod
    def captured_headers(t: _Table) -> tuple[str, ...]:
        value = t.value("headers", False)
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) > MAX_CAPTURED_HEADERS:
            t.problem("headers", f"must be an array of at most {MAX_CAPTURED_HEADERS} header names")
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            item_key = f"{t.key('headers')}[{i}]"
            if not isinstance(item, str) or not _HEADER_NAME.match(item):
                t.problems.append((item_key, f"must be a SIP header name (a token of 1-64 characters), not {item!r}"))
            elif item.lower() in (h.lower() for h in out):
                t.problems.append((item_key, f"{item} is listed twice"))
            else:
                out.append(item)
        return tuple(out)

    @staticmethod
    def layouts(t: _Table, group_numbers: set[str]) -> tuple[Layout, ...]:
        out: list[Layout] = []
        group_layouts: dict[str, str] = {}  # group -> key path of the layout that has it
        for lt in t.tables("layouts"):
            name = lt.text("name", required=True) or ""
            if name and any(layout.name == name for layout in out):
                lt.problem("name", f"{name!r} is already a layout's name")
            fields: list[LayoutField] = []
            for ft in lt.tables("fields"):
                label = ft.text("label", required=True)
                key = ft.text("key", required=True)
                if key is not None and len(key) > MAX_KEY_CHARS:
                    ft.problem("key", f"at most {MAX_KEY_CHARS} characters")
                    key = None
                ft.done()
                if label is not None and key is not None:
                    fields.append(LayoutField(label, key))
            if "fields" not in lt.data:
                lt.problem("fields", "required")
            layout_groups = []
            for key_path, number in lt.numbers("groups"):
                if number not in group_numbers:
                    t.problems.append((key_path, f"no group {number}"))
                elif number in group_layouts:
                    t.problems.append((key_path, f"group {number} already has the layout of {group_layouts[number]}"))
                else:
                    group_layouts[number] = lt.path
                    layout_groups.append(number)
            lt.done()
            out.append(Layout(name, tuple(fields), tuple(layout_groups)))
        return tuple(out)

    @staticmethod
    def push_targets(t: _Table, extensions: set[str]) -> tuple[PushTarget, ...]:
        out: list[PushTarget] = []
        for pt in t.tables("push"):
            station = pt.number_text("station", required=True) or ""
            if station and station not in extensions:
                pt.problem("station", f"no station {station}")
            elif station and any(p.station == station for p in out):
                pt.problem("station", f"station {station} is already pushed to")
            kind_text = pt.text("kind", required=True)
            kind = None
            if kind_text is not None:
                try:
                    kind = PushKind(kind_text)
                except ValueError:
                    pt.problem("kind", "must be one of " + ", ".join(k.value for k in PushKind) + f", not {kind_text!r}")
            url = pt.text("url", required=True)
            if url is not None and not re.match(r"https?://[^/\s]+(/\S*)?\Z", url):
                pt.problem("url", f"must be an http:// or https:// URL, not {url!r}")
                url = None
            username = pt.text("username", empty_ok=True) or ""
            password = pt.text("password", empty_ok=True) or ""
            pt.done()
            if station and kind is not None and url is not None:
                out.append(PushTarget(station, kind, url, username, password))
        return tuple(out)

    # -- end of [caller_data] --

    def wallboard(self) -> WallboardSettings:
        """`[wallboard]`: the amber and red thresholds of the wallboard's group figures."""
        d = WallboardSettings()
        t = self.top.table("wallboard")
        if t is None:
            return d
        waiting_amber = _or(t.integer("waiting_amber", 1, 10_000), d.waiting_amber)
        waiting_red = _or(t.integer("waiting_red", 1, 10_000), d.waiting_red)
        lqt_amber = _or(t.integer("lqt_amber_seconds", 1, 86_400), d.lqt_amber_seconds)
        lqt_red = _or(t.integer("lqt_red_seconds", 1, 86_400), d.lqt_red_seconds)
        level_amber = _or(t.integer("service_level_amber", 0, 100), d.service_level_amber)
        level_red = _or(t.integer("service_level_red", 0, 100), d.service_level_red)
        # red is the worse end: more calls, a longer wait, a lower service level
        if waiting_red < waiting_amber:
            t.problem("waiting_red", f"must be at least waiting_amber ({waiting_amber}), not {waiting_red}")
        if lqt_red < lqt_amber:
            t.problem("lqt_red_seconds", f"must be at least lqt_amber_seconds ({lqt_amber}), not {lqt_red}")
        if level_red > level_amber:
            t.problem("service_level_red",
                      f"must be at most service_level_amber ({level_amber}), not {level_red}")
        t.done()
        return WallboardSettings(waiting_amber, waiting_red, lqt_amber, lqt_red, level_amber, level_red)

    def store(self) -> StoreSettings:
        """`[store]`: `url`, the PostgreSQL state store (issue 18); none: SQLite in --state-dir."""
        t = self.top.table("store")
        if t is None:
            return StoreSettings()
        url = t.text("url")
        if url is not None and not url.lower().startswith(_STORE_SCHEMES):
            # the reason never quotes the URL: it may hold a password
            t.problem("url", "must be a PostgreSQL URL: postgresql://user:password@host/database")
            url = None
        t.done()
        return StoreSettings(url=url)

    @staticmethod
    def digest_algorithms(t: _Table) -> tuple[str, ...] | None:
        """`digest_algorithms`: RFC 7616 / RFC 8760 tokens, in challenge order."""
        value = t.value("digest_algorithms", False)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            t.problem("digest_algorithms", "must be a non-empty array of algorithm names")
            return None
        ok = True
        for i, item in enumerate(value):
            if item not in _DIGEST_ALGORITHMS:
                names = ", ".join(_DIGEST_ALGORITHMS)
                t.problems.append((f"{t.key('digest_algorithms')}[{i}]", f"must be one of {names}, not {item!r}"))
                ok = False
            elif value.index(item) != i:
                t.problems.append((f"{t.key('digest_algorithms')}[{i}]", f"{item} is listed twice"))
                ok = False
        return tuple(value) if ok else None

    def short_codes(
        self,
        users: list[User],
        groups: list[Group],
        not_ready: list[Code],
        logout: list[Code],
        wrapup: list[Code],
    ) -> list[ShortCode]:
        t = self.top.table("short_codes")
        if t is None:
            return []
        codes: list[ShortCode] = []
        keys: dict[ShortCode, str] = {}
        for pattern in t.data:
            entry = t.table(pattern)
            problem = pattern_problem(pattern)
            if problem is not None:
                t.problem(pattern, f"pattern {problem}")
            if entry is None:
                continue
            feature_text = entry.text("feature", required=True)
            argument = entry.text("argument", empty_ok=True) or ""
            entry.done()
            if feature_text is None:
                continue
            try:
                feature = Feature(feature_text)
            except ValueError:
                features = ", ".join(f.value for f in Feature)
                entry.problem("feature", f"must be one of {features}, not {feature_text!r}")
                continue
            if problem is not None:
                continue
            arg_problem = argument_problem(pattern, argument) or self.argument_problem(
                feature, argument, users, groups, not_ready, logout, wrapup
            )
            if arg_problem is not None:
                entry.problem("argument", arg_problem)
                continue
            code = ShortCode(pattern, feature, argument)
            keys.setdefault(code, entry.path)
            codes.append(code)
        table = ShortCodeTable(codes)
        shadowing: dict[ShortCode, list[str]] = {}
        for hidden, by in table.shadowed():
            shadowing.setdefault(hidden, []).append(json.dumps(by.pattern))
        for hidden, by_patterns in shadowing.items():
            self.problems.append(
                (
                    keys[hidden],
                    "never matches: every number it matches goes to "
                    + ", ".join(by_patterns)
                    + " (more specific, or listed first)",
                )
            )
        for number, where in self.numbers.items():
            m = table.match(number)
            if m.kind is MatchKind.COMPLETE and m.code is not None:
                self.problems.append(
                    (keys[m.code], f"matches {number} ({where}): dialling it would run the short code")
                )
        return codes

    @staticmethod
    def argument_problem(
        feature: Feature,
        argument: str,
        users: list[User],
        groups: list[Group],
        not_ready: list[Code],
        logout: list[Code],
        wrapup: list[Code],
    ) -> str | None:
        """Why a literal argument (no N or X) makes no sense for `feature`, or None."""
        if "N" in argument or "X" in argument:
            return None  # filled in when dialled; checked then
        if feature in (Feature.READY, Feature.RECORD_START, Feature.RECORD_STOP):
            return None if not argument else f"{feature.value} takes no argument"
        if feature is Feature.LOGIN:
            try:
                user_id, pin = parse_login_argument(argument)
            except ValueError:
                return "must be N, a user id, or user id*PIN"
            user = next((u for u in users if u.user_id == user_id), None)
            if user is None:
                return f"no user {user_id}"
            if pin is not None and not verify_pin(pin, user.pin_hash):
                return f"the PIN is not user {user_id}'s PIN"
            return None
        if not argument:
            return None
        if not _is_digits(argument):
            return f"must be N, X or a number, not {argument!r}"
        lists = {
            Feature.LOGOUT: ("logout reason", logout),
            Feature.NOT_READY: ("not-ready reason", not_ready),
            Feature.WORK_READY: ("wrap-up code", wrapup),
            Feature.WORK_NOT_READY: ("wrap-up code", wrapup),
        }
        if feature in lists:
            what, codes = lists[feature]
            return None if any(c.code == int(argument) for c in codes) else f"no {what} {argument}"
        if feature in (Feature.GROUP_DISABLE, Feature.GROUP_ENABLE):
            return None if any(g.number == argument for g in groups) else f"no group {argument}"
        return None if any(u.user_id == argument for u in users) else f"no user {argument}"


def site_warnings(site: Site) -> list[Problem]:
    """(key path, reason) of what a valid site does that works but is likely a mistake.

    IP Office tip 014: call-center reporting follows only logon users ("Force Login"), so a
    member of a monitored group that is not one is named: its calls are routed, but the
    reports cannot follow it.
    """
    force = {u.user_id: u.force_login for u in site.users}
    out: list[Problem] = []
    for i, g in enumerate(site.groups):
        if not g.monitored:
            continue
        for k, member in enumerate(g.members):
            if not force.get(member, True):
                out.append((
                    f"groups[{i}].members[{k}]",
                    f"user {member} is not a force-login user (force_login = false): the reports "
                    f"cannot follow this member of monitored group {g.number}",
                ))
    return out


def _prompt_audio(t: _Table, key: str) -> tuple[tuple[Language | None, str], ...]:
    """A spoken prompt key: one `.wav` path for every language, or a table of them by
    language (`{ en = "reason-en.wav", de = "reason-de.wav" }`)."""
    raw = t.value(key, False)
    if raw is None:
        return ()
    items: list[tuple[Language | None, object]]
    if isinstance(raw, str):
        items = [(None, raw)]
    elif isinstance(raw, dict):
        items = []
        for name, path in raw.items():
            language = parse_language(str(name))
            if language is None:
                known = ", ".join(lang.value for lang in Language)
                t.problem(f"{key}.{name}", f"{name!r} is not one of {known}")
                continue
            items.append((language, path))
        if not items and not raw:
            t.problem(key, "must name at least one language's file")
    else:
        t.problem(key, f"must be a string or a table of them by language, not {_type_name(raw)}")
        return ()
    found: list[tuple[Language | None, str]] = []
    for language, path in items:
        where = key if language is None else f"{key}.{language.value}"
        if not isinstance(path, str) or not path.lower().endswith(".wav"):
            t.problem(where, f"{path!r} is not a .wav file (8 kHz mono 16-bit PCM)")
            continue
        found.append((language, path))
    return tuple(found)


def _language(t: _Table) -> Language | None:
    """The table's `language` key: one of the guide's 13 languages, or None when absent."""
    text = t.text("language")
    if text is None:
        return None
    language = parse_language(text)
    if language is None:
        t.problem("language", f"{text!r} is not one of {', '.join(lang.value for lang in Language)}")
    return language


def _feature_level(t: _Table) -> FeatureLevel | None:
    """The table's `feature_level` key (guide "Feature Levels"), or None when absent."""
    text = t.text("feature_level")
    if text is None:
        return None
    try:
        return FeatureLevel(text)
    except ValueError:
        t.problem("feature_level", f"must be one of {', '.join(lv.value for lv in FeatureLevel)}, not {text!r}")
        return None


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
