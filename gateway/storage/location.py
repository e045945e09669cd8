"""Which state store to open: PostgreSQL when a URL is given (`--store`, else the site file's
`[store] url`), else the embedded SQLite store under the state directory."""

from __future__ import annotations

from pathlib import Path

from acdgate.gateway.storage.contract import Store, StoreError
from acdgate.gateway.storage.postgres_store import PostgresStore, is_postgres_url, mask_url
from acdgate.gateway.storage.store import StateStore


def open_store(url: str | None, state_dir: str | Path) -> Store:
    """The store at `url` (PostgreSQL), or SQLite in `state_dir` when `url` is None; migrated to
    this gateway's schema. StoreError naming the store (password masked) and the reason."""
    if url is None:
        return StateStore(Path(state_dir))
    if not is_postgres_url(url):
        raise StoreError(f"{mask_url(url)}: not a store URL: give postgresql://user:password@host/database "
                         "(or no URL for the SQLite store in --state-dir)")
    return PostgresStore(url, state_dir)


def choose_url(cli_url: str | None, site_url: str | None) -> str | None:
    """The store URL to use: the command line's wins over the site file's; None for SQLite."""
    return cli_url if cli_url is not None else site_url
