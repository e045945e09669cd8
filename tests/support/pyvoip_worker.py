"""A pyVoIP 1.6.8 phone in a process of its own, driven by JSON lines on stdin.

pyVoIP is GPLv3 and threaded: it never loads into the test process (which may load scapy,
GPLv2-only), and its `stop()` can hang, so the parent kills this process when done.
Commands: {"cmd": "status"}, {"cmd": "stop"}. Every answer is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--my-ip", default="127.0.0.1")
    parser.add_argument("--sip-port", type=int, required=True)
    args = parser.parse_args()

    from acdgate.lab.drivers.pyvoip_worker import event_channel, fix_socket_race
    from pyVoIP.VoIP import PhoneStatus, VoIPPhone

    fix_socket_race()  # before start(): pyVoIP's recv loop races call() for its socket

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP=args.my_ip,
                      sipPort=args.sip_port, rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40)

    events = event_channel()  # pyVoIP's own prints go to stderr

    def say(**fields: object) -> None:
        events.write(json.dumps(fields) + "\n")
        events.flush()

    try:
        phone.start()
    except Exception as exc:  # report, never hang the parent
        say(event="failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    say(event="started", status=phone.get_status().name, registered=phone.get_status() == PhoneStatus.REGISTERED)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "status":
            say(event="status", status=phone.get_status().name)
        elif command["cmd"] == "stop":
            break
    say(event="stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
