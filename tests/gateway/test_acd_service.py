"""AcdService keeps the engine's state in per-agent rows: a restart restores exactly it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from acdgate.acd.commands import Login, Logout, SetMembership, SetState
from acdgate.acd.site import Feature
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.journal import CallMediaStats, FeatureUsed
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.contract import Store
from acdgate.gateway.storage.store import StateStore
from twisted.internet import task


def test_restart_restores_sessions_pins_and_memberships(open_test_store: Callable[[], Store]) -> None:
    """On SQLite and on PostgreSQL (conftest's `store_url`)."""
    site = load_site(None)
    clock = task.Clock()
    clock.advance(1_800_000_000)
    store = open_test_store()
    service = AcdService(clock, site, store)
    service.execute(Login("3000", "1234", "2101"))
    service.execute(SetState("3000", AgentState.READY))
    service.execute(SetMembership("3000", "6001", False))
    service.execute(Login("3001", "1234", "2102"))
    service.execute(Login("3002", "0000", "2103"))  # a wrong PIN: counted
    service.execute(Login("3003", "1234", "2104"))
    clock.advance(30)
    service.execute(SetState("3003", AgentState.NOT_READY, reason_code=2))
    service.execute(Logout("3001"))  # gone from the rows
    before = service.acd.snapshot()
    service.stop()
    assert {r["user_id"] for r in store.load_sessions()} == {"3000", "3003"}
    store.close()

    store = open_test_store()
    restored = AcdService(clock, site, store)
    assert restored.acd.snapshot() == before
    assert restored.acd.pin_failures("3002") == 1
    assert restored.acd.agent("3000").disabled_groups == ("6001",)  # type: ignore[union-attr]
    assert restored.acd.agent("3003").reason_code == 2  # type: ignore[union-attr]
    restored.stop()
    store.close()


def test_the_gateways_records_are_journaled_in_the_flat_format_reports_read(tmp_path: Path) -> None:
    """FeatureUsed and CallMediaStats keep the JSON shape the gateway wrote as raw dicts."""
    clock = task.Clock()
    clock.advance(1_800_000_000)
    store = StateStore(tmp_path / "state")
    service = AcdService(clock, load_site(None), store)
    used = FeatureUsed(at=1.5, station="2101", dialled="*35*3000*xxxx#", feature=Feature.LOGIN,
                       ok=False, reason="Wrong pin", status=403)
    stats = CallMediaStats(at=2.0, call_id="c1", leg="caller", leg_call_id="c1", station="2101",
                           codec="PCMU", packets_sent=50, packets_received=49, packets_lost=1,
                           jitter_ms=0.125, octets_sent=8000, invalid_packets=0, remote="10.0.0.5:4000")
    before = store.journal_count()
    service.journal([used, stats])
    service.journal([])  # nothing: no empty transaction either
    assert store.journal_count() == before + 2
    stored = list(store.journal(kinds=["FeatureUsed", "CallMediaStats"]))
    assert [{k: v for k, v in r.items() if k != "seq"} for r in stored] == [
        {"type": "FeatureUsed", "at": 1.5, "station": "2101", "dialled": "*35*3000*xxxx#",
         "feature": "login", "ok": False, "reason": "Wrong pin", "status": 403},
        {"type": "CallMediaStats", "at": 2.0, "call_id": "c1", "leg": "caller", "leg_call_id": "c1",
         "station": "2101", "codec": "PCMU", "packets_sent": 50, "packets_received": 49,
         "packets_lost": 1, "jitter_ms": 0.125, "octets_sent": 8000, "invalid_packets": 0,
         "remote": "10.0.0.5:4000"},
    ]
    service.stop()
    store.close()
