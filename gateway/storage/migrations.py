"""The state store's schema, as versioned migrations kept as data, for SQLite and PostgreSQL.

A database records in `schema_version` every migration applied to it (one row each); at
start-up the store applies those it lacks, in order, in one transaction, and refuses a
database whose version is newer than this gateway knows (a newer node of a pair migrated it:
running on it could write what the newer code no longer reads). Version 1 is the schema of
the SQLite store before it was versioned: its statements are idempotent (`IF NOT EXISTS`), so a
database from before versioning is brought to version 1 in place, its rows kept.

To change the schema, append a `Migration` with the next version to both lists; never edit
one that has shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: the statements that take a database from `version - 1` to
    `version`, run in one transaction with the row that records it."""

    version: int
    description: str
    statements: tuple[str, ...]


class MigrationError(RuntimeError):
    """The database's schema cannot be brought to this gateway's version (the message says why)."""


SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "journal, snapshots, agent sessions, SIP bindings, H.323 registrations", (
        """CREATE TABLE IF NOT EXISTS journal (
            seq   INTEGER PRIMARY KEY AUTOINCREMENT,
            at    REAL NOT NULL,
            kind  TEXT NOT NULL,
            data  TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS journal_at ON journal (at)",
        """CREATE TABLE IF NOT EXISTS snapshot (
            name  TEXT PRIMARY KEY,
            data  TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS session (
            user_id TEXT PRIMARY KEY,
            data    TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS registration (
            username    TEXT NOT NULL,
            contact     TEXT NOT NULL,
            expires_at  REAL NOT NULL,
            call_id     TEXT NOT NULL,
            cseq        INTEGER NOT NULL,
            source_host TEXT NOT NULL,
            source_port INTEGER NOT NULL,
            transport   TEXT NOT NULL,
            user_agent  TEXT NOT NULL,
            q           REAL,
            instance_id TEXT,
            reg_id      INTEGER,
            PRIMARY KEY (username, contact)
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS h323_registration (
            endpoint_identifier TEXT PRIMARY KEY,
            extension           TEXT NOT NULL,
            aliases             TEXT NOT NULL,
            call_signal_host    TEXT NOT NULL,
            call_signal_port    INTEGER NOT NULL,
            ras_host            TEXT NOT NULL,
            ras_port            INTEGER NOT NULL,
            source_host         TEXT NOT NULL,
            source_port         INTEGER NOT NULL,
            time_to_live        INTEGER NOT NULL,
            expires_at          REAL NOT NULL,
            endpoint_type       TEXT NOT NULL,
            vendor              TEXT NOT NULL
        ) WITHOUT ROWID""",
    )),
)

# The same tables on PostgreSQL: the journal's seq from an identity sequence, times as double
# precision (epoch seconds, as SQLite's REAL), records as the JSON text the gateway wrote (text,
# not jsonb, so a record reads back byte for byte as appended and the reader decodes it alike).
POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "journal, snapshots, agent sessions, SIP bindings, H.323 registrations", (
        """CREATE TABLE IF NOT EXISTS journal (
            seq   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at    DOUBLE PRECISION NOT NULL,
            kind  TEXT NOT NULL,
            data  TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS journal_at ON journal (at)",
        """CREATE TABLE IF NOT EXISTS snapshot (
            name  TEXT PRIMARY KEY,
            data  TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS session (
            user_id TEXT PRIMARY KEY,
            data    TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS registration (
            username    TEXT NOT NULL,
            contact     TEXT NOT NULL,
            expires_at  DOUBLE PRECISION NOT NULL,
            call_id     TEXT NOT NULL,
            cseq        BIGINT NOT NULL,
            source_host TEXT NOT NULL,
            source_port INTEGER NOT NULL,
            transport   TEXT NOT NULL,
            user_agent  TEXT NOT NULL,
            q           DOUBLE PRECISION,
            instance_id TEXT,
            reg_id      BIGINT,
            PRIMARY KEY (username, contact)
        )""",
        """CREATE TABLE IF NOT EXISTS h323_registration (
            endpoint_identifier TEXT PRIMARY KEY,
            extension           TEXT NOT NULL,
            aliases             TEXT NOT NULL,
            call_signal_host    TEXT NOT NULL,
            call_signal_port    INTEGER NOT NULL,
            ras_host            TEXT NOT NULL,
            ras_port            INTEGER NOT NULL,
            source_host         TEXT NOT NULL,
            source_port         INTEGER NOT NULL,
            time_to_live        BIGINT NOT NULL,
            expires_at          DOUBLE PRECISION NOT NULL,
            endpoint_type       TEXT NOT NULL,
            vendor              TEXT NOT NULL
        )""",
    )),
)

SCHEMA_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  DOUBLE PRECISION NOT NULL
)"""


def latest_version(migrations: Sequence[Migration]) -> int:
    """The version a database has once every migration is applied."""
    return migrations[-1].version if migrations else 0


def pending(current: int, migrations: Sequence[Migration], where: str) -> list[Migration]:
    """The migrations a database at `current` lacks, in order; MigrationError when it is newer
    than these migrations know or the list skips a version (a coding mistake, caught at start)."""
    for i, m in enumerate(migrations):
        if m.version != i + 1:
            raise MigrationError(f"migration {i + 1} is numbered {m.version}: versions must run 1, 2, 3 ...")
    newest = latest_version(migrations)
    if current > newest:
        raise MigrationError(
            f"{where}: the database's schema is version {current}, newer than this gateway's "
            f"{newest} (a newer acdgate migrated it): run that version, or a copy of the database"
        )
    return [m for m in migrations if m.version > current]
