"""bench/bench_h323.py still runs end to end (a few seconds, tiny counts): one gateway, a SIPp
REGISTER step, full and keep-alive RRQ phases, and the ratios printed. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_h323.py"


@pytest.mark.slow
def test_bench_h323_quick_run_prints_every_figure() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True,
                          timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^acdgate \(.+\): SIP on 127\.0\.0\.1:\d+, H\.323 RAS on 127\.0\.0\.1:\d+$",
                     out, re.M), out
    sip = re.search(r"^  SIP REGISTER \(SIPp, digest, 100/s offered\): (\d+)/50 ok, fail (\d+), "
                    r"got \d+/s, CPU \S+ us/reg \((ok|FAIL|SLOW|SIPP-LIMIT)\)$", out, re.M)
    assert sip and int(sip.group(1)) + int(sip.group(2)) == 50, out
    for phase in (r"full RRQ \(CAT\)", "keep-alive RRQ"):
        rrq = re.search(rf"^  H\.323 {phase}, 4 endpoints closed loop: (\d+)/(\d+) RCF, "
                        rf"fail (\d+), \d+/s, CPU \S+ us/RRQ$", out, re.M)
        assert rrq, out
        assert int(rrq.group(2)) == 40 and int(rrq.group(1)) + int(rrq.group(3)) == 40
        assert re.search(rf"^  ratio CPU\({phase}\)/CPU\(SIP registration\): \S+x  "
                         rf"target <= 2\.00x: (met|MISSED)$", out, re.M), out
