"""The site model: stations, users, groups, codes and short codes, as validated data.

A `Site` is what a site file describes once `acd.config.parse_site` has checked it.
Everything here is frozen: the ACD engine and the gateway share one `Site` and never
change it; a reload builds a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from acdgate.acd.caller_data import CallerDataSettings

from .feature_levels import FeatureLevel
from .languages import DEFAULT_LANGUAGE, Language, choose_language


class GroupMode(StrEnum):
    """How a group picks the agent to offer a call to (IP Office hunt group modes)."""

    LINEAR = "linear"
    CIRCULAR = "circular"
    MOST_IDLE = "most-idle"
    COLLECTIVE = "collective"  # IP Office "group mode": rings all, cannot be reported on
    SKILLS = "skills"


class Feature(StrEnum):
    """What a short code does (IP Office short code features)."""

    LOGIN = "login"
    LOGOUT = "logout"
    READY = "ready"
    NOT_READY = "not-ready"
    WORK_READY = "work-ready"
    WORK_NOT_READY = "work-not-ready"
    GROUP_DISABLE = "group-disable"
    GROUP_ENABLE = "group-enable"
    RECORD_START = "record-start"
    RECORD_STOP = "record-stop"
    MONITOR = "monitor"
    WHISPER = "whisper"
    BARGE = "barge"
    INTERCEPT = "intercept"


@dataclass(frozen=True, slots=True)
class Station:
    """A phone line that registers: extension and SIP credentials (or an H.323 alias)."""

    extension: str
    sip_username: str
    sip_password: str
    h323_alias: str | None = None
    label: str = ""
    # The user this station belongs to (a BroadWorks line owner): its feature keys
    # (as-feature-event, authenticated with the station's digest credentials) log this user
    # on without a PIN. Short codes and the phone menu still ask for one.
    agent: str | None = None
    language: Language | None = None  # of the phone screens here (a user's own wins)


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs on at a station as an agent (IP Office Force Login user).

    `pin_hash` is `acd.pin.hash_pin(pin)`: the site file may give the PIN in clear,
    the model never keeps it.
    """

    user_id: str
    name: str
    pin_hash: str
    force_login: bool = True
    skills: tuple[tuple[str, int], ...] = ()  # (skill, level 1-10)
    supervisor: bool = False
    supervised_groups: tuple[str, ...] = ()  # empty: every group (when supervisor)
    # Guide "Logging In": the login screen takes the agent ID or name. Letters and digits,
    # beginning with a letter, unique on the site ignoring case (acd.login_names).
    login_name: str | None = None
    language: Language | None = None  # of the phone screens, wherever the user logs on
    feature_level: FeatureLevel | None = None  # guide "Feature Levels"; None: the site's

    def skill_level(self, skill: str) -> int:
        """The user's level in `skill`, 0 when the user does not have it."""
        for name, level in self.skills:
            if name == skill:
                return level
        return 0


@dataclass(frozen=True, slots=True)
class Group:
    """A hunt group / contact service queue."""

    number: str
    name: str
    mode: GroupMode
    members: tuple[str, ...]  # user ids, in hunt order
    skill: str | None = None  # required skill, for mode SKILLS
    wrapup_seconds: int = 0  # after a routed call WORK_READY this long, then READY; 0: READY at once
    no_answer_seconds: int = 15  # ring-no-answer after this
    overflow_group: str | None = None
    overflow_seconds: int | None = None
    max_queue: int | None = None  # None: unbounded
    monitored: bool = True  # reported on (never for COLLECTIVE)
    # service level threshold: answered within this many seconds counts as in service level;
    # None: the site's `ReportSettings.service_level_seconds`
    service_level_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Code:
    """A numbered code with a label: a reason code or a wrap-up code."""

    code: int
    label: str


@dataclass(frozen=True, slots=True)
class ShortCode:
    """A dial pattern (`*35*N#`) mapped to a feature; `argument` may use N and X captures.

    `argument` is IP Office's "telephone number" field: a template in which `N` and `X`
    are replaced by what the pattern captured (`"N"` -> `"3000*1234"`), or a literal
    (`#3000` -> `"3000"` or `"3000*1234"`).
    """

    pattern: str
    feature: Feature
    argument: str = ""


