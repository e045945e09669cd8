"""bench/soak.py still runs end to end in a few seconds with tiny counts: the gateway starts,
agents log on by short code, a round of registrations, routed calls, short codes and one attack
runs, and the per-minute table and the verdict are printed. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_bench_soak_tiny_run_prints_the_table_and_passes() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), "--minutes", "0.1", "--rate", "3", "--round-seconds", "4",
         "--agents", "2", "--callers", "2", "--idle-tcp", "3", "--flood", "10"],
        capture_output=True, text=True, timeout=240,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^minute +RSS MiB +fds +registrations +calls +short codes +failed +attacks$", out, re.M), out
    rows = re.findall(r"^ +\d+\.\d +\d+\.\d +\d+ +(\d+) +(\d+) +(\d+) +0 +(\d+)$", out, re.M)
    assert len(rows) >= 2, out
    assert all(int(n) > 0 for n in rows[-1]), out  # each kind of operation and an attack ran
    assert re.search(r"^PASS: 0 failed legitimate operation\(s\)$", out, re.M), out
