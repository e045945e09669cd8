"""A pyVoIP 1.6.8 phone in a process of its own, driven by JSON lines on stdin.

Run as `python -m acdgate.lab.drivers.pyvoip_worker --server ... --user ...`. pyVoIP is GPLv3
and threaded: it never loads into the harness process (which may load scapy, GPLv2-only),
and its `stop()` can hang, so the parent kills this process when done.

Commands (one JSON object a line): {"cmd": "status"}, {"cmd": "dial", "number": "*37"},
{"cmd": "dtmf", "digits": "1234#"} (in-band: generated tones written with `write_audio`,
since pyVoIP sends neither RFC 4733 nor SIP INFO), {"cmd": "hangup"}, {"cmd": "answer"},
{"cmd": "stop"}. Events, one JSON object a line on stdout: started, answered, refused
(status, reason), ended (by, audio: a file of the received 8-bit audio), incoming (caller),
error.

Workarounds for pyVoIP's quirks (docs/lab.md lists them all): final error responses to an
INVITE are reported and ACKed here (pyVoIP ignores any but 404/503 and never ACKs them).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--my-ip", default="127.0.0.1")
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--audio-dir", default=".")
    args = parser.parse_args()

    # pyVoIP.VoIP first: importing pyVoIP.SIP first trips pyVoIP's circular import
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone  # type: ignore[import-untyped]

    # isort: split
    from pyVoIP.SIP import SIPMessageType  # type: ignore[import-untyped]

    out_lock = threading.Lock()

    def say(**fields: object) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(fields) + "\n")
            sys.stdout.flush()

    calls: dict[str, Any] = {}
    current: list[Any] = []
    audio_dir = Path(args.audio_dir)

    def incoming(call: Any) -> None:
        headers = call.request.headers
        caller = headers.get("From", {})
        say(event="incoming", call_id=str(call.call_id), caller=str(caller.get("number", "")),
            display=str(caller.get("caller", "")), raw_from=str(caller.get("raw", "")))
        current[:] = [call]
        watch(call)

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP=args.my_ip,
                      sipPort=args.sip_port, rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40,
                      callCallback=incoming)

    def watch(call: Any) -> None:
        """Follow a call: report answer and end, record what it received."""
        def body() -> None:
            clients: list[Any] = []
            while call.state is not CallState.ENDED and call.call_id not in refused:
                if call.state is CallState.ANSWERED and not clients:
                    clients = list(call.RTPClients)
                    say(event="answered", call_id=str(call.call_id))
                time.sleep(0.02)  # pyVoIP offers no call-state callback: poll at the packet rate
            # What was received, in RTP timestamp order: pyVoIP's own receive buffer (reading it
            # with read_audio at our pace would lag and lose the end of the call).
            audio = b"".join(c.pmin.buffer.getvalue() for c in clients[:1])
            if call.call_id in refused:
                return
            path = audio_dir / f"{args.user}-{len(calls)}-{int(time.time() * 1000)}.u8"
            path.write_bytes(bytes(audio))
            say(event="ended", call_id=str(call.call_id), by=hung_up.pop(call.call_id, "remote"),
                audio=str(path))
        calls[call.call_id] = call
        threading.Thread(target=body, daemon=True).start()

    refused: set[str] = set()
    hung_up: dict[str, str] = {}
    original_parse = phone.sip.parse_message

    def parse_message(message: Any) -> None:
        # pyVoIP drops final error responses (bar 404/503): report and ACK them ourselves.
        if message.type is not SIPMessageType.MESSAGE and int(message.status.value) >= 300:
            call_id = message.headers.get("Call-ID", "")
            if call_id in calls and int(message.status.value) != 401:
                if call_id not in refused:
                    refused.add(call_id)
                    say(event="refused", call_id=call_id, status=int(message.status.value),
                        reason=str(message.status.phrase) if hasattr(message.status, "phrase") else "",
                        heading=message.heading.decode("utf-8", "replace") if isinstance(message.heading, bytes) else str(message.heading))
                ack = phone.sip.gen_ack(message)
                phone.sip.out.sendto(ack.encode("utf8"), (phone.sip.server, phone.sip.port))
                return
        original_parse(message)

    phone.sip.parse_message = parse_message  # type: ignore[method-assign]
    original_gen_invite = phone.sip.gen_invite

    def gen_invite(number: str, sess_id: str, ms: Any, sendtype: Any, branch: str, call_id: str) -> Any:
        # pyVoIP re-sends the authenticated INVITE with the branch of the challenged one, so a
        # gateway matches it to the finished transaction (RFC 3261 17.2.3) and drops it: a
        # fresh branch per INVITE makes it the new transaction it is.
        fresh = "z9hG4bK" + phone.sip.gen_call_id()[0:25]
        return original_gen_invite(number, sess_id, ms, sendtype, fresh, call_id)

    phone.sip.gen_invite = gen_invite  # type: ignore[method-assign]
    try:
        phone.start()
    except Exception as exc:  # report, never hang the parent
        say(event="failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    say(event="started", status=phone.get_status().name, registered=phone.get_status() == PhoneStatus.REGISTERED)
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        try:
            if cmd == "status":
                say(event="status", status=phone.get_status().name)
            elif cmd == "dial":
                call = phone.call(command["number"])
                current[:] = [call]
                watch(call)
                say(event="dialling", call_id=str(call.call_id))
            elif cmd == "dtmf":
                from acdgate.codecs.dtmf_generator import generate_digits
                from acdgate.lab.drivers.heard import to_u8

                audio = to_u8(generate_digits(command["digits"], tone_ms=120, pause_ms=120))
                call = current[0]
                for i in range(0, len(audio), 160):  # pyVoIP paces what it is given
                    call.write_audio(audio[i:i + 160])
                say(event="dtmf-sent", digits=command["digits"])
            elif cmd == "answer":
                current[0].answer()
            elif cmd == "hangup":
                call = current[0]
                hung_up[call.call_id] = "local"
                call.hangup()
            elif cmd == "stop":
                break
        except Exception as exc:  # an error answer, never a dead worker
            say(event="error", cmd=cmd, error=f"{type(exc).__name__}: {exc}")
    say(event="stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
