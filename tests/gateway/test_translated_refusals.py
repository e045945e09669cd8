"""The texts that come with tones, in the phone user's language (issue 16): a short code's
refusal reason phrase (the text some phones show beside the error tone) and the ACD's
rejection reason on the phone's error screen go through the catalogs; the journal and the
API keep the reason in English. A site that requires reason codes, German and Russian users
and stations, a running gateway, SIPp and the phone XML service."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from acdgate.acd.events import CommandRejected, record_to_event
from acdgate.acd.languages import Language
from acdgate.gateway.i18n.catalogs import rejection_text, translations
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import register
from sipp_scenarios import run_feature_call
from sipwire import free_port
from test_code_prompts_calls import required_site
from test_feature_calls import agents, feature_journal
from test_phone_languages import USERS, fetch

STATIONS = {"2101": Language.GERMAN, "2102": Language.RUSSIAN}


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """Reasons required; users 3000 (de) and 3001 (ru), stations 2101 (de) and 2102 (ru)."""
    site = required_site(tmp_path / "site.toml")
    text = site.read_text()
    for user in ("3000", "3001"):
        old = f'[[users]]\nid = "{user}"\n'
        text = text.replace(old, f'{old}language = "{USERS[user].value}"\n')
    for ext, language in STATIONS.items():
        old = f'[[stations]]\nextension = "{ext}"\n'
        text = text.replace(old, f'{old}language = "{language.value}"\n')
    site.write_text(text)
    return start_gateway(config=site)


def rejections(gw: GatewayProcess) -> list[dict[str, object]]:
    db = sqlite3.connect(f"file:{gw.state_dir / 'acdgate.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT data FROM journal WHERE kind = 'CommandRejected' ORDER BY seq").fetchall()
    finally:
        db.close()
    return [json.loads(row[0]) for row in rows]


def test_a_short_code_refusal_s_reason_phrase_is_in_the_users_language(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    """*38 without a reason from a phone offering no usable codec: no prompt can be played,
    the INVITE is refused 403 with the ACD's reason, in German for a German user."""
    register(gateway.sip, "2101")  # the screens act only from the registered phone (issue 19)
    fetch(gateway, "/xml/login?ext=2101&id=3000&pin=1234")
    fetch(gateway, "/xml/set?ext=2101&to=ready")
    result = run_feature_call(tmp_path, gateway.sip, "2101", "*38", answered=False, formats="3",
                              rtp_port=free_port(), local_port=free_port())
    assert result.status == 403
    german = translations(Language.GERMAN).gettext("reason code required")
    assert german == "Grundcode erforderlich"
    assert f"SIP/2.0 403 {german}\r\n" in result.output or f"SIP/2.0 403 {german}\n" in result.output, \
        result.output[-1500:]
    # the journal and the API stay English
    assert feature_journal(gateway)[-1] == ("*38", "Reason code required", 403)
    assert agents(gateway)["3000"]["state"] == "READY"
    last = rejections(gateway)[-1]
    assert last["reason"] == "reason code required" and last["message"] == "reason code required"


def test_the_error_screen_shows_the_acd_s_reason_in_the_users_language(gateway: GatewayProcess) -> None:
    register(gateway.sip, "2102")
    fetch(gateway, "/xml/login?ext=2102&id=3001&pin=1234")
    fetch(gateway, "/xml/set?ext=2102&to=ready")
    charset, text = fetch(gateway, "/xml/set?ext=2102&to=not-ready&reason=9")
    ru = translations(Language.RUSSIAN).gettext
    reason = ru("unknown reason code {code}").format(code="9")
    assert reason == "неизвестный код причины 9"
    assert charset == "windows-1251" and reason in text, text
    assert "unknown reason code" not in text
    # journaled in English, with the message id and its parameters beside the reason
    last = rejections(gateway)[-1]
    assert last["reason"] == "unknown reason code 9"
    event = record_to_event(last)
    assert isinstance(event, CommandRejected) and event.params == (("code", "9"),)
    assert rejection_text(translations(Language.ENGLISH), event) == "unknown reason code 9"
