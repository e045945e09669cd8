"""The IP Phone Agent screens in the user's language, end to end: a running gateway whose site
gives stations 2101-2103 German, Russian and Japanese and users 3000-3002 the same; the
login screen and error screens are fetched over HTTP as a phone does, decoded with the
encoding the document declares, and compared with the catalog's text."""

from __future__ import annotations

import re
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from acdgate.acd.languages import Language
from acdgate.gateway.i18n.catalogs import translations
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from loopback_phone import DESKS, register, registered
from pyvoip_parties import answerer, answerer_result, caller, caller_result, wait_state

DECLARATION = re.compile(r'<\?xml version="1.0" encoding="([^"]+)"\?>\n')
USERS = {"3000": Language.GERMAN, "3001": Language.RUSSIAN, "3002": Language.JAPANESE_KATAKANA}
STATIONS = {"2101": Language.GERMAN, "2102": Language.RUSSIAN, "2103": Language.JAPANESE_KATAKANA}
CHARSETS = {Language.GERMAN: "iso-8859-1", Language.RUSSIAN: "windows-1251",
            Language.JAPANESE_KATAKANA: "Shift_JIS"}


def language_site(path: Path) -> Path:
    text = demo_site_text()
    for user, language in USERS.items():
        old = f'[[users]]\nid = "{user}"\n'
        assert old in text
        text = text.replace(old, f'{old}language = "{language.value}"\n')
    for ext, language in STATIONS.items():
        old = f'[[stations]]\nextension = "{ext}"\n'
        assert old in text
        text = text.replace(old, f'{old}language = "{language.value}"\n')
    path.write_text(text)
    return path


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """The demo site with German, Russian and Japanese users and stations (not the demo's)."""
    return start_gateway(config=language_site(tmp_path / "site.toml"))


def fetch(gw: GatewayProcess, path: str, accept_charset: str | None = None) -> tuple[str, str]:
    """GET a phone page: (the charset it declares, its text decoded so); the HTTP
    Content-Type and the XML declaration must agree."""
    request = urllib.request.Request(gw.http + path)
    if accept_charset is not None:
        request.add_header("Accept-Charset", accept_charset)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        content_type = response.headers["Content-Type"]
    head = body[:60].decode("ascii", "replace")
    match = DECLARATION.match(head)
    assert match is not None, head
    charset = match.group(1)
    assert content_type.endswith(f"; charset={charset}")
    text = body.decode(charset)
    ET.fromstring(DECLARATION.sub("", text))  # well-formed once decoded
    return charset, text


@pytest.mark.slow
def test_login_and_error_screens_in_each_users_language(gateway: GatewayProcess) -> None:
    register(gateway.sip, *DESKS)  # the phones, from 127.0.0.1 (issue 19: logins only from them)
    for (user, language), ext in zip(USERS.items(), STATIONS, strict=True):
        _ = translations(language).gettext
        # nobody is logged on: the station's language
        charset, text = fetch(gateway, f"/xml/login?ext={ext}")
        assert charset == CHARSETS[language]
        for message in ("Agent Login", "Enter agent information.", "Password", "Extension", "Submit"):
            assert f">{_(message)}<" in text, (language, message)
        # logged on, the Options key without a call: the error screen in the user's language
        fetch(gateway, f"/xml/login?ext={ext}&id={user}&pin=1234")
        charset, text = fetch(gateway, f"/xml/options?ext={ext}")
        assert charset == CHARSETS[language]
        assert f"<Title>{_('{screen} - ID:{user_id}').format(screen=_('Options'), user_id=user)}</Title>" in text
        assert _("Recording needs an active call.") in text
        assert f"<Prompt>{_('Not Ready')}</Prompt>" in text
        assert f"<Name>{_('OK')}</Name>" in text


@pytest.mark.slow
def test_the_users_language_wins_over_the_stations(gateway: GatewayProcess) -> None:
    """A Russian user with a wrong PIN at the German station: the refusal is Russian; a
    Japanese user at a station of no language logs on into Japanese Skill Stats."""
    register(gateway.sip, *DESKS)  # the phones, from 127.0.0.1 (issue 19: logins only from them)
    ru = translations(Language.RUSSIAN).gettext
    charset, text = fetch(gateway, "/xml/login?ext=2101&id=3001&pin=9999")
    assert charset == "windows-1251"
    assert ru("Login failed: invalid agent ID or password.") in text
    ja = translations(Language.JAPANESE_KATAKANA).gettext
    charset, text = fetch(gateway, "/xml/login?ext=2105&id=3002&pin=1234")
    assert charset == "Shift_JIS"
    assert ja("{screen} - ID:{user_id}").format(screen=ja("Skill Stats"), user_id="3002") in text
    # the demo site's own default is English: station 2106 with nobody on it
    charset, text = fetch(gateway, "/xml/login?ext=2106")
    assert charset == "iso-8859-1" and ">Agent Login<" in text


@pytest.mark.slow
def test_yealink_gets_utf8_and_a_unicode_cisco_phone_its_choice(gateway: GatewayProcess) -> None:
    ru = translations(Language.RUSSIAN).gettext
    charset, text = fetch(gateway, "/xml/yealink/login?ext=2102")
    assert charset == "utf-8" and ru("Agent Login") in text
    charset, text = fetch(gateway, "/xml/polycom/login?ext=2103")
    assert charset == "utf-8" and translations(Language.JAPANESE_KATAKANA).gettext("Agent Login") in text
    # a 7970-style phone that advertises UTF-8 only (Accept-Charset)
    charset, text = fetch(gateway, "/xml/login?ext=2102", accept_charset="utf-8")
    assert charset == "utf-8" and ru("Agent Login") in text


@pytest.mark.slow
def test_the_recording_services_refusal_in_the_users_language(gateway: GatewayProcess) -> None:
    """German agent 3000 on a routed call stops a recording that is not running: the recording
    service's reason, a catalog message, is shown in German."""
    de = translations(Language.GERMAN).gettext
    with registered(gateway.sip, "2101"):  # the phone, from 127.0.0.1 (issue 19); its calls go to pyVoIP's
        fetch(gateway, "/xml/login?ext=2101&id=3000&pin=1234")
        fetch(gateway, "/xml/set?ext=2101&to=ready")
    agent = answerer(gateway, "2101", 1000.0, talk_seconds=4.0)
    call = caller(gateway, "2105", "6000", tone=600.0)
    wait_state(gateway, "3000", "TALKING")
    charset, text = fetch(gateway, "/xml/record?ext=2101&on=0")
    assert charset == "iso-8859-1"
    assert de("The call is not being recorded.") == "Der Anruf wird nicht aufgenommen."
    assert "Der Anruf wird nicht aufgenommen." in text
    assert f"<Prompt>{de('Talking')}</Prompt>" in text
    answerer_result(agent)
    caller_result(call)
