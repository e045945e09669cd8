"""Per-source RTP reception statistics, computed exactly as RFC 3550 Appendix A does:
sequence validation and the extended highest sequence (A.1), cumulative and fractional
loss (A.3), and interarrival jitter (A.8). Feeds the report blocks of RTCP SR/RR.
"""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.codecs.rtcp import ReportBlock
from acdgate.codecs.rtp import SEQ_MOD, ts_diff

# RFC 3550 A.1 constants.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2


@dataclass(frozen=True, slots=True)
class RtpStatsSnapshot:
    """Counters at one moment (no interval state is consumed)."""

    packets_received: int
    expected: int
    lost: int
    extended_highest_sequence: int
    jitter: float
    duplicates_or_late: int
    bad_sequence_jumps: int


class RtpReceiveStats:
    """Statistics of one incoming SSRC. Call `update` for every packet with its arrival time."""

    __slots__ = (
        "_bad_seq", "_base_seq", "_cycles", "_expected_prior", "_jitter", "_last_arrival",
        "_last_ts", "_max_seq", "_probation", "_received", "_received_prior", "bad_jumps",
        "clock_rate", "duplicates_or_late", "ssrc",
    )

    def __init__(self, ssrc: int, clock_rate: int = 8000, probation: int = MIN_SEQUENTIAL) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._probation = probation
        self._max_seq: int | None = None
        self._base_seq = 0
        self._cycles = 0
        self._bad_seq = SEQ_MOD + 1
        self._received = 0
        self._received_prior = 0
        self._expected_prior = 0
        self._jitter = 0.0
        self._last_arrival: float | None = None
        self._last_ts = 0
        self.duplicates_or_late = 0
        self.bad_jumps = 0

    def _init_seq(self, seq: int) -> None:
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = SEQ_MOD + 1
        self._cycles = 0
        self._received = 0
        self._received_prior = 0
        self._expected_prior = 0

    def _update_seq(self, seq: int) -> bool:
        # RFC 3550 A.1 update_seq(), including the probation of a new source.
        if self._max_seq is None:
            self._init_seq(seq)
            if self._probation == 0:
                self._received += 1
                return True
            self._max_seq = (seq - 1) & 0xFFFF
        max_seq = self._max_seq
        udelta = (seq - max_seq) & 0xFFFF
        if self._probation:
            if seq == (max_seq + 1) & 0xFFFF:
                self._probation -= 1
                self._max_seq = seq
                if self._probation == 0:
                    self._init_seq(seq)
                    self._received += 1
                    return True
            else:
                self._probation = MIN_SEQUENTIAL - 1
                self._max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < max_seq:
                self._cycles += SEQ_MOD  # sequence number wrapped
            self._max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            if seq == self._bad_seq:
                # Two sequential packets after a big jump: the source restarted.
                self.bad_jumps += 1
                self._init_seq(seq)
            else:
                self._bad_seq = (seq + 1) & 0xFFFF
                return False
        else:
            self.duplicates_or_late += 1  # duplicate or reordered packet
        self._received += 1
        return True

    def update(self, sequence: int, timestamp: int, arrival: float) -> bool:
        """Account one packet (arrival in seconds); False if A.1 judged it invalid."""
        valid = self._update_seq(sequence)
        if not valid:
            return False
        # RFC 3550 A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16.
        if self._last_arrival is not None:
            d = (arrival - self._last_arrival) * self.clock_rate - ts_diff(timestamp, self._last_ts)
            self._jitter += (abs(d) - self._jitter) / 16.0
        self._last_arrival = arrival
        self._last_ts = timestamp
        return True

    @property
    def extended_highest_sequence(self) -> int:
        """Cycles count << 16 | highest sequence number received (A.1)."""
        return self._cycles + (self._max_seq or 0)

    @property
    def expected(self) -> int:
        """Packets expected since the base sequence (A.3)."""
        if self._max_seq is None or self._received == 0:
            return 0
        return self.extended_highest_sequence - self._base_seq + 1

    @property
    def packets_received(self) -> int:
        return self._received

    @property
    def lost(self) -> int:
        """Cumulative packets lost (A.3); negative when duplicates outnumber losses."""
        return self.expected - self._received

    @property
    def jitter(self) -> float:
        """Interarrival jitter estimate in timestamp units (A.8)."""
        return self._jitter

    def snapshot(self) -> RtpStatsSnapshot:
        return RtpStatsSnapshot(self._received, self.expected, self.lost,
                                self.extended_highest_sequence, self._jitter,
                                self.duplicates_or_late, self.bad_jumps)

    def take_fraction_lost(self) -> int:
        """Fraction lost since the previous call, as the 8-bit fixed point of A.3.

        Consumes the interval: the next call covers only what arrives after this one.
        """
        expected = self.expected
        expected_interval = expected - self._expected_prior
        self._expected_prior = expected
        received_interval = self._received - self._received_prior
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval

    def report_block(self, last_sr: int = 0, delay_since_last_sr: int = 0) -> ReportBlock:
        """A reception report block for this source; consumes the fraction-lost interval."""
        fraction = self.take_fraction_lost()
        # A.3: clamp the cumulative loss to the signed 24-bit field.
        lost = max(-0x800000, min(0x7FFFFF, self.lost))
        return ReportBlock(self.ssrc, fraction, lost, self.extended_highest_sequence & 0xFFFFFFFF,
                           int(self._jitter), last_sr, delay_since_last_sr)
