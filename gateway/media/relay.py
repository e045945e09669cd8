"""Media relay: two legs' RTP sessions joined through the gateway.

Each packet one session accepts is forwarded by the other as part of its own stream
(`MediaSession.forward`): symmetric RTP latching stays per leg, mu-law and A-law legs are
transcoded, RFC 4733 events pass through. A recorder, when attached, sees both directions
(caller left, agent right) as the packets pass.

Hold (B2BUA choice): when one party holds (its re-INVITE or UPDATE says sendonly/inactive,
so we may not send to it), the other leg stays up untouched; it stops hearing the held
party and hears the site's music on hold, looped (silence without one), until resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acdgate.codecs import g711
from acdgate.codecs.g711 import Law
from acdgate.codecs.recorder import CallRecorder, Side
from acdgate.codecs.rtp import RtpPacket
from acdgate.gateway.media.ports import MediaError
from acdgate.gateway.media.sdp import Negotiated
from acdgate.gateway.media.session import MediaSession, Samples


class Bridge:
    """Joins `caller` and `agent` media both ways until `close()`."""

    def __init__(self, reactor: Any, caller: MediaSession, agent: MediaSession) -> None:
        self.reactor = reactor
        self.caller = caller
        self.agent = agent
        self._recorder: CallRecorder | None = None
        self.recording_path: Path | None = None
        caller.stop_playing()
        agent.stop_playing()
        caller.on_rtp = self._from_caller
        agent.on_rtp = self._from_agent
        # the relay has no use for the decoded audio; DTMF detection of RFC 4733 still runs
        caller.decode_received = False
        agent.decode_received = False
        self.closed = False
        self.held: set[str] = set()  # "caller" / "agent": parties holding
        self._music_runs = {"caller": 0, "agent": 0}  # playback generation per listening side
        caller.on_started = lambda n: self._negotiated("caller", n)
        agent.on_started = lambda n: self._negotiated("agent", n)
        for side, session in (("caller", caller), ("agent", agent)):
            if session.negotiated is not None and session.negotiated.on_hold:
                self._negotiated(side, session.negotiated)
        self._update_fast_path()

    def _update_fast_path(self) -> None:
        """Let each session hand its audio straight to the other (`MediaSession.relay_to`)
        while nothing else needs to see it: no recorder, that side not holding."""
        plain = not self.closed and self._recorder is None
        caller, agent = self.caller, self.agent
        if caller.on_rtp == self._from_caller:  # not tapped by someone else since
            caller.relay_to = agent if plain and "caller" not in self.held else None
        if agent.on_rtp == self._from_agent:
            agent.relay_to = caller if plain and "agent" not in self.held else None

    @property
    def recorder(self) -> CallRecorder | None:
        """The recorder fed by both directions (callers may attach or detach one directly)."""
        return self._recorder

    @recorder.setter
    def recorder(self, recorder: CallRecorder | None) -> None:
        self._recorder = recorder
        self._update_fast_path()

    @property
    def music(self) -> Samples | None:
        """The site's music on hold (either session carries it)."""
        return self.caller.hold_music if self.caller.hold_music is not None else self.agent.hold_music

    def _negotiated(self, side: str, negotiated: Negotiated) -> None:
        """A (re-)negotiation on `side`: hold when we may no longer send to it, else resume."""
        if self.closed:
            return
        other = self.agent if side == "caller" else self.caller
        other_side = "agent" if side == "caller" else "caller"
        if negotiated.on_hold and side not in self.held:
            self.held.add(side)
            self._play_music(other_side, other)
        elif not negotiated.on_hold and side in self.held:
            self.held.discard(side)
            self._music_runs[other_side] += 1
            other.stop_playing()
            other.restart_forwarding()
        self._update_fast_path()

    def _play_music(self, side: str, session: MediaSession) -> None:
        self._music_runs[side] += 1
        music = self.music
        if music is None or len(music) == 0:
            return  # silence: nothing is forwarded while the other party holds
        run = self._music_runs[side]

        def again(_: object) -> None:
            if self.closed or self._music_runs[side] != run:
                return
            try:
                session.play(music).addCallback(again)
            except MediaError:
                return  # the leg closed under us: its call is ending

        again(None)

    def _from_caller(self, packet: RtpPacket, law: Law | None) -> None:
        if "caller" in self.held:
            return
        self.agent.forward(packet, law)
        if self.recorder is not None and law is not None:
            self.recorder.add(Side.CALLER, _as_law(packet, law, self.recorder_law), self.reactor.seconds())

    def _from_agent(self, packet: RtpPacket, law: Law | None) -> None:
        if "agent" in self.held:
            return
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
        for side, session in (("caller", self.caller), ("agent", self.agent)):
            session.on_rtp = None
            session.relay_to = None
            session.on_started = None
            session.decode_received = True
            if self.held:
                self._music_runs[side] += 1
                session.stop_playing()


def _as_law(packet: RtpPacket, law: Law, want: Law) -> RtpPacket:
    """The packet with its payload in `want` (the recorder decodes one law)."""
    if law is want:
        return packet
    payload = g711.ulaw_to_alaw(packet.payload) if law is Law.ULAW else g711.alaw_to_ulaw(packet.payload)
    return RtpPacket(packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc, payload,
                     marker=packet.marker)
