"""Site files: every validation rule names the key path and the reason; the demo site; round trips."""

from __future__ import annotations

import dataclasses
from importlib.resources import files

import pytest
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.pin import hash_pin, verify_pin
from acdgate.acd.shortcodes import MatchKind, ShortCodeTable
from acdgate.acd.site import (
    Code,
    Feature,
    Group,
    GroupMode,
    Policy,
    ShortCode,
    SipSettings,
    Station,
)
from acdgate.acd.site_format import format_site

BASE = """\
name = "test"

[[stations]]
extension = "2101"
sip_password = "pw2101"

[[users]]
id = "3000"
name = "Alice"
pin = "1234"
skills = { support = 5 }

[[users]]
id = "3001"
name = "Bob"
pin = "1234"

[[groups]]
number = "6000"
name = "Sales"
mode = "linear"
members = ["3000", "3001"]

[short_codes]
"*36" = { feature = "logout" }
"""


def problems_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_site(text, "site.toml")
    assert info.value.source == "site.toml"
    return info.value.problems


def edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def test_base_is_valid() -> None:
    site = parse_site(BASE, "site.toml")
    assert site.name == "test" and site.source == "site.toml"
    assert site.stations == (Station("2101", "2101", "pw2101"),)  # username defaults to extension
    assert [u.user_id for u in site.users] == ["3000", "3001"]
    assert verify_pin("1234", site.users[0].pin_hash) and not verify_pin("1235", site.users[0].pin_hash)
    assert site.users[0].skills == (("support", 5),) and site.users[0].force_login
    assert site.groups == (Group("6000", "Sales", GroupMode.LINEAR, ("3000", "3001")),)
    assert site.short_codes == (ShortCode("*36", Feature.LOGOUT),)
    assert site.policy == Policy() and site.sip == SipSettings()


APPEND_GROUP = '\n[[groups]]\nnumber = "6001"\nname = "Two"\n'

