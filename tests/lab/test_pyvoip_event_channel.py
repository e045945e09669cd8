"""`event_channel`: a pyVoIP worker's standard output carries its JSON event lines and nothing
else, whatever pyVoIP prints from its threads (a real child process, as the workers run)."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, os, threading
from acdgate.lab.drivers.pyvoip_worker import event_channel
events = event_channel()
def chatter():
    for _ in range(200):
        print("TODO: Add 500 Error on Receiving SIP Response")  # what pyVoIP prints
talkers = [threading.Thread(target=chatter) for _ in range(4)]
for t in talkers:
    t.start()
for n in range(200):
    events.write(json.dumps({"event": "tick", "n": n}) + "\\n")
    events.flush()
for t in talkers:
    t.join()
os.write(1, b"written to fd 1 by C code\\n")
events.write(json.dumps({"event": "done"}) + "\\n")
events.flush()
"""


def test_only_events_reach_stdout_and_the_chatter_goes_to_stderr() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [*({"event": "tick", "n": n} for n in range(200)),
                                                    {"event": "done"}]
    assert done.stderr.count("TODO: Add 500 Error on Receiving SIP Response") == 800  # newlines may interleave
    assert "written to fd 1 by C code\n" in done.stderr
