"""A pyVoIP 1.6.8 phone that answers one call, plays a tone, records, then hangs up.

JSON lines on stdout: {"event": "registered"}, {"event": "call", "from": ...} and, at the
end, {"event": "ended", "audio_u8": base64, "hung_up_by_us": bool}. Runs in a process of
its own (pyVoIP is GPLv3 and threaded); leaves with os._exit (its stop() can hang).
pyVoIP has no call-state events, so its loops poll `call.state` at the 20 ms packet rate, each
with a deadline (the talk loop also reads the audio at that rate, like a sound device).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--tone", type=float, default=1000.0, help="Hz of the tone it plays")
    parser.add_argument("--talk-seconds", type=float, default=2.5)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--dial-first", action="append", default=[],
                        help="short codes to dial (and wait out) before waiting for the call")
    parser.add_argument("--dial-during", action="append", default=[],
                        help="DELAY:CODE: seconds after the answer, dial CODE on a second call (as a "
                             "desk phone's second line) and wait it out; reported as dialled events")
    args = parser.parse_args()

    import numpy as np
    from acdgate.lab.drivers.pyvoip_worker import fix_socket_race
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone

    fix_socket_race()  # before start(): pyVoIP's recv loop races call() for its socket

    def say(**fields: object) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    done = threading.Event()

    def answer(call: object) -> None:
        try:
            headers = call.request.headers  # type: ignore[attr-defined]
            frm = headers.get("From", {})
            say(event="call", display=frm.get("caller", ""), number=frm.get("number", ""))
            call.answer()  # type: ignore[attr-defined]
            t = np.arange(int(8000 * args.talk_seconds)) / 8000.0
            tone = (0.3 * 32767 * np.sin(2 * np.pi * args.tone * t)).astype(np.int16)
            call.write_audio(((tone.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())  # type: ignore[attr-defined]
            audio = bytearray()
            start = time.monotonic()
            end = start + args.talk_seconds
            pending = sorted((float(d), c) for d, c in (item.split(":", 1) for item in args.dial_during))
            while call.state == CallState.ANSWERED and time.monotonic() < end:  # type: ignore[attr-defined]
                audio += call.read_audio(160, blocking=False)  # type: ignore[attr-defined]
                if pending and time.monotonic() >= start + pending[0][0]:
                    _, code = pending.pop(0)
                    threading.Thread(target=dial, args=(code,), daemon=True).start()
                time.sleep(0.02)
            hung_up = call.state == CallState.ANSWERED  # type: ignore[attr-defined]
            if hung_up:
                call.hangup()  # type: ignore[attr-defined]
            say(event="ended", hung_up_by_us=hung_up, audio_u8=base64.b64encode(bytes(audio)).decode())
        except Exception as exc:  # report, never hang the parent
            say(event="error", error=f"{type(exc).__name__}: {exc}")
        finally:
            done.set()

    def dial(code: str) -> None:
        second = phone.call(code)
        deadline = time.monotonic() + 10
        while second.state != CallState.ENDED and time.monotonic() < deadline:
            time.sleep(0.02)  # pyVoIP has no call-state event: polled at the packet rate
        say(event="dialled", code=code, ended=second.state == CallState.ENDED)

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP="127.0.0.1",
                      callCallback=answer, sipPort=args.sip_port,
                      rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40)
    try:
        phone.start()
    except Exception as exc:
        say(event="error", error=f"{type(exc).__name__}: {exc}")
        os._exit(1)
    for code in args.dial_first:
        call = phone.call(code)
        deadline = time.monotonic() + 15
        while call.state != CallState.ENDED and time.monotonic() < deadline:
            time.sleep(0.02)  # pyVoIP has no call-state event: polled at the packet rate
    say(event="registered", ok=phone.get_status() == PhoneStatus.REGISTERED)
    if not done.wait(args.timeout):
        say(event="error", error="no call came")
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