CASES = [
    # PINs (IP Office: at least 4 digits)
    (edit('pin = "1234"', 'pin = "123"'), "users[0].pin", "must be at least 4 digits"),
    (edit('pin = "1234"', 'pin = "12a4"'), "users[0].pin", "must be digits only, not '12a4'"),
    (edit('pin = "1234"', "pin = 1234"), "users[0].pin", 'must be a string of digits (quote it: "1234")'),
    (edit('pin = "1234"', ""), "users[0].pin", "required (or pin_hash)"),
    (edit('pin = "1234"', 'pin = "1234"\npin_hash = "x"'), "users[0].pin_hash", "give pin or pin_hash, not both"),
    (
        edit('pin = "1234"', 'pin_hash = "md5$1$00$00"'),
        "users[0].pin_hash",
        "must be a hash made by acdgate (pbkdf2-sha256$...)",
    ),
    # one numbering plan: extensions, user ids, group numbers
    (
        BASE + '\n[[stations]]\nextension = "2101"\nsip_username = "x"\nsip_password = "p"\n',
        "stations[1].extension",
        "2101 is already used by stations[0].extension",
    ),
    (
        BASE + '\n[[stations]]\nextension = "3000"\nsip_password = "p"\n',
        "users[0].id",
        "3000 is already used by stations[1].extension",
    ),
    (
        BASE + '\n[[users]]\nid = "6000"\nname = "C"\npin = "1234"\n',
        "groups[0].number",
        "6000 is already used by users[2].id",
    ),
    (
        BASE + '\n[[stations]]\nextension = "2102"\nsip_username = "2101"\nsip_password = "p"\n',
        "stations[1].sip_username",
        "2101 is already used by stations[0].sip_username",
    ),
    (
        BASE + '"2101" = { feature = "ready" }\n',
        "short_codes.2101",  # a bare key: no quotes in the key path
        "matches 2101 (stations[0].extension): dialling it would run the short code",
    ),
    # group rules
    (
        BASE + APPEND_GROUP + 'mode = "collective"\nmonitored = true\n',
        "groups[1].monitored",
        "a collective group (IP Office group mode) cannot be monitored for reporting; "
        "use linear, circular or most-idle",
    ),
    (edit('"3001"]', '"3999"]'), "groups[0].members[1]", "no user 3999"),
    (edit('"3001"]', '"3000"]'), "groups[0].members[1]", "3000 is listed twice"),
    (edit('"3001"]', "3001]"), "groups[0].members[1]", 'must be a string of digits (quote it: "3001")'),
    (edit('mode = "linear"', 'mode = "round-robin"'), "groups[0].mode",
     "must be one of linear, circular, most-idle, collective, skills, not 'round-robin'"),
    (
        edit('mode = "linear"', 'mode = "linear"\noverflow_group = "6999"\noverflow_seconds = 30'),
        "groups[0].overflow_group",
        "no group 6999",
    ),
    (
        edit('mode = "linear"', 'mode = "linear"\noverflow_group = "6001"\noverflow_seconds = 30')
        + APPEND_GROUP
        + 'mode = "linear"\noverflow_group = "6000"\noverflow_seconds = 30\n',
        "groups[0].overflow_group",
        "overflow loop: 6000 -> 6001 -> 6000",
    ),
    (
        edit('mode = "linear"', 'mode = "linear"\noverflow_group = "6000"\noverflow_seconds = 5'),
        "groups[0].overflow_group",
        "overflow loop: 6000 -> 6000",
    ),
    (
        edit('mode = "linear"', 'mode = "linear"\noverflow_group = "6000"'),
        "groups[0].overflow_seconds",
        "required with overflow_group",
    ),
    (BASE + APPEND_GROUP + 'mode = "skills"\n', "groups[1].skill", "required for mode skills"),
    (BASE + APPEND_GROUP + 'mode = "linear"\nskill = "support"\n', "groups[1].skill", "only for mode skills"),
    (
        BASE + APPEND_GROUP + 'mode = "skills"\nskill = "suport"\nmembers = ["3000"]\n',
        "groups[1].skill",
        "no member has skill 'suport'",
    ),
    (edit('mode = "linear"', 'mode = "linear"\nno_answer_seconds = 0'), "groups[0].no_answer_seconds",
     "must be 1-3600, not 0"),
    # skills 1-10
    (edit("support = 5", "support = 11"), "users[0].skills.support", "must be 1-10, not 11"),
    (edit("support = 5", "support = 0"), "users[0].skills.support", "must be 1-10, not 0"),
    (edit("support = 5", 'support = "high"'), "users[0].skills.support", "must be an integer, not a string"),
    # supervisors
    (
        edit('pin = "1234"', 'pin = "1234"\nsupervised_groups = ["6000"]'),
        "users[0].supervised_groups",
        "only for supervisors (supervisor = true)",
    ),
    (
        edit('pin = "1234"', 'pin = "1234"\nsupervisor = true\nsupervised_groups = ["6999"]'),
        "users[0].supervised_groups[0]",
        "no group 6999",
    ),
    # ports and SIP settings
    (BASE + "[sip]\nport = 70000\n", "sip.port", "must be 1-65535, not 70000"),
    (BASE + "[sip]\nport = 0\n", "sip.port", "must be 1-65535, not 0"),
    (BASE + "[sip]\ntls_port = 65536\n", "sip.tls_port", "must be 1-65535, not 65536"),
    (BASE + "[sip]\ntls_port = 5061\n", "sip.tls_certificate", "required with tls_port"),
    (BASE + '[sip]\ntls_key = "k.pem"\n', "sip.tls_key", "only with tls_port"),
    (BASE + "[sip]\nport = 5060\ntls_port = 5060\ntls_certificate = \"c\"\ntls_key = \"k\"\n", "sip.tls_port",
     "must differ from port (5060)"),
    (BASE + '[sip]\nbind = "localhost"\n', "sip.bind", "must be an IP address, not 'localhost'"),
    (BASE + "[sip]\nmin_expires = 600\ndefault_expires = 300\n", "sip.default_expires",
     "must be between min_expires and max_expires"),
    (BASE + '[sip]\ndigest_algorithms = ["SHA-256", "md5"]\n', "sip.digest_algorithms[1]",
     "must be one of MD5, MD5-sess, SHA-256, SHA-256-sess, not 'md5'"),
    (BASE + '[sip]\ndigest_algorithms = ["MD5", "MD5"]\n', "sip.digest_algorithms[1]", "MD5 is listed twice"),
    (BASE + "[sip]\ndigest_algorithms = []\n", "sip.digest_algorithms", "must be a non-empty array of algorithm names"),
    # wrong types
    (edit('name = "test"', "name = 5"), "name", "must be a string, not an integer"),
    (edit('name = "test"', ""), "name", "required"),
    (edit('pin = "1234"', 'pin = "1234"\nforce_login = "yes"'), "users[0].force_login",
     "must be true or false, not a string"),
    (edit('members = ["3000", "3001"]', 'members = "3000"'), "groups[0].members",
     "must be an array of strings, not a string"),
    (edit("[[stations]]", "stations = 1\n[[stationz]]"), "stations", "must be an array of tables ([[stations]]), not an integer"),
    (BASE + "[policy]\ninter_digit_seconds = true\n", "policy.inter_digit_seconds", "must be a number, not a boolean"),
    # unknown keys: typos must not pass
    (edit("skills =", "skils ="), "users[0].skils", "unknown key (did you mean 'skills'?)"),
    (BASE + "[sip]\nprot = 5060\n", "sip.prot", "unknown key (did you mean 'port'?)"),
    (
        BASE + "[policy]\nnot_ready_reason_required = true\n",
        "policy.not_ready_reason_required",
        "unknown key (set it as reasons.not_ready.required)",
    ),
    # reason and wrap-up codes
    (BASE + "[reasons.not_ready]\nrequired = true\n", "reasons.not_ready.required", "no reason codes to choose from"),
    (BASE + '[wrapup.codes]\n1 = "A"\n01 = "B"\n', "wrapup.codes.01", "same number as wrapup.codes.1"),
    (BASE + '[reasons.logout.codes]\nx = "A"\n', "reasons.logout.codes.x", "reason code numbers must be 1-6 digits"),
    (BASE + '[reasons.logout.codes]\n1 = ""\n', "reasons.logout.codes.1", "must not be empty"),
    # short codes
    (BASE + '"*3n" = { feature = "ready" }\n', 'short_codes."*3n"', "pattern may only hold 0-9 * # N X, not 'n'"),
    (BASE + '"*N*N#" = { feature = "ready" }\n', 'short_codes."*N*N#"', "pattern may hold at most one N"),
    (BASE + '"*37" = { feature = "redy" }\n', 'short_codes."*37".feature', "must be one of login, logout, "
     "ready, not-ready, work-ready, work-not-ready, group-disable, group-enable, record-start, "
     "record-stop, monitor, whisper, barge, intercept, not 'redy'"),
    (BASE + '"*37" = { feature = "ready", argument = "1" }\n', 'short_codes."*37".argument', "ready takes no argument"),
    (BASE + '"*37" = { feature = "ready", argumnet = "1" }\n', 'short_codes."*37".argumnet',
     "unknown key (did you mean 'argument'?)"),
    (BASE + '"*35" = { feature = "login", argument = "N" }\n', 'short_codes."*35".argument',
     "uses N but the pattern '*35' has no N"),
    (BASE + '"#3999" = { feature = "login", argument = "3999" }\n', 'short_codes."#3999".argument', "no user 3999"),
    (BASE + '"#3000" = { feature = "login", argument = "3000*9999" }\n', 'short_codes."#3000".argument',
     "the PIN is not user 3000's PIN"),
    (BASE + '"*41" = { feature = "group-disable", argument = "6999" }\n', 'short_codes."*41".argument', "no group 6999"),
    (BASE + '"*38*1#" = { feature = "not-ready", argument = "1" }\n', 'short_codes."*38*1#".argument',
     "no not-ready reason 1"),
    (BASE + '"*45" = { feature = "monitor", argument = "3999" }\n', 'short_codes."*45".argument', "no user 3999"),
    (
        BASE
        + '"*N#" = { feature = "ready" }\n"*X#" = { feature = "ready" }\n"*XN#" = { feature = "ready" }\n'
        + '"**N#" = { feature = "ready" }\n"**#" = { feature = "ready" }\n',
        'short_codes."*N#"',
        'never matches: every number it matches goes to "**#", "**N#", "*X#", "*XN#" (more specific, or listed first)',
    ),
    (
        BASE + '"*9N" = { feature = "ready" }\n"*9XN" = { feature = "ready" }\n'
        + '"*9*" = { feature = "ready" }\n"*9X" = { feature = "ready" }\n"*9*N" = { feature = "ready" }\n',
        'short_codes."*9N"',
        'never matches: every number it matches goes to "*9*", "*9*N", "*9X", "*9XN" (more specific, or listed first)',
    ),
]


