"""A pyVoIP 1.6.8 phone that answers one call, plays a tone, records, then hangs up.

JSON lines on stdout: {"event": "registered"}, {"event": "call", "from": ...},
{"event": "heard", "hz": F, "at": monotonic time} each time it has heard another 0.3 s of a tone
named by --announce (so a test waits for audio to flow instead of sleeping) and, at the end,
{"event": "ended", "audio_u8": base64, "hung_up_by_us": bool}. Runs in a process of
its own (pyVoIP is GPLv3 and threaded); leaves with os._exit (its stop() can hang).
pyVoIP has no call-state events; `assignments` (lab/drivers/pyvoip_worker.py) makes its state
assignments signal a Condition, and every wait here is on that, with a timeout (the talk loop
reads the audio at the 20 ms packet rate meanwhile, like a sound device).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time

HEARD_WINDOWS = 30  # 10 ms windows: a "heard" event for every 0.3 s of a tone


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
    parser.add_argument("--announce", type=float, action="append", default=[],
                        help="Hz of a tone to report a 'heard' event for at every 0.3 s of it heard")
    args = parser.parse_args()

    import numpy as np
    from acdgate.codecs.tone_detector import tone_present
    from acdgate.lab.drivers.pyvoip_worker import assignments, event_channel, fix_socket_race
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone

    fix_socket_race()  # before start(): pyVoIP's recv loop races call() for its socket

    events = event_channel()  # pyVoIP's own prints go to stderr
    lock = threading.Lock()

    def say(**fields: object) -> None:
        with lock:
            events.write(json.dumps(fields) + "\n")
            events.flush()

    done = threading.Event()

    def answer(call: object) -> None:
        try:
            headers = call.request.headers  # type: ignore[attr-defined]
            frm = headers.get("From", {})
            say(event="call", display=frm.get("caller", ""), number=frm.get("number", ""))
            changed = assignments(call, "state")
            call.answer()  # type: ignore[attr-defined]
            t = np.arange(int(8000 * args.talk_seconds)) / 8000.0
            tone = (0.3 * 32767 * np.sin(2 * np.pi * args.tone * t)).astype(np.int16)
            call.write_audio(((tone.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())  # type: ignore[attr-defined]
            audio = bytearray()
            start = time.monotonic()
            end = start + args.talk_seconds
            pending = sorted((float(d), c) for d, c in (item.split(":", 1) for item in args.dial_during))
            heard = dict.fromkeys(args.announce, 0)  # Hz -> 10 ms windows heard so far
            analysed = 0  # of `audio`, in samples
            while call.state == CallState.ANSWERED and time.monotonic() < end:  # type: ignore[attr-defined]
                audio += call.read_audio(160, blocking=False)  # type: ignore[attr-defined]
                if heard and len(audio) - analysed >= 800:  # every 100 ms: the new audio, 10 ms overlap
                    start_at = max(0, analysed - 80)
                    chunk = (np.frombuffer(bytes(audio[start_at:]), dtype=np.uint8).astype(np.int16) - 128) << 8
                    for hz, before in heard.items():
                        heard[hz] = before + int(tone_present(chunk, (hz,), min_ratio=0.0).sum())
                        if heard[hz] // HEARD_WINDOWS > before // HEARD_WINDOWS:
                            say(event="heard", hz=hz, at=time.monotonic())
                    analysed = len(audio)
                if pending and time.monotonic() >= start + pending[0][0]:
                    _, code = pending.pop(0)
                    threading.Thread(target=dial, args=(code,), daemon=True).start()
                with changed:  # the next packet's worth of audio, or the call's end
                    changed.wait_for(lambda: call.state != CallState.ANSWERED, 0.02)  # type: ignore[attr-defined]
            hung_up = call.state == CallState.ANSWERED  # type: ignore[attr-defined]
            if hung_up:
                call.hangup()  # type: ignore[attr-defined]
            say(event="ended", hung_up_by_us=hung_up, audio_u8=base64.b64encode(bytes(audio)).decode())
        except Exception as exc:  # report, never hang the parent
            say(event="error", error=f"{type(exc).__name__}: {exc}")
        finally:
            done.set()

    def dial_and_wait_out(code: str, timeout: float) -> bool:
        """Dial `code` and wait for that call to end; whether it did within `timeout`."""
        call = phone.call(code)
        changed = assignments(call, "state")
        with changed:
            return changed.wait_for(lambda: call.state == CallState.ENDED, timeout)

    def dial(code: str) -> None:
        say(event="dialled", code=code, ended=dial_and_wait_out(code, 10))

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP="127.0.0.1",
                      callCallback=answer, sipPort=args.sip_port,
                      rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40)
    try:
        phone.start()
    except Exception as exc:
        say(event="error", error=f"{type(exc).__name__}: {exc}")
        os._exit(1)
    for code in args.dial_first:
        dial_and_wait_out(code, 15)
    say(event="registered", ok=phone.get_status() == PhoneStatus.REGISTERED)
    if not done.wait(args.timeout):
        say(event="error", error="no call came")
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
