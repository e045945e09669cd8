"""`--h323-trace FILE`: a running gateway writes every RAS datagram in and out, and tshark's own
H.225.0 dissector reads each frame as the message that was sent, with no malformed packet or
expert warning; `H323Trace.record_tcp` writes segments tshark reassembles into TPKT/Q.931."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    GatekeeperRequest,
    RegistrationRequest,
    TransportAddress,
    UnregistrationRequest,
)
from acdgate.gateway.h323.trace import H323Trace
from acdgate.lab.gateway_process import StartGateway

TSHARK = shutil.which("tshark")
FIELDS = ("frame.number", "ip.src", "udp.srcport", "h225.RasMessage", "h225.requestSeqNum",
          "_ws.malformed", "_ws.expert")
GRQ, GCF, RRQ, RCF, URQ, UCF = 0, 1, 3, 4, 6, 7  # H.225.0 RasMessage CHOICE indexes


def tshark(pcap: Path, fields: tuple[str, ...], *decode_as: str) -> list[dict[str, str]]:
    assert TSHARK is not None
    command = [TSHARK, "-r", str(pcap), "-T", "fields", "-E", "separator=|",
               "-E", "occurrence=a", "-E", "aggregator=,"]
    for rule in decode_as:
        command += ["-d", rule]
    for f in fields:
        command += ["-e", f]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]


def test_the_trace_holds_every_ras_datagram_and_tshark_reads_each(
        start_gateway: StartGateway, tmp_path: Path) -> None:
    pcap = tmp_path / "h323.pcap"
    gw = start_gateway(extra=["--h323-trace", str(pcap)])
    ras = gw.info["h323"]["ras"]
    target = (ras["host"], int(ras["port"]))
    codec = RasCodec()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5.0)
        me = TransportAddress("127.0.0.1", sock.getsockname()[1])

        def ask(request: GatekeeperRequest | RegistrationRequest | UnregistrationRequest) -> bytes:
            sock.sendto(codec.encode(request), target)
            return sock.recvfrom(65535)[0]

        ask(GatekeeperRequest(1, me, (Alias(AliasKind.DIALLED_DIGITS, "2201"),)))
        ask(RegistrationRequest(
            2, (TransportAddress("127.0.0.1", 1720),), (me,),
            (Alias(AliasKind.DIALLED_DIGITS, "2201"),), time_to_live=60,
            tokens=(make_cat("2201", "pw2201", int(time.time()), 1),)))
        endpoint_id = next(s for s in gw.get("/api/stations")
                           if s["extension"] == "2201")["h323"][0]["endpoint_identifier"]
        ask(UnregistrationRequest(3, (TransportAddress("127.0.0.1", 1720),),
                                  endpoint_identifier=endpoint_id))
        client_port = me.port
    gw.stop()  # the file is flushed at every frame; stopping makes sure nothing is pending
    rows = tshark(pcap, FIELDS, f"udp.port=={target[1]},h225")
    assert [(r["h225.RasMessage"], r["h225.requestSeqNum"]) for r in rows] == [
        (str(GRQ), "1"), (str(GCF), "1"), (str(RRQ), "2"), (str(RCF), "2"),
        (str(URQ), "3"), (str(UCF), "3")]
    assert [r["udp.srcport"] for r in rows] == [str(client_port), str(target[1])] * 3
    assert all(r["_ws.malformed"] == "" and r["_ws.expert"] == "" for r in rows), rows


def test_tcp_segments_are_reassembled_into_tpkt(tmp_path: Path) -> None:
    """What call signalling will write: a TPKT split over two writes and two TPKTs in one, on
    one connection; tshark's TPKT/Q.931 dissectors must see three whole messages. (Wireshark
    finds Q.931 over TPKT by a heuristic, on any port, that needs the Q.931 header in the first
    segment: a split inside those few octets leaves that message undecoded.)"""
    # Q.931 STATUS ENQUIRY (0x75), call reference 0x1234, a Display IE (0x28) "hello"
    q931 = bytes([0x08, 0x02, 0x12, 0x34, 0x75, 0x28, 0x05]) + b"hello"
    tpkt = bytes([3, 0, 0, 4 + len(q931)]) + q931
    trace = H323Trace(tmp_path / "cs.pcap")
    phone, gateway = ("192.0.2.10", 40000), ("192.0.2.1", 41720)
    trace.record_tcp(tpkt[:11], phone, gateway, 1.0)  # up to the Display IE's length
    trace.record_tcp(tpkt[11:], phone, gateway, 1.1)
    trace.record_tcp(tpkt + tpkt, gateway, phone, 1.2)
    trace.close()
    rows = tshark(tmp_path / "cs.pcap", ("frame.number", "q931.message_type", "q931.call_ref",
                                         "_ws.malformed", "_ws.expert"))
    assert [r["q931.message_type"] for r in rows] == ["", "0x75", "0x75,0x75"]
    assert [r["q931.call_ref"] for r in rows] == ["", "1234", "1234,1234"]
    assert all(r["_ws.malformed"] == "" and r["_ws.expert"] == "" for r in rows), rows
