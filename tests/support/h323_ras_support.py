"""Shared pieces of the RAS tests: a site, a gatekeeper, an endpoint's requests, a pcap writer."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

from acdgate.acd.site import Site, Station
from acdgate.gateway.h323.gatekeeper import Gatekeeper, GatekeeperSettings
from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    RasAnswer,
    RasRequest,
    RegistrationRequest,
    TransportAddress,
)

SITE = Site(
    name="lab",
    stations=(
        Station("2201", "2201", "pw2201"),  # registers by extension (dialledDigits)
        Station("2202", "2202", "pw2202", h323_alias="desk-2202"),  # by its alias
        Station("2203", "2203", ""),  # no password: no token needed
    ),
    users=(),
    groups=(),
)
GK_RAS = TransportAddress("192.0.2.1", 1719)
GK_SIGNAL = TransportAddress("192.0.2.1", 1720)
PHONE = ("192.0.2.10", 1719)
PHONE_SIGNAL = TransportAddress("192.0.2.10", 1720)
PHONE_RAS = TransportAddress("192.0.2.10", 1719)
NOW = 1_700_000_000.0


def make_gatekeeper() -> Gatekeeper:
    ids = iter(f"ep{n}" for n in range(1, 1000))
    return Gatekeeper(SITE, GatekeeperSettings(ras_address=GK_RAS, call_signal_address=GK_SIGNAL),
                      new_identifier=lambda: next(ids))


def digits(value: str) -> Alias:
    return Alias(AliasKind.DIALLED_DIGITS, value)


def rrq(seq: int, alias: Alias, password: str | None, now: float = NOW, random: int = 7,
        ttl: int | None = 120) -> RegistrationRequest:
    """A full RRQ as a phone sends it, with a CAT when `password` is given."""
    tokens = (make_cat(alias.value, password, int(now), random),) if password is not None else ()
    return RegistrationRequest(
        seq=seq, call_signal_addresses=(PHONE_SIGNAL,), ras_addresses=(PHONE_RAS,),
        terminal_aliases=(alias,), vendor="acdgate-test 1.0", time_to_live=ttl, tokens=tokens)


def encode(message: RasRequest | RasAnswer) -> bytes:
    return RasCodec().encode(message)


def write_pcap(path: Path, datagrams: Iterable[tuple[bytes, bool]]) -> None:
    """A pcap (LINKTYPE_RAW, IPv4/UDP 1719) of datagrams, True: phone -> gatekeeper."""
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for n, (data, to_gatekeeper) in enumerate(datagrams):
            src, dst = (bytes([192, 0, 2, 10]), bytes([192, 0, 2, 1]))
            if not to_gatekeeper:
                src, dst = dst, src
            udp = struct.pack("!HHHH", 1719, 1719, 8 + len(data), 0) + data
            header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n, 0, 64, 17, 0, src, dst)
            total = sum(struct.unpack("!10H", header))
            while total > 0xFFFF:
                total = (total & 0xFFFF) + (total >> 16)
            header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
            packet = header + udp
            f.write(struct.pack("<IIII", n, 0, len(packet), len(packet)) + packet)
