"""Group commit of registrar bindings: a burst of REGISTERs waiting in the SIP socket is stored
in one SQLite transaction, and no 200 leaves before its binding is committed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from inprocess_gateway import World

STATIONS = ["2101", "2102", "2103"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "state")
    try:
        yield w
    finally:
        w.close()


def test_a_burst_is_committed_once_and_answered_only_after_the_commit(world: World) -> None:
    credentials = {user: world.challenged(user) for user in STATIONS}
    statements: list[str] = []
    world.store._db.set_trace_callback(statements.append)
    for user in STATIONS:  # the burst: all three wait in the socket before the reader runs
        world.send(world.request(user, 2, credentials[user]))
    world.read_one()
    world.read_one()
    # two registrations accepted in memory, neither committed nor acknowledged
    assert world.stored() == set()
    assert world.no_answer_yet()
    world.read_one()  # the last of the burst: one commit, then every answer
    assert world.stored() == set(STATIONS)
    answers = [world.answer() for _ in STATIONS]
    assert all(a.startswith("SIP/2.0 200 ") for a in answers), answers
    assert sorted(re.search(r"Call-ID: gc-(\d+)", a)[1] for a in answers) == STATIONS  # type: ignore[index]
    commits = [s for s in statements if s.strip().upper() in ("COMMIT", "END")]
    writes = [s for s in statements if "INSERT INTO binding" in s]
    assert len(commits) == 1, statements
    assert len(writes) == len(STATIONS), statements


def test_a_lone_register_is_committed_and_answered_at_once(world: World) -> None:
    credentials = world.challenged("2101")
    world.send(world.request("2101", 2, credentials))
    world.read_one()
    assert world.stored() == {"2101"}
    assert world.answer().startswith("SIP/2.0 200 ")


def test_a_burst_cut_short_is_committed_on_the_next_reactor_turn(world: World) -> None:
    credentials = {user: world.challenged(user) for user in STATIONS[:2]}
    for user in STATIONS[:2]:
        world.send(world.request(user, 2, credentials[user]))
    world.read_one()  # the reader stops here (Twisted's per-wakeup byte budget, say)
    assert world.stored() == set() and world.no_answer_yet()
    world.clock.advance(0)
    assert world.stored() == {"2101"}
    assert world.answer().startswith("SIP/2.0 200 ")
    world.read_one()
    assert world.stored() == set(STATIONS[:2])
    assert world.answer().startswith("SIP/2.0 200 ")


def test_a_store_that_cannot_commit_gets_500_not_200(world: World) -> None:
    credentials = world.challenged("2101")
    world.store._db.close()  # the database is gone (disk pulled, file deleted, ...)
    world.send(world.request("2101", 2, credentials))
    world.read_one()
    answer = world.answer()
    assert answer.startswith("SIP/2.0 500 "), answer
