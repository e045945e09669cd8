"""Fixtures shared by the gateway tests: `acdgate run` in a child process, and the in-process
gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from acdgate.gateway.storage.contract import Store
from acdgate.gateway.storage.location import open_store
from acdgate.lab.postgres_cluster import PostgresCluster, PostgresUnavailable
from gateway_fixtures import gateway, start_gateway  # noqa: F401  (`acdgate run` in a child process)
from inprocess_gateway import local_gateway  # noqa: F401  (the in-process gateway fixture)

# -- the state store on both engines (issue 18) ----------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL server for the whole run (Debian's binaries, a temporary
    directory, 127.0.0.1 on a free port), stopped at the end. Missing binaries fail the tests
    that need it, saying what to install: never a skip."""
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"the PostgreSQL store's tests need a server: {exc}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The store under test: None for SQLite in the test's state directory, else the URL of a
    new empty database on the test server."""
    if request.param == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def open_test_store(store_url: str | None, tmp_path: Path) -> Callable[[], Store]:
    """Opens the store under test; each call opens it again on the same data, as a restart does."""
    return lambda: open_store(store_url, tmp_path / "state")


@pytest.fixture
def store_args(store_url: str | None) -> list[str]:
    """`acdgate run` options for the store under test (none: SQLite in --state-dir)."""
    return [] if store_url is None else ["--store", store_url]