@pytest.mark.parametrize(("text", "key", "reason"), CASES)
def test_validation_names_key_and_reason(text: str, key: str, reason: str) -> None:
    problems = problems_of(text)
    assert (key, reason) in problems, problems


def test_error_message_format() -> None:
    with pytest.raises(ConfigError) as info:
        parse_site(edit('pin = "1234"', 'pin = "123"'), "site.toml")
    e = info.value
    assert (e.key, e.reason) == ("users[0].pin", "must be at least 4 digits")
    assert str(e) == "site.toml: users[0].pin: must be at least 4 digits"
    assert isinstance(e, ValueError)


def test_all_problems_are_collected() -> None:
    text = edit('pin = "1234"', 'pin = "12"').replace('"3001"]', '"3999"]') + "[sip]\nport = 0\n"
    problems = problems_of(text)
    assert problems == [
        ("users[0].pin", "must be at least 4 digits"),
        ("groups[0].members[1]", "no user 3999"),
        ("sip.port", "must be 1-65535, not 0"),
    ]
    with pytest.raises(ConfigError) as info:
        parse_site(text, "x.toml")
    assert str(info.value).splitlines() == [f"x.toml: {k}: {r}" for k, r in problems]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('name = "a"\nname = "b"\n\n', "line 2, column 11", "TOML syntax: Cannot overwrite a value"),
        ('name = "a"\n[sip]\nport = \n', "line 3, column 8", "TOML syntax: Invalid value"),
        ('name = "a', "end of file", "TOML syntax: Unterminated string"),
    ],
)
def test_toml_syntax_errors_are_config_errors(text: str, key: str, reason: str) -> None:
    assert problems_of(text) == [(key, reason)]


