"""Site files for gateway tests: the demo site (`acdgate demo-config`) with `[sip]` keys changed."""

from __future__ import annotations

import json
from pathlib import Path

from acdgate.gateway.site_loader import demo_site_text


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
