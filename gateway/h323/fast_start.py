"""H.323 8.1.7 fastStart: audio channels opened inside Setup and its answer, without H.245.

A fastStart element is one OpenLogicalChannel encoded alone. The caller proposes, in its order
of preference, channels it would transmit on (forward parameters with the codec and its RTCP
address) and channels it would receive on (forward nullData, reverse parameters with its RTP
and RTCP addresses). The called endpoint returns the proposals it accepts, one per direction,
filled in with its own addresses (H.323 8.1.7), in Alerting, Connect, CallProceeding or
Facility; accepting none is fastConnectRefused. Only G.711 mu-law and A-law in RTP session 1 are
accepted, the same codec both ways. Pure functions of bytes in, bytes out: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_messages import (
    AudioCodec,
    ChannelParameters,
    H245DecodeError,
    OpenLogicalChannel,
)
from acdgate.gateway.h323.ras_messages import TransportAddress

_AUDIO_SESSION = 1
OUR_CODECS = (AudioCodec.G711_ULAW, AudioCodec.G711_ALAW)


@dataclass(frozen=True, slots=True)
class FastStartAccepted:
    """Media set up by fastStart: what we answer (or read) and where our RTP goes.

    `elements` are the answer's encoded OLCs (empty when reading an answer); `codec` is sent
    and received; `remote_rtp`/`remote_rtcp` are the peer's addresses; `ignored` names the
    elements that could not be read, for the log.
    """

    codec: AudioCodec
    remote_rtp: TransportAddress
    remote_rtcp: TransportAddress | None
    elements: tuple[bytes, ...] = ()
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FastStartRefused:
    """Nothing acceptable: the call goes on with fastConnectRefused and H.245 (H.323 8.1.7)."""

    reason: str
    ignored: tuple[str, ...] = ()


def _read(codec: H245Codec, elements: Sequence[bytes]) -> tuple[list[OpenLogicalChannel],
                                                                 list[str]]:
    olcs: list[OpenLogicalChannel] = []
    ignored: list[str] = []
    for n, data in enumerate(elements):
        olc = codec.decode_fast_start(data)
        if isinstance(olc, H245DecodeError):
            ignored.append(f"element {n}: {olc.defect}")
        elif olc.unsupported is not None:
            ignored.append(f"element {n}: {olc.unsupported}")
        else:
            olcs.append(olc)
    return olcs, ignored


def _audio(p: ChannelParameters | None, codecs: Sequence[AudioCodec]) -> bool:
    return p is not None and p.session_id == _AUDIO_SESSION and p.codec in codecs


def answer_fast_start(codec: H245Codec, proposals: Sequence[bytes], rtp: TransportAddress,
                      rtcp: TransportAddress,
                      codecs: Sequence[AudioCodec] = OUR_CODECS) -> FastStartAccepted | FastStartRefused:
    """Pick one receive and one transmit G.711 channel from an incoming Setup's proposals.

    H.323 8.1.7: proposals come in the caller's order of preference; the first codec we
    speak that the caller offers both ways wins (the caller's own order, mu-law before A-law
    when it lists them so, as our offers do). The caller's transmit proposal comes back with
    our RTP/RTCP in its forward parameters; its receive proposal (where we transmit) comes back
    with our RTCP, the caller's RTP address being where our RTP goes.
    """
    olcs, ignored = _read(codec, proposals)
    transmit = [o for o in olcs if o.reverse is None and _audio(o.forward, codecs)]
    receive = [o for o in olcs if o.forward is None and _audio(o.reverse, codecs)
               and o.reverse is not None and o.reverse.media_channel is not None]
    for offered in transmit:
        assert offered.forward is not None
        chosen = offered.forward.codec
        ours = next((o for o in receive if o.reverse is not None and o.reverse.codec is chosen),
                    None)
        if ours is None or ours.reverse is None or ours.reverse.media_channel is None:
            continue
        their_forward = ChannelParameters(chosen, offered.forward.frames, _AUDIO_SESSION,
                                          media_channel=rtp, media_control_channel=rtcp)
        our_reverse = ChannelParameters(chosen, ours.reverse.frames, _AUDIO_SESSION,
                                        media_channel=ours.reverse.media_channel,
                                        media_control_channel=rtcp)
        answer = (codec.encode_fast_start(OpenLogicalChannel(offered.number, their_forward)),
                  codec.encode_fast_start(OpenLogicalChannel(ours.number, None, our_reverse)))
        return FastStartAccepted(chosen, ours.reverse.media_channel,
                                 ours.reverse.media_control_channel
                                 or offered.forward.media_control_channel,
                                 answer, tuple(ignored))
    return FastStartRefused("no G.711 channel proposed in both directions", tuple(ignored))


def offer_fast_start(codec: H245Codec, rtp: TransportAddress, rtcp: TransportAddress,
                     codecs: Sequence[AudioCodec] = OUR_CODECS,
                     frames: int = 20) -> tuple[bytes, ...]:
    """Our proposals for an outgoing Setup: each codec (mu-law first) to send and to receive."""
    elements: list[bytes] = []
    for n, audio in enumerate(codecs):
        transmit = ChannelParameters(audio, frames, _AUDIO_SESSION, media_control_channel=rtcp)
        receive = ChannelParameters(audio, frames, _AUDIO_SESSION, media_channel=rtp,
                                    media_control_channel=rtcp)
        elements.append(codec.encode_fast_start(OpenLogicalChannel(2 * n + 1, transmit)))
        elements.append(codec.encode_fast_start(OpenLogicalChannel(2 * n + 2, None, receive)))
    return tuple(elements)


def read_fast_start_answer(codec: H245Codec, elements: Sequence[bytes],
                           codecs: Sequence[AudioCodec] = OUR_CODECS,
                           ) -> FastStartAccepted | FastStartRefused:
    """The channels the called endpoint accepted (Alerting, Connect, CallProceeding, Facility).

    Our transmit channel comes back with the peer's RTP address in its forward parameters;
    the codec is that channel's. An answer without it is refused (H.245 follows).
    """
    olcs, ignored = _read(codec, elements)
    for olc in olcs:
        forward = olc.forward
        if (olc.reverse is None and forward is not None and _audio(forward, codecs)
                and forward.media_channel is not None):
            return FastStartAccepted(forward.codec, forward.media_channel,
                                     forward.media_control_channel, (), tuple(ignored))
    return FastStartRefused("the answer opens no G.711 channel we transmit on", tuple(ignored))