def test_pin_hash_is_accepted_as_is() -> None:
    pin_hash = hash_pin("4321")
    site = parse_site(edit('pin = "1234"', f'pin_hash = "{pin_hash}"'))
    assert site.users[0].pin_hash == pin_hash


def test_collective_defaults_to_not_monitored() -> None:
    site = parse_site(BASE + APPEND_GROUP + 'mode = "collective"\n')
    assert site.groups[1].mode is GroupMode.COLLECTIVE and not site.groups[1].monitored
    assert site.groups[0].monitored


# --- the demo site --------------------------------------------------------------------


def demo_text() -> str:
    return files("acdgate.gateway").joinpath("demo_site.toml").read_text(encoding="utf-8")


def test_demo_site() -> None:
    site = parse_site(demo_text(), "demo_site.toml")
    assert site.name == "demo"
    assert site.stations[:10] == tuple(
        Station(str(e), str(e), f"pw{e}", None, site.stations[i].label, str(e - 2101 + 3000))
        for i, e in enumerate(range(2101, 2111))
    )
    # the H.323 stations: alias = extension, password pw + extension, no line owner
    assert site.stations[10:] == tuple(
        Station(str(e), str(e), f"pw{e}", str(e), f"H.323 desk {e - 2200}") for e in range(2201, 2205)
    )
    agents = [str(n) for n in range(3000, 3010)]
    assert [u.user_id for u in site.users] == [*agents, "3900"]
    for u in site.users:
        assert u.name and u.force_login
        assert verify_pin("9999" if u.user_id == "3900" else "1234", u.pin_hash)
        assert u.supervisor is (u.user_id == "3900")
        assert all(skill in ("billing", "support") and 1 <= level <= 10 for skill, level in u.skills)
    levels = {u.skill_level("support") for u in site.users if u.user_id in agents}
    assert len(levels) > 3  # varied, so skills routing has something to choose
    groups = {g.number: g for g in site.groups}
    assert [(g.number, g.mode) for g in site.groups] == [
        ("6000", GroupMode.LINEAR),
        ("6001", GroupMode.CIRCULAR),
        ("6002", GroupMode.MOST_IDLE),
        ("6003", GroupMode.COLLECTIVE),
        ("6500", GroupMode.SKILLS),
    ]
    assert not groups["6003"].monitored
    assert all(g.monitored for g in site.groups if g.number != "6003")
    assert groups["6500"].skill == "support"
    assert (groups["6000"].overflow_group, groups["6000"].overflow_seconds) == ("6003", 60)
    assert set(agents) == {m for g in site.groups for m in g.members}  # every agent in a group
    assert site.not_ready_reasons == (Code(1, "Break"), Code(2, "Paperwork"), Code(3, "Lunch"))
    assert site.logout_reasons == (Code(1, "End of shift"), Code(2, "Meeting"))
    assert site.wrapup_codes == (Code(1, "Update customer record"), Code(2, "Log customer call"))
    assert not site.policy.logout_reason_required
    nn = "N"
    assert site.short_codes == (
        ShortCode("*35*N#", Feature.LOGIN, nn),
        *(ShortCode(f"#{u}", Feature.LOGIN, u) for u in agents),
        ShortCode("*36", Feature.LOGOUT),
        ShortCode("*37", Feature.READY),
        ShortCode("*38", Feature.NOT_READY),
        ShortCode("*38*N#", Feature.NOT_READY, nn),
        ShortCode("*39*N#", Feature.WORK_READY, nn),
        ShortCode("*40*N#", Feature.WORK_NOT_READY, nn),
        ShortCode("*41*N#", Feature.GROUP_DISABLE, nn),
        ShortCode("*42*N#", Feature.GROUP_ENABLE, nn),
        ShortCode("*43", Feature.RECORD_START),
        ShortCode("*44", Feature.RECORD_STOP),
        ShortCode("*45*N#", Feature.MONITOR, nn),
        ShortCode("*46*N#", Feature.WHISPER, nn),
        ShortCode("*47*N#", Feature.BARGE, nn),
        ShortCode("*48*N#", Feature.INTERCEPT, nn),
    )


