"""The `acdgate` command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from acdgate.acd.commands import Login, Logout, SetState
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.store import StateStore
from twisted.internet import task

ACDGATE = [sys.executable, "-m", "acdgate.gateway.cli"]


def acdgate(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACDGATE, *args], capture_output=True, text=True, timeout=60, check=check)


def test_help_names_every_command_and_each_has_its_own() -> None:
    top = acdgate("--help", check=True).stdout
    for command in ("run", "check-config", "demo-config", "report"):
        assert command in top
        sub = acdgate(command, "--help", check=True).stdout
        assert f"usage: acdgate {command}" in sub
    run_help = acdgate("run", "--help", check=True).stdout
    for option in ("--config", "--state-dir", "--bind", "--sip-port", "--http-port", "--sip-trace",
                   "--h323-trace"):
        assert option in run_help


def test_demo_config_is_a_valid_site_file(tmp_path: Path) -> None:
    site_file = tmp_path / "site.toml"
    site_file.write_text(acdgate("demo-config", check=True).stdout)
    result = acdgate("check-config", str(site_file))
    assert result.returncode == 0, result.stderr
    assert "site 'demo'" in result.stdout
    assert "14 stations, 11 users (1 supervisors), 5 groups" in result.stdout
    assert "group 6003 'Everyone': collective, 5 members, not monitored" in result.stdout


def test_bad_site_file_is_refused_with_file_key_and_reason(tmp_path: Path) -> None:
    text = acdgate("demo-config", check=True).stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('pin = "1234"', 'pin = "12"', 1))
    result = acdgate("check-config", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "pin" in result.stderr and "4 digits" in result.stderr
    # `run` refuses the same file at start-up, with the same message and no traceback
    run = acdgate("run", "--config", str(bad), "--state-dir", str(tmp_path / "s"))
    assert run.returncode == 2
    assert "pin" in run.stderr and "Traceback" not in run.stderr
    missing = acdgate("check-config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_report_table_and_csv_from_the_journal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    clock = task.Clock()
    clock.advance(1_800_000_000)
    service = AcdService(clock, load_site(None), StateStore(state))
    service.execute(Login("3000", "1234", "2101"))
    clock.advance(60)
    service.execute(SetState("3000", AgentState.READY))
    clock.advance(120)
    service.execute(SetState("3000", AgentState.NOT_READY, reason_code=1))
    clock.advance(30)
    service.execute(SetState("3000", AgentState.NOT_READY, reason_code=2))
    clock.advance(30)
    service.execute(Logout("3000"))
    service.stop()
    service.store.close()
    span = ["--state-dir", str(state), "--from", "1799999999", "--to", "1800001000"]
    table = acdgate("report", *span)
    assert table.returncode == 0, table.stderr
    assert "3000" in table.stdout
    csv = acdgate("report", *span, "--csv")
    assert csv.returncode == 0, csv.stderr
    lines = csv.stdout.splitlines()
    assert len(lines) > 2 and "," in lines[0]
    # the two back-to-back Not Ready intervals stay apart (guide: Reason Codes)
    not_ready_rows = [line for line in lines if "3000" in line and ("not-ready" in line.lower() or "not ready" in line.lower())]
    assert len(not_ready_rows) >= 2, csv.stdout
