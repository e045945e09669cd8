"""What the gateway needs of a state store, whichever engine keeps it (SQLite or PostgreSQL).

`StateStore` (SQLite, embedded default) and `PostgresStore` (a server the nodes of a pair
share) both satisfy `Store`; the gateway, the ACD service, the registrar's and the RAS edge's
group commits see only this. Every write returns once it is committed, so what the caller then
acknowledges to a phone survives `kill -9` of the gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from acdgate.gateway.h323.ras_events import RegistrationRow

# one registrar binding's values in `BINDING_COLUMNS` order (the registrar's `Binding.to_row`)
BindingRow = Sequence[Any]

# A registrar binding as the store keeps it, one column each (the order of a row tuple).
BINDING_COLUMNS = (
    "username", "contact", "expires_at", "call_id", "cseq", "source_host", "source_port",
    "transport", "user_agent", "q", "instance_id", "reg_id",
)  # fmt: skip

# An H.323 gatekeeper registration, one column each in `h323.ras_events.Registration.to_row`
# order; the aliases are a JSON list of [kind, value].
H323_REGISTRATION_COLUMNS = (
    "endpoint_identifier", "extension", "aliases", "call_signal_host", "call_signal_port",
    "ras_host", "ras_port", "source_host", "source_port", "time_to_live", "expires_at",
    "endpoint_type", "vendor",
)  # fmt: skip


class StoreError(RuntimeError):
    """The state store cannot be used (opened, migrated or written); the message says which
    store (a path, or a URL with its password masked) and why."""


class Store(Protocol):
    """The gateway's durable state: journal, agent sessions, snapshots, SIP bindings, H.323
    registrations. Writes are transactions committed before they return."""

    @property
    def state_dir(self) -> Path:
        """The local directory for what is not in the database (recordings)."""
        ...

    @property
    def location(self) -> str:
        """Where the store is, for a second connection of its own (the journal reader): the
        SQLite file's path, or the PostgreSQL URL (with its password: never print it)."""
        ...

    @property
    def display_name(self) -> str:
        """Where the store is, safe to print and log (a URL's password masked)."""
        ...

    def close(self) -> None:
        """Close the store's connection."""
        ...

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
        records' journal sequence numbers, once committed."""
        ...

    def load_sessions(self) -> list[dict[str, Any]]:
        """Every stored agent session record, by user id."""
        ...

    def journal(
        self,
        start: float | None = None,
        end: float | None = None,
        *,
        after_seq: int = 0,
        kinds: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Journal records in order (each with its `seq`), optionally within `[start, end)`."""
        ...

    def journal_count(self) -> int:
        """How many records the journal holds."""
        ...

    def save_snapshot(self, name: str, data: Mapping[str, Any]) -> None:
        """Replace the named snapshot."""
        ...

    def load_snapshot(self, name: str = "acd") -> dict[str, Any] | None:
        """The named snapshot, or None when there is none yet."""
        ...

    def save_bindings(self, changed: Iterable[BindingRow], removed: Iterable[tuple[str, str]] = ()) -> None:
        """Upsert bindings and delete (username, contact) keys, all or none; BindingStoreError
        when that could not be done (sip.binding_store)."""
        ...

    def load_bindings(self, now: float | None = None) -> list[BindingRow]:
        """Every stored binding (only those not yet expired at `now`, when given)."""
        ...

    def save_h323_registrations(self, changed: Iterable[RegistrationRow], removed: Iterable[str] = ()) -> None:
        """Upsert registrations and delete endpointIdentifiers, all or none;
        RegistrationStoreError when that could not be done (h323.registration_store)."""
        ...

    def load_h323_registrations(self, now: float | None = None) -> list[RegistrationRow]:
        """Every stored registration (only those not yet expired at `now`, when given)."""
        ...

    def write_check(self, wait_seconds: float = 0.25) -> str | None:
        """None when a write transaction can start now, else why not (GET /api/health)."""
        ...

    def schema_version(self) -> int:
        """The schema version the database is at (migrations.latest_version once open)."""
        ...
