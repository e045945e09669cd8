"""Registrar bindings in the state store: columns round trip, and old JSON rows migrate once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from acdgate.gateway.sip.registrar import Binding
from acdgate.gateway.store import DB_NAME, StateStore

NOW = 1_800_000_000.0


def _binding(contact: str, expires_at: float, **extra: object) -> Binding:
    fields: dict[str, object] = dict(
        username="2101", contact=contact, expires_at=expires_at, call_id="c1@10.0.0.1", cseq=7,
        source=("10.0.0.1", 5062), transport="UDP", user_agent="Yealink SIP-T46S",
    )
    fields.update(extra)
    return Binding(**fields)  # type: ignore[arg-type]


def test_bindings_round_trip_through_columns_and_survive_reopening(tmp_path: Path) -> None:
    plain = _binding("sip:2101@10.0.0.1:5062", NOW + 600)
    outbound = _binding("sip:2101@10.0.0.9;transport=tcp", NOW + 900, q=0.5,
                        instance_id="<urn:uuid:00000000-0000-1000-8000-000000000001>", reg_id=1,
                        transport="TCP")
    store = StateStore(tmp_path)
    store.save_bindings([plain.to_row(), outbound.to_row()])
    store.save_bindings([_binding(plain.contact, NOW + 700, cseq=8).to_row()])  # a refresh
    store.close()
    again = StateStore(tmp_path)
    loaded = [Binding.from_row(r) for r in again.load_bindings(NOW)]
    assert loaded == [_binding(plain.contact, NOW + 700, cseq=8), outbound]
    assert [Binding.from_row(r).contact for r in again.load_bindings(NOW + 800)] == [outbound.contact]
    again.save_bindings([], [outbound.key()])
    assert [Binding.from_row(r).cseq for r in again.load_bindings()] == [8]
    again.close()


def test_json_bindings_of_an_earlier_version_move_to_columns_once(tmp_path: Path) -> None:
    old = _binding("sip:2101@10.0.0.1:5062", NOW + 600, q=1.0)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE binding (username TEXT NOT NULL, contact TEXT NOT NULL, "
               "expires_at REAL NOT NULL, data TEXT NOT NULL, PRIMARY KEY (username, contact))")
    data = {"username": old.username, "contact": old.contact, "expires_at": old.expires_at,
            "call_id": old.call_id, "cseq": old.cseq, "source": list(old.source),
            "transport": old.transport, "user_agent": old.user_agent, "q": old.q,
            "instance_id": None, "reg_id": None}
    db.execute("INSERT INTO binding VALUES (?, ?, ?, ?)",
               (old.username, old.contact, old.expires_at, json.dumps(data)))
    db.commit()
    db.close()
    store = StateStore(tmp_path)
    assert [Binding.from_row(r) for r in store.load_bindings(NOW)] == [old]
    tables = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "binding" not in tables
    store.close()
    assert [Binding.from_row(r) for r in StateStore(tmp_path).load_bindings(NOW)] == [old]
