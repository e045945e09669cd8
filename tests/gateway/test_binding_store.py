"""Registrar bindings in the SQLite store: old JSON rows migrate once (the round trip through
columns, on both stores, is in test_store_contract.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from acdgate.gateway.sip.registrar import Binding
from acdgate.gateway.storage.store import DB_NAME, StateStore, StoreError

NOW = 1_800_000_000.0


def _binding(contact: str, expires_at: float, **extra: object) -> Binding:
    fields: dict[str, object] = dict(
        username="2101", contact=contact, expires_at=expires_at, call_id="c1@10.0.0.1", cseq=7,
        source=("10.0.0.1", 5062), transport="UDP", user_agent="Yealink SIP-T46S",
    )
    fields.update(extra)
    return Binding(**fields)  # type: ignore[arg-type]


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


def _old_table(tmp_path: Path, *datas: str) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE binding (username TEXT NOT NULL, contact TEXT NOT NULL, "
               "expires_at REAL NOT NULL, data TEXT NOT NULL, PRIMARY KEY (username, contact))")
    for i, data in enumerate(datas):
        db.execute("INSERT INTO binding VALUES (?, ?, ?, ?)", ("2101", f"sip:2101@10.0.0.{i}", NOW, data))
    db.commit()
    db.close()


def test_an_old_row_without_the_optional_fields_migrates(tmp_path: Path) -> None:
    _old_table(tmp_path, json.dumps({"username": "2101", "contact": "sip:2101@10.0.0.0", "expires_at": NOW + 60,
                                     "call_id": "c", "cseq": 3, "source": ["10.0.0.0", 5060], "transport": "UDP"}))
    store = StateStore(tmp_path)
    [row] = store.load_bindings(NOW)
    assert Binding.from_row(row) == Binding("2101", "sip:2101@10.0.0.0", NOW + 60, "c", 3, ("10.0.0.0", 5060), "UDP")
    store.close()


def test_an_unreadable_old_row_stops_start_up_naming_it_and_loses_nothing(tmp_path: Path) -> None:
    good = json.dumps({"username": "2101", "contact": "sip:2101@10.0.0.0", "expires_at": NOW + 60,
                       "call_id": "c", "cseq": 3, "source": ["10.0.0.0", 5060], "transport": "UDP"})
    _old_table(tmp_path, good, '{"username": "2101"')  # the second row's JSON is cut short
    with pytest.raises(StoreError, match=r"binding row 2 of an earlier version cannot be read \(JSONDecodeError"):
        StateStore(tmp_path)
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("SELECT COUNT(*) FROM binding").fetchone() == (2,)  # nothing moved, nothing lost
    db.close()
