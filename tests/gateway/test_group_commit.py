"""Group commit of registrar bindings: a burst of REGISTERs waiting in the SIP socket is stored
in one transaction (SQLite, and PostgreSQL below), and no 200 leaves before its binding is
committed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from acdgate.gateway.storage.postgres_store import PostgresStore
from acdgate.lab.postgres_cluster import PostgresCluster
from inprocess_gateway import World

STATIONS = ["2101", "2102", "2103"]


def test_a_burst_is_committed_once_and_answered_only_after_the_commit(local_gateway: World) -> None:
    credentials = {user: local_gateway.challenged(user) for user in STATIONS}
    statements: list[str] = []
    local_gateway.store._db.set_trace_callback(statements.append)
    for user in STATIONS:  # the burst: all three wait in the socket before the reader runs
        local_gateway.send(local_gateway.request(user, 2, credentials[user]))
    local_gateway.read_one()
    local_gateway.read_one()
    # two registrations accepted in memory, neither committed nor acknowledged
    assert local_gateway.stored() == set()
    assert local_gateway.no_answer_yet()
    local_gateway.read_one()  # the last of the burst: one commit, then every answer
    assert local_gateway.stored() == set(STATIONS)
    answers = [local_gateway.answer() for _ in STATIONS]
    assert all(a.startswith("SIP/2.0 200 ") for a in answers), answers
    assert sorted(re.search(r"Call-ID: gc-(\d+)", a)[1] for a in answers) == STATIONS  # type: ignore[index]
    commits = [s for s in statements if s.strip().upper() in ("COMMIT", "END")]
    writes = [s for s in statements if "INTO registration" in s]
    assert len(commits) == 1, statements
    assert len(writes) == len(STATIONS), statements


def test_a_lone_register_is_committed_and_answered_at_once(local_gateway: World) -> None:
    credentials = local_gateway.challenged("2101")
    local_gateway.send(local_gateway.request("2101", 2, credentials))
    local_gateway.read_one()
    assert local_gateway.stored() == {"2101"}
    assert local_gateway.answer().startswith("SIP/2.0 200 ")


def test_a_burst_cut_short_is_committed_on_the_next_reactor_turn(local_gateway: World) -> None:
    credentials = {user: local_gateway.challenged(user) for user in STATIONS[:2]}
    for user in STATIONS[:2]:
        local_gateway.send(local_gateway.request(user, 2, credentials[user]))
    local_gateway.read_one()  # the reader stops here (Twisted's per-wakeup byte budget, say)
    assert local_gateway.stored() == set() and local_gateway.no_answer_yet()
    local_gateway.clock.advance(0)
    assert local_gateway.stored() == {"2101"}
    assert local_gateway.answer().startswith("SIP/2.0 200 ")
    local_gateway.read_one()
    assert local_gateway.stored() == set(STATIONS[:2])
    assert local_gateway.answer().startswith("SIP/2.0 200 ")


def test_a_store_that_cannot_commit_gets_500_not_200(local_gateway: World) -> None:
    credentials = local_gateway.challenged("2101")
    local_gateway.store._db.close()  # the database is gone (disk pulled, file deleted, ...)
    local_gateway.send(local_gateway.request("2101", 2, credentials))
    local_gateway.read_one()
    answer = local_gateway.answer()
    assert answer.startswith("SIP/2.0 500 "), answer


@pytest.fixture
def pg_gateway(tmp_path: Path, postgres_cluster: PostgresCluster) -> Iterator[World]:
    """The in-process gateway on a PostgreSQL store (a new database of the test server)."""
    w = World(tmp_path / "state", PostgresStore(postgres_cluster.create_database(), tmp_path / "state"))
    try:
        yield w
    finally:
        w.close()


def test_on_postgresql_a_burst_is_one_transaction_committed_before_any_answer(pg_gateway: World) -> None:
    credentials = {user: pg_gateway.challenged(user) for user in STATIONS}
    for user in STATIONS:
        pg_gateway.send(pg_gateway.request(user, 2, credentials[user]))
    pg_gateway.read_one()
    pg_gateway.read_one()
    assert pg_gateway.stored() == set() and pg_gateway.no_answer_yet()
    pg_gateway.read_one()
    assert pg_gateway.stored() == set(STATIONS)  # seen by another connection: committed
    answers = [pg_gateway.answer() for _ in STATIONS]
    assert all(a.startswith("SIP/2.0 200 ") for a in answers), answers
    # the rows a transaction writes carry its id (xmin): one burst, one transaction
    with psycopg.connect(pg_gateway.store.location) as pg:
        assert len(pg.execute("SELECT DISTINCT xmin::text FROM registration").fetchall()) == 1


def test_on_postgresql_a_lost_connection_gets_500_not_200(pg_gateway: World) -> None:
    credentials = pg_gateway.challenged("2101")
    pg_gateway.store.close()  # the connection is gone (server down, network cut)
    pg_gateway.send(pg_gateway.request("2101", 2, credentials))
    pg_gateway.read_one()
    answer = pg_gateway.answer()
    assert answer.startswith("SIP/2.0 500 "), answer
