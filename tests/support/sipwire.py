"""Plain-socket SIP for tests that must send what no real client would (hostile input, probes).

Only bytes in, bytes out: the assertions read responses with the gateway's own parser
nowhere in the loop, so a parser bug cannot hide itself.
"""

from __future__ import annotations

import socket
import subprocess
import uuid


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port the kernel just gave out on 127.0.0.1 (free for UDP and TCP with high odds)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def options(target: tuple[str, int], local_port: int, *, call_id: str | None = None) -> bytes:
    """An OPTIONS request to the gateway."""
    call_id = call_id or uuid.uuid4().hex
    return (
        f"OPTIONS sip:{target[0]}:{target[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:{target[0]}:{target[1]}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Accept: application/sdp\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def status_line(data: bytes) -> tuple[int, str]:
    """(status, reason) of a response's first line."""
    first = data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
    parts = first.split(" ", 2)
    assert parts[0] == "SIP/2.0", f"not a response: {first!r}"
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


def header(data: bytes, name: str) -> str | None:
    """The first value of a header in a raw message (full names only)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


class UdpProbe:
    """A UDP socket on loopback that sends datagrams and reads answers with a timeout."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def send(self, data: bytes, target: tuple[str, int]) -> None:
        self.sock.sendto(data, target)

    def receive(self, timeout: float = 5.0) -> bytes:
        """The next datagram; raises TimeoutError when none comes in time."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except TimeoutError:
            raise TimeoutError("no answer from the gateway") from None
        return data

    def until_call_id(self, call_id: str, timeout: float = 5.0) -> tuple[bytes, list[bytes]]:
        """Read until the answer with this Call-ID; returns it and whatever came before it."""
        before = []
        while True:
            data = self.receive(timeout)
            if header(data, "Call-ID") == call_id:
                return data, before
            before.append(data)

    def close(self) -> None:
        self.sock.close()


def tshark_fields(pcap: str, *fields: str, display_filter: str = "sip",
                  preferences: tuple[str, ...] = ()) -> list[list[str]]:
    """Fields of each packet tshark decodes from a capture; `preferences` are tshark's
    ``name:value`` settings (``udp.check_checksum:TRUE``)."""
    args = ["tshark", "-r", pcap, "-Y", display_filter, "-T", "fields"]
    for p in preferences:
        args += ["-o", p]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]
