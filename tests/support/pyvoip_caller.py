"""One pyVoIP 1.6.8 call in a process of its own: register, dial, maybe send in-band DTMF,
record what the far end plays until it hangs up, and print one JSON line.

pyVoIP is threaded and GPLv3: it never loads into the test process. It has no call-state
events; `assignments` (lab/drivers/pyvoip_worker.py) makes its state assignments signal a
Condition, and every wait here is on that, with a timeout. Audio is read at the 20 ms packet
rate, as the sound device it stands in for would.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--dial", required=True)
    parser.add_argument("--inband", default="", help="keys to send as in-band DTMF once the far end is heard")
    parser.add_argument("--inband-after-hz", type=float, default=0.0,
                        help="key in once this tone is heard (0: once any sound is heard, a prompt)")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--tone", type=float, default=0.0, help="Hz of a tone it plays for the whole call")
    parser.add_argument("--hangup-after", type=float, default=0.0, help="seconds after the answer to hang up")
    args = parser.parse_args()

    import numpy as np
    from acdgate.codecs.dtmf_generator import generate_dtmf
    from acdgate.codecs.tone_detector import tone_present
    from acdgate.lab.drivers.pyvoip_worker import assignments, event_channel, fix_socket_race
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone

    fix_socket_race()  # before start(): pyVoIP's recv loop races call() for its socket
    events = event_channel()  # pyVoIP's own prints go to stderr

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP="127.0.0.1",
                      sipPort=args.sip_port, rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40)
    result: dict[str, object] = {}
    try:
        phone.start()
        result["registered"] = phone.get_status() == PhoneStatus.REGISTERED
        call = phone.call(args.dial)
        changed = assignments(call, "state")
        deadline = time.monotonic() + args.timeout
        with changed:
            changed.wait_for(lambda: call.state in (CallState.ANSWERED, CallState.ENDED), args.timeout)
        result["answered"] = call.state == CallState.ANSWERED
        audio = bytearray()
        answered_at = time.monotonic()

        def read_until(stop_at: float, done: Callable[[], bool] | None = None) -> None:
            """Read what arrives at the packet rate until `stop_at`, the call's end, or `done()`."""
            while call.state == CallState.ANSWERED and time.monotonic() < stop_at:
                audio.extend(call.read_audio(160, blocking=False))
                if done is not None and done():
                    return
                with changed:  # the next packet's worth of audio, or the call's end
                    changed.wait_for(lambda: call.state != CallState.ANSWERED, 0.02)

        def far_end_heard() -> bool:
            recent = ((np.frombuffer(bytes(audio[-640:]), dtype=np.uint8).astype(np.int16) - 128) << 8)
            if args.inband_after_hz:
                return int(tone_present(recent, (args.inband_after_hz,), min_ratio=0.0).sum()) >= 3
            return bool(len(recent)) and int(np.abs(recent[-160:]).max()) > 1000  # a prompt: any sound

        if call.state == CallState.ANSWERED and args.tone:
            t = np.arange(int(8000 * args.timeout)) / 8000.0
            tone = (0.3 * 32767 * np.sin(2 * np.pi * args.tone * t)).astype(np.int16)
            call.write_audio(((tone.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())
        if call.state == CallState.ANSWERED and args.inband:
            read_until(deadline, far_end_heard)  # key in as a person would: on hearing the far end
            result["keyed"] = far_end_heard()
            if result["keyed"]:
                for key in args.inband:
                    tone = generate_dtmf(key, 120, level_dbm0=-8.0)
                    gap = np.zeros(800, dtype=np.int16)
                    samples = np.concatenate([tone, gap])
                    call.write_audio(((samples.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())
        read_until(answered_at + args.hangup_after if args.hangup_after else deadline)
        result["ended_by_far_end"] = call.state == CallState.ENDED
        if call.state == CallState.ANSWERED and args.hangup_after:
            call.hangup()
        result["audio_u8"] = base64.b64encode(bytes(audio)).decode()
    except Exception as exc:  # report, never hang the parent
        result["error"] = f"{type(exc).__name__}: {exc}"
    events.write(json.dumps(result) + "\n")
    events.flush()
    os._exit(0)  # pyVoIP's threads are not daemons and its stop() can hang: leave at once


if __name__ == "__main__":
    sys.exit(main())
