"""bench/bench_register_warm.py still runs (a second): both servers register every station and
the figures and their ratio are printed. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_register_warm.py"


def test_bench_register_warm_runs_both_servers(tmp_path: Path) -> None:
    profile = tmp_path / "acdgate.prof"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--registrations", "20", "--rounds", "1", "--profile", str(profile)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for server in ("acdgate", "twisted-floor"):
        assert re.search(rf"^  {server} +[\d.]+ us/registration \(min\) +[\d.]+ \(median\)"
                         r"  = [\d.]+ challenged \+ [\d.]+ authenticated$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^  ratio acdgate / twisted-floor: [\d.]+x", proc.stdout, re.M), proc.stdout
    assert profile.stat().st_size > 0
