"""The SIPp agents' readiness signal: SIPp's running screen on a pty means its port is bound,
and a SIPp that could not bind ends with its final screen instead (tests/support/sipp_agents)."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.lab.drivers.sipp_scenarios import agent_scenario
from sipp_agents import _drew_screen, udp_port_bound


@pytest.fixture
def uas(tmp_path: Path) -> Iterator[tuple[Path, socket.socket]]:
    """The agent scenario's file, and a socket holding a free loopback port."""
    scenario = tmp_path / "agent.xml"
    scenario.write_text(agent_scenario(0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        yield scenario, held


def _sipp_on_a_pty(scenario: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    screen, terminal = pty.openpty()
    proc = subprocess.Popen(
        ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-mp", "0", "-f", "3600"],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.DEVNULL, cwd=scenario.parent)
    os.close(terminal)
    return proc, screen


@pytest.mark.slow
@pytest.mark.parametrize("port_taken", [False, True])
def test_the_running_screen_means_the_port_is_bound(uas: tuple[Path, socket.socket], port_taken: bool) -> None:
    scenario, held = uas
    port = held.getsockname()[1]
    if not port_taken:
        held.close()
    proc, screen = _sipp_on_a_pty(scenario, port)
    try:
        drew = _drew_screen(screen, 10.0)
        if port_taken:
            assert not drew
            assert proc.wait(10) != 0  # it gave up on the port
        else:
            assert drew
            assert proc.poll() is None
            assert udp_port_bound("127.0.0.1", port)  # SIPp holds it
    finally:
        proc.kill()
        proc.wait()
        os.close(screen)
