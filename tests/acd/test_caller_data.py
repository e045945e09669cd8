"""The site file's `[caller_data]` (issue 16): captured headers, Caller Data layouts per group
or site default, pushed stations; every problem named by key; the layout's screen lines; the
API's fields, bounded."""

from __future__ import annotations

import pytest
from acdgate.acd.caller_data import (
    DEFAULT_LAYOUT,
    MAX_FIELDS,
    MAX_VALUE_CHARS,
    CallerDataSettings,
    Layout,
    LayoutField,
    PushKind,
    PushTarget,
    fields_from_json,
    merge,
    screen_lines,
)
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.site import Site
from acdgate.acd.site_format import format_site

BASE = """\
name = "test"

[[stations]]
extension = "2101"
sip_password = "pw2101"

[[stations]]
extension = "2102"
sip_password = "pw2102"

[[users]]
id = "3000"
name = "Alice"
pin = "1234"

[[groups]]
number = "6000"
name = "Sales"
members = ["3000"]
mode = "linear"

[[groups]]
number = "6001"
name = "Support"
members = ["3000"]
mode = "linear"
"""

FULL = """
[caller_data]
headers = ["X-Account", "User-to-User"]
default_layout = "Default"

[[caller_data.layouts]]
name = "Default"
fields = [{label = "ANI", key = "ANI"}, {label = "DNIS", key = "DNIS"}, {label = "Account", key = "X-Account"}]

[[caller_data.layouts]]
name = "Support"
groups = ["6001"]
fields = [{label = "Customer", key = "User-to-User"}, {label = "Queue", key = "Group"}]

[[caller_data.push]]
station = "2101"
kind = "cisco"
url = "http://10.0.0.5/CGI/Execute"
username = "push"
password = "secret"
"""


def site_with(text: str) -> Site:
    return parse_site(BASE + text, "site.toml")


def problems_with(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        site_with(text)
    assert info.value.source == "site.toml"
    return info.value.problems


def test_no_table_is_the_default_layout_for_every_group() -> None:
    site = parse_site(BASE, "site.toml")
    assert site.caller_data == CallerDataSettings()
    assert site.caller_data.layout_for("6000") is DEFAULT_LAYOUT
    assert site.caller_data.push_target("2101") is None


def test_the_whole_table_is_read_and_round_trips() -> None:
    site = site_with(FULL)
    c = site.caller_data
    assert c.headers == ("X-Account", "User-to-User")
    assert c.layout_for("6000").name == "Default"  # the site default
    support = c.layout_for("6001")
    assert support == Layout("Support", (LayoutField("Customer", "User-to-User"), LayoutField("Queue", "Group")),
                             ("6001",))
    assert c.push_target("2101") == PushTarget("2101", PushKind.CISCO, "http://10.0.0.5/CGI/Execute",
                                               "push", "secret")
    assert parse_site(format_site(site), "site.toml") == site


@pytest.mark.parametrize(("text", "key", "reason"), [
    ('[caller_data]\nheaders = ["X Account"]\n', "caller_data.headers[0]", "must be a SIP header name"),
    ('[caller_data]\nheaders = ["X-A", "x-a"]\n', "caller_data.headers[1]", "x-a is listed twice"),
    ('[caller_data]\nheaders = "X-A"\n', "caller_data.headers", "must be an array"),
    ('[caller_data]\ndefault_layout = "Nope"\n', "caller_data.default_layout", "no layout named 'Nope'"),
    ('[[caller_data.layouts]]\nname = "A"\n', "caller_data.layouts[0].fields", "required"),
    ('[[caller_data.layouts]]\nname = "A"\nfields = [{label = "x"}]\n',
     "caller_data.layouts[0].fields[0].key", "required"),
    ('[[caller_data.layouts]]\nname = "A"\nfields = []\ngroups = ["6999"]\n',
     "caller_data.layouts[0].groups[0]", "no group 6999"),
    ('[[caller_data.layouts]]\nname = "A"\nfields = []\ngroups = ["6000"]\n'
     '[[caller_data.layouts]]\nname = "B"\nfields = []\ngroups = ["6000"]\n',
     "caller_data.layouts[1].groups[0]", "group 6000 already has the layout of caller_data.layouts[0]"),
    ('[[caller_data.layouts]]\nname = "A"\nfields = []\n[[caller_data.layouts]]\nname = "A"\nfields = []\n',
     "caller_data.layouts[1].name", "'A' is already a layout's name"),
    ('[[caller_data.layouts]]\nname = "A"\nfields = []\ncolour = 1\n', "caller_data.layouts[0].colour", "unknown key"),
    ('[[caller_data.push]]\nstation = "2999"\nkind = "cisco"\nurl = "http://x/"\n',
     "caller_data.push[0].station", "no station 2999"),
    ('[[caller_data.push]]\nstation = "2101"\nkind = "snom"\nurl = "http://x/"\n',
     "caller_data.push[0].kind", "must be one of cisco, yealink, polycom, not 'snom'"),
    ('[[caller_data.push]]\nstation = "2101"\nkind = "cisco"\nurl = "ftp://x/"\n',
     "caller_data.push[0].url", "must be an http:// or https:// URL"),
    ('[[caller_data.push]]\nstation = "2101"\nkind = "cisco"\nurl = "http://x/"\n'
     '[[caller_data.push]]\nstation = "2101"\nkind = "cisco"\nurl = "http://y/"\n',
     "caller_data.push[1].station", "station 2101 is already pushed to"),
])
def test_problems_are_named_by_key(text: str, key: str, reason: str) -> None:
    found = problems_with("\n" + text)
    assert any(k == key and reason in r for k, r in found), found


def test_screen_lines_follow_the_layout_and_leave_out_what_the_call_lacks() -> None:
    layout = Layout("Support", (LayoutField("Customer", "User-to-User"), LayoutField("Queue", "Group"),
                                LayoutField("Account", "X-Account")))
    lines = screen_lines(layout, {"ANI": "2105", "DNIS": "6001", "Group": "Support"},
                         (("User-to-User", "CUST-42"), ("Other", "not shown")))
    assert lines == ("Layout: Support", "Customer: CUST-42", "Queue: Support")


def test_the_default_layout_shows_ani_dnis_then_every_field() -> None:
    lines = screen_lines(DEFAULT_LAYOUT, {"ANI": "2105", "DNIS": "6000"}, (("X-Account", "4711"),))
    assert lines == ("Layout: Default", "ANI: 2105", "DNIS: 6000", "X-Account: 4711")


def test_api_fields_are_a_flat_bounded_object_of_strings() -> None:
    assert fields_from_json({"Order": "A-17", "Note": "vip\x07"}) == (("Order", "A-17"), ("Note", "vip"))
    for bad in ([], "x", None, {}, {"a": 1}, {"a": {"b": "c"}}, {"": "x"}, {"a\n": "x"},
                {"a": "x" * (MAX_VALUE_CHARS + 1)}, {str(i): "x" for i in range(MAX_FIELDS + 1)}):
        assert isinstance(fields_from_json(bad), str), bad


def test_merge_replaces_keys_and_keeps_at_most_max_fields() -> None:
    assert merge((("a", "1"), ("b", "2")), (("a", "3"),)) == (("a", "3"), ("b", "2"))
    full = tuple((str(i), "x") for i in range(MAX_FIELDS))
    assert merge(full, (("new", "y"), ("0", "z"))) == (("0", "z"), *full[1:])
