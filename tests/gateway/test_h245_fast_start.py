"""H.323 8.1.7 fastStart: answering a Setup's proposals, offering ours, reading an answer."""

from __future__ import annotations

from acdgate.gateway.h323.fast_start import (
    FastStartAccepted,
    FastStartRefused,
    answer_fast_start,
    offer_fast_start,
    read_fast_start_answer,
)
from acdgate.gateway.h323.h245_messages import (
    AudioCodec,
    ChannelParameters,
    OpenLogicalChannel,
)
from h245_support import CODEC, GW_RTCP, GW_RTP, PHONE_RTCP, PHONE_RTP
from hypothesis import given
from hypothesis import strategies as st

ULAW, ALAW = AudioCodec.G711_ULAW, AudioCodec.G711_ALAW


def proposals(*codecs: AudioCodec) -> tuple[bytes, ...]:
    """What a caller at PHONE_* proposes: each codec to send (odd numbers) and to receive."""
    out = []
    for n, codec in enumerate(codecs):
        out.append(CODEC.encode_fast_start(OpenLogicalChannel(
            2 * n + 1, ChannelParameters(codec, 30, 1, None, PHONE_RTCP))))
        out.append(CODEC.encode_fast_start(OpenLogicalChannel(
            2 * n + 2, None, ChannelParameters(codec, 30, 1, PHONE_RTP, PHONE_RTCP))))
    return tuple(out)


def test_answer_picks_mu_law_when_the_caller_lists_it_first() -> None:
    result = answer_fast_start(CODEC, proposals(ULAW, ALAW), GW_RTP, GW_RTCP)
    assert isinstance(result, FastStartAccepted)
    assert (result.codec, result.remote_rtp, result.remote_rtcp) == (ULAW, PHONE_RTP, PHONE_RTCP)
    answer = [CODEC.decode_fast_start(e) for e in result.elements]
    assert answer == [
        # the caller's transmit channel, with where it must send: our RTP/RTCP
        OpenLogicalChannel(1, ChannelParameters(ULAW, 30, 1, GW_RTP, GW_RTCP)),
        # the channel we transmit on: to the caller's RTP, our RTCP
        OpenLogicalChannel(2, None, ChannelParameters(ULAW, 30, 1, PHONE_RTP, GW_RTCP)),
    ]


def test_answer_follows_the_callers_order() -> None:
    result = answer_fast_start(CODEC, proposals(ALAW, ULAW), GW_RTP, GW_RTCP)
    assert isinstance(result, FastStartAccepted) and result.codec is ALAW


def test_answer_skips_what_it_cannot_read_or_use() -> None:
    unreadable = b"\x00\x00\x08\x0c"  # an OLC cut short
    result = answer_fast_start(CODEC, (unreadable, *proposals(ALAW)), GW_RTP, GW_RTCP)
    assert isinstance(result, FastStartAccepted) and result.codec is ALAW
    assert len(result.ignored) == 1 and result.ignored[0].startswith("element 0:")


def test_nothing_acceptable_is_refused() -> None:
    # only a transmit proposal, no channel to receive on: nothing both ways
    one_way = proposals(ULAW)[:1]
    assert answer_fast_start(CODEC, one_way, GW_RTP, GW_RTCP) == FastStartRefused(
        "no G.711 channel proposed in both directions")
    assert isinstance(answer_fast_start(CODEC, (), GW_RTP, GW_RTCP), FastStartRefused)
    # A-law only, and we speak mu-law only
    assert isinstance(answer_fast_start(CODEC, proposals(ALAW), GW_RTP, GW_RTCP, (ULAW,)),
                      FastStartRefused)


def test_our_offer_answered_by_our_answerer_and_read_back() -> None:
    offer = offer_fast_start(CODEC, PHONE_RTP, PHONE_RTCP)
    olcs = [CODEC.decode_fast_start(e) for e in offer]
    assert [(o.number, o.forward.codec if o.forward else None,
             o.reverse.codec if o.reverse else None) for o in olcs if isinstance(
                 o, OpenLogicalChannel)] == [(1, ULAW, None), (2, None, ULAW),
                                            (3, ALAW, None), (4, None, ALAW)]
    answered = answer_fast_start(CODEC, offer, GW_RTP, GW_RTCP)
    assert isinstance(answered, FastStartAccepted)
    read = read_fast_start_answer(CODEC, answered.elements)
    assert read == FastStartAccepted(ULAW, GW_RTP, GW_RTCP)


def test_an_answer_without_our_transmit_channel_is_refused() -> None:
    reverse_only = (CODEC.encode_fast_start(OpenLogicalChannel(
        2, None, ChannelParameters(ULAW, 20, 1, PHONE_RTP, GW_RTCP))),)
    assert isinstance(read_fast_start_answer(CODEC, reverse_only), FastStartRefused)
    assert isinstance(read_fast_start_answer(CODEC, (b"\xff",)), FastStartRefused)


@given(st.lists(st.binary(max_size=40), max_size=6))
def test_garbage_proposals_never_raise(elements: list[bytes]) -> None:
    result = answer_fast_start(CODEC, elements, GW_RTP, GW_RTCP)
    assert isinstance(result, (FastStartAccepted, FastStartRefused))
    assert isinstance(read_fast_start_answer(CODEC, elements),
                      (FastStartAccepted, FastStartRefused))
