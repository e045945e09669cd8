"""REGISTER hot path through the transaction layer: per request, receive (open a server
transaction), the TU's 200, a retransmission absorbed, Timer J reaping it. Baseline, measured
in the same run: parsing the same REGISTER datagram (the work every request costs anyway).

Run: .venv/bin/python bench/transaction_layer_bench.py [seconds-per-phase]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from acdgate.gateway.sip.message import Request, make_response
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.transaction_actions import StartTimer
from acdgate.gateway.sip.transaction_layer import TransactionLayer

REGISTER = (
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK{n};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:201@example.com>;tag=f{n}\r\n"
    "To: <sip:201@example.com>\r\n"
    "Call-ID: reg{n}@192.0.2.20\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:201@192.0.2.20:5060>;expires=3600\r\n"
    "Content-Length: 0\r\n\r\n"
)
SOURCE = ("192.0.2.20", 5060)


def timed(seconds: float, run: Callable[[int], None]) -> tuple[int, float]:
    """Run `run(i)` until `seconds` have passed; (iterations, elapsed)."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            run(n)
            n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n, now - start


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    datagrams = [REGISTER.format(n=i).encode() for i in range(4096)]
    messages = [m for m in map(parse_message, datagrams) if isinstance(m, Request)]
    assert len(messages) == len(datagrams)

    def parse_only(i: int) -> None:
        parse_message(datagrams[i & 4095])

    layer = TransactionLayer()

    def transaction(i: int) -> None:
        request = messages[i & 4095]
        layer.receive(request, SOURCE, False, 0.0)
        actions = layer.send_response(make_response(request, 200, to_tag="t"), 0.0)
        layer.receive(request, SOURCE, False, 0.1)
        for action in actions:
            if isinstance(action, StartTimer):
                layer.timer_fired(action.transaction_key, action.name, action.at)

    n_base, t_base = timed(seconds, parse_only)
    n_tx, t_tx = timed(seconds, transaction)
    assert len(layer) == 0, "transactions leaked"
    base_us = t_base / n_base * 1e6
    tx_us = t_tx / n_tx * 1e6
    print(f"parse REGISTER (baseline):          {base_us:8.2f} us/request ({n_base / t_base:,.0f}/s)")
    print(f"transaction layer (open..reap):     {tx_us:8.2f} us/request ({n_tx / t_tx:,.0f}/s)")
    print(f"ratio transaction layer / parse:    {tx_us / base_us:8.2f}")


if __name__ == "__main__":
    main()
