"""The sites the lab's gateways run: the demo site with `[sip]` keys set (`write_site`, also
for the tests' gateways), and for the default lab with short group timers (`lab_site_text`).

Routed-call scenarios wait out wrap-up between calls and ring-no-answer when a phone does not
answer; with the demo's 10-30 s wrap-up and 15-20 s no-answer the default lab would not fit
its CI budget (docs/lab.md). Everything else (stations, users, PINs, codes) is the demo's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from acdgate.gateway.site_loader import demo_site_text

WRAPUP_SECONDS = 1
# A pyVoIP phone rings 1 s after the INVITE reaches it; on the lossy LAN of a busy CI machine
# (a lost INVITE is resent after 0.5 and 1.5 s) answers came 2.4 s after the offer, and once
# after more than 4 s (a CI run where 4 s was the limit): 8 s leaves room.
NO_ANSWER_SECONDS = 8

_TIMERS = {
    "wrapup_seconds": WRAPUP_SECONDS,
    "no_answer_seconds": NO_ANSWER_SECONDS,
}


def lab_site_text(site_text: str) -> str:
    """`site_text` (a site file) with every group's wrap-up and no-answer time shortened."""
    out = site_text
    for key, value in _TIMERS.items():
        out, count = re.subn(rf"^{key}\s*=\s*\d+", f"{key} = {value}", out, flags=re.M)
        if not count:
            raise ValueError(f"the site has no {key} to shorten")
    return out


def _toml_value(value: str | int | list[str]) -> str:
    # JSON strings and arrays of strings are valid TOML basic strings and arrays.
    return str(value) if isinstance(value, int) else json.dumps(value)


def write_site(path: Path, **sip: str | int | list[str]) -> Path:
    """Write the demo site to `path` with these `[sip]` keys set (replacing the demo's)."""
    out: list[str] = []
    section = ""
    for line in demo_site_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
            out.append(line)
            if section == "[sip]":
                out += [f"{key} = {_toml_value(value)}" for key, value in sip.items()]
            continue
        key = stripped.split("=", 1)[0].strip()
        if section == "[sip]" and "=" in stripped and not stripped.startswith("#") and key in sip:
            continue
        out.append(line)
    if "[sip]" not in (s.strip() for s in out):
        out += ["", "[sip]", *(f"{key} = {_toml_value(value)}" for key, value in sip.items())]
    path.write_text("\n".join(out) + "\n")
    return path
