"""`acdgate report --format table|csv|json|html --interval 15|30|60|day`, run as a user runs it,
on a journal written by the real ACD service on the demo site, where code 1 is Break as a Not
Ready reason and "Update customer record" as a wrap-up code (issue 17's bug)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from acdgate.acd.commands import Login, Logout, SetState
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from twisted.internet import task

ACDGATE = [sys.executable, "-m", "acdgate.gateway.cli"]
START = 1_800_000_000  # 2027-01-15 08:00:00 UTC


def acdgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACDGATE, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def span(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    state = tmp_path_factory.mktemp("cli-report") / "state"
    clock = task.Clock()
    clock.advance(START)
    service = AcdService(clock, load_site(None), StateStore(state))
    service.execute(Login("3000", "1234", "2101"))  # 08:00:00 Not Ready
    clock.advance(60)
    service.execute(SetState("3000", AgentState.NOT_READY, reason_code=1))  # 08:01 Break
    clock.advance(900)
    service.execute(SetState("3000", AgentState.NOT_READY, reason_code=2))  # 08:16 Paperwork
    clock.advance(600)
    service.execute(Logout("3000", reason_code=2))  # 08:26 Meeting
    service.stop()
    service.store.close()
    return ["--state-dir", str(state), "--from", str(START), "--to", str(START + 3600)]


def test_json_labels_each_family_from_its_own_table(span: list[str]) -> None:
    result = acdgate("report", *span, "--format", "json", "--interval", "15")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    periods = [(p["seconds"], p["code"], p["label"]) for p in data["agents"]["not_ready_periods"]]
    # 08:00-08:01 no reason, 08:01-08:16 Break, 08:16-08:26 Paperwork
    assert periods == [(60, None, ""), (900, 1, "Break"), (600, 2, "Paperwork")]
    [session] = data["agents"]["sessions"]
    assert (session["logout_code"], session["logout_label"]) == (2, "Meeting")
    # Break 08:01-08:16 is cut at 08:15: 840 s in 08:00-08:15, 60 s in 08:15-08:30
    quarter = {(r["from"], s["code"]): s["seconds"] for r in data["agents"]["intervals"] for s in r["states"]}
    assert quarter[("2027-01-15T08:00:00Z", 1)] == 840
    assert quarter[("2027-01-15T08:15:00Z", 1)] == 60
    assert len(data["groups"]["intervals"]) == 4 * 4  # 4 quarter hours x 4 monitored demo groups


def test_csv_keeps_its_first_sections_and_the_csv_flag(span: list[str]) -> None:
    flag = acdgate("report", *span, "--csv")
    form = acdgate("report", *span, "--format", "csv")
    assert flag.returncode == form.returncode == 0 and flag.stdout == form.stdout
    rows = list(csv.reader(io.StringIO(flag.stdout)))
    assert rows[0] == ["section", "agent", "state", "reason code", "reason", "seconds", "intervals"]
    assert ["agent", "3000", "not-ready", "1", "Break", "900.0", "1"] in rows
    assert not any("Update customer record" in row for row in rows)


def test_table_and_html(span: list[str]) -> None:
    table = acdgate("report", *span, "--interval", "day")
    assert table.returncode == 0 and "Break" in table.stdout and "Update customer record" not in table.stdout
    html = acdgate("report", *span, "--format", "html")
    assert html.returncode == 0, html.stderr
    HTMLParser().feed(html.stdout)
    assert html.stdout.count("<svg") == 3 and "<script" not in html.stdout


def test_contradicting_or_empty_requests_are_refused(span: list[str]) -> None:
    both = acdgate("report", *span, "--csv", "--format", "json")
    assert both.returncode == 2 and "contradict" in both.stderr
    backwards = acdgate("report", "--state-dir", span[1], "--from", str(START), "--to", str(START - 1))
    assert backwards.returncode == 2 and "--to must be after --from" in backwards.stderr
    bad = acdgate("report", *span, "--interval", "45")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_a_state_directory_without_a_journal_reports_nothing(tmp_path: Path) -> None:
    result = acdgate("report", "--state-dir", str(tmp_path), "--from", str(START), "--to", str(START + 900))
    assert result.returncode == 0, result.stderr
    assert "Not Ready periods" in result.stdout and "(none)" in result.stdout
    assert not (tmp_path / "acdgate.sqlite3").exists()  # a report never creates a store
