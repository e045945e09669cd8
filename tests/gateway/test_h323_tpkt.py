"""TPKT framing (RFC 1006 section 6) and the sans-IO de-framer of a TCP byte stream."""

from __future__ import annotations

import itertools

import pytest
from acdgate.gateway.h323.tpkt import (
    DEFAULT_MAX_LENGTH,
    MAX_PAYLOAD,
    TpktDefect,
    TpktError,
    TpktReader,
    frame,
)
from hypothesis import given
from hypothesis import strategies as st


def test_frame_writes_version_3_and_the_length_with_the_header() -> None:
    assert frame(b"\x08\x02\x00\x01\x05") == b"\x03\x00\x00\x09\x08\x02\x00\x01\x05"


@pytest.mark.parametrize("size", [0, MAX_PAYLOAD + 1])
def test_frame_refuses_what_the_length_cannot_count(size: int) -> None:
    with pytest.raises(ValueError):
        frame(bytes(size))


def test_frame_takes_the_largest_payload() -> None:
    assert frame(bytes(MAX_PAYLOAD))[:4] == b"\x03\x00\xff\xff"


def test_several_pdus_in_one_segment_and_a_partial_one() -> None:
    reader = TpktReader()
    data = frame(b"one") + frame(b"two") + frame(b"three")[:5]
    assert reader.feed(data) == [b"one", b"two"]
    assert reader.buffered == 5
    assert reader.feed(frame(b"three")[5:]) == [b"three"]
    assert reader.buffered == 0
    assert reader.eof() is None


@given(payloads=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8),
       cuts=st.lists(st.integers(0, 3000), max_size=20))
def test_any_segmentation_gives_the_same_payloads(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    reader = TpktReader()
    got: list[bytes | TpktError] = []
    for start, end in itertools.pairwise(points):
        got += reader.feed(stream[start:end])
    assert got == payloads
    assert reader.eof() is None
    assert not reader.failed


@pytest.mark.parametrize(("data", "defect"), [
    (b"\x02\x00\x00\x08abcd", TpktDefect.BAD_VERSION),
    (b"\x03\x00\x00\x04", TpktDefect.TOO_SHORT),
    (b"\x03\x00\x00\x00", TpktDefect.TOO_SHORT),
    (b"\x03\x00\xff\xff", TpktDefect.TOO_LONG),
    (b"\x03\x00" + (DEFAULT_MAX_LENGTH + 1).to_bytes(2, "big"), TpktDefect.TOO_LONG),
])
def test_a_bad_header_is_final(data: bytes, defect: TpktDefect) -> None:
    reader = TpktReader()
    (error,) = reader.feed(data)
    assert isinstance(error, TpktError)
    assert error.defect is defect
    assert error.close_connection is True
    assert reader.failed
    # nothing more is read from a stream that lost its framing, however good it looks
    assert reader.feed(frame(b"later")) == []
    assert reader.eof() is None


def test_payloads_before_a_defect_are_delivered_first() -> None:
    reader = TpktReader()
    got = reader.feed(frame(b"good") + b"\x04\x00\x00\x09abcde")
    assert got[0] == b"good"
    assert isinstance(got[1], TpktError) and got[1].defect is TpktDefect.BAD_VERSION
    assert len(got) == 2


def test_the_maximum_is_configurable() -> None:
    reader = TpktReader(max_length=10)
    assert reader.feed(frame(b"123456")) == [b"123456"]
    (error,) = reader.feed(frame(b"1234567"))
    assert isinstance(error, TpktError) and error.defect is TpktDefect.TOO_LONG
    assert "11 > 10" in error.detail
    with pytest.raises(ValueError):
        TpktReader(max_length=4)
    with pytest.raises(ValueError):
        TpktReader(max_length=0x10000)


def test_a_stream_that_ends_inside_a_tpkt_is_truncated() -> None:
    reader = TpktReader()
    assert reader.feed(frame(b"whole") + frame(b"cut short")[:6]) == [b"whole"]
    error = reader.eof()
    assert isinstance(error, TpktError) and error.defect is TpktDefect.TRUNCATED
    assert reader.failed


def test_a_header_split_octet_by_octet() -> None:
    reader = TpktReader()
    data = frame(b"x")
    assert [reader.feed(data[i:i + 1]) for i in range(len(data))] == [[], [], [], [], [b"x"]]
