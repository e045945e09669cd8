"""`--sip-trace FILE`: every SIP message sent and received, as a pcap Wireshark opens as SIP."""

from __future__ import annotations

from acdgate.gateway.pcap.writer import PcapWriter, internet_checksum, transport_checksum

__all__ = ["SipTrace", "internet_checksum", "transport_checksum"]


class SipTrace(PcapWriter):
    """Writes SIP messages into a pcap file as they are sent and received (`PcapWriter.record`
    with the transport each message used)."""
