"""bench/bench_register.py still runs end to end (a few seconds): acdgate, Kamailio and the
CPython + Twisted floor start, pass the challenge check, take one SIPp step and get summarised.
No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_register.py"


@pytest.mark.slow
def test_bench_register_quick_run_reports_every_server() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--max-rate", "200"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for server in ("acdgate", "kamailio", "twisted-floor"):
        # the server really challenged, refused a wrong password, and accepted the right one
        check = re.search(rf"^{server} on 127\.0\.0\.1:\d+.*\n  challenge check: (.*)$", out, re.M)
        assert check, out
        assert check.group(1).startswith("401 Digest ")
        assert "wrong password -> 4" in check.group(1) and "right password -> 200" in check.group(1)
        # one step of 200 registrations at 200/s, with every column filled in
        step = re.search(
            rf"^  {server} +200/s +(\d+)/200 +fail (\d+) +retr \d+ +drop \d+ +sipp-drop \d+ +got +\d+/s +"
            rf"p50/95/99 +\S+/ *\S+/ *\S+ ms +CPU +\S+ us/reg .* (ok|FAIL|SLOW|SIPP-LIMIT)",
            out,
            re.M,
        )
        assert step, out
        assert int(step.group(1)) + int(step.group(2)) == 200
        assert re.search(
            rf"^  {server} +registration rate \(RFC 7501, zero failures\) +\d+/s", out, re.M
        ), out
    assert re.search(
        r"^  twisted-floor \(CPython \+ Twisted, no parser/transactions/store\) over the same steps: "
        r"\d+ us = \S+x kamailio; acdgate = \S+x the floor$",
        out,
        re.M,
    ), out
    assert re.search(
        r"ratio acdgate/kamailio, registration rate: +\S+ +target >= 1\.00 .*: (met|MISSED)$",
        out,
        re.M,
    ), out
    assert re.search(
        r"ratio acdgate/kamailio, CPU per registration: +\S+x +target <= 2\.00x: (met|MISSED)$",
        out,
        re.M,
    ), out
