"""The state store: SQLite (WAL) under the state directory.

It keeps the append-only event journal, the ACD's session snapshot (who is logged on
where, in which state), the registrar's bindings and the H.323 gatekeeper's registrations. Each `append` is one transaction that
is committed before the caller acknowledges anything to a phone, so an acknowledged event
survives `kill -9` (WAL with synchronous=NORMAL is durable against a process crash; pass
`durability="full"` to survive power loss as well, at an fsync per commit).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from acdgate.gateway.h323.ras_events import RegistrationRow
from acdgate.gateway.h323.registration_store import RegistrationStoreError
from acdgate.gateway.sip.binding_store import BindingStoreError
from acdgate.gateway.storage.contract import (
    BINDING_COLUMNS,
    H323_REGISTRATION_COLUMNS,
    BindingRow,
    StoreError,
)
from acdgate.gateway.storage.migrations import (
    SCHEMA_VERSION_TABLE,
    SQLITE_MIGRATIONS,
    Migration,
    MigrationError,
    pending,
)

__all__ = ["BINDING_COLUMNS", "DB_NAME", "H323_REGISTRATION_COLUMNS", "BindingRow", "StateStore", "StoreError"]

DB_NAME = "acdgate.sqlite3"

# INSERT OR REPLACE: the primary key is (username, contact) and every column is written. An
# upsert of plain columns costs a REGISTER less than JSON text did (3 % of a registration), and
# keyed by its primary key alone (WITHOUT ROWID) a commit costs a quarter less CPU (16 -> 12 us).
_UPSERT_BINDING = (
    f"INSERT OR REPLACE INTO registration ({', '.join(BINDING_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(BINDING_COLUMNS))})"
)
_DELETE_BINDING = "DELETE FROM registration WHERE username = ? AND contact = ?"

_UPSERT_H323 = (
    f"INSERT OR REPLACE INTO h323_registration ({', '.join(H323_REGISTRATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(H323_REGISTRATION_COLUMNS))})"
)
_DELETE_H323 = "DELETE FROM h323_registration WHERE endpoint_identifier = ?"


class StateStore:
    """The gateway's durable state, in one SQLite file."""

    def __init__(self, state_dir: str | Path, *, durability: str = "normal",
                 migrations: Sequence[Migration] = SQLITE_MIGRATIONS) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.state_dir = Path(state_dir)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.state_dir / DB_NAME, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate(migrations)
            self._migrate_json_bindings()
        except MigrationError as exc:
            self._db.close()
            raise StoreError(str(exc)) from exc
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.state_dir / DB_NAME}: cannot open the state store: {exc}") from exc

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the migrations the database lacks, all in one transaction (migrations.py).
        A database from before versioning has no `schema_version` rows: it is at 0, and
        version 1's idempotent statements keep its tables and rows."""
        with self._transaction():
            self._db.execute(SCHEMA_VERSION_TABLE)
            (current,) = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            for migration in pending(int(current), migrations, str(self.path)):
                for statement in migration.statements:
                    self._db.execute(statement)
                self._db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                                 (migration.version, migration.description, time.time()))

    def schema_version(self) -> int:
        """The schema version the database is at."""
        (version,) = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        return int(version)

    @property
    def location(self) -> str:
        """The database file's path (the journal reader opens its own connection to it)."""
        return str(self.path)

    @property
    def display_name(self) -> str:
        """The database file's path."""
        return str(self.path)

    @property
    def path(self) -> Path:
        """The database file."""
        return self.state_dir / DB_NAME

    def close(self) -> None:
        """Checkpoint and close the database."""
        self._db.close()

    # -- journal -----------------------------------------------------------------------

    def append(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        snapshot: Mapping[str, Any] | None = None,
        snapshot_name: str = "acd",
        sessions: Mapping[str, Mapping[str, Any] | None] | None = None,
        snapshots: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[int]:
        """Append journal records (each with `at` and `type`) and save state, atomically.

        `sessions` upserts (or, for None, deletes) agents' session records; `snapshots` (and
        the older single `snapshot`) replace named snapshots. Returns the journal sequence
        numbers given to the records. When this returns, everything is committed; StoreError
        when it was not.
        """
        seqs: list[int] = []
        try:
            self._append(records, seqs, snapshot, snapshot_name, sessions, snapshots)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: the journal was not written: {exc}") from exc
        return seqs

    def _append(
        self,
        records: Sequence[Mapping[str, Any]],
        seqs: list[int],
        snapshot: Mapping[str, Any] | None,
        snapshot_name: str,
        sessions: Mapping[str, Mapping[str, Any] | None] | None,
        snapshots: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        """`append`'s transaction; the sequence numbers go to `seqs`."""
        with self._transaction():
            for record in records:
                cur = self._db.execute(
                    "INSERT INTO journal (at, kind, data) VALUES (?, ?, ?)",
                    (float(record["at"]), str(record["type"]), json.dumps(record, sort_keys=True)),
                )
                seqs.append(int(cur.lastrowid or 0))
            if snapshot is not None:
                self._put_snapshot(snapshot_name, snapshot)
            for name, data in (snapshots or {}).items():
                self._put_snapshot(name, data)
            for user_id, session in (sessions or {}).items():
                if session is None:
                    self._db.execute("DELETE FROM session WHERE user_id = ?", (user_id,))
                else:
                    self._db.execute(
                        "INSERT INTO session (user_id, data) VALUES (?, ?) "
                        "ON CONFLICT(user_id) DO UPDATE SET data = excluded.data",
                        (user_id, json.dumps(session, sort_keys=True)),
                    )

    def load_sessions(self) -> list[dict[str, Any]]:
        """Every stored agent session record, by user id."""
        return [json.loads(row[0]) for row in self._db.execute("SELECT data FROM session ORDER BY user_id")]

    def journal(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        after_seq: int = 0,
        kinds: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Journal records in order, optionally within `[start, end)` and of some kinds.

        Each record is the dict that was appended plus its `seq`.
        """
        sql = "SELECT seq, data FROM journal WHERE seq > ?"
        args: list[Any] = [after_seq]
        if start is not None:
            sql += " AND at >= ?"
            args.append(start)
        if end is not None:
            sql += " AND at < ?"
            args.append(end)
        kind_list = list(kinds) if kinds is not None else None
        if kind_list is not None:
            sql += f" AND kind IN ({','.join('?' * len(kind_list))})"
            args.extend(kind_list)
        sql += " ORDER BY seq"
        for seq, data in self._db.execute(sql, args):
            record: dict[str, Any] = json.loads(data)
            record["seq"] = seq
            yield record

    def journal_count(self) -> int:
        """How many records the journal holds."""
        row = self._db.execute("SELECT COUNT(*) FROM journal").fetchone()
        return int(row[0])

    # -- snapshots ---------------------------------------------------------------------

    def save_snapshot(self, name: str, data: Mapping[str, Any]) -> None:
        """Replace the named snapshot; StoreError when SQLite refuses."""
        try:
            with self._transaction():
                self._put_snapshot(name, data)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: snapshot {name} was not saved: {exc}") from exc

    def load_snapshot(self, name: str = "acd") -> dict[str, Any] | None:
        """The named snapshot, or None when there is none yet."""
        row = self._db.execute("SELECT data FROM snapshot WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        result: dict[str, Any] = json.loads(row[0])
        return result

    def _put_snapshot(self, name: str, data: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO snapshot (name, data) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
            (name, json.dumps(data, sort_keys=True)),
        )

    # -- registrar bindings ------------------------------------------------------------

    def save_bindings(
        self,
        changed: Iterable[BindingRow],
        removed: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Upsert changed bindings (rows in `BINDING_COLUMNS` order) and delete removed keys, all
        or none (sip.binding_store.BindingStore); BindingStoreError when SQLite refuses."""
        try:
            self._save_bindings(changed, removed)
        except sqlite3.Error as exc:
            raise BindingStoreError(f"{self.state_dir / DB_NAME}: {exc}") from exc

    def _save_bindings(self, changed: Iterable[BindingRow], removed: Iterable[tuple[str, str]]) -> None:
        rows = changed if isinstance(changed, list) else list(changed)
        gone = removed if isinstance(removed, list) else list(removed)
        if len(rows) + len(gone) == 1:
            # the usual REGISTER refresh: one statement is its own transaction (autocommit),
            # committed when execute returns, without BEGIN/COMMIT round trips
            if rows:
                self._db.execute(_UPSERT_BINDING, rows[0])
            else:
                self._db.execute(_DELETE_BINDING, gone[0])
            return
        with self._transaction():
            if rows:
                self._db.executemany(_UPSERT_BINDING, rows)
            if gone:
                self._db.executemany(_DELETE_BINDING, gone)

    def load_bindings(self, now: float | None = None) -> list[BindingRow]:
        """Every stored binding as a row (only those not yet expired at `now`, when given)."""
        sql = f"SELECT {', '.join(BINDING_COLUMNS)} FROM registration"
        args: tuple[Any, ...] = ()
        if now is not None:
            sql += " WHERE expires_at > ?"
            args = (now,)
        return list(self._db.execute(sql + " ORDER BY username, contact", args))

    def _migrate_json_bindings(self) -> None:
        """Bindings saved by earlier versions (one JSON text each, table `binding`) move to
        `registration`'s columns once, in one transaction; the old table is then dropped."""
        old = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'binding'"
        ).fetchone()
        if old is None:
            return
        rows: list[BindingRow] = []
        for rowid, data in self._db.execute("SELECT rowid, data FROM binding"):
            try:
                b = json.loads(data)
                host, port = b["source"]
                rows.append((
                    str(b["username"]), str(b["contact"]), float(b["expires_at"]),
                    str(b["call_id"]), int(b["cseq"]), str(host), int(port), str(b["transport"]),
                    str(b.get("user_agent", "")), b.get("q"), b.get("instance_id"), b.get("reg_id"),
                ))
            except (ValueError, KeyError, TypeError) as exc:
                # stop rather than drop a phone's registration silently; the row is named
                raise StoreError(
                    f"{self.path}: binding row {rowid} of an earlier version cannot be read "
                    f"({type(exc).__name__}: {exc}); fix or delete it (sqlite3 {self.path} "
                    f"\"DELETE FROM binding WHERE rowid = {rowid}\") and start again"
                ) from exc
        with self._transaction():
            self._db.executemany(_UPSERT_BINDING, rows)
            self._db.execute("DROP TABLE binding")

    # -- H.323 gatekeeper registrations ------------------------------------------------

    def save_h323_registrations(self, changed: Iterable[RegistrationRow],
                                removed: Iterable[str] = ()) -> None:
        """Upsert changed registrations (rows in `H323_REGISTRATION_COLUMNS` order) and delete
        the removed endpointIdentifiers in one transaction (h323.registration_store.
        RegistrationStore); RegistrationStoreError when SQLite refuses."""
        try:
            with self._transaction():
                self._db.executemany(_UPSERT_H323, list(changed))
                self._db.executemany(_DELETE_H323, [(key,) for key in removed])
        except sqlite3.Error as exc:
            raise RegistrationStoreError(f"{self.state_dir / DB_NAME}: {exc}") from exc

    def load_h323_registrations(self, now: float | None = None) -> list[RegistrationRow]:
        """Every stored registration as a row (only those not yet expired at `now`, when given)."""
        sql = f"SELECT {', '.join(H323_REGISTRATION_COLUMNS)} FROM h323_registration"
        args: tuple[Any, ...] = ()
        if now is not None:
            sql += " WHERE expires_at > ?"
            args = (now,)
        return list(self._db.execute(sql + " ORDER BY endpoint_identifier", args))

    # -- health (GET /api/health), issue 17 --------------------------------------------

    def write_check(self, wait_seconds: float = 0.25) -> str | None:
        """None when a write transaction can start now, else why not (the database is locked
        by another writer, read-only, its disk failing). Takes the write lock and gives it back
        at once, waiting at most `wait_seconds` for it (not the 5 s commits wait)."""
        try:
            self._db.execute(f"PRAGMA busy_timeout={max(0, int(wait_seconds * 1000))}")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
            finally:
                self._db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            return str(exc)
        return None

    # -- plumbing ----------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
