"""A clocked three-party mix for supervisor interventions (monitor, whisper, barge-in).

Theory of operation. The two-party `relay.Bridge` forwards each packet as it arrives; a mix
cannot, because one outgoing frame needs one frame from every party at once. So for the
duration of an intervention only, the call's sessions are switched from the Bridge to a
`Conference`: every received G.711 packet goes into its party's jitter buffer
(codecs.jitterbuffer), and a 20 ms mixer clock (one `reactor.callLater` armed for the next
absolute tick, so a late timer catches up instead of drifting) takes one frame per party,
mixes what each party may hear (codecs.mixer `HEARS`: monitor, whisper, barge) and sends each
party its frame on its own session (`MediaSession.forward`, which keeps that leg's SSRC and
sequence and transcodes to its law). A party that sent nothing in time counts as silence;
a buffer that runs ahead is trimmed so the delay stays bounded (`MAX_DEPTH` frames) and one
that runs dry is primed again (`PREFILL` frames) before it is read.

RFC 4733 events still pass between caller and agent; the supervisor's keys go nowhere. The
call recorder, when given, keeps getting caller (left) and agent (right) as received, and
while barging the supervisor too (mixed into the right channel: the caller hears them; a
monitoring or whispering supervisor, whom the caller never hears, is not recorded).
Tones (the recording/monitoring beep) can be added to what one party hears (`inject`).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from acdgate.codecs import g711
from acdgate.codecs.g711 import Law
from acdgate.codecs.jitterbuffer import JitterBuffer
from acdgate.codecs.mixer import MixMode, Party, mix_payloads, supervisor_mix
from acdgate.codecs.recorder import CallRecorder, Side
from acdgate.codecs.rtp import RtpPacket, seq_add, ts_add
from acdgate.gateway.media.session import MediaSession
from twisted.internet.interfaces import IDelayedCall

FRAME_SAMPLES = 160
FRAME_SECONDS = FRAME_SAMPLES / 8000
MIX_LAW = Law.ULAW  # frames are mixed (and recorded) in mu-law; legs get their own law
PCMU_PT = 0  # RFC 3551 6: static payload type of the synthetic packets handed to forward()
PREFILL = 2  # frames a party's buffer holds before the clock reads it (absorbs send jitter)
MAX_DEPTH = 5  # frames beyond which the oldest are dropped (bounded delay: 100 ms)
MAX_CATCH_UP = 5  # ticks mixed at once after a stalled reactor; older ones are skipped
_SILENCE = g711.silence(MIX_LAW, FRAME_SAMPLES)
_PEER = {Party.CALLER: Party.AGENT, Party.AGENT: Party.CALLER}
_SIDE = {Party.CALLER: Side.CALLER, Party.AGENT: Side.AGENT}


@dataclass(slots=True)
class _Member:
    """One party: its session, its receive buffer and what is queued for its ears."""

    session: MediaSession
    jitter: JitterBuffer | None = None
    ssrc: int | None = None
    law: Law = MIX_LAW
    primed: bool = False
    extra: deque[bytes] = field(default_factory=deque)  # mu-law frames added to what it hears
    frames_mixed: int = 0  # frames of its own audio that went into the mix
    underruns: int = 0


class Conference:
    """Mixes `members` (CALLER, AGENT, SUPERVISOR sessions) on a 20 ms clock until `close()`."""

    def __init__(self, reactor: Any, members: Mapping[Party, MediaSession], mode: MixMode, *,
                 recorder: CallRecorder | None = None) -> None:
        self.reactor = reactor
        self.mode = mode
        self.recorder = recorder
        self.members = {party: _Member(session) for party, session in members.items()}
        self.ticks = 0
        self.skipped = 0
        self.closed = False
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        for party, member in self.members.items():
            member.session.stop_playing()
            member.session.on_rtp = partial(self._received, party)
            member.session.decode_received = False
        self._next_due: float = reactor.seconds() + FRAME_SECONDS
        self._timer: IDelayedCall | None = reactor.callLater(FRAME_SECONDS, self._tick)

    def inject(self, party: Party, samples: npt.ArrayLike) -> None:
        """Add 8 kHz int16 `samples` (a beep) to what `party` hears, from the next tick on."""
        member = self.members.get(party)
        if member is None:
            return
        pcm = np.asarray(samples, dtype=np.int16)
        for start in range(0, len(pcm), FRAME_SAMPLES):
            frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            chunk = pcm[start : start + FRAME_SAMPLES]
            frame[: len(chunk)] = chunk
            member.extra.append(g711.encode(MIX_LAW, frame))

    def close(self) -> None:
        """Stop the clock and let go of the sessions (they stay open: their legs close them)."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        for member in self.members.values():
            member.session.on_rtp = None
            member.session.decode_received = True

    # -- receiving ----------------------------------------------------------------------

    def _received(self, party: Party, packet: RtpPacket, law: Law | None) -> None:
        if law is None:  # telephone-event: between caller and agent, as the Bridge does
            peer = self.members.get(_PEER[party]) if party in _PEER else None
            if peer is not None:
                peer.session.forward(packet, None)
            return
        member = self.members[party]
        if member.jitter is None or packet.ssrc != member.ssrc or law is not member.law:
            # a new source (or codec): a fresh buffer, since sequence numbers start over
            member.jitter = JitterBuffer(law, max_wait=2)
            member.ssrc, member.law, member.primed = packet.ssrc, law, False
        member.jitter.push(packet)
        if self.recorder is not None and not self.recorder.closed:
            side = _SIDE.get(party)
            if side is None and self.mode is MixMode.BARGE:
                side = Side.SUPERVISOR
            if side is not None:
                self.recorder.add(side, _in_mix_law(packet, law), self.reactor.seconds())

    # -- the clock ----------------------------------------------------------------------

    def _tick(self) -> None:
        self._timer = None
        if self.closed:
            return
        now: float = self.reactor.seconds()
        due = int((now + 1e-6 - self._next_due) // FRAME_SECONDS) + 1 if self._next_due <= now + 1e-6 else 0
        skip = max(0, due - MAX_CATCH_UP)
        if skip:  # the reactor stalled: drop the oldest ticks, keep the timestamps in step
            self._ts = ts_add(self._ts, skip * FRAME_SAMPLES)
            self.skipped += skip
        for _ in range(due - skip):
            self._mix_once()
        self._next_due += due * FRAME_SECONDS
        self._timer = self.reactor.callLater(max(0.0, self._next_due - now), self._tick)

    def _mix_once(self) -> None:
        frames = {party: self._next_frame(member) for party, member in self.members.items()}
        heard = supervisor_mix(self.mode, MIX_LAW, frames)
        first = self.ticks == 0
        for party, member in self.members.items():
            payload = heard[party]
            if member.extra:
                payload = mix_payloads(MIX_LAW, [payload, member.extra.popleft()])
            packet = RtpPacket(PCMU_PT, self._seq, self._ts, self._ssrc, payload, marker=first)
            member.session.forward(packet, MIX_LAW)
        self._seq = seq_add(self._seq, 1)
        self._ts = ts_add(self._ts, FRAME_SAMPLES)
        self.ticks += 1

    def _next_frame(self, member: _Member) -> bytes:
        """This tick's frame of `member` in mu-law; silence when it has none."""
        jitter = member.jitter
        if jitter is None:
            return _SILENCE
        if not member.primed:
            if len(jitter) < PREFILL:
                return _SILENCE
            member.primed = True
        while len(jitter) > MAX_DEPTH:  # running ahead of the clock: drop the oldest
            if jitter.pop() is None:
                break
        frame = jitter.pop()
        if frame is None:
            member.primed = False
            member.underruns += 1
            return _SILENCE
        member.frames_mixed += 1
        payload = frame.payload
        if member.law is not MIX_LAW:
            payload = g711.alaw_to_ulaw(payload)
        return payload


def _in_mix_law(packet: RtpPacket, law: Law) -> RtpPacket:
    if law is MIX_LAW:
        return packet
    return RtpPacket(packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc,
                     g711.alaw_to_ulaw(packet.payload), marker=packet.marker)


__all__ = ["FRAME_SECONDS", "Conference", "MixMode", "Party"]
