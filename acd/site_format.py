"""Writing a `Site` back as site file text, so that `parse_site(format_site(s)) == s`.

Used to save a site after edits (PINs only ever as `pin_hash`) and to check round trips;
the layout is the one `acd.config.parse_site` reads (docs/site-file.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .caller_data import CallerDataSettings
from .config import key_path
from .site import HttpSettings, Site


def _toml_string(s: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(s, ensure_ascii=False)


def _toml_strings(items: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_string(s) for s in items) + "]"


def _caller_data(site: Site) -> list[str]:
    """`[caller_data]` (issue 16), or nothing for the default (no table)."""
    c = site.caller_data
    if c == CallerDataSettings():
        return []
    q = _toml_string
    lines = ["[caller_data]", f"headers = {_toml_strings(c.headers)}"]
    if c.default_layout is not None:
        lines.append(f"default_layout = {q(c.default_layout)}")
    lines.append("")
    for layout in c.layouts:
        fields = ", ".join(f"{{label = {q(f.label)}, key = {q(f.key)}}}" for f in layout.fields)
        lines += ["[[caller_data.layouts]]", f"name = {q(layout.name)}", f"fields = [{fields}]",
                  f"groups = {_toml_strings(layout.groups)}", ""]
    for push in c.push:
        lines += ["[[caller_data.push]]", f"station = {q(push.station)}", f"kind = {q(push.kind.value)}",
                  f"url = {q(push.url)}", f"username = {q(push.username)}", f"password = {q(push.password)}", ""]
    return lines


def format_site(site: Site) -> str:
    """`site` as site file text; `parse_site(format_site(s))` equals `s` (PINs as pin_hash)."""
    q = _toml_string
    lines = [f"name = {q(site.name)}", ""]
    p = site.policy
    lines += [
        "[policy]",
        f"pin_attempts = {p.pin_attempts}",
        f"pin_lockout_seconds = {p.pin_lockout_seconds}",
        f"pin_lockout_escalation = [{', '.join(str(n) for n in p.pin_lockout_escalation)}]",
        f"pin_source_attempts = {p.pin_source_attempts}",
        f"inter_digit_seconds = {p.inter_digit_seconds!r}",
        f"agent_notice = {q(p.agent_notice)}",
        f"notice_beep = {'true' if p.notice_beep else 'false'}",
        f"language = {q(p.language.value)}",
        f"feature_level = {q(p.feature_level.value)}",
        f"skill_stats_refresh_seconds = {p.skill_stats_refresh_seconds}",
    ]
    if p.notice_beep_every_seconds:
        lines.append(f"notice_beep_every_seconds = {p.notice_beep_every_seconds!r}")
    if p.music_on_hold is not None:
        lines.append(f"music_on_hold = {q(p.music_on_hold)}")
    for key, files in (("reason_prompt_audio", p.reason_prompt_audio),
                       ("wrapup_prompt_audio", p.wrapup_prompt_audio)):
        if len(files) == 1 and files[0][0] is None:
            lines.append(f"{key} = {q(files[0][1])}")
        elif files:
            table = ", ".join(f"{lang.value} = {q(path)}" for lang, path in files if lang is not None)
            lines.append(f"{key} = {{ {table} }}")
    if p.login_by_keypad_name:
        lines.append("login_by_keypad_name = true")
    lines.append("")
    s = site.sip
    lines += ["[sip]", f"bind = {q(s.bind)}", f"port = {s.port}"]
    if s.tls_port is not None:
        lines.append(f"tls_port = {s.tls_port}")
    if s.tls_certificate is not None:
        lines.append(f"tls_certificate = {q(s.tls_certificate)}")
    if s.tls_key is not None:
        lines.append(f"tls_key = {q(s.tls_key)}")
    lines.append(f"realm = {q(s.realm)}")
    lines.append(f"digest_algorithms = {_toml_strings(s.digest_algorithms)}")
    for name in (
        "min_expires",
        "max_expires",
        "default_expires",
        "qualify_seconds",
        "timer_t1_ms",
        "timer_t2_ms",
        "timer_t4_ms",
        "rtp_port_min",
        "rtp_port_max",
        "nonce_seconds",
        "auth_failures_before_delay",
        "auth_failures_before_block",
        "auth_block_seconds",
        "tcp_idle_seconds",
        "tcp_max_connections",
        "tcp_max_connections_per_source",
    ):
        lines.append(f"{name} = {getattr(s, name)}")
    lines.append("")
    r = site.reports
    lines += ["[reports]", f"short_abandon_seconds = {r.short_abandon_seconds}",
              f"service_level_seconds = {r.service_level_seconds}", ""]
    h, default_http = site.http, HttpSettings()
    bounds = (h.max_body_bytes, h.max_json_depth) != (default_http.max_body_bytes, default_http.max_json_depth)
    if h.token is not None or bounds:  # no [http] table: the default, an open control API
        lines.append("[http]")
        if h.token is not None:
            lines.append(f"token = {q(h.token)}")
        if h.token_holder is not None:
            lines.append(f"token_holder = {q(h.token_holder)}")
        lines += [f"max_body_bytes = {h.max_body_bytes}", f"max_json_depth = {h.max_json_depth}", ""]
    w = site.wallboard
    lines += ["[wallboard]"] + [f"{name} = {getattr(w, name)}" for name in (
        "waiting_amber", "waiting_red", "lqt_amber_seconds", "lqt_red_seconds", "service_level_amber",
        "service_level_red")] + [""]  # fmt: skip
    lines += _caller_data(site)
    if site.store.url is not None:  # no [store] table: the default, SQLite in --state-dir
        lines += ["[store]", f"url = {q(site.store.url)}", ""]
    for st in site.stations:
        lines += ["[[stations]]", f"extension = {q(st.extension)}"]
        lines += [f"sip_username = {q(st.sip_username)}", f"sip_password = {q(st.sip_password)}"]
        if st.h323_alias is not None:
            lines.append(f"h323_alias = {q(st.h323_alias)}")
        if st.agent is not None:
            lines.append(f"agent = {q(st.agent)}")
        if st.language is not None:
            lines.append(f"language = {q(st.language.value)}")
        lines += [f"label = {q(st.label)}", ""]
    for u in site.users:
        lines += ["[[users]]", f"id = {q(u.user_id)}", f"name = {q(u.name)}", f"pin_hash = {q(u.pin_hash)}"]
        lines.append(f"force_login = {str(u.force_login).lower()}")
        if u.login_name is not None:
            lines.append(f"login_name = {q(u.login_name)}")
        if u.language is not None:
            lines.append(f"language = {q(u.language.value)}")
        if u.feature_level is not None:
            lines.append(f"feature_level = {q(u.feature_level.value)}")
        skills = ", ".join(f"{key_path('', k)} = {v}" for k, v in u.skills)
        lines += [f"skills = {{ {skills} }}", f"supervisor = {str(u.supervisor).lower()}"]
        if u.supervised_groups:
            lines.append(f"supervised_groups = {_toml_strings(u.supervised_groups)}")
        lines.append("")
    for g in site.groups:
        lines += ["[[groups]]", f"number = {q(g.number)}", f"name = {q(g.name)}", f"mode = {q(g.mode.value)}"]
        lines.append(f"members = {_toml_strings(g.members)}")
        if g.skill is not None:
            lines.append(f"skill = {q(g.skill)}")
        lines += [f"wrapup_seconds = {g.wrapup_seconds}", f"no_answer_seconds = {g.no_answer_seconds}"]
        if g.overflow_group is not None:
            lines.append(f"overflow_group = {q(g.overflow_group)}")
        if g.overflow_seconds is not None:
            lines.append(f"overflow_seconds = {g.overflow_seconds}")
        if g.max_queue is not None:
            lines.append(f"max_queue = {g.max_queue}")
        if g.service_level_seconds is not None:
            lines.append(f"service_level_seconds = {g.service_level_seconds}")
        lines += [f"monitored = {str(g.monitored).lower()}", ""]
    for header, codes, required in (
        ("reasons.not_ready", site.not_ready_reasons, p.not_ready_reason_required),
        ("reasons.logout", site.logout_reasons, p.logout_reason_required),
        ("wrapup", site.wrapup_codes, p.wrapup_code_required),
    ):
        lines += [f"[{header}]", f"required = {str(required).lower()}", f"[{header}.codes]"]
        lines += [f'"{c.code}" = {q(c.label)}' for c in codes]
        lines.append("")
    lines.append("[short_codes]")
    for c in site.short_codes:
        lines.append(f"{q(c.pattern)} = {{ feature = {q(c.feature.value)}, argument = {q(c.argument)} }}")
    return "\n".join(lines) + "\n"
