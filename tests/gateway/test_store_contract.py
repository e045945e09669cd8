"""The state store's contract, on SQLite and on a real PostgreSQL server (tests/gateway/conftest.py
starts one): journal, sessions, snapshots, bindings, H.323 registrations, the journal reader,
the health check, and refusing to write what a closed store cannot keep."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from acdgate.gateway.h323.ras_events import Registration
from acdgate.gateway.h323.ras_messages import Alias, AliasKind, TransportAddress
from acdgate.gateway.h323.registration_store import RegistrationStoreError
from acdgate.gateway.sip.binding_store import BindingStoreError
from acdgate.gateway.sip.registrar import Binding
from acdgate.gateway.storage.contract import Store, StoreError
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.gateway.storage.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from acdgate.gateway.storage.postgres_store import PostgresStore
from acdgate.lab.postgres_cluster import PostgresCluster

NOW = 1_800_000_000.0
OpenStore = Callable[[], Store]


def _binding(contact: str, expires_at: float, **extra: object) -> Binding:
    fields: dict[str, object] = dict(
        username="2101", contact=contact, expires_at=expires_at, call_id="c1@10.0.0.1", cseq=7,
        source=("10.0.0.1", 5062), transport="UDP", user_agent="Yealink SIP-T46S",
    )
    fields.update(extra)
    return Binding(**fields)  # type: ignore[arg-type]


def _registration(endpoint: str, extension: str, expires_at: float) -> Registration:
    return Registration(
        endpoint_identifier=endpoint, extension=extension,
        aliases=(Alias(AliasKind.DIALLED_DIGITS, extension), Alias(AliasKind.H323_ID, f"desk {extension}")),
        call_signal_address=TransportAddress("192.0.2.10", 1720), ras_address=TransportAddress("192.0.2.1", 1719),
        source=("192.0.2.10", 1719), time_to_live=120, expires_at=expires_at, endpoint_type="terminal",
        vendor="Acme 4.2")


def test_a_new_store_is_at_the_latest_schema_version(open_test_store: OpenStore) -> None:
    store = open_test_store()
    assert store.schema_version() == len(SQLITE_MIGRATIONS) == len(POSTGRES_MIGRATIONS)
    store.close()


def test_append_numbers_records_in_order_and_saves_sessions_and_snapshots_with_them(
        open_test_store: OpenStore) -> None:
    store = open_test_store()
    first = store.append([{"at": NOW, "type": "LoggedIn", "user_id": "3000", "station": "2101"},
                          {"at": NOW, "type": "StateChanged", "user_id": "3000", "new": "NOT_READY"}],
                         sessions={"3000": {"user_id": "3000", "state": "NOT_READY"}},
                         snapshots={"acd.pins": {"3000": 0}})
    second = store.append([{"at": NOW + 5, "type": "StateChanged", "user_id": "3000", "new": "READY",
                            "note": "ünïcode ✓"}],
                          sessions={"3000": {"user_id": "3000", "state": "READY"}, "3001": None})
    assert len(first) == 2 and first[0] < first[1] < second[0]
    assert store.append([]) == []
    store.save_snapshot("dnd", {"stations": {"2101": True}})
    store.close()

    store = open_test_store()  # everything above was committed
    records = list(store.journal())
    assert [r["seq"] for r in records] == [*first, *second]
    assert records[2] == {"at": NOW + 5, "type": "StateChanged", "user_id": "3000", "new": "READY",
                          "note": "ünïcode ✓", "seq": second[0]}
    assert store.journal_count() == 3
    assert [r["type"] for r in store.journal(kinds=["LoggedIn"])] == ["LoggedIn"]
    assert [r["seq"] for r in store.journal(NOW + 1, NOW + 6)] == second
    assert [r["seq"] for r in store.journal(end=NOW + 1)] == first
    assert [r["seq"] for r in store.journal(after_seq=first[1])] == second
    assert store.load_sessions() == [{"user_id": "3000", "state": "READY"}]
    assert store.load_snapshot("acd.pins") == {"3000": 0}
    assert store.load_snapshot("dnd") == {"stations": {"2101": True}}
    assert store.load_snapshot("none yet") is None
    store.append([], sessions={"3000": None})
    assert store.load_sessions() == []
    store.close()


def test_the_journal_reader_reads_what_was_appended_on_a_connection_of_its_own(
        open_test_store: OpenStore) -> None:
    store = open_test_store()
    store.append([{"at": NOW + i, "type": "StateChanged" if i % 2 else "FeatureUsed", "i": i} for i in range(5)])
    everything = list(read_journal(store.location))
    assert [r["i"] for r in everything] == [0, 1, 2, 3, 4] and "seq" not in everything[0]
    some = list(read_journal(store.location, end=NOW + 4, kinds=["StateChanged"]))
    assert [r["i"] for r in some] == [1, 3]
    store.close()


def test_bindings_round_trip_through_columns_and_survive_reopening(open_test_store: OpenStore) -> None:
    plain = _binding("sip:2101@10.0.0.1:5062", NOW + 600)
    outbound = _binding("sip:2101@10.0.0.9;transport=tcp", NOW + 900, q=0.5,
                        instance_id="<urn:uuid:00000000-0000-1000-8000-000000000001>", reg_id=1,
                        transport="TCP")
    store = open_test_store()
    store.save_bindings([plain.to_row(), outbound.to_row()])
    store.save_bindings([_binding(plain.contact, NOW + 700, cseq=8).to_row()])  # a refresh
    store.close()
    again = open_test_store()
    loaded = [Binding.from_row(r) for r in again.load_bindings(NOW)]
    assert loaded == [_binding(plain.contact, NOW + 700, cseq=8), outbound]
    assert [Binding.from_row(r).contact for r in again.load_bindings(NOW + 800)] == [outbound.contact]
    again.save_bindings([], [outbound.key()])
    assert [Binding.from_row(r).cseq for r in again.load_bindings()] == [8]
    again.close()


def test_h323_registrations_round_trip_and_expire(open_test_store: OpenStore) -> None:
    store = open_test_store()
    one, two = _registration("ep1", "2201", NOW + 120), _registration("ep2", "2202", NOW + 60)
    store.save_h323_registrations([one.to_row(), two.to_row()])
    store.save_h323_registrations([_registration("ep1", "2201", NOW + 240).to_row()])  # a refresh
    store.close()
    store = open_test_store()
    assert [Registration.from_row(r) for r in store.load_h323_registrations()] == [
        _registration("ep1", "2201", NOW + 240), two]
    assert [r[0] for r in store.load_h323_registrations(NOW + 60)] == ["ep1"]
    store.save_h323_registrations([], ["ep1", "ep2"])
    assert store.load_h323_registrations() == []
    store.close()


def test_a_closed_store_refuses_writes_with_the_errors_the_edges_expect(open_test_store: OpenStore) -> None:
    store = open_test_store()
    assert store.write_check() is None
    store.close()  # the connection is gone (server down, disk pulled)
    with pytest.raises(BindingStoreError):
        store.save_bindings([_binding("sip:2101@10.0.0.1", NOW).to_row()])
    with pytest.raises(BindingStoreError):
        store.save_bindings([], [("2101", "sip:2101@10.0.0.1")])
    with pytest.raises(RegistrationStoreError):
        store.save_h323_registrations([_registration("ep1", "2201", NOW).to_row()])
    problem = store.write_check()
    assert problem is not None and "closed" in problem


def test_a_failed_append_is_not_acknowledged(open_test_store: OpenStore) -> None:
    store = open_test_store()
    store.close()
    with pytest.raises(StoreError, match=r"the journal was not written: .*closed"):
        store.append([{"at": NOW, "type": "LoggedIn"}])
    with pytest.raises(StoreError, match="snapshot dnd was not saved"):
        store.save_snapshot("dnd", {})


def test_on_postgresql_the_health_check_names_a_read_only_server(
        postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    store = PostgresStore(postgres_cluster.create_database(), tmp_path)
    assert store.write_check() is None
    # what a hot standby, or a database an operator made read-only, looks like to this session
    store._db.execute("SET default_transaction_read_only = on")
    problem = store.write_check()
    assert problem is not None and "read-only transaction" in problem
    assert problem.startswith(f"postgresql://acdgate@127.0.0.1:{postgres_cluster.port}/")
    with pytest.raises(BindingStoreError, match="read-only transaction"):
        store.save_bindings([_binding("sip:2101@10.0.0.1", NOW).to_row()])
    store.close()
