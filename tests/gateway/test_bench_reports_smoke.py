"""bench/bench_reports.py still runs (a few seconds) on a tiny journal: the journal is written,
the scans and the report are timed and printed. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_reports.py"


def test_bench_reports_runs_on_a_tiny_journal(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--events", "2000", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    written = re.search(r"^journal: ([\d,]+) records", proc.stdout, re.M)
    assert written is not None and int(written.group(1).replace(",", "")) >= 2000, proc.stdout
    for step in ("scan", "scan \\+ json", "report"):
        assert re.search(rf"^  {step} +[\d.]+ s +[\d,]+ events/s$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^  report / scan: [\d.]+x", proc.stdout, re.M), proc.stdout
    offered = re.search(r"([\d,]+) calls offered to monitored groups$", proc.stdout, re.M)
    assert offered is not None and int(offered.group(1).replace(",", "")) > 0, proc.stdout
    assert (tmp_path / "acdgate.sqlite3").is_file()
