"""SIPp feature calls, run per test: dial a code, maybe send digits as SIP INFO, expect the
gateway to answer and hang up (or to refuse), and run SIPp on loopback. The scenario is the
lab's (`acdgate.lab.drivers.sipp_scenarios.feature_call_scenario`).

The SDP offers the test's own UDP socket as the media address, so the test receives the
gateway's RTP itself and decodes the tone it played.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from acdgate.lab.drivers.sipp_scenarios import feature_call_scenario, injection


@dataclass(frozen=True, slots=True)
class FeatureCallResult:
    """What SIPp saw: the final status of the authenticated INVITE, and its output."""

    status: int
    output: str


def users_csv(path: Path, stations: list[str]) -> Path:
    """A SIPp injection file: username; auth keyword (SIPp expands it per call)."""
    path.write_text(injection((s, f"pw{s}") for s in stations))
    return path


def run_feature_call(tmp: Path, target: tuple[str, int], station: str, dialled: str, *,
                     answered: bool, info_digits: str = "", formats: str = "0 8 101",
                     rtp_port: int = 4000, local_port: int = 0, timeout: float = 60,
                     ip: str = "127.0.0.1") -> FeatureCallResult:
    """Dial `dialled` from `station` with SIPp (`#` sent as %23) from the address `ip` and return
    the final status."""
    scenario = tmp / f"call_{abs(hash((station, dialled, info_digits)))}.xml"
    scenario.write_text(feature_call_scenario(answered=answered, info_digits=info_digits,
                                              formats=formats, rtp_port=rtp_port))
    users = tmp / f"user_{station}.csv"
    users.write_text(injection([(station, f"pw{station}")]))
    errors = tmp / "sipp_feature_errors.log"
    args = ["sipp", "-sf", str(scenario), "-inf", str(users), "-i", ip, "-p", str(local_port),
            "-s", dialled.replace("#", "%23"), "-m", "1", "-timeout", f"{int(timeout)}s", "-nostdin",
            "-trace_err", "-error_file", str(errors), "-trace_msg", "-message_file", str(tmp / "sipp_msgs.log"),
            f"{target[0]}:{target[1]}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30, cwd=tmp)
    out = proc.stdout + proc.stderr
    messages = (tmp / "sipp_msgs.log").read_text(errors="replace") if (tmp / "sipp_msgs.log").exists() else ""
    if proc.returncode != 0:
        err = errors.read_text(errors="replace") if errors.exists() else ""
        raise AssertionError(f"SIPp failed ({proc.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
    finals = [int(s) for s in re.findall(r"^SIP/2\.0 (\d{3}) ", messages, re.M) if int(s) >= 200 and int(s) != 401]
    return FeatureCallResult(finals[0] if finals else 0, messages)
