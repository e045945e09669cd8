"""Reading the journal on a connection of its own, for reports: from any thread, read-only.

A report streams the journal from its first record up to the end of its range. The gateway
serves `GET /api/reports/...` off the reactor thread, and SQLite connections belong to the
thread that opened them, so each read opens its own read-only connection (WAL lets it read
while the gateway appends) and closes it when the iteration ends or is abandoned.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# the store writes each record with json.dumps: no whitespace around it, so raw_decode (the
# C scanner without loads' two whitespace matches per call) reads it, a fifth faster
_DECODE = json.JSONDecoder().raw_decode


class JournalReadError(RuntimeError):
    """The journal cannot be read (no database there, or SQLite refused)."""


def read_journal(db_path: str | Path, *, end: float | None = None,
                 kinds: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """The journal's records in order (each the dict that was appended), those before `end`
    and of `kinds` only when given; the connection is closed when the iterator is."""
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
