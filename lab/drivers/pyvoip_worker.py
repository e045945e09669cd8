"""A pyVoIP 1.6.8 phone in a process of its own, driven by JSON lines on stdin.

Run as `python -m acdgate.lab.drivers.pyvoip_worker --server ... --user ...`. pyVoIP is GPLv3
and threaded: it never loads into the harness process (which may load scapy, GPLv2-only),
and its `stop()` can hang, so the parent kills this process when done.

Commands (one JSON object a line): {"cmd": "status"}, {"cmd": "dial", "number": "*37"},
{"cmd": "dtmf", "digits": "1234#"} (in-band: generated tones written with `write_audio`,
since pyVoIP sends neither RFC 4733 nor SIP INFO), {"cmd": "tone", "freq": 600, "seconds":
5} (a sine in the current call's audio), {"cmd": "hangup"}, {"cmd": "answer"},
{"cmd": "stop"}; they act on the newest call still up (a second call, e.g. a short code
dialled while talking, comes first until it ends). Events, one JSON object a line on stdout: started, answered, refused
(status, reason), ended (by, audio: a file of the received 8-bit audio), incoming (caller),
error.

Workarounds for pyVoIP's quirks (docs/lab.md lists them all): final error responses to an
INVITE are reported and ACKed here (pyVoIP ignores any but 404/503 and never ACKs them);
pyVoIP retransmits nothing, so `ReliableSocket` does (requests until a response, the 2xx
of an answer until the ACK) and REGISTER is retried after 1 s instead of 30; its receive
loop's socket race is closed by `fix_socket_race`.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

T1 = 0.5  # RFC 3261 17.1.1.1: the RTT estimate; retransmissions start here and double
T2 = 4.0  # ... up to T2 (17.1.2.2)
GIVE_UP = 64 * T1  # Timer B / F / H
RELIABLE_REQUESTS = (b"INVITE", b"BYE", b"CANCEL")


def _header(message: bytes, *names: bytes) -> bytes:
    """The first value of a header (any of its names, compact forms too), b"" when absent."""
    for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in names:
            return value.strip()
    return b""


def _transaction(message: bytes) -> tuple[bytes, bytes, bytes]:
    """(Call-ID, CSeq, top Via branch) of a SIP message."""
    via = _header(message, b"via", b"v")
    branch = b""
    for param in via.split(b";")[1:]:
        key, _, value = param.partition(b"=")
        if key.strip().lower() == b"branch":
            branch = value.strip()
    return _header(message, b"call-id", b"i"), b" ".join(_header(message, b"cseq").split()), branch


class ReliableSocket:
    """pyVoIP's SIP socket plus the retransmissions pyVoIP never makes.

    RFC 3261 17.1.1.2 (Timer A) / 17.1.2.2 (Timer E): an INVITE, BYE or CANCEL we send is
    sent again after T1, doubling to T2, until a response to it comes (matched by Call-ID and
    CSeq, and for INVITE by Via branch: pyVoIP re-sends the authenticated INVITE with the
    challenged one's CSeq), or 64*T1. 13.3.1.4: the 200 OK of an answered INVITE is sent
    again until the ACK (same Call-ID) comes. Everything else is passed to the real socket.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._cond = threading.Condition()
        self._pending: dict[tuple[bytes, ...], tuple[bytes, Any, float, float]] = {}
        self._due: list[tuple[float, tuple[bytes, ...]]] = []
        threading.Thread(target=self._run, daemon=True, name="sip-retransmit").start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendto(self, data: bytes, address: Any) -> int:
        sent = int(self._sock.sendto(data, address))
        first = data.split(b" ", 1)[0]
        call_id, cseq, branch = _transaction(data)
        now = time.monotonic()
        if first in RELIABLE_REQUESTS:
            key = (b"req", call_id, cseq, branch if first == b"INVITE" else b"")
            with self._cond:
                if first == b"INVITE":  # pyVoIP moved on (authenticated INVITE): the old one is done
                    for old in [k for k in self._pending if k[:2] == (b"req", call_id) and k[2].endswith(b"INVITE")]:
                        del self._pending[old]
                self._arm(key, data, address, now, T1)
        elif first == b"SIP/2.0" and data[8:9] == b"2" and cseq.endswith(b"INVITE"):
            with self._cond:
                self._arm((b"2xx", call_id), data, address, now, T1)
        return sent

    def _arm(self, key: tuple[bytes, ...], data: bytes, address: Any, started: float, interval: float) -> None:
        self._pending[key] = (data, address, started, interval)
        heapq.heappush(self._due, (time.monotonic() + interval, key))
        self._cond.notify()

    def recv(self, size: int) -> bytes:
        data = bytes(self._sock.recv(size))
        call_id, cseq, branch = _transaction(data)
        with self._cond:
            if data.startswith(b"SIP/2.0 "):
                self._pending.pop((b"req", call_id, cseq, b""), None)
                self._pending.pop((b"req", call_id, cseq, branch), None)
            elif data.split(b" ", 1)[0] in (b"ACK", b"BYE", b"CANCEL"):
                self._pending.pop((b"2xx", call_id), None)
        return data

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._due:
                    self._cond.wait()
                    continue
                due, key = self._due[0]
                now = time.monotonic()
                if due > now:
                    self._cond.wait(due - now)
                    continue
                heapq.heappop(self._due)
                entry = self._pending.get(key)
                if entry is None:
                    continue
                data, address, started, interval = entry
                if now - started >= GIVE_UP:
                    del self._pending[key]
                    continue
                try:
                    self._sock.sendto(data, address)
                except OSError:
                    del self._pending[key]
                    continue
                self._arm(key, data, address, started, min(2 * interval, T2))


def event_channel() -> TextIO:
    """Standard output for the worker's JSON event lines alone; everything else printed goes to
    standard error from here on. pyVoIP prints from its threads ("TODO: Add 500 Error on
    Receiving SIP Response" for each unexpected response), and a print writes its text and its
    newline separately: an event line written between the two was glued to the text and lost
    to the parent (a lab run once missed a call's "answered" that way)."""
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C-level writes to fd 1 too
    sys.stdout = sys.stderr
    return events


def fix_socket_race() -> None:
    """pyVoIP 1.6.8's receive loop makes its SIP socket non-blocking under `recvLock` and
    blocking again only after letting the lock go: a `call()` (INVITE) that takes the lock in
    between reads a non-blocking socket and fails with EAGAIN (BlockingIOError). The same
    context manager, with the socket blocking again before the lock is released, replaces it
    (call after importing pyVoIP.VoIP, before `start()`)."""
    import pyVoIP.SIP as sip  # type: ignore[import-untyped]

    @contextlib.contextmanager
    def locked_and_unblocked(lock: Any, sock: Any) -> Iterator[None]:
        with lock:
            sock.setblocking(False)
            try:
                yield
            finally:
                sock.setblocking(True)

    setattr(sip, "acquired_lock_and_unblocked_socket", locked_and_unblocked)  # noqa: B010 (monkeypatch)


_SIGNALLING: dict[tuple[type, str], type] = {}  # (pyVoIP's class, attribute) -> subclass


def assignments(obj: Any, name: str) -> threading.Condition:
    """A Condition notified each time pyVoIP assigns `obj.<name>` (a call's `state`, a phone's
    `_status`), so a caller waits for a value with `wait_for` and a timeout instead of polling:
    pyVoIP 1.6.8 has no callback for either. The object's class becomes a subclass whose
    `__setattr__` notifies after the assignment; nothing else about the object changes."""
    cls: Any = type(obj)
    signalling = _SIGNALLING.get((cls, name))
    if signalling is None:
        key = f"_{name.strip('_')}_assigned"

        def __setattr__(self: Any, attribute: str, value: Any) -> None:
            cls.__setattr__(self, attribute, value)
            if attribute == name:
                changed: threading.Condition = self.__dict__[key]
                with changed:
                    changed.notify_all()

        signalling = type(cls.__name__, (cls,), {"__setattr__": __setattr__, "_assigned_key": key})
        _SIGNALLING[(cls, name)] = signalling
    key = signalling._assigned_key  # type: ignore[attr-defined]
    changed: threading.Condition | None = obj.__dict__.get(key)
    if changed is None:
        changed = obj.__dict__[key] = threading.Condition()
        obj.__class__ = signalling
    return changed


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
    import pyVoIP  # type: ignore[import-untyped]
    from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone  # type: ignore[import-untyped]

    # isort: split
    from pyVoIP.SIP import SIPMessageType  # type: ignore[import-untyped]

    fix_socket_race()

    out_lock = threading.Lock()
    events = event_channel()

    def say(**fields: object) -> None:
        with out_lock:
            events.write(json.dumps(fields) + "\n")
            events.flush()

    calls: dict[str, Any] = {}
    current: list[Any] = []  # the live calls, newest last: commands act on the newest one
    audio_dir = Path(args.audio_dir)

    def incoming(call: Any) -> None:
        headers = call.request.headers
        caller = headers.get("From", {})
        current.append(call)  # before saying so: the parent answers as soon as it reads the line
        watch(call)
        say(event="incoming", call_id=str(call.call_id), caller=str(caller.get("number", "")),
            display=str(caller.get("caller", "")), raw_from=str(caller.get("raw", "")))

    phone = VoIPPhone(args.server, args.port, args.user, args.password, myIP=args.my_ip,
                      sipPort=args.sip_port, rtpPortLow=args.sip_port + 2, rtpPortHigh=args.sip_port + 40,
                      callCallback=incoming)

    def watch(call: Any) -> None:
        """Follow a call: report answer and end, record what it received."""
        changed = assignments(call, "state")

        def over() -> bool:
            return call.state is CallState.ENDED or call.call_id in refused

        def body() -> None:
            clients: list[Any] = []
            with changed:  # the parent kills this process when done: these waits end with it
                changed.wait_for(lambda: call.state is CallState.ANSWERED or over())
                if call.state is CallState.ANSWERED and not over():
                    clients = list(call.RTPClients)
                    say(event="answered", call_id=str(call.call_id))
                changed.wait_for(over)
            # What was received, in RTP timestamp order: pyVoIP's own receive buffer (reading it
            # with read_audio at our pace would lag and lose the end of the call).
            audio = b"".join(c.pmin.buffer.getvalue() for c in clients[:1])
            if call in current:  # before saying so: the next command acts on the call still up
                current.remove(call)
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

    def cancelled(message: Any) -> None:
        """RFC 3261 9.2: a CANCEL of a ringing call ends it with 487 (pyVoIP answers the
        CANCEL's 200 and leaves the call ringing forever)."""
        call_id = message.headers["Call-ID"]
        call = phone.calls.get(call_id)
        if call is None or call.state is not CallState.RINGING:
            return
        invite = call.request
        tag = phone.sip.tagLibrary.get(call_id) or phone.sip.gen_tag()
        response = ("SIP/2.0 487 Request Terminated\r\n" + phone.sip._gen_response_via_header(invite)
                    + f"From: {invite.headers['From']['raw']};tag={invite.headers['From']['tag']}\r\n"
                    + f"To: {invite.headers['To']['raw']};tag={tag}\r\n"
                    + f"Call-ID: {call_id}\r\nCSeq: {invite.headers['CSeq']['check']} INVITE\r\n"
                    + "Content-Length: 0\r\n\r\n")
        phone.sip.out.sendto(response.encode("utf8"), (phone.sip.server, phone.sip.port))
        hung_up[call_id] = "cancelled"
        call.state = CallState.ENDED
        phone.calls.pop(call_id, None)

    def parse_message(message: Any) -> None:
        if message.type is SIPMessageType.MESSAGE and message.method == "CANCEL":
            original_parse(message)  # its 200 OK
            cancelled(message)
            return
        # pyVoIP drops final error responses (bar 404/503): report and ACK them ourselves.
        if message.type is not SIPMessageType.MESSAGE and int(message.status.value) >= 300:
            call_id = message.headers.get("Call-ID", "")
            if call_id in calls and int(message.status.value) != 401:
                if call_id not in refused:
                    refused.add(call_id)
                    changed = assignments(calls[call_id], "state")
                    with changed:  # its watcher waits for this as for a state
                        changed.notify_all()
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
    # pyVoIP sends one REGISTER and waits register_timeout (30 s) for its answer; on a timeout
    # it registers afresh at once, so 1 s makes that its retransmission (T1 is 0.5 s).
    phone.sip.register_timeout = 1
    pyVoIP.REGISTER_FAILURE_THRESHOLD = 12
    try:
        phone.start()
    except Exception as exc:  # report, never hang the parent
        say(event="failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    phone.sip.s = phone.sip.out = ReliableSocket(phone.sip.s)  # type: ignore[assignment]
    registering = assignments(phone, "_status")
    with registering:  # pyVoIP's own retry thread registers
        registering.wait_for(lambda: phone.get_status() in (PhoneStatus.REGISTERED, PhoneStatus.FAILED), 12.0)
    say(event="started", status=phone.get_status().name, registered=phone.get_status() == PhoneStatus.REGISTERED)
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        try:
            if cmd == "status":
                say(event="status", status=phone.get_status().name)
            elif cmd == "dial":
                call = phone.call(command["number"])  # a second call while one is up too
                current.append(call)
                watch(call)
                say(event="dialling", call_id=str(call.call_id))
            elif cmd == "dtmf":
                from acdgate.codecs.dtmf_generator import generate_digits
                from acdgate.lab.drivers.heard import to_u8

                audio = to_u8(generate_digits(command["digits"], tone_ms=120, pause_ms=120))
                call = current[-1]
                for i in range(0, len(audio), 160):  # pyVoIP paces what it is given
                    call.write_audio(audio[i:i + 160])
                say(event="dtmf-sent", digits=command["digits"])
            elif cmd == "tone":
                from acdgate.lab.drivers.heard import sine, to_u8

                audio = to_u8(sine(float(command["freq"]), float(command["seconds"])))
                current[-1].write_audio(audio)  # buffered: pyVoIP sends it at 20 ms a packet
                say(event="tone-sent", freq=command["freq"])
            elif cmd == "answer":
                current[-1].answer()
            elif cmd == "hangup":
                call = current[-1]
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
