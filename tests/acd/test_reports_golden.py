"""Archived reports against the golden journal (tests/support/report_journal.py), every figure
computed by hand from the scenario, arithmetic in the comments. M is midnight; the range is
23:00-01:00 unless a test says otherwise."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest
from acdgate.acd.reports import (
    AgentRow,
    Granularity,
    GroupRow,
    Report,
    build_report,
    render_csv,
    render_html,
    render_table,
    report_json,
)
from acdgate.acd.states import AgentState
from report_journal import M, golden_journal

S = AgentState
HOUR = 3600.0


def two_hours(granularity: Granularity = Granularity.MINUTES_60) -> Report:
    site, records = golden_journal()
    return build_report(records, M - HOUR, M + HOUR, site, granularity)


def group(rows: tuple[GroupRow, ...], number: str, start: float | None = None) -> GroupRow:
    [row] = [g for g in rows if g.number == number and (start is None or g.start == start)]
    return row


def agent(rows: tuple[AgentRow, ...], user_id: str, start: float | None = None) -> AgentRow:
    [row] = [a for a in rows if a.user_id == user_id and (start is None or a.start == start)]
    return row


def states(row: AgentRow) -> dict[tuple[AgentState, int | None], tuple[float, str]]:
    return {(s.state, s.code): (s.seconds, s.label) for s in row.states}


def test_each_code_family_is_labelled_from_its_own_table() -> None:
    report = two_hours()
    u1 = states(agent(report.agent_totals, "u1"))
    # code 1 is Break as a Not Ready reason, "Update customer record" as a wrap-up code and
    # "End of shift" as a logout reason; all three are used by u1
    assert u1[(S.NOT_READY, 1)][1] == "Break"
    assert u1[(S.WORK_NOT_READY, 1)][1] == "Update customer record"
    [session] = [s for s in report.sessions if s.user_id == "u1"]
    assert (session.logout_code, session.logout_label) == (1, "End of shift")
    [wrapup] = report.wrapups
    assert (wrapup.user_id, wrapup.code, wrapup.label) == ("u1", 1, "Update customer record")
    # the ACD's own reason is a Not Ready reason too
    assert states(agent(report.agent_totals, "u2"))[(S.NOT_READY, 32767)][1] == "ring no answer"


def test_agent_time_in_each_state_and_reason() -> None:
    report = two_hours()
    assert states(agent(report.agent_totals, "u1")) == {
        (S.NOT_READY, None): (100, ""),  # -1200 .. -1100 (logged on, no reason)
        (S.NOT_READY, 1): (430, "Break"),  # -1100 .. -900 = 200, +170 .. +400 = 230
        (S.NOT_READY, 2): (300, "Paperwork"),  # -900 .. -600
        (S.READY, None): (310, ""),  # -600 .. -300 = 300, +160 .. +170 = 10
        (S.RESERVED, None): (10, ""),  # -300 .. -290
        (S.TALKING, None): (390, ""),  # -290 .. +100
        (S.WORK_NOT_READY, 1): (60, "Update customer record"),  # +100 .. +160
    }
    assert states(agent(report.agent_totals, "u2")) == {
        (S.NOT_READY, None): (100, ""),  # -500 .. -400
        (S.READY, None): (150, ""),  # -400 .. -250
        (S.RESERVED, None): (15, ""),  # -250 .. -235, rang unanswered
        (S.NOT_READY, 32767): (3835, "ring no answer"),  # -235 .. +3600 (end of range) = 235 + 3600
    }
    assert states(agent(report.agent_totals, "u3")) == {
        (S.NOT_READY, None): (50, ""),  # -1000 .. -950
        (S.READY, None): (4460, ""),  # -950 .. -190 = 760, -100 .. +3600 = 3700
        (S.RESERVED, None): (10, ""),  # -190 .. -180
        (S.TALKING, None): (80, ""),  # -180 .. -100
    }
    # logged on = the sum: u1 -1200 .. +400 = 1600, u2 -500 .. +3600 = 4100, u3 -1000 .. +3600 = 4600
    assert [agent(report.agent_totals, u).logged_on_seconds for u in ("u1", "u2", "u3")] == [1600, 4100, 4600]


def test_agent_calls_talk_wrapup_handle_transfers_recordings() -> None:
    u1, u2, u3 = (agent(two_hours().agent_totals, u) for u in ("u1", "u2", "u3"))
    # u1: c1 offered -300, answered -290, completed +100 after 390 s; 60 s Work Not Ready
    assert (u1.offered, u1.answered, u1.ring_no_answer, u1.completed) == (1, 1, 0, 1)
    assert (u1.average_talk, u1.average_wrapup, u1.average_handle) == (390, 60, 450)  # 390 + 60
    assert (u1.transfers, u1.recordings) == (0, 1)  # RecordingStarted at -280
    # u2: c2 rang 15 s unanswered
    assert (u2.offered, u2.answered, u2.ring_no_answer, u2.completed, u2.average_handle) == (1, 0, 1, 0, 0)
    # u3: c2 after overflow, talked -180 .. -100 = 80, no wrap-up in 501; the transfer record
    # names station 203, where u3 is logged on
    assert (u3.offered, u3.answered, u3.completed, u3.average_talk, u3.average_wrapup) == (1, 1, 1, 80, 0)
    assert (u3.transfers, u3.recordings) == (1, 0)


def test_back_to_back_not_ready_periods_are_rows_of_their_own() -> None:
    periods = [(p.user_id, p.start - M, p.end - M, p.code, p.label) for p in two_hours().not_ready_periods]
    assert periods == [
        ("u1", -1200, -1100, None, ""),
        ("u1", -1100, -900, 1, "Break"),  # Not Ready chosen again with another reason: apart
        ("u1", -900, -600, 2, "Paperwork"),
        ("u1", 170, 400, 1, "Break"),
        ("u2", -500, -400, None, ""),
        ("u2", -235, HOUR, 32767, "ring no answer"),  # still Not Ready at the end of the range
        ("u3", -1000, -950, None, ""),
    ]


def test_sessions_with_logon_logoff_and_logout_reason() -> None:
    sessions = [(s.user_id, s.station, s.logon - M, None if s.logoff is None else s.logoff - M,
                 s.logout_code, s.logout_label) for s in two_hours().sessions]
    assert sessions == [
        ("u1", "201", -1200, 400, 1, "End of shift"),
        ("u2", "202", -500, None, None, ""),  # still logged on at the end
        ("u3", "203", -1000, None, None, ""),
    ]


def test_wrapup_codes_with_counts_and_time() -> None:
    [w] = two_hours().wrapups
    assert (w.user_id, w.code, w.count, w.seconds) == ("u1", 1, 1, 60)  # +100 .. +160


def test_groups_abandoned_short_and_long_overflowed_service_level() -> None:
    report = two_hours()
    # the collective group 502 is not monitored: no rows (IP Office tip)
    assert {g.number for g in report.group_totals} == {"500", "501"}
    g500 = group(report.group_totals, "500")
    # c1, c2 (-300, -250), c3, c4 (+200, +210) entered 500
    assert (g500.offered, g500.answered, g500.answered_in_threshold) == (4, 1, 1)  # c1 after 10 s <= 20
    assert (g500.abandoned, g500.short_abandoned, g500.overflowed) == (2, 1, 1)  # c3 3 s < 5, c4 40 s; c2
    assert (g500.asa_seconds, g500.longest_wait, g500.threshold_seconds) == (10, 40, 20)
    # SL = 1 / (1 answered + 2 abandoned - 1 short) = 50 %; abandon rate = (2 - 1) / (4 - 1)
    assert g500.service_level == 50
    assert g500.abandon_rate == pytest.approx(100 / 3)
    g501 = group(report.group_totals, "501")
    # c2 overflowed in at -190, answered at -180 having waited 70 s since it arrived: over the
    # site's 30 s
    assert (g501.offered, g501.answered, g501.answered_in_threshold, g501.threshold_seconds) == (1, 1, 0, 30)
    assert (g501.asa_seconds, g501.longest_wait, g501.service_level, g501.abandon_rate) == (70, 70, 0, 0)


def test_hourly_intervals_split_at_midnight() -> None:
    report = two_hours()
    before, after = M - HOUR, M
    # the calls are counted in the hour they entered the group
    b500, a500 = group(report.groups, "500", before), group(report.groups, "500", after)
    assert (b500.offered, b500.answered, b500.overflowed, b500.abandoned) == (2, 1, 1, 0)
    assert (a500.offered, a500.answered, a500.abandoned, a500.short_abandoned) == (2, 0, 2, 1)
    assert b500.service_level == 100  # 1 / (1 + 0 - 0)
    assert a500.service_level == 0  # 0 / (0 + 2 - 1)
    assert a500.abandon_rate == 100  # (2 - 1) / (2 - 1)
    assert group(report.groups, "501", after).offered == 0  # every interval has a row, zeros too
    assert group(report.groups, "501", after).service_level is None  # no call counts: no level
    # u1's call -290 .. +100 is split at midnight: 290 s before, 100 after
    assert states(agent(report.agents, "u1", before))[(S.TALKING, None)][0] == 290
    assert states(agent(report.agents, "u1", after))[(S.TALKING, None)][0] == 100
    # Break: -1100 .. -900 before, +170 .. +400 after
    assert states(agent(report.agents, "u1", before))[(S.NOT_READY, 1)][0] == 200
    assert states(agent(report.agents, "u1", after))[(S.NOT_READY, 1)][0] == 230
    # the call counts fall in the interval of their event: offered and answered before
    # midnight, completed (with its talk time) after
    b1, a1 = agent(report.agents, "u1", before), agent(report.agents, "u1", after)
    assert (b1.offered, b1.answered, b1.completed, a1.offered, a1.completed, a1.talk_seconds) == (1, 1, 0, 0, 1, 390)


def test_quarter_hours_across_midnight() -> None:
    report = two_hours(Granularity.MINUTES_15)
    # 23:00 .. 01:00 is 8 quarter hours, for each of the 2 monitored groups
    assert len(report.groups) == 16
    # u1 talking -290 .. +100: 23:45-24:00 has 290, 00:00-00:15 has 100
    assert states(agent(report.agents, "u1", M - 900))[(S.TALKING, None)][0] == 290
    assert states(agent(report.agents, "u1", M))[(S.TALKING, None)][0] == 100
    # u1's Paperwork -900 .. -600 sits in 23:45-24:00; Break -1100 .. -900 in 23:30-23:45
    assert states(agent(report.agents, "u1", M - 900))[(S.NOT_READY, 2)][0] == 300
    assert states(agent(report.agents, "u1", M - 1800))[(S.NOT_READY, 1)][0] == 200
    # u2's ring-no-answer Not Ready -235 .. +3600 ends in 00:45-01:00 with a full 900 s
    assert states(agent(report.agents, "u2", M + 2700))[(S.NOT_READY, 32767)][0] == 900


def test_a_date_range_of_two_days_by_day() -> None:
    site, records = golden_journal()
    report = build_report(records, M - 86400, M + 86400, site, Granularity.DAY)
    day1, day2 = group(report.groups, "500", M - 86400), group(report.groups, "500", M)
    assert (day1.offered, day1.answered, day1.overflowed) == (2, 1, 1)  # c1, c2 on the first day
    assert (day2.offered, day2.abandoned, day2.short_abandoned) == (2, 2, 1)  # c3, c4 on the second
    # u3 Ready -950 .. -190 = 760 and -100 .. 0 = 100 on day 1; 0 .. +86400 on day 2
    assert states(agent(report.agents, "u3", M - 86400))[(S.READY, None)][0] == 860
    assert states(agent(report.agents, "u3", M))[(S.READY, None)][0] == 86400
    assert len(report.groups) == 4  # 2 days x 2 monitored groups


def test_a_range_that_starts_late_takes_the_state_from_before_it() -> None:
    site, records = golden_journal()
    report = build_report(records, M - 700, M - 250, site, Granularity.MINUTES_15)
    # u1 was in Paperwork (since -900) when the range began: -700 .. -600 = 100
    assert states(agent(report.agent_totals, "u1"))[(S.NOT_READY, 2)][0] == 100
    # c2 entered at -250, the end of the range: not in it; c1 (-300) is
    assert group(report.group_totals, "500").offered == 1


def test_records_at_or_after_the_end_are_ignored() -> None:
    site, records = golden_journal()
    early = build_report(records, M - HOUR, M, site)
    cut = build_report([r for r in records if r["at"] < M], M - HOUR, M, site)
    assert early == cut


def test_text_csv_and_json_show_the_same_figures() -> None:
    report = two_hours()
    table = render_table(report)
    assert "End of shift" in table and "Update customer record" in table and "Everyone" not in table
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    group_total = [r for r in rows if r[0] == "group" and r[1] == "500"]
    # group, name, offered, answered, abandoned, overflowed, asa, short, longest, threshold, SL, rate
    assert group_total == [["group", "500", "Sales", "4", "1", "2", "1", "10.0", "1", "40.0", "20", "50.0", "33.3"]]
    not_ready = [r for r in rows if r[0] == "not-ready" and r[1] == "u1"]
    assert [r[5:] for r in not_ready] == [["", ""], ["1", "Break"], ["2", "Paperwork"], ["1", "Break"]]
    data = json.loads(json.dumps(report_json(report)))
    [g] = [g for g in data["groups"]["totals"] if g["group"] == "500"]
    assert (g["offered"], g["service_level_percent"], g["short_abandoned"]) == (4, 50.0, 1)
    [u1] = [a for a in data["agents"]["totals"] if a["agent"] == "u1"]
    assert u1["average_handle_seconds"] == 450
    assert len(data["groups"]["intervals"]) == 4  # 2 hours x 2 groups


class _Svg(HTMLParser):
    """Counts the bars of each chart and checks the page needs nothing from the network."""

    def __init__(self) -> None:
        super().__init__()
        self.chart: str | None = None
        self.bars: dict[str, list[str]] = {}
        self.remote: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if a.get(key):
                self.remote.append(str(a[key]))
        if tag == "svg":
            self.chart = str(a.get("class", "")).split()[-1]
            self.bars[self.chart] = []
        elif tag == "rect" and self.chart is not None and "bar" in str(a.get("class", "")).split():
            self.bars[self.chart].append(str(a["class"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.chart = None


def test_html_report_parses_and_has_the_charts_with_the_right_bars() -> None:
    page = render_html(two_hours(), "golden")
    parser = _Svg()
    parser.feed(page)
    parser.close()
    assert parser.scripts == 0 and parser.remote == []
    # calls: offered, answered, abandoned for each of the 2 hours
    assert sorted(parser.bars["calls"]) == sorted(["bar offered", "bar answered", "bar abandoned"] * 2)
    # service level: both hours have calls that count (23:00 500 and 501; 00:00 c4)
    assert len(parser.bars["service-level"]) == 2
    # one stacked bar per agent, a segment per state with time: u1 not-ready, ready,
    # reserved, talking, work-not-ready; u2 not-ready, ready, reserved; u3 not-ready, ready,
    # reserved, talking
    assert len(parser.bars["agent-states"]) == 5 + 3 + 4
    assert parser.bars["agent-states"].count("bar state talking") == 2


def test_quarter_hour_html_has_a_bar_per_interval() -> None:
    parser = _Svg()
    parser.feed(render_html(two_hours(Granularity.MINUTES_15)))
    # 8 quarter hours x 3 series; service level only where calls count: 23:45 (c1, c2 in
    # 500, c2 in 501) and 00:00 (c3 short, c4)
    assert len(parser.bars["calls"]) == 24
    assert len(parser.bars["service-level"]) == 2


def test_labels_of_codes_a_site_no_longer_has() -> None:
    site, records = golden_journal()
    from dataclasses import replace

    report = build_report(records, M - HOUR, M + HOUR, replace(site, not_ready_reasons=()))
    assert states(agent(report.agent_totals, "u1"))[(S.NOT_READY, 2)][1] == "code 2"




@pytest.mark.parametrize("granularity", list(Granularity))
@pytest.mark.parametrize(("start", "end"), [(M - HOUR, M + HOUR), (M - 777, M + 333), (M - 86400, M + 86400)])
def test_intervals_add_up_to_the_totals(granularity: Granularity, start: float, end: float) -> None:
    site, records = golden_journal()
    report = build_report(records, start, end, site, granularity)
    for total in report.agent_totals:
        rows = [a for a in report.agents if a.user_id == total.user_id]
        assert all(start <= a.start < a.end <= end for a in rows)
        per_state: dict[tuple[AgentState, int | None], float] = {}
        for a in rows:
            for s in a.states:
                per_state[(s.state, s.code)] = per_state.get((s.state, s.code), 0) + s.seconds
        assert per_state == pytest.approx({(s.state, s.code): s.seconds for s in total.states})
        assert sum(a.offered for a in rows) == total.offered
        assert sum(a.talk_seconds for a in rows) == total.talk_seconds
    for g in report.group_totals:
        rows = [r for r in report.groups if r.number == g.number]
        for name in ("offered", "answered", "abandoned", "short_abandoned", "overflowed", "answered_in_threshold"):
            assert sum(getattr(r, name) for r in rows) == getattr(g, name), name
        # an outcome is counted in the interval its call entered: never more outcomes than calls
        assert all(r.answered + r.abandoned + r.overflowed <= r.offered for r in rows)
    # the stretches of the detail cover the same time as the totals
    assert sum(s.end - s.start for s in report.intervals) == pytest.approx(
        sum(a.logged_on_seconds for a in report.agent_totals))
