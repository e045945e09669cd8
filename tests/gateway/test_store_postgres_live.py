"""A running gateway on PostgreSQL (`acdgate run --store URL`): agents log on by short codes
dialled with SIPp, the gateway is killed with SIGKILL right after the last acknowledgement and
started again on the same database. Every acknowledged event is in the journal exactly once,
and the agents are where and as they were. (SIP and H.323 registrations across a restart, on
both stores: test_gateway_sip.py and test_h323_gateway.py with conftest's `store_url`.)"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.gateway.storage.postgres_store import mask_url
from acdgate.gateway.storage.store import DB_NAME
from acdgate.lab.gateway_process import StartGateway
from acdgate.lab.postgres_cluster import PostgresCluster
from sipp_scenarios import run_feature_call
from sipwire import free_port

AGENTS = {"2101": "3000", "2102": "3001", "2103": "3002", "2104": "3003"}
READY_AT = ("2101", "2103")  # these go Ready after logging on


def test_acknowledged_logons_survive_kill_9_exactly_once(
        start_gateway: StartGateway, postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = postgres_cluster.create_database()
    gw = start_gateway(extra=["--store", url])
    assert gw.info["store"] == mask_url(url)
    dialled: list[tuple[str, str]] = []
    try:
        for station, user in AGENTS.items():
            codes = [f"*35*{user}*1234#"] + (["*37"] if station in READY_AT else [])
            for code in codes:
                result = run_feature_call(tmp_path, gw.sip, station, code, answered=True,
                                          rtp_port=free_port(), local_port=free_port())
                assert result.status == 200, result.output[-2000:]
                dialled.append((station, code.replace("*1234#", "*xxxx#")))
    finally:
        gw.kill()  # SIGKILL: no shutdown hook runs, nothing is flushed on the way out
    assert not (tmp_path / "state" / DB_NAME).exists()  # nothing went to SQLite

    journal = list(read_journal(url))
    logged_in = Counter(str(r["user_id"]) for r in journal if r["type"] == "LoggedIn")
    assert logged_in == Counter(AGENTS.values())  # each logon once
    used = [(str(r["station"]), str(r["dialled"])) for r in journal if r["type"] == "FeatureUsed"]
    assert used == dialled and all(r["reason"] == "Done" for r in journal if r["type"] == "FeatureUsed")
    ready = [str(r["user_id"]) for r in journal if r["type"] == "StateChanged" and r["new"] == "ready"]
    assert sorted(ready) == sorted(AGENTS[s] for s in READY_AT)

    gw = start_gateway(extra=["--store", url])  # the same database, a new process
    agents = {str(a["user"]): a for a in gw.get("/api/agents")}
    for station, user in AGENTS.items():
        assert agents[user]["station"] == station
        assert agents[user]["state"] == ("READY" if station in READY_AT else "NOT_READY")
    assert list(read_journal(url))[: len(journal)] == journal  # a restart rewrites nothing
    health = gw.get("/api/health")
    assert health["status"] == "ok" and health["store_writable"] is True
    # the archived report, read on a worker thread through a connection of its own to the URL
    start = int(min(float(r["at"]) for r in journal)) - 1
    report = gw.get(f"/api/reports/agents?from={start}&to={int(time.time()) + 60}")
    assert {(s["agent"], s["station"]) for s in report["sessions"]} == {(u, s) for s, u in AGENTS.items()}
