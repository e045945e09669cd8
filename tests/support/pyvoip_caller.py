"""One pyVoIP 1.6.8 call in a process of its own: register, dial, maybe send in-band DTMF,
record what the far end plays until it hangs up, and print one JSON line.

pyVoIP is threaded and GPLv3: it never loads into the test process. It has no events, so
this worker paces itself like the audio device it stands in for (20 ms reads), with a bound
on every wait.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--dial", required=True)
    parser.add_argument("--inband", default="", help="keys to send as in-band DTMF after the answer")
    parser.add_argument("--inband-delay", type=float, default=0.5, help="seconds after the answer")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--tone", type=float, default=0.0, help="Hz of a tone it plays for the whole call")
    parser.add_argument("--hangup-after", type=float, default=0.0, help="seconds after the answer to hang up")
    args = parser.parse_args()

    import numpy as np
    from acdgate.codecs.dtmf_generator import generate_dtmf
    from acdgate.lab.drivers.pyvoip_worker import fix_socket_race
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone

    fix_socket_race()  # before start(): pyVoIP's recv loop races call() for its socket

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP="127.0.0.1",
                      sipPort=args.sip_port, rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40)
    result: dict[str, object] = {}
    try:
        phone.start()
        result["registered"] = phone.get_status() == PhoneStatus.REGISTERED
        call = phone.call(args.dial)
        deadline = time.monotonic() + args.timeout
        while call.state != CallState.ANSWERED and call.state != CallState.ENDED and time.monotonic() < deadline:
            time.sleep(0.02)  # pyVoIP has no call-state event: polled at the packet rate
        result["answered"] = call.state == CallState.ANSWERED
        audio = bytearray()
        answered_at = time.monotonic()
        if call.state == CallState.ANSWERED and args.tone:
            t = np.arange(int(8000 * args.timeout)) / 8000.0
            tone = (0.3 * 32767 * np.sin(2 * np.pi * args.tone * t)).astype(np.int16)
            call.write_audio(((tone.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())
        if call.state == CallState.ANSWERED and args.inband:
            time.sleep(args.inband_delay)  # the prompt tone has started: key in as a person would
            for key in args.inband:
                tone = generate_dtmf(key, 120, level_dbm0=-8.0)
                gap = np.zeros(800, dtype=np.int16)
                samples = np.concatenate([tone, gap])
                call.write_audio(((samples.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes())
        hangup_at = answered_at + args.hangup_after if args.hangup_after else deadline
        while call.state == CallState.ANSWERED and time.monotonic() < min(deadline, hangup_at):
            audio += call.read_audio(160, blocking=False)
            time.sleep(0.02)
        result["ended_by_far_end"] = call.state == CallState.ENDED
        if call.state == CallState.ANSWERED and args.hangup_after:
            call.hangup()
        result["audio_u8"] = base64.b64encode(bytes(audio)).decode()
    except Exception as exc:  # report, never hang the parent
        result["error"] = f"{type(exc).__name__}: {exc}"
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # pyVoIP's threads are not daemons and its stop() can hang: leave at once


if __name__ == "__main__":
    sys.exit(main())
