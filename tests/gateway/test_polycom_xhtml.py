"""The Polycom microbrowser renderer: every screen kind is well-formed XHTML of the subset
the microbrowser shows, links keep the station's `ext=`, text is escaped, the login form sends
the parameters the Cisco/Yealink flows use."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from acdgate.acd.agents import AgentView
from acdgate.acd.site import Code
from acdgate.acd.states import AgentState, MenuChoice
from acdgate.acd.stats import GroupStats
from acdgate.gateway.web import polycom_xhtml
from acdgate.gateway.web.phone_screens import (
    AgentScreenState,
    CallerData,
    Links,
    Page,
    Screen,
    SoftKey,
    TextScreen,
    caller_data,
    change_state_menu,
    code_menu,
    forced_login_menu,
    login_screen,
    message_screen,
    options_menu,
    skill_stats,
)

NS = {"x": polycom_xhtml.XHTML_NAMESPACE}
# The microbrowser's XHTML subset (developer's guide) plus Polycom's <softkey> extension.
ALLOWED_TAGS = {"html", "head", "title", "body", "p", "br", "a", "form", "input", "softkey"}
BASE = "http://gw:8080/xml/polycom"
LINKS = Links(BASE, "2101")


def agent(state: AgentState = AgentState.NOT_READY, *, recording: bool = False) -> AgentScreenState:
    view = AgentView("3000", "2101", state, None, None, 0.0, 0, "c1" if state is AgentState.TALKING else None)
    return AgentScreenState(view, "Talking : Rec" if recording else "Not Ready", recording)


def parse(screen: Screen) -> ET.Element:
    """Render, check the declaration and the tag subset, return the <html> root."""
    body = polycom_xhtml.render(screen)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<html ')
    root = ET.fromstring(body)  # raises on anything not well-formed
    assert root.tag == f"{{{polycom_xhtml.XHTML_NAMESPACE}}}html"
    tags = {el.tag.split("}", 1)[1] for el in root.iter()}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert [c.tag.split("}")[1] for c in root] == ["head", "body"]
    return root


def title(root: ET.Element) -> str:
    el = root.find("x:head/x:title", NS)
    assert el is not None
    return el.text or ""


def links(root: ET.Element) -> list[tuple[str, str]]:
    return [(a.text or "", a.get("href", "")) for a in root.iterfind(".//x:a", NS)]


def soft_keys(root: ET.Element) -> list[tuple[str, str, str]]:
    return [
        (k.get("index", ""), k.get("label", ""), k.get("action", ""))
        for k in root.iterfind(".//x:softkey", NS)
    ]


def paragraphs(root: ET.Element) -> list[str]:
    """The text of each <p> without links, lines joined by newlines (<br/>)."""
    out = []
    for p in root.iterfind(".//x:p", NS):
        if p.find("x:a", NS) is not None or p.find("x:input", NS) is not None:
            continue
        parts = [p.text or ""] + [br.tail or "" for br in p]
        out.append("\n".join(parts))
    return out


def query(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {k: v[0] for k, v in parse_qs(parts.query).items()} | {"path": parts.path}


def test_login_form_fields_action_and_keys() -> None:
    root = parse(login_screen(LINKS, user_id="3000"))
    assert title(root) == "Agent Login"
    form = root.find("x:body/x:form", NS)
    assert form is not None
    assert (form.get("method"), form.get("action")) == ("get", BASE + "/login")
    fields = [
        (i.get("name"), i.get("type"), i.get("value"))
        for i in form.iterfind(".//x:input", NS)
        if i.get("type") != "submit"
    ]
    assert fields == [("id", "text", "3000"), ("pin", "password", ""), ("ext", "text", "2101")]
    assert [i.get("value") for i in form.iterfind(".//x:input[@type='submit']", NS)] == ["Submit"]
    # Submit must be inside the form it submits; Exit is the phone's; no Select/<< keys
    assert [(k.get("index"), k.get("action")) for k in form.iterfind("x:softkey", NS)] == [
        ("1", "SoftKey:Submit")
    ]
    assert soft_keys(root) == [("1", "Submit", "SoftKey:Submit"), ("2", "Exit", "SoftKey:Exit")]
    assert "Enter agent information." in paragraphs(root)


def test_menu_is_a_list_of_links_keeping_ext() -> None:
    s = agent()
    choices = [MenuChoice.READY, MenuChoice.NOT_READY, MenuChoice.LOGOUT]
    root = parse(
        change_state_menu(LINKS, s, choices, reason_codes=True, logout_codes=True, wrapup_codes=False)
    )
    assert title(root) == "Change State - ID:3000"
    items = links(root)
    assert [label for label, _ in items] == ["Ready", "Not Ready", "Logout", "CData", "Stats"]
    assert query(items[0][1]) == {"ext": "2101", "to": "ready", "path": "/xml/polycom/set"}
    assert query(items[1][1]) == {"ext": "2101", "to": "not-ready", "path": "/xml/polycom/reason"}
    assert all(query(url)["ext"] == "2101" for _, url in items)
    assert "Not Ready" in paragraphs(root)  # the guide's status line
    assert soft_keys(root) == [
        ("1", "CData", f"SoftKey:Fetch;{BASE}/cdata?ext=2101"),
        ("2", "Stats", f"SoftKey:Fetch;{BASE}/stats?ext=2101"),
    ]


def test_reason_code_menu_urls_carry_the_code() -> None:
    codes = [Code(1, "Break"), Code(3, "Lunch & <rest>")]
    root = parse(code_menu(LINKS, agent(), MenuChoice.NOT_READY, codes))
    assert title(root) == "Reason Code - ID:3000"
    items = dict(links(root))
    assert query(items["Lunch & <rest>"]) == {
        "ext": "2101", "to": "not-ready", "reason": "3", "path": "/xml/polycom/set",
    }
    body = polycom_xhtml.render(code_menu(LINKS, agent(), MenuChoice.NOT_READY, codes))
    assert b"Lunch &amp; &lt;rest&gt;" in body and b"<rest>" not in body


def test_text_screen_lines_status_and_links_back() -> None:
    groups = [("6000 Sales", GroupStats("6000", 2, 75.0, {}))]
    root = parse(skill_stats(LINKS, agent(), groups))
    assert title(root) == "Skill Stats - ID:3000"
    text, status = paragraphs(root)
    lines = text.split("\n")
    assert lines[0] == "LQT      CIQ Queue"
    assert lines[1].split() == ["0:01:15", "2", "6000", "Sales"]
    assert status == "Not Ready"
    assert [label for label, _ in links(root)] == ["Update", "CData", "State"]
    assert all(query(u)["ext"] == "2101" for _, u in links(root))


def test_text_is_escaped_and_parses_back() -> None:
    call = CallerData("c1", "2301", "6000", (("Account", 'A&B <7> "x"'),))
    s = agent(AgentState.TALKING, recording=True)
    body = polycom_xhtml.render(caller_data(LINKS, s, call))
    assert b"<7>" not in body and b"A&amp;B &lt;7&gt;" in body
    root = parse(caller_data(LINKS, s, call))
    assert paragraphs(root)[0].split("\n") == [
        "Layout: Default", "ANI: 2301", "DNIS: 6000", 'Account: A&B <7> "x"',
    ]
    assert paragraphs(root)[1] == "Talking : Rec"
    assert [label for label, _ in links(root)] == ["Stats", "Option"]

    hostile = message_screen("</title><b>", ["<script>x</script> & more"], "", BASE + "/login?ext=1&x=<")
    root = parse(hostile)
    assert title(root) == "</title><b>"
    assert paragraphs(root) == ["<script>x</script> & more"]
    assert links(root)[0] == ("OK", BASE + "/login?ext=1&x=<")


def test_soft_key_labels_are_cut_to_nine_and_at_most_eight_keys() -> None:
    root = parse(message_screen("T", ["x"], "", BASE + "/stats?ext=2101"))
    assert soft_keys(root) == [
        ("1", "OK", f"SoftKey:Fetch;{BASE}/stats?ext=2101"), ("2", "Exit", "SoftKey:Exit"),
    ]
    many = tuple(SoftKey(f"Key number {n}", f"{BASE}/stats?ext=2101&n={n}") for n in range(10))
    root = parse(TextScreen("T", "", ("x",), many))
    keys = soft_keys(root)
    assert [i for i, _, _ in keys] == [str(n) for n in range(1, 9)]
    assert all(len(label) <= 9 for _, label, _ in keys)
    assert len(links(root)) == 10  # every page key stays reachable as a link


@pytest.mark.parametrize(
    "screen",
    [
        login_screen(Links(BASE, "")),
        forced_login_menu(LINKS, "3000", "tok"),
        options_menu(LINKS, agent(AgentState.TALKING, recording=True), recording_now=False),
        caller_data(LINKS, agent(), None),
        skill_stats(LINKS, agent(), []),
    ],
    ids=["login-no-ext", "forced", "options", "no-cdata", "no-queues"],
)
def test_every_screen_kind_is_well_formed(screen: Screen) -> None:
    root = parse(screen)
    assert title(root) == screen.title
    for _, url in links(root):
        assert url.startswith(BASE + "/") and query(url)["ext"] == "2101"
    if links(root):
        assert {Page(query(u)["path"].rsplit("/", 1)[1]) for _, u in links(root)}
