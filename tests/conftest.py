"""Suite-wide fixtures: reactor hygiene, and the helpers every layer's tests share."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check what is computed, never how fast: Hypothesis's 200 ms deadline per example
# only made a loaded CI machine fail them. A developer's run draws new examples each time (it
# found a harness bug in test_transaction_layer once); CI's (`.ci/run` sets ACDGATE_HYPOTHESIS=ci)
# draws the same ones on every run, so a red CI means a change broke something, and a failure
# found while developing is kept as an @example.
settings.register_profile("acdgate", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("ACDGATE_HYPOTHESIS") == "ci" else "acdgate")

# Test support modules (SIP clients, softphone workers, namespaces) live beside this file;
# the gateway process launcher is the lab's (acdgate.lab.gateway_process).
sys.path.insert(0, str(Path(__file__).parent / "support"))


def _children() -> set[int]:
    """Live child processes of this process (zombies excluded), from /proc."""
    me = os.getpid()
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != b"Z":
            found.add(int(entry))
    return found


@pytest.fixture(autouse=True)
def reactor_hygiene(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves delayed calls, listening ports or child processes behind.

    pytest-twisted runs one reactor for the whole session and never checks it is clean
    (DESIGN.md): this does, for every test.
    """
    children_before = _children()
    reactor = sys.modules.get("twisted.internet.reactor")
    readers_before = set(reactor.getReaders()) if reactor is not None else set()  # type: ignore[attr-defined]
    yield
    problems = []
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None:
        calls = [c for c in reactor.getDelayedCalls() if c.active()]  # type: ignore[attr-defined]
        if calls:
            for c in calls:
                c.cancel()
            problems.append(f"left {len(calls)} delayed call(s): {calls[:3]}")
        # the reactor's own wakers (signals, threads) come and go with it, not with a test
        readers = {r for r in set(reactor.getReaders()) - readers_before  # type: ignore[attr-defined]
                   if "Waker" not in type(r).__name__}
        if readers:
            for r in readers:
                reactor.removeReader(r)  # type: ignore[attr-defined]
                if hasattr(r, "loseConnection"):
                    r.loseConnection()
            problems.append(f"left {len(readers)} listening port(s) or connection(s): {list(readers)[:3]}")
    children = _children() - children_before
    if children:
        for pid in children:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (OSError, ChildProcessError):
                pass
        problems.append(f"left child process(es) running: {sorted(children)}")
    if problems:
        pytest.fail("reactor hygiene: " + "; ".join(problems), pytrace=False)
