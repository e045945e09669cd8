"""Media relay: two legs' RTP sessions joined through the gateway.

Each packet one session accepts is forwarded by the other as part of its own stream
(`MediaSession.forward`): symmetric RTP latching stays per leg, mu-law and A-law legs are
transcoded, RFC 4733 events pass through. A recorder, when attached, sees both directions
(caller left, agent right) as the packets pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acdgate.codecs import g711
from acdgate.codecs.g711 import Law
from acdgate.codecs.recorder import CallRecorder, Side
from acdgate.codecs.rtp import RtpPacket
from acdgate.gateway.media import MediaSession


class Bridge:
    """Joins `caller` and `agent` media both ways until `close()`."""

    def __init__(self, reactor: Any, caller: MediaSession, agent: MediaSession) -> None:
        self.reactor = reactor
        self.caller = caller
        self.agent = agent
        self.recorder: CallRecorder | None = None
        self.recording_path: Path | None = None
        caller.stop_playing()
        agent.stop_playing()
        caller.on_rtp = self._from_caller
        agent.on_rtp = self._from_agent
        # the relay has no use for the decoded audio; DTMF detection of RFC 4733 still runs
        caller.decode_received = False
        agent.decode_received = False
        self.closed = False

    def _from_caller(self, packet: RtpPacket, law: Law | None) -> None:
        self.agent.forward(packet, law)
        if self.recorder is not None and law is not None:
            self.recorder.add(Side.CALLER, _as_law(packet, law, self.recorder_law), self.reactor.seconds())

    def _from_agent(self, packet: RtpPacket, law: Law | None) -> None:
        self.caller.forward(packet, law)
        if self.recorder is not None and law is not None:
            self.recorder.add(Side.AGENT, _as_law(packet, law, self.recorder_law), self.reactor.seconds())

    recorder_law = Law.ULAW

    def start_recording(self, path: Path) -> None:
        """Record both directions to a stereo WAV (caller left, agent right)."""
        if self.recorder is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.recorder = CallRecorder(str(path), self.recorder_law)
            self.recording_path = path

    def stop_recording(self) -> Path | None:
        """Finish the WAV file; its path."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()
        return self.recording_path

    def close(self) -> None:
        """Unjoin the sessions (they stay open: the legs close them)."""
        if self.closed:
            return
        self.closed = True
        self.stop_recording()
        for session in (self.caller, self.agent):
            session.on_rtp = None
            session.decode_received = True


def _as_law(packet: RtpPacket, law: Law, want: Law) -> RtpPacket:
    """The packet with its payload in `want` (the recorder decodes one law)."""
    if law is want:
        return packet
    payload = g711.ulaw_to_alaw(packet.payload) if law is Law.ULAW else g711.alaw_to_ulaw(packet.payload)
    return RtpPacket(packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc, payload,
                     marker=packet.marker)