@dataclass(frozen=True, slots=True)
class SipSettings:
    """Where and how the gateway serves SIP."""

    bind: str = "0.0.0.0"
    port: int = 5060
    tls_port: int | None = None
    tls_certificate: str | None = None
    tls_key: str | None = None
    realm: str = "acdgate"
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    # RFC 3261 17.1.1.1 timer bases; a lab on a slow or lossy link may raise T1, a test lowers it.
    timer_t1_ms: int = 500
    timer_t2_ms: int = 4000
    timer_t4_ms: int = 5000
    rtp_port_min: int = 20000  # RTP (even) ports for the gateway's media, inclusive
    rtp_port_max: int = 29999
    qualify_seconds: int = 30  # OPTIONS to registered contacts every so often; 0: never
    nonce_seconds: int = 300  # a nonce older than this is stale
    # Digest challenges in this order. MD5 only by default: baresip 1.0 refuses a 401 that also
    # offers SHA-256, SIPp and pyVoIP answer only MD5 (docs/interop.md). A site of modern
    # phones lists "SHA-256" first (RFC 8760) and keeps "MD5" for the old ones.
    digest_algorithms: tuple[str, ...] = ("MD5",)
    auth_failures_before_delay: int = 5  # per source address
    auth_failures_before_block: int = 20
    auth_block_seconds: int = 300
    # SIP over TCP/TLS (gateway.sip.stack.StreamLimits): a connection that carries no traffic
    # and no registration for this long is closed (0: never). 120 s: phones keep their
    # connection open by registering over it (exempt) or with RFC 5626 CRLF keep-alives, which
    # count as traffic; a connection that has done neither for two minutes serves nobody.
    tcp_idle_seconds: int = 120
    tcp_max_connections: int = 4096  # in all (each is a descriptor: keep below the process limit)
    tcp_max_connections_per_source: int = 64  # per peer host (a NAT's phones share one)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The HTTP API's access control: with a token, every request under `/api/` other than
    GET and HEAD needs `Authorization: Bearer <token>` (RFC 6750 2.1), and so do the reads but
    the index, health and the API description (issue 19); `/xml/` binds its actions to the
    phones instead. Bodies are bounded in size and JSON depth."""

    token: str | None = None  # None: the control API is open (the gateway warns at start-up)
    # who holds the token: the `by` of the supervisor actions it authorises ("api" when unset)
    token_holder: str | None = None
    # -- bodies (issue 19): a larger body is refused (413) unread; deeper JSON is refused (400) --
    max_body_bytes: int = 65536
    max_json_depth: int = 32

    def __repr__(self) -> str:
        # Keep the secret out of reprs, tracebacks and test failure messages.
        return (f"HttpSettings(token={'<set>' if self.token is not None else None}, "
                f"token_holder={self.token_holder!r}, max_body_bytes={self.max_body_bytes}, "
                f"max_json_depth={self.max_json_depth})")


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the gateway keeps its state (site file `[store]`): a PostgreSQL URL, or None for the
    embedded SQLite store under the state directory. `acdgate run --store` wins over it."""

    url: str | None = None

    def __repr__(self) -> str:
        # the URL may carry a password: keep it out of reprs, tracebacks and test failures
        return f"StoreSettings(url={'<set>' if self.url is not None else None})"


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """How archived reports count calls (site file `[reports]`)."""

    # a call abandoned after waiting less than this is a short abandon: counted apart and
    # left out of the abandon rate and the service level (the caller misdialled or gave up at once)
    short_abandon_seconds: int = 5
    # a group's service level threshold unless the group sets its own
    service_level_seconds: int = 20


@dataclass(frozen=True, slots=True)
class WallboardSettings:
    """When the wallboard (`GET /wallboard`) shows a group's figures amber or red (site file
    `[wallboard]`): calls waiting and the longest wait at or above, service level at or below."""

    waiting_amber: int = 3
    waiting_red: int = 6
    lqt_amber_seconds: int = 30
    lqt_red_seconds: int = 60
    service_level_amber: int = 80  # percent
    service_level_red: int = 60