def test_demo_short_codes_dial_as_documented() -> None:
    table = ShortCodeTable(parse_site(demo_text()).short_codes)
    login = table.match("*35*3000*1234#")
    assert (login.kind, login.argument) == (MatchKind.COMPLETE, "3000*1234")
    assert table.match("#3007").argument == "3007"
    assert table.match("*38*3#").argument == "3"
    assert table.match("*38").more_possible
    assert table.match("*35").kind is MatchKind.NEED_MORE
    assert table.shadowed() == []


def test_demo_with_the_tip_variant_login() -> None:
    text = demo_text().replace(
        '"#3000" = { feature = "login", argument = "3000" }',
        '"#3000" = { feature = "login", argument = "3000*1234" }',
    )
    table = ShortCodeTable(parse_site(text).short_codes)
    assert table.match("#3000").argument == "3000*1234"


# --- round trips -------------------------------------------------------------------------


def test_round_trip_demo() -> None:
    site = parse_site(demo_text(), "demo_site.toml")
    again = parse_site(format_site(site), "demo_site.toml")
    assert again == site


def test_round_trip_every_optional_field() -> None:
    text = (
        edit('sip_password = "pw2101"', 'sip_password = "pw \\"q\\" é"\nh323_alias = "desk-1"\nlabel = "Desk"')
        .replace('mode = "linear"', 'mode = "linear"\noverflow_group = "6001"\noverflow_seconds = 0\nmax_queue = 0')
        .replace("skills = { support = 5 }", 'skills = { support = 5 }\nsupervisor = true\nsupervised_groups = ["6001"]')
        + '"#3001" = { feature = "login", argument = "3001*1234" }\n"*5X" = { feature = "group-enable", argument = "600X" }\n'
        + APPEND_GROUP
        + 'mode = "skills"\nskill = "support"\nmembers = ["3000"]\nwrapup_seconds = 30\n'
        + '[policy]\npin_attempts = 3\npin_lockout_seconds = 0\ninter_digit_seconds = 2.5\n'
        + 'agent_notice = "recording"\nnotice_beep = true\nnotice_beep_every_seconds = 15\nmusic_on_hold = "moh.wav"\n'
        + '[sip]\nbind = "::1"\nport = 5070\ntls_port = 5071\ntls_certificate = "c.pem"\ntls_key = "k.pem"\nrealm = "lab"\nqualify_seconds = 0\n'
        + 'timer_t1_ms = 250\ntimer_t2_ms = 2000\ntimer_t4_ms = 2500\nrtp_port_min = 30000\nrtp_port_max = 30100\n'
        + 'digest_algorithms = ["SHA-256-sess", "MD5"]\n'
        + '[reasons.not_ready]\nrequired = true\ncodes = { 7 = "Seven" }\n'
        + '[wrapup]\nrequired = true\ncodes = { 1 = "One", 22 = "Twenty-two" }\n'
    )
    site = parse_site(text, "s.toml")
    assert site.stations[0].h323_alias == "desk-1" and site.sip.tls_port == 5071
    assert site.sip.digest_algorithms == ("SHA-256-sess", "MD5")
    assert (site.sip.timer_t1_ms, site.sip.rtp_port_max) == (250, 30100)
    assert (site.policy.agent_notice, site.policy.notice_beep, site.policy.music_on_hold) == ("recording", True, "moh.wav")
    assert site.policy.notice_beep_every_seconds == 15.0
    assert site.policy.not_ready_reason_required and site.policy.wrapup_code_required
    assert site.users[0].supervised_groups == ("6001",) and site.groups[0].max_queue == 0
    assert parse_site(format_site(site), "s.toml") == site
    assert dataclasses.replace(parse_site(format_site(site)), source="s.toml") == site


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ("notice_beep = true\nnotice_beep_every_seconds = 0.5\n", "must be 0 (one beep) or at least 1, not 0.5"),
        ("notice_beep_every_seconds = 15\n", "repeats the notice beep: set notice_beep = true too"),
        ("notice_beep = true\nnotice_beep_every_seconds = -1\n", "must be 0-3600, not -1"),
    ],
)
def test_repeated_notice_beep_needs_a_sane_interval_and_the_beep(policy: str, reason: str) -> None:
    problems = problems_of(BASE + "\n[policy]\n" + policy)
    assert [key for key, _ in problems] == ["policy.notice_beep_every_seconds"], problems
    assert reason in problems[0][1]


