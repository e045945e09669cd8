"""IP Office "Force Login" end to end: user 3001 of the demo site made a user without force
login. It logs on at its own station 2102 by `#3001` without being asked for a PIN, and by
the XML login screen with the password left empty; a force-login user (3000) is refused
without the PIN at its own station; `acdgate check-config` names 3001 as a member of
monitored groups that the reports cannot follow (a warning: exit status 0)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register
from test_feature_calls import CONFIRM, ERROR, RtpSink, agents, dial, feature_journal


def free_site(path: Path) -> Path:
    """The demo site with user 3001 not a force-login user."""
    old = 'id = "3001"\nname = "Bob Baker"\npin = "1234"\nforce_login = true\n'
    text = demo_site_text()
    assert old in text
    path.write_text(text.replace(old, old.replace("force_login = true", "force_login = false")))
    return path


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """The gateway on the demo site with 3001 not a force-login user (not the demo's)."""
    return start_gateway(config=free_site(tmp_path / "site.toml"))


@pytest.fixture
def sink() -> Iterator[RtpSink]:
    s = RtpSink()
    yield s
    s.close()


def test_a_user_without_force_login_logs_on_at_its_own_station_without_a_pin(
        gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    # no PIN keyed: with force login the gateway would collect one and time out (error tone)
    assert dial(gateway, tmp_path, sink, "2102", "#3001") == 200
    audio = sink.audio()
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    assert agents(gateway)["3001"]["station"] == "2102"
    assert feature_journal(gateway)[-1] == ("#3001", "Done", 200)


def test_a_force_login_user_still_needs_the_pin_at_its_own_station(
        gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2101", "#3000") == 200  # PIN collected, none keyed
    assert detect_tone(sink.audio(), ERROR)
    assert "3000" not in agents(gateway)
    assert feature_journal(gateway)[-1] == ("#3000", "No PIN entered", 403)


def test_xml_login_screen_with_an_empty_password(gateway: GatewayProcess) -> None:
    register(gateway.sip, "2101", "2102", "2103")  # the phone, from 127.0.0.1 (issue 19)
    screen = gateway.get_text("/xml/login?ext=2101&id=3000&pin=")
    assert "Login failed" in screen and "3000" not in agents(gateway)
    gateway.get_text("/xml/login?ext=2103&id=3001&pin=")  # not its station: the PIN is needed
    assert "3001" not in agents(gateway)
    gateway.get_text("/xml/login?ext=2102&id=3001&pin=")
    assert agents(gateway)["3001"]["station"] == "2102"


def test_check_config_warns_about_members_the_reports_cannot_follow(tmp_path: Path) -> None:
    site = free_site(tmp_path / "site.toml")
    result = subprocess.run([sys.executable, "-m", "acdgate.gateway.cli", "check-config", str(site)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert warnings and all(line.startswith(f"{site}: groups[") for line in warnings), result.stderr
    assert all("user 3001 is not a force-login user" in line for line in warnings)
    assert "site 'demo'" in result.stdout
    demo = tmp_path / "demo.toml"
    demo.write_text(demo_site_text())
    clean = subprocess.run([sys.executable, "-m", "acdgate.gateway.cli", "check-config", str(demo)],
                           capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0 and "warning" not in clean.stderr
