"""A process that drives the ACD through AcdService as fast as it can, printing each
acknowledgement (the events `execute` returned, hence committed) as one JSON line.

The kill -9 test reads these lines, kills this process mid-stream, and checks that every
acknowledged event is in the journal and the restored sessions match. Arguments: the state
directory, then a PostgreSQL URL when the store under test is PostgreSQL.
"""

from __future__ import annotations

import json
import sys

from acdgate.acd.commands import Login, SetState
from acdgate.acd.events import event_to_record
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.location import open_store
from twisted.internet import task


def main() -> int:
    state_dir = sys.argv[1]
    url = sys.argv[2] if len(sys.argv) > 2 else None
    clock = task.Clock()  # the writer's time: one second per command, so intervals differ
    clock.advance(1_800_000_000)
    service = AcdService(clock, load_site(None), open_store(url, state_dir))
    users = [str(u) for u in range(3000, 3010)]
    stations = [str(s) for s in range(2101, 2111)]
    for user, station in zip(users, stations, strict=True):
        service.execute(Login(user, "1234", station))
    states = [AgentState.READY, AgentState.NOT_READY]
    for i in range(1_000_000):  # bounded; the test kills it long before
        clock.advance(1)
        user = users[i % len(users)]
        target = states[(i // len(users)) % 2]
        reason = (i % 3) + 1 if target is AgentState.NOT_READY else None
        events = service.execute(SetState(user, target, reason_code=reason))
        print(json.dumps([event_to_record(e) for e in events]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