@pytest.mark.parametrize(("value", "expected"), [(None, 10), (0, 0), (30, 30)])
def test_skill_stats_refresh_defaults_to_the_guides_10_s_and_0_turns_it_off(
    value: int | None, expected: int
) -> None:
    text = BASE if value is None else BASE + f"\n[policy]\nskill_stats_refresh_seconds = {value}\n"
    site = parse_site(text, "s.toml")
    assert site.policy.skill_stats_refresh_seconds == expected
    assert parse_site(format_site(site), "s.toml") == site


@pytest.mark.parametrize(("value", "reason"), [("-1", "must be 0-3600, not -1"),
                                                ("2.5", "must be an integer, not")])
def test_skill_stats_refresh_must_be_whole_seconds(value: str, reason: str) -> None:
    problems = problems_of(BASE + f"\n[policy]\nskill_stats_refresh_seconds = {value}\n")
    assert [key for key, _ in problems] == ["policy.skill_stats_refresh_seconds"], problems
    assert reason in problems[0][1]


def test_hardening_keys_are_read_checked_and_written_back() -> None:
    """Issue 19: [policy] pin_lockout_escalation and pin_source_attempts, [http] max_body_bytes
    and max_json_depth."""
    site = parse_site(BASE, "s.toml")
    assert (site.policy.pin_lockout_escalation, site.policy.pin_source_attempts) == ((300, 1800), 10)
    assert (site.http.max_body_bytes, site.http.max_json_depth) == (65536, 32)
    text = (BASE + "\n[policy]\npin_lockout_escalation = [600, 3600, 86400]\npin_source_attempts = 20\n"
            + "[http]\nmax_body_bytes = 4096\nmax_json_depth = 8\n")
    site = parse_site(text, "s.toml")
    assert (site.policy.pin_lockout_escalation, site.policy.pin_source_attempts) == ((600, 3600, 86400), 20)
    assert (site.http.max_body_bytes, site.http.max_json_depth, site.http.token) == (4096, 8, None)
    assert dataclasses.replace(parse_site(format_site(site)), source="s.toml") == site
    problems = problems_of(BASE + "\n[policy]\npin_lockout_escalation = [90, -1]\n[http]\nmax_body_bytes = 10\n")
    assert [key for key, _ in problems] == ["policy.pin_lockout_escalation", "http.max_body_bytes"], problems
