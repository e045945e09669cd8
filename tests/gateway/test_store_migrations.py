"""The schema is created and migrated by the gateway itself, on SQLite and PostgreSQL: from an
empty database, from version 1 (with a further migration, as the next change will add one),
from an SQLite file of before versioning; all or nothing; never onto a newer schema."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
from acdgate.gateway.storage.contract import Store, StoreError
from acdgate.gateway.storage.migrations import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    Migration,
    MigrationError,
    pending,
)
from acdgate.gateway.storage.postgres_store import PostgresStore
from acdgate.gateway.storage.store import DB_NAME, StateStore
from acdgate.lab.postgres_cluster import PostgresCluster

NOW = 1_800_000_000.0
# a second version, as the failover work will add: a table, and a column on an existing one
VERSION_2 = Migration(2, "node names (a test's migration)", (
    "CREATE TABLE node (name TEXT PRIMARY KEY)",
    "ALTER TABLE session ADD COLUMN node TEXT",
))


def _open(store_url: str | None, state: Path, migrations: Sequence[Migration] | None = None) -> Store:
    """The store under test with these migrations (default: the gateway's own)."""
    if store_url is None:
        return StateStore(state, migrations=SQLITE_MIGRATIONS if migrations is None else migrations)
    return PostgresStore(store_url, state, migrations=POSTGRES_MIGRATIONS if migrations is None else migrations)


def _versions(store_url: str | None, state: Path) -> list[int]:
    """The versions recorded, read on a plain connection of the engine's own driver."""
    sql = "SELECT version FROM schema_version ORDER BY version"
    if store_url is None:
        db = sqlite3.connect(state / DB_NAME)
        try:
            return [int(row[0]) for row in db.execute(sql)]
        finally:
            db.close()
    with psycopg.connect(store_url) as pg:
        return [int(row[0]) for row in pg.execute(sql).fetchall()]


def _rows(store: Store, sql: str) -> list[dict[str, object]]:
    db = store._db  # type: ignore[attr-defined]  # a look under the store, for the test only
    cur = db.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _migrations(store_url: str | None) -> tuple[Migration, ...]:
    return SQLITE_MIGRATIONS if store_url is None else POSTGRES_MIGRATIONS


def test_an_empty_database_gets_every_migration_recorded(store_url: str | None, tmp_path: Path) -> None:
    store = _open(store_url, tmp_path)
    assert store.schema_version() == 1
    rows = _rows(store, "SELECT version, description FROM schema_version")
    assert rows == [{"version": 1, "description": _migrations(store_url)[0].description}]
    store.close()
    store = _open(store_url, tmp_path)  # opening again applies nothing
    assert _versions(store_url, tmp_path) == [1]
    store.close()


def test_version_1_with_data_migrates_to_2_keeping_every_row(store_url: str | None, tmp_path: Path) -> None:
    store = _open(store_url, tmp_path)
    seqs = store.append([{"at": NOW, "type": "LoggedIn", "user_id": "3000"}],
                        sessions={"3000": {"user_id": "3000", "state": "NOT_READY"}})
    store.close()
    store = _open(store_url, tmp_path, (*_migrations(store_url), VERSION_2))
    assert store.schema_version() == 2
    assert [r["seq"] for r in store.journal()] == seqs
    assert store.load_sessions() == [{"user_id": "3000", "state": "NOT_READY"}]
    assert _rows(store, "SELECT user_id, node FROM session") == [{"user_id": "3000", "node": None}]
    store.close()
    assert _versions(store_url, tmp_path) == [1, 2]


def test_a_newer_schema_is_refused_naming_both_versions(store_url: str | None, tmp_path: Path) -> None:
    _open(store_url, tmp_path, (*_migrations(store_url), VERSION_2)).close()
    with pytest.raises(StoreError, match="schema is version 2, newer than this gateway's 1"):
        _open(store_url, tmp_path)


def test_a_failing_migration_leaves_the_database_as_it_was(store_url: str | None, tmp_path: Path) -> None:
    broken = Migration(2, "broken", ("CREATE TABLE half_done (x INTEGER)", "ALTER TABLE no_such_table ADD COLUMN y TEXT"))
    _open(store_url, tmp_path).close()
    with pytest.raises(StoreError, match="no_such_table"):
        _open(store_url, tmp_path, (*_migrations(store_url), broken))
    store = _open(store_url, tmp_path)
    assert store.schema_version() == 1
    store.close()
    # the first statement of the failed migration was rolled back with it: version 2 can run now
    store = _open(store_url, tmp_path, (*_migrations(store_url), Migration(2, "fixed", ("CREATE TABLE half_done (x INTEGER)",))))
    assert store.schema_version() == 2
    store.close()


def test_an_sqlite_file_from_before_versioning_is_version_1_with_its_rows(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    for statement in SQLITE_MIGRATIONS[0].statements:  # what StateStore created before versions
        db.execute(statement)
    db.execute("INSERT INTO journal (at, kind, data) VALUES (?, 'LoggedIn', '{\"at\": 1.0, \"type\": \"LoggedIn\"}')",
               (1.0,))
    db.commit()
    db.close()
    store = StateStore(tmp_path)
    assert store.schema_version() == 1
    assert list(store.journal()) == [{"at": 1.0, "type": "LoggedIn", "seq": 1}]
    store.close()


def test_two_nodes_starting_together_migrate_once(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = postgres_cluster.create_database()
    opened: list[Store] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PostgresStore(url, tmp_path))
        except BaseException as exc:  # kept: the test asserts there was none
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == [] and len(opened) == 4
    assert _rows(opened[0], "SELECT version FROM schema_version") == [{"version": 1}]
    for store in opened:
        store.close()


def test_a_migration_list_must_count_from_one() -> None:
    with pytest.raises(MigrationError, match="migration 2 is numbered 3"):
        pending(0, (SQLITE_MIGRATIONS[0], Migration(3, "gap", ())), "x")
