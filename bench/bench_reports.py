"""Archived reports over a large journal: `acdgate report`'s path (the store's ordered read of
the report's record kinds, then `acd.reports.build_report`) against a plain full scan of the
journal table in the same run.

A synthetic journal of `--events` records (default 1,000,000, at most 5,000,000) is written
by the real ACD engine on the demo site: the 10 agents log on and go Ready, calls arrive at
the four monitored groups and the collective one at random, ring, are answered after a few
seconds and talked for one to five minutes, some callers give up while queued, agents take
Not Ready breaks with a reason now and then; the engine's timers (wrap-up, overflow) fire in
time. Its events go to a real state store in transactions of 20,000 records.

Then, each timed once (`--rounds` for more, the best is printed):
- scan: `SELECT seq, data FROM journal ORDER BY seq`, every row fetched, nothing parsed;
- scan + json: the same, each row's JSON parsed (what any reader of the journal pays);
- report: what `acdgate report` does: every report record kind read in order on a read-only
  connection (gateway/storage/journal_reader.py) and folded into the 15-minute report of the
  whole journal's range (agents and groups, the per-interval and per-range rows).
Prints the time and events/s of each and the report's cost relative to the scans.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acdgate.acd import commands as c
from acdgate.acd.engine import Acd
from acdgate.acd.events import CallConnected, CallQueued, Event, OfferCall, event_to_record
from acdgate.acd.reports import REPORT_KINDS, Granularity, build_report
from acdgate.acd.states import AgentState
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.gateway.storage.store import DB_NAME, StateStore

MAX_EVENTS = 5_000_000
BATCH = 20_000
START = 1_796_601_600.0  # 2026-12-07 00:00 UTC


def build_journal(store: StateStore, events: int, seed: int) -> tuple[float, float]:
    """Drive the engine until `events` records are journaled; (first, last) record time."""
    rng = random.Random(seed)
    site = load_site(None)
    acd = Acd(site)
    groups = [g.number for g in site.groups]
    agents = [(s.agent, s.extension) for s in site.stations if s.agent is not None]
    pending: list[Any] = []
    written = 0
    queue: list[tuple[float, int, c.Command]] = []
    seq = 0
    ended: set[str] = set()

    def push(at: float, command: c.Command) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, seq, command))

    def journal(out: list[Event]) -> None:
        nonlocal written
        for e in out:  # the phone answers after a few rings; the call is talked, then ends
            if isinstance(e, OfferCall):
                push(now + rng.uniform(2, 8), c.CallAnswered(e.call_id, e.user_id))
            elif isinstance(e, CallConnected):
                push(now + rng.uniform(60, 300), c.CallEnded(e.call_id))
        pending.extend(event_to_record(e) for e in out)
        if len(pending) >= BATCH:
            store.append(pending)
            written += len(pending)
            pending.clear()

    now = START
    for user, station in agents:
        journal(acd.handle(c.Login(user, "1234", station), now))
        journal(acd.handle(c.SetState(user, AgentState.READY), now))
    calls = 0
    next_arrival = now
    next_break = now + 600
    while written + len(pending) < events:
        at = min(next_arrival, next_break, queue[0][0] if queue else next_arrival)
        deadline = acd.next_deadline()
        if deadline is not None and deadline <= at:
            now = deadline
            journal(acd.advance(now))
            continue
        now = at
        if at == next_arrival:
            calls += 1
            call_id = f"c{calls}"
            out = acd.handle(c.CallArrived(call_id, rng.choice(groups), ani=f"0{rng.randrange(10**9)}"), now)
            if any(isinstance(e, CallQueued) for e in out) and rng.random() < 0.3:
                push(now + rng.uniform(1, 40), c.CallEnded(call_id))  # the caller gives up
            journal(out)
            next_arrival = now + rng.expovariate(1 / 40)
        elif at == next_break:
            user, _ = rng.choice(agents)
            agent = acd.agent(user)
            if agent is not None and agent.state is AgentState.READY:
                journal(acd.handle(c.SetState(user, AgentState.NOT_READY, reason_code=rng.choice((1, 2, 3))), now))
                push(now + rng.uniform(60, 900), c.SetState(user, AgentState.READY))
            next_break = now + rng.expovariate(1 / 300)
        else:
            _, _, command = heapq.heappop(queue)
            if isinstance(command, c.CallEnded):
                if command.call_id in ended:
                    continue
                ended.add(command.call_id)
            elif isinstance(command, c.CallAnswered):
                agent = acd.agent(command.user_id)  # a collective group's other members stop ringing
                if agent is None or agent.state is not AgentState.RESERVED or agent.call_id != command.call_id:
                    continue
            elif isinstance(command, c.SetState):
                agent = acd.agent(command.user_id)
                if agent is None or agent.state is not AgentState.NOT_READY:
                    continue
            journal(acd.handle(command, now))
    if pending:
        store.append(pending)
    return START, now


def timed(rounds: int, work: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000, help="journal records (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=1, help="time each step this many times, keep the best")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", metavar="DIR", help="build the journal in DIR and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    if not 1_000 <= args.events <= MAX_EVENTS:
        parser.error(f"--events must be 1,000-{MAX_EVENTS:,}")
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        state = Path(args.keep) if args.keep else Path(tmp)
        store = StateStore(state)
        t0 = time.perf_counter()
        first, last = build_journal(store, args.events, args.seed)
        total = store.journal_count()
        print(f"journal: {total:,} records over {(last - first) / 86400:.1f} days, "
              f"written in {time.perf_counter() - t0:.1f} s ({store.path.stat().st_size / 1e6:.0f} MB)")
        store.close()
        db = sqlite3.connect(state / "acdgate.sqlite3")

        def scan() -> int:
            return sum(1 for _ in db.execute("SELECT seq, data FROM journal ORDER BY seq"))

        def scan_json() -> int:
            return sum(1 for _, data in db.execute("SELECT seq, data FROM journal ORDER BY seq") if json.loads(data))

        def report() -> Any:  # what `acdgate report` does
            records = read_journal(state / DB_NAME, end=last + 1, kinds=REPORT_KINDS)
            return build_report(records, first, last + 1, load_site(None), Granularity.MINUTES_15, detail=False)

        t_scan, n = timed(args.rounds, scan)
        t_json, _ = timed(args.rounds, scan_json)
        t_report, rep = timed(args.rounds, report)
        db.close()
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for name, seconds in (("scan", t_scan), ("scan + json", t_json), ("report", t_report)):
            print(f"  {name:<12} {seconds:7.2f} s  {n / seconds:12,.0f} events/s")
        print(f"  report / scan: {t_report / t_scan:.1f}x   report / scan + json: {t_report / t_json:.2f}x")
        offered = sum(g.offered for g in rep.group_totals)
        print(f"report: {len(rep.groups):,} group rows, {len(rep.agents):,} agent rows, "
              f"{len(rep.not_ready_periods):,} Not Ready periods, {offered:,} calls offered to monitored groups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
