"""Warm, in-process CPU per registration: acdgate's SIP stack against the CPython + Twisted floor.

bench_register.py measures whole processes under SIPp, and its figures move 10-15 % from run to
run on a shared machine; this one measures the code alone, steadily enough to see a 5 % change.
Both servers listen on real loopback UDP sockets in this process, with the reactor not running:
a client socket sends a REGISTER, the benchmark times the server's `doRead` (recvfrom, all the
handling, sendto), reads the 401, answers it with an MD5 digest and times the second `doRead` up
to the 200. The gateway is `acdgate run`'s `Gateway` on the embedded demo site with a real SQLite
store; the floor is bench/twisted_floor.py. Timers that fire later (Timer J, 32 s) are not in it.

Prints, per server, the minimum and median over rounds of microseconds per registration, and the
ratio acdgate / floor. `--profile FILE` writes a cProfile of acdgate's share to FILE.

Run: .venv/bin/python bench/bench_register_warm.py [--registrations 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from acdgate.gateway.app import Gateway  # noqa: E402
from acdgate.gateway.site_loader import load_site  # noqa: E402
from acdgate.gateway.storage.store import StateStore  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted_floor import FloorRegistrar  # noqa: E402

STATIONS = [str(n) for n in range(2101, 2111)]  # the demo site's (and the floor's) stations


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Client:
    """A phone's UDP socket registering station after station with digest."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.local = self.sock.getsockname()[1]

    def request(self, n: int, user: str, cseq: int, authorization: str = "") -> bytes:
        return (
            f"REGISTER sip:127.0.0.1:{self.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};branch=z9hG4bK-{n}-{cseq};rport\r\n"
            f"From: <sip:{user}@127.0.0.1:{self.port}>;tag={n}\r\n"
            f"To: <sip:{user}@127.0.0.1:{self.port}>\r\n"
            f"Call-ID: {n}-warm@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@127.0.0.1:{self.local}>\r\n"
            f"Max-Forwards: 70\r\nExpires: 3600\r\nUser-Agent: bench\r\n{authorization}"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def answer(self, status: int) -> str:
        text = self.sock.recv(65535).decode()
        if not text.startswith(f"SIP/2.0 {status} "):
            raise SystemExit(f"bench_register_warm: expected {status}, got {text.splitlines()[0]!r}")
        return text

    def authorization(self, user: str, challenge: str) -> str:
        nonce = re.search(r'nonce="([^"]+)"', challenge)
        realm = re.search(r'realm="([^"]+)"', challenge)
        if nonce is None or realm is None:
            raise SystemExit(f"bench_register_warm: no digest challenge in {challenge!r}")
        uri = f"sip:127.0.0.1:{self.port}"
        response = _md5(f"{_md5(f'{user}:{realm[1]}:pw{user}')}:{nonce[1]}:00000001:c0ffee:auth:"
                        f"{_md5('REGISTER:' + uri)}")
        return (f'Authorization: Digest username="{user}", realm="{realm[1]}", nonce="{nonce[1]}", '
                f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, '
                'cnonce="c0ffee"\r\n')


def measure(read: Callable[[], None], client: Client, count: int, start: int,
            profile: cProfile.Profile | None = None) -> tuple[float, float]:
    """Seconds the server's reads took for `count` registrations: (challenged REGISTERs,
    authenticated REGISTERs)."""
    challenged = authenticated = 0.0
    for n in range(start, start + count):
        user = STATIONS[n % len(STATIONS)]
        client.send(client.request(n, user, 1))
        t0 = time.perf_counter()
        read()
        challenged += time.perf_counter() - t0
        challenge = client.answer(401)
        client.send(client.request(n, user, 2, client.authorization(user, challenge)))
        if profile is not None:
            profile.enable()
        t0 = time.perf_counter()
        read()
        authenticated += time.perf_counter() - t0
        if profile is not None:
            profile.disable()
        client.answer(200)
    return challenged, authenticated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--registrations", type=int, default=2000, help="per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server (default 5)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of acdgate's reads here")
    args = parser.parse_args(argv)
    count, rounds = max(1, args.registrations), max(1, min(args.rounds, 50))
    r: Any = reactor
    with tempfile.TemporaryDirectory(prefix="bench-register-warm-") as tmp:
        store = StateStore(Path(tmp))
        gateway = Gateway(r, load_site(None), store)
        gateway.listen("127.0.0.1", 0, None)
        udp = gateway.stack._udp
        assert udp is not None and udp.transport is not None
        floor_port = r.listenUDP(0, FloorRegistrar(), interface="127.0.0.1")
        servers: dict[str, tuple[Callable[[], None], Client]] = {
            "acdgate": (udp.transport.doRead, Client(gateway.sip_port)),
            "twisted-floor": (floor_port.doRead, Client(floor_port.getHost().port)),
        }
        profile = cProfile.Profile() if args.profile else None
        gc.collect()
        gc.freeze()  # as `acdgate run` does after start-up
        print(f"bench_register_warm: {rounds} rounds of {count} registrations per server, in-process")
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
        for i in range(rounds + 1):  # round 0 warms up, uncounted
            for name, (read, client) in servers.items():
                prof = profile if name == "acdgate" and i > 0 else None
                challenged, authenticated = measure(read, client, count, i * count, prof)
                if i > 0:
                    figures[name].append((challenged / count * 1e6, authenticated / count * 1e6))
        for name, pairs in figures.items():
            values = [a + b for a, b in pairs]
            best = min(pairs, key=sum)
            print(f"  {name:14} {min(values):7.1f} us/registration (min)  {statistics.median(values):7.1f} (median)"
                  f"  = {best[0]:.1f} challenged + {best[1]:.1f} authenticated")
        ratio = min(map(sum, figures["acdgate"])) / min(map(sum, figures["twisted-floor"]))
        print(f"  ratio acdgate / twisted-floor: {ratio:.2f}x (min against min)")
        if profile is not None:
            profile.dump_stats(args.profile)
            print(f"  cProfile of acdgate's reads: {args.profile}")
        floor_port.stopListening()
        gateway.stack.stop()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
