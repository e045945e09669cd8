"""`GET /api/health` (issue 17): 200 while the gateway can take traffic; 503 while its state
store cannot be written (another process holds the SQLite write lock) and once it is stopping."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest_twisted
from acdgate.gateway.storage.store import DB_NAME
from acdgate.gateway.web.health import HealthResource
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from inprocess_gateway import World
from twisted.web.test.requesthelper import DummyRequest


def health(gw: GatewayProcess) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(gw.http + "/api/health", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_healthy_gateway_answers_200_with_what_listens(gateway: GatewayProcess) -> None:
    status, body = health(gateway)
    assert status == 200, body
    assert body["status"] == "ok" and body["reasons"] == []
    assert body["store_writable"] is True
    assert body["sip_listening"] is True and body["h323_listening"] is True
    assert body["version"] == "0.1.0" and body["uptime_seconds"] >= 0


def test_without_h323_it_says_so_and_stays_healthy(start_gateway: StartGateway) -> None:
    status, body = health(start_gateway(extra=["--no-h323"]))
    assert status == 200 and body["h323_listening"] is False


def test_a_store_locked_by_another_writer_is_503_until_released(gateway: GatewayProcess) -> None:
    other = sqlite3.connect(Path(gateway.info["state_dir"]) / DB_NAME, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process's write transaction: the lock is theirs
        started = time.monotonic()
        status, body = health(gateway)
        assert time.monotonic() - started < 3  # the probe waits a moment, not the commits' 5 s
        assert status == 503, body
        assert body["status"] == "unavailable" and body["store_writable"] is False
        assert body["reasons"] == ["state store not writable: database is locked"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    status, body = health(gateway)
    assert status == 200 and body["store_writable"] is True


@pytest_twisted.ensureDeferred
async def test_a_stopping_gateway_is_503(local_gateway: World) -> None:
    gateway = local_gateway.gateway
    resource = HealthResource(gateway)
    assert not gateway.health().reasons
    stopped = gateway.stop()  # what SIGTERM runs; the store closes once the listeners are down
    request = DummyRequest([b""])
    body = json.loads(resource.render_GET(request))
    assert request.responseCode == 503
    assert body["status"] == "unavailable" and "stopping" in body["reasons"]
    assert body["sip_listening"] is False
    await stopped
