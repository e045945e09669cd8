"""Reading the journal on a connection of its own, for reports: from any thread, read-only.

A report streams the journal from its first record up to the end of its range. The gateway
serves `GET /api/reports/...` off the reactor thread, and SQLite connections belong to the
thread that opened them, so each read opens its own read-only connection (WAL lets it read
while the gateway appends) and closes it when the iteration ends or is abandoned. On
PostgreSQL (a `postgresql://` URL) the read is a read-only transaction on its own connection,
streamed through a server-side cursor so a year of journal is never held in memory at once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from acdgate.gateway.storage.contract import StoreError
from acdgate.gateway.storage.postgres_store import (
    connect,
    describe_error,
    is_postgres_url,
    mask_url,
)

_PG_BATCH = 2000  # records a server-side cursor fetch brings

# the store writes each record with json.dumps: no whitespace around it, so raw_decode (the
# C scanner without loads' two whitespace matches per call) reads it, a fifth faster
_DECODE = json.JSONDecoder().raw_decode


class JournalReadError(RuntimeError):
    """The journal cannot be read (no database there, or SQLite refused)."""


def read_journal(db_path: str | Path, *, end: float | None = None,
                 kinds: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """The journal's records in order (each the dict that was appended), those before `end`
    and of `kinds` only when given; the connection is closed when the iterator is. `db_path`
    is the SQLite file, or a PostgreSQL URL."""
    if isinstance(db_path, str) and is_postgres_url(db_path):
        try:
            connection = connect(db_path, autocommit=False)
        except StoreError as exc:
            raise JournalReadError(str(exc)) from None
        connection.read_only = True
        return _pg_records(connection, db_path, end, kinds)
    path = Path(db_path)
    if not path.is_file():
        raise JournalReadError(f"{path}: no state store here")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise JournalReadError(f"{path}: cannot open the state store: {exc}") from exc
    return _records(db, end, kinds)


def _records(db: sqlite3.Connection, end: float | None,
             kinds: Sequence[str] | None) -> Iterator[dict[str, Any]]:
    sql = "SELECT data FROM journal"
    where: list[str] = []
    args: list[Any] = []
    if end is not None:
        where.append("at < ?")
        args.append(end)
    if kinds is not None:
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        args.extend(kinds)
    if where:
        sql += " WHERE " + " AND ".join(where)
    try:
        for (data,) in db.execute(sql + " ORDER BY seq", args):
            yield _DECODE(data)[0]
    except sqlite3.Error as exc:
        raise JournalReadError(f"reading the journal: {exc}") from exc
    finally:
        db.close()


def _pg_records(db: psycopg.Connection[Any], url: str, end: float | None,
                kinds: Sequence[str] | None) -> Iterator[dict[str, Any]]:
    sql = "SELECT data FROM journal"
    where: list[str] = []
    args: list[Any] = []
    if end is not None:
        where.append("at < %s")
        args.append(end)
    if kinds is not None:
        where.append("kind = ANY(%s)")
        args.append(list(kinds))
    if where:
        sql += " WHERE " + " AND ".join(where)
    try:
        with db.cursor(name="acdgate_journal") as cur:  # server-side: fetched in batches
            cur.itersize = _PG_BATCH
            cur.execute(sql + " ORDER BY seq", args)
            for (data,) in cur:
                yield _DECODE(data)[0]
    except psycopg.Error as exc:
        raise JournalReadError(f"{mask_url(url)}: reading the journal: {describe_error(url, exc)}") from exc
    finally:
        db.close()
