"""Reading a site file from disk, or the embedded demo site when none is given."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.site import Site

DEMO_SOURCE = "<embedded demo site>"


def demo_site_text() -> str:
    """The embedded demo site file, as `acdgate demo-config` prints it."""
    return resources.files("acdgate.gateway").joinpath("demo_site.toml").read_text(encoding="utf-8")


def load_site(path: str | Path | None) -> Site:
    """The site in `path`, or the demo site for None; raises ConfigError naming file, key, reason."""
    if path is None:
        return parse_site(demo_site_text(), DEMO_SOURCE)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "-", "no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), "-", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(p), "-", f"cannot read: {exc.strerror}") from None
    return parse_site(text, str(p))


def site_summary(site: Site) -> str:
    """A few lines describing a site: counts and the groups."""
    lines = [
        f"site {site.name!r} from {site.source}: OK",
        f"  {len(site.stations)} stations, {len(site.users)} users "
        f"({sum(u.supervisor for u in site.users)} supervisors), {len(site.groups)} groups, "
        f"{len(site.short_codes)} short codes",
    ]
    for g in site.groups:
        extra = f", skill {g.skill}" if g.skill else ""
        lines.append(
            f"  group {g.number} {g.name!r}: {g.mode.value}{extra}, {len(g.members)} members"
            f"{'' if g.monitored else ', not monitored'}"
        )
    lines.append(f"  SIP: {site.sip.bind}:{site.sip.port} realm {site.sip.realm!r}")
    lines.append("  HTTP control API: " + ("bearer token required" if site.http.token else "open (no [http] token)"))
    return "\n".join(lines)