@dataclass(frozen=True, slots=True)
class Policy:
    """Site-wide agent rules."""

    pin_attempts: int = 4  # wrong PINs before the user is locked (IP Office: 4)
    pin_lockout_seconds: int = 90  # IP Office: 90 s
    # issue 19: the next lockouts without a success in between (the last one repeats)
    pin_lockout_escalation: tuple[int, ...] = (300, 1800)
    pin_source_attempts: int = 10  # wrong PINs or unknown users from one HTTP client's host
    not_ready_reason_required: bool = False
    logout_reason_required: bool = False
    wrapup_code_required: bool = False
    inter_digit_seconds: float = 5.0  # digit collection timeout for short codes
    # Guide "Monitoring/Recording Notification": which supervisor actions the agent's phone
    # shows (none | recording | monitoring | both), and whether the agent hears a beep then.
    agent_notice: str = "both"
    notice_beep: bool = False
    # 0: one beep when the supervisor starts; N: again every N seconds while it lasts (the
    # periodic tone some jurisdictions ask of recorded or monitored calls)
    notice_beep_every_seconds: float = 0.0
    music_on_hold: str | None = None  # WAV (8 kHz mono 16-bit) relative to the site file's folder
    # Spoken prompts (issue 16): played instead of the reason / wrap-up prompt tone when set
    # (WAV like the hold music, relative to the site file's folder); one file for every
    # language (`None` key) or one per language (the phone user's, else the site's language).
    reason_prompt_audio: tuple[tuple[Language | None, str], ...] = ()
    wrapup_prompt_audio: tuple[tuple[Language | None, str], ...] = ()
    # Short codes may log on by a login name's keypad digits (`*35*25427*1234#` for "alice");
    # two names (or a name and a user id) with the same digits are then a site file error.
    login_by_keypad_name: bool = False
    language: Language = DEFAULT_LANGUAGE  # of the phone screens, unless station or user say
    # Guide "IP Phone Agent Feature Levels", for every user without one of their own. Premium
    # (everything) unless the site says otherwise.
    feature_level: FeatureLevel = FeatureLevel.PREMIUM
    # Guide "Refresh Rate": the phone fetches Skill Stats again every N seconds (default 10);
    # 0 = no automatic refresh, only the Update soft key.
    skill_stats_refresh_seconds: int = 10


@dataclass(frozen=True, slots=True)
class Site:
    """A validated site: the whole configuration the gateway runs."""

    name: str
    stations: tuple[Station, ...]
    users: tuple[User, ...]
    groups: tuple[Group, ...]
    not_ready_reasons: tuple[Code, ...] = ()
    logout_reasons: tuple[Code, ...] = ()
    wrapup_codes: tuple[Code, ...] = ()
    short_codes: tuple[ShortCode, ...] = ()
    policy: Policy = field(default_factory=Policy)
    sip: SipSettings = field(default_factory=SipSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    caller_data: CallerDataSettings = field(default_factory=CallerDataSettings)  # issue 16
    wallboard: WallboardSettings = field(default_factory=WallboardSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    source: str = "<site>"  # file the site came from, for messages

    def station(self, extension: str) -> Station | None:
        """The station with this extension, if any."""
        for s in self.stations:
            if s.extension == extension:
                return s
        return None

    def station_by_username(self, username: str) -> Station | None:
        """The station whose SIP username this is, if any."""
        for s in self.stations:
            if s.sip_username == username:
                return s
        return None

    def user(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        for u in self.users:
            if u.user_id == user_id:
                return u
        return None

    def pin_required(self, user_id: str, station: str) -> bool:
        """Whether logging `user_id` on at `station` takes the PIN (IP Office "Force Login").

        A force-login user (the default) always gives the PIN, at its own station too; a user
        with `force_login = false` logs on without it only at the station it owns
        (`[[stations]] agent`), and with it anywhere else. (A station's feature keys, whose
        digest authentication stands in for the PIN, are `Login.station_authenticated`.)
        """
        user = self.user(user_id)
        if user is None or user.force_login:
            return True
        owned = self.station(station)
        return owned is None or owned.agent != user_id

    def language_for(self, user_id: str | None, extension: str | None) -> Language:
        """The language of the phone screens for `user_id` (None: nobody known) at the
        station `extension`: the user's, else the station's, else the site default."""
        user = self.user(user_id) if user_id else None
        station = self.station(extension) if extension else None
        return choose_language(
            user.language if user is not None else None,
            station.language if station is not None else None,
            self.policy.language,
        )

    def feature_level_of(self, user_id: str) -> FeatureLevel:
        """The user's feature level: their own, else the site's."""
        user = self.user(user_id)
        if user is not None and user.feature_level is not None:
            return user.feature_level
        return self.policy.feature_level

    def group(self, number: str) -> Group | None:
        """The group with this number, if any."""
        for g in self.groups:
            if g.number == number:
                return g
        return None
