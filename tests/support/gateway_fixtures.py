"""The `start_gateway` and `gateway` fixtures (`acdgate run` in a child process), shared by the
conftest.py of tests/gateway and tests/security, which import them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from acdgate.lab.gateway_process import GatewayProcess, StartGateway


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[StartGateway]:
    """Starts `acdgate run` on loopback with its state in ``tmp_path / "state"`` (the demo site
    unless `config` names a site file; `extra`: more command-line options) and stops every
    gateway it started when the test ends. Starting again runs on the same state, as a
    restart does."""
    started: list[GatewayProcess] = []

    def start(*, config: Path | None = None, extra: Sequence[str] = ()) -> GatewayProcess:
        gw = GatewayProcess(tmp_path / "state", config=config, extra=list(extra))
        started.append(gw)
        return gw.start()

    yield start
    failures: list[AssertionError] = []
    for gw in reversed(started):
        try:
            gw.stop()
        except AssertionError as failure:  # it did not stop on SIGTERM: stop the others first
            failures.append(failure)
    if failures:
        raise failures[0]


@pytest.fixture
def gateway(start_gateway: StartGateway) -> GatewayProcess:
    """The gateway on the demo site. A module whose tests need another gateway overrides this
    fixture with `start_gateway`, and says why."""
    return start_gateway()
