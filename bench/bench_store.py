"""Commit latency of the state store, SQLite beside PostgreSQL (issue 18): what the reactor
waits for each time the gateway acknowledges something to a phone.

Each store, in turn, gets `--commits` (default 2,000) of the gateway's two commonest commits,
one at a time as the reactor makes them, after 100 unmeasured ones:
- append: what `AcdService.execute` commits for a state change: one journal record and the
  agent's session row, in one transaction;
- bindings: what the SIP service's group commit stores for a lone REGISTER refresh: one
  binding row upserted.
Stores: SQLite with `synchronous=NORMAL` (the default: durable against a crash of the process)
and `FULL` (an fsync per commit: power loss too), and PostgreSQL: a throw-away cluster of
Debian's `postgresql` started on loopback (lab/postgres_cluster.py; `synchronous_commit=on`,
`fsync=on`, the server's defaults), or the server at `--store URL`. The database files sit in
the temporary directory (`TMPDIR`), so both engines write to the same disk.

Prints p50, p99 and max in milliseconds for each store and commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from acdgate.gateway.storage.contract import Store
from acdgate.gateway.storage.postgres_store import PostgresStore, mask_url
from acdgate.gateway.storage.store import StateStore
from acdgate.lab.postgres_cluster import PostgresCluster

WARM_UP = 100
NOW = 1_800_000_000.0


def append_once(store: Store, i: int) -> None:
    """One state change as AcdService commits it: the event and the agent's session row."""
    user = str(3000 + i % 10)
    store.append(
        [{"type": "StateChanged", "at": NOW + i, "user_id": user, "station": str(2101 + i % 10),
          "old": "not-ready", "new": "ready", "reason_code": None, "wrapup_code": None, "call_id": None}],
        sessions={user: {"user_id": user, "station": str(2101 + i % 10), "state": "ready", "since": NOW + i}},
    )


def binding_once(store: Store, i: int) -> None:
    """One REGISTER refresh: the binding row upserted."""
    user = str(2101 + i % 10)
    store.save_bindings([(user, f"sip:{user}@192.0.2.{i % 10}:5060", NOW + 3600 + i, f"c{user}@bench", i,
                          f"192.0.2.{i % 10}", 5060, "UDP", "bench", None, None, None)])


def measure(store: Store, commit: Callable[[Store, int], None], count: int) -> list[float]:
    """Milliseconds of each of `count` commits, after WARM_UP unmeasured ones."""
    for i in range(WARM_UP):
        commit(store, i)
    times = []
    for i in range(count):
        t0 = time.perf_counter()
        commit(store, WARM_UP + i)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def row(name: str, what: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<28} {what:<9} p50 {statistics.median(ordered):7.3f}  p99 {p99:7.3f}  max {ordered[-1]:7.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=2000, help="measured commits of each kind (default 2000)")
    parser.add_argument("--store", metavar="URL", help="a PostgreSQL server to measure instead of a throw-away one")
    args = parser.parse_args()
    cluster = None if args.store else PostgresCluster().start()
    try:
        url = args.store or cluster.create_database("bench")  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            stores: list[tuple[str, Callable[[], Store]]] = [
                ("sqlite synchronous=NORMAL", lambda: StateStore(Path(tmp) / "normal")),
                ("sqlite synchronous=FULL", lambda: StateStore(Path(tmp) / "full", durability="full")),
                (f"postgresql {'(--store)' if args.store else 'loopback'}", lambda: PostgresStore(url, Path(tmp) / "pg")),
            ]
            print(f"{args.commits} commits each, milliseconds; PostgreSQL at {mask_url(url)}")
            for name, open_ in stores:
                store = open_()
                try:
                    for what, commit in (("append", append_once), ("bindings", binding_once)):
                        print(row(name, what, measure(store, commit, args.commits)), flush=True)
                finally:
                    store.close()
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
