"""Login by agent ID or name, end to end: the demo site with login names (alice for 3000,
bob for 3001) and short-code login by keypad name switched on. The XML login screen takes
the name in any case; `*35*25423*1234#` ("alice" on the keypad) logs 3000 on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register
from test_feature_calls import CONFIRM, ERROR, RtpSink, agents, dial, feature_journal


def named_site(path: Path, *, keypad: bool = True) -> Path:
    text = demo_site_text()
    for user, name in (("3000", "alice"), ("3001", "bob")):
        old = f'[[users]]\nid = "{user}"\n'
        assert old in text
        text = text.replace(old, f'{old}login_name = "{name}"\n')
    if keypad:
        old = "[policy]\n"
        assert old in text
        text = text.replace(old, f"{old}login_by_keypad_name = true\n")
    path.write_text(text)
    return path


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """The demo site with login names and keypad-name login (not the demo's)."""
    return start_gateway(config=named_site(tmp_path / "site.toml"))


@pytest.fixture
def sink() -> Iterator[RtpSink]:
    s = RtpSink()
    yield s
    s.close()


def test_short_code_logs_on_by_the_names_keypad_digits(
        gateway: GatewayProcess, tmp_path: Path, sink: RtpSink) -> None:
    assert dial(gateway, tmp_path, sink, "2101", "*35*25423*1234#") == 200
    audio = sink.audio()
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    assert agents(gateway)["3000"]["station"] == "2101"
    assert feature_journal(gateway)[-1] == ("*35*25423*xxxx#", "Done", 200)
    # the same digits with a wrong PIN: the user behind the name gets the failure
    assert dial(gateway, tmp_path, sink, "2102", "*35*262*9999#") == 200
    assert detect_tone(sink.audio(), ERROR)
    assert feature_journal(gateway)[-1] == ("*35*262*xxxx#", "Wrong pin", 403)


def test_xml_login_screen_takes_the_name_in_any_case(gateway: GatewayProcess) -> None:
    register(gateway.sip, "2102", "2103")  # the phone, from 127.0.0.1 (issue 19)
    gateway.get_text("/xml/login?ext=2102&id=BOB&pin=1234")
    assert agents(gateway)["3001"]["station"] == "2102"
    screen = gateway.get_text("/xml/login?ext=2103&id=carol&pin=1234")
    assert "Login failed" in screen


def test_keypad_login_needs_the_site_option(start_gateway: StartGateway, tmp_path: Path, sink: RtpSink) -> None:
    gw = start_gateway(config=named_site(tmp_path / "site.toml", keypad=False))
    assert dial(gw, tmp_path, sink, "2101", "*35*25423*1234#") == 200
    assert detect_tone(sink.audio(), ERROR)
    assert "3000" not in agents(gw)
    assert feature_journal(gw)[-1] == ("*35*25423*xxxx#", "Unknown user", 404)
    register(gw.sip, "2101")  # the phone, from 127.0.0.1 (issue 19)
    gw.get_text("/xml/login?ext=2101&id=Alice&pin=1234")  # the screens take names regardless
    assert agents(gw)["3000"]["station"] == "2101"
