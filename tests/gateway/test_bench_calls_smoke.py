"""bench/bench_calls.py and bench/bench_relay.py still run end to end (a few seconds each): the
gateway starts on a generated site with SIPp agents READY, Kamailio proxies, calls get through,
relayed RTP comes back and everything is summarised. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_bench_calls_tiny_run_reports_both_servers() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_calls.py"), "--rates", "10", "--step-seconds", "2",
         "--agents", "3", "--callers", "3"],
        capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for server in ("acdgate", "kamailio"):
        step = re.search(
            rf"^  {server} +10/s +(\d+)/20 +fail (\d+) +retr \d+ +drop \d+ +got +\d+/s +setup p50/95/99 "
            rf"\S+ ms \(answer \S+\) +CPU +\S+ us/call .* agent (\d+) ok (\d+) failed +(ok|FAIL|SLOW|SIPP-LIMIT)",
            out, re.M)
        assert step, out
        assert int(step.group(1)) + int(step.group(2)) == 20
        assert int(step.group(3)) + int(step.group(4)) >= int(step.group(1))  # each success met an agent
        assert re.search(rf"^  {server} +session establishment rate \(RFC 7502, zero failures\) +\d+/s",
                         out, re.M), out
    assert re.search(r"^  target acdgate >= 300 calls/s: (met|MISSED)$", out, re.M), out
    assert re.search(r"^  ratio acdgate/kamailio, session establishment rate: \S+", out, re.M), out


@pytest.mark.slow
def test_bench_relay_tiny_run_relays_tagged_rtp() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_relay.py"), "--levels", "4", "--seconds", "1"],
        capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for server in ("acdgate", "twisted"):
        level = re.search(
            rf"^ .*{server} +4 calls +(\d+) pkt/s in +lost (-?\d+) .* CPU +\d+% of a core .* (ok|FAIL|STARVED)$",
            out, re.M)
        assert level, out
        assert 300 <= int(level.group(1)) <= 500  # 4 calls x 2 legs x 50 packets/s
        assert int(level.group(2)) >= 0
    assert "from CPU per relayed packet" in out
    assert re.search(r"^ +4 calls: CPU per relayed packet acdgate \S+ us, bare Twisted forwarder \S+ us, ratio",
                     out, re.M), out
