"""The state store on PostgreSQL (psycopg 3): the same tables and promises as the SQLite store,
on a server that the two nodes of an active/standby pair can share (issue 18).

Every write is one transaction, committed (the server's `synchronous_commit`, on by default:
the commit record is flushed to its WAL) before the method returns, so whatever the caller then
acknowledges survives `kill -9` of the gateway. The connection is synchronous on the reactor
thread, like SQLite's: docs/storage.md says why and what a commit costs. A lost connection is
not reconnected here: every write then fails (the phone gets no acknowledgement and retries)
and `write_check` says why, which is what the pair's fencing will build on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
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
    POSTGRES_MIGRATIONS,
    SCHEMA_VERSION_TABLE,
    Migration,
    MigrationError,
    pending,
)
from psycopg import conninfo

URL_SCHEMES = ("postgresql", "postgres")  # libpq's two URI schemes
CONNECT_TIMEOUT_SECONDS = 5  # unless the URL sets connect_timeout: start-up must not hang
# unless the URL sets tcp_user_timeout: a commit whose data the server stops acknowledging (a
# network split) fails after this many milliseconds instead of blocking the reactor for the
# kernel's ~15 minutes of retransmissions (docs/storage.md)
TCP_USER_TIMEOUT_MS = 5000
# pg_advisory_xact_lock key for migrations ("acdgate" as an int8), so that two nodes starting
# against one database migrate one after the other, not into each other
_MIGRATION_LOCK = 0x61636467617465

_UPSERT_BINDING = (
    f"INSERT INTO registration ({', '.join(BINDING_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(BINDING_COLUMNS))}) "
    "ON CONFLICT (username, contact) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in BINDING_COLUMNS[2:])
)
_DELETE_BINDING = "DELETE FROM registration WHERE username = %s AND contact = %s"
_UPSERT_H323 = (
    f"INSERT INTO h323_registration ({', '.join(H323_REGISTRATION_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(H323_REGISTRATION_COLUMNS))}) "
    "ON CONFLICT (endpoint_identifier) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in H323_REGISTRATION_COLUMNS[1:])
)
_DELETE_H323 = "DELETE FROM h323_registration WHERE endpoint_identifier = %s"


def is_postgres_url(location: str) -> bool:
    """Whether `location` is a PostgreSQL URL (`postgresql://...` or `postgres://...`)."""
    return location.split("://", 1)[0].lower() in URL_SCHEMES and "://" in location


def mask_url(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) as `***`, to print."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secret(url: str) -> str | None:
    """The URL's password, to keep it out of error messages that might quote it."""
    try:
        return conninfo.conninfo_to_dict(url).get("password") or None  # type: ignore[return-value]
    except psycopg.ProgrammingError:
        return None


def describe_error(url: str, exc: BaseException) -> str:
    """An error's message on one line, the URL's password replaced by `***` should it appear."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    password = _secret(url)
    return text.replace(password, "***") if password else text


def connect(url: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    """A connection to `url`, failing within CONNECT_TIMEOUT_SECONDS unless the URL says
    otherwise; StoreError naming the masked URL and the reason when it cannot be made."""
    if not is_postgres_url(url):
        raise StoreError(f"{mask_url(url)}: not a PostgreSQL URL (postgresql://user:password@host/db)")
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"{mask_url(url)}: not a usable PostgreSQL URL: {describe_error(url, exc)}") from None
    timeout = params.get("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    user_timeout = params.get("tcp_user_timeout", TCP_USER_TIMEOUT_MS)
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=timeout, tcp_user_timeout=user_timeout)
    except psycopg.Error as exc:
        raise StoreError(f"{mask_url(url)}: cannot connect: {describe_error(url, exc)}") from None


class PostgresStore:
    """The gateway's durable state in a PostgreSQL database (`contract.Store`)."""

    def __init__(self, url: str, state_dir: str | Path, *,
                 migrations: Sequence[Migration] = POSTGRES_MIGRATIONS) -> None:
        self._url = url
        self._state_dir = Path(state_dir)
        self._display = mask_url(url)
        self._db = connect(url, autocommit=True)
        try:
            self._migrate(migrations)
        except MigrationError as exc:
            self._db.close()
            raise StoreError(str(exc)) from None
        except psycopg.Error as exc:
            self._db.close()
            raise StoreError(f"{self._display}: cannot prepare the schema: {self._reason(exc)}") from None

    @property
    def state_dir(self) -> Path:
        """The local directory for what is not in the database (recordings)."""
        return self._state_dir

    @property
    def location(self) -> str:
        """The URL (with its password: the journal reader connects with it)."""
        return self._url

    @property
    def display_name(self) -> str:
        """The URL with its password masked."""
        return self._display

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def _reason(self, exc: BaseException) -> str:
        return describe_error(self._url, exc)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the migrations the database lacks in one transaction (migrations.py), under an
        advisory lock so that nodes starting together do it once."""
        with self._db.transaction(), self._db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(SCHEMA_VERSION_TABLE)
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            row = cur.fetchone()
            assert row is not None
            for migration in pending(int(row[0]), migrations, self._display):
                for statement in migration.statements:
                    cur.execute(statement)
                cur.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (%s, %s, %s)",
                            (migration.version, migration.description, time.time()))

    def schema_version(self) -> int:
        """The schema version the database is at."""
        row = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        assert row is not None
        return int(row[0])

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
        """Append journal records and save sessions and snapshots in one transaction; the
        records' sequence numbers once it is committed. StoreError when it was not."""
        seqs: list[int] = []
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                for record in records:
                    cur.execute(
                        "INSERT INTO journal (at, kind, data) VALUES (%s, %s, %s) RETURNING seq",
                        (float(record["at"]), str(record["type"]), json.dumps(record, sort_keys=True)),
                    )
                    row = cur.fetchone()
                    assert row is not None
                    seqs.append(int(row[0]))
                if snapshot is not None:
                    self._put_snapshot(cur, snapshot_name, snapshot)
                for name, data in (snapshots or {}).items():
                    self._put_snapshot(cur, name, data)
                for user_id, session in (sessions or {}).items():
                    if session is None:
                        cur.execute("DELETE FROM session WHERE user_id = %s", (user_id,))
                    else:
                        cur.execute(
                            "INSERT INTO session (user_id, data) VALUES (%s, %s) "
                            "ON CONFLICT (user_id) DO UPDATE SET data = EXCLUDED.data",
                            (user_id, json.dumps(session, sort_keys=True)),
                        )
        except psycopg.Error as exc:
            raise StoreError(f"{self._display}: the journal was not written: {self._reason(exc)}") from exc
        return seqs

    def load_sessions(self) -> list[dict[str, Any]]:
        """Every stored agent session record, by user id."""
        rows = self._db.execute("SELECT data FROM session ORDER BY user_id").fetchall()
        return [json.loads(row[0]) for row in rows]

    def journal(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        after_seq: int = 0,
        kinds: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Journal records in order (each the dict appended plus its `seq`), optionally within
        `[start, end)` and of some kinds."""
        sql = "SELECT seq, data FROM journal WHERE seq > %s"
        args: list[Any] = [after_seq]
        if start is not None:
            sql += " AND at >= %s"
            args.append(start)
        if end is not None:
            sql += " AND at < %s"
            args.append(end)
        if kinds is not None:
            sql += " AND kind = ANY(%s)"
            args.append(list(kinds))
        rows = self._db.execute((sql + " ORDER BY seq"), args).fetchall()
        for seq, data in rows:
            record: dict[str, Any] = json.loads(data)
            record["seq"] = int(seq)
            yield record

    def journal_count(self) -> int:
        """How many records the journal holds."""
        row = self._db.execute("SELECT COUNT(*) FROM journal").fetchone()
        assert row is not None
        return int(row[0])

    # -- snapshots ---------------------------------------------------------------------

    def save_snapshot(self, name: str, data: Mapping[str, Any]) -> None:
        """Replace the named snapshot."""
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                self._put_snapshot(cur, name, data)
        except psycopg.Error as exc:
            raise StoreError(f"{self._display}: snapshot {name} was not saved: {self._reason(exc)}") from exc

    def load_snapshot(self, name: str = "acd") -> dict[str, Any] | None:
        """The named snapshot, or None when there is none yet."""
        row = self._db.execute("SELECT data FROM snapshot WHERE name = %s", (name,)).fetchone()
        if row is None:
            return None
        result: dict[str, Any] = json.loads(row[0])
        return result

    @staticmethod
    def _put_snapshot(cur: psycopg.Cursor[Any], name: str, data: Mapping[str, Any]) -> None:
        cur.execute(
            "INSERT INTO snapshot (name, data) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data",
            (name, json.dumps(data, sort_keys=True)),
        )

    # -- registrar bindings ------------------------------------------------------------

    def save_bindings(self, changed: Iterable[BindingRow], removed: Iterable[tuple[str, str]] = ()) -> None:
        """Upsert changed bindings (rows in `BINDING_COLUMNS` order) and delete removed keys in
        one transaction (sip.binding_store.BindingStore); BindingStoreError when refused."""
        rows = list(changed)
        gone = list(removed)
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                if rows:
                    cur.executemany(_UPSERT_BINDING, rows)
                if gone:
                    cur.executemany(_DELETE_BINDING, gone)
        except psycopg.Error as exc:
            raise BindingStoreError(f"{self._display}: {self._reason(exc)}") from exc

    def load_bindings(self, now: float | None = None) -> list[BindingRow]:
        """Every stored binding as a row (only those not yet expired at `now`, when given)."""
        sql = f"SELECT {', '.join(BINDING_COLUMNS)} FROM registration"
        args: tuple[Any, ...] = ()
        if now is not None:
            sql += " WHERE expires_at > %s"
            args = (now,)
        return list(self._db.execute((sql + " ORDER BY username, contact"), args).fetchall())

    # -- H.323 gatekeeper registrations ------------------------------------------------

    def save_h323_registrations(self, changed: Iterable[RegistrationRow], removed: Iterable[str] = ()) -> None:
        """Upsert changed registrations and delete the removed endpointIdentifiers in one
        transaction (h323.registration_store.RegistrationStore); RegistrationStoreError when refused."""
        rows = list(changed)
        gone = [(key,) for key in removed]
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                if rows:
                    cur.executemany(_UPSERT_H323, rows)
                if gone:
                    cur.executemany(_DELETE_H323, gone)
        except psycopg.Error as exc:
            raise RegistrationStoreError(f"{self._display}: {self._reason(exc)}") from exc

    def load_h323_registrations(self, now: float | None = None) -> list[RegistrationRow]:
        """Every stored registration as a row (only those not yet expired at `now`, when given)."""
        sql = f"SELECT {', '.join(H323_REGISTRATION_COLUMNS)} FROM h323_registration"
        args: tuple[Any, ...] = ()
        if now is not None:
            sql += " WHERE expires_at > %s"
            args = (now,)
        return list(self._db.execute((sql + " ORDER BY endpoint_identifier"), args).fetchall())

    # -- health (GET /api/health) --------------------------------------------------------

    def write_check(self, wait_seconds: float = 0.25) -> str | None:
        """None when a write transaction can start now, else why not (the connection is lost,
        the server is a read-only standby). Runs a write that touches no row and rolls back,
        waiting at most `wait_seconds` for the server."""
        if self._db.closed:
            return f"{self._display}: the connection is closed"
        try:
            with self._db.transaction(force_rollback=True), self._db.cursor() as cur:
                cur.execute(f"SET LOCAL statement_timeout = {max(1, int(wait_seconds * 1000))}")
                # a write that touches no row: refused by a read-only transaction or a standby
                cur.execute("UPDATE schema_version SET version = version WHERE false")
        except psycopg.Error as exc:
            return f"{self._display}: {self._reason(exc)}"
        return None
