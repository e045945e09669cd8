"""Cost of the H.225.0 RAS codec per RRQ: pycrate decode and encode, one reused object.

Run: .venv/bin/python bench/bench_h323_ras_codec.py [N]
Session h323ras (2 cores shared with 4 other jobs, pycrate 0.8.1, pure Python): 170-310 us to
decode a 115-octet RRQ with a CAT, 180-355 us to encode one, about 175 us to encode its RCF
(the spread is the machine's load). A SIP REGISTER costs a few tens of us here: pycrate is the
cost of an H.323 registration.
"""

from __future__ import annotations

import sys
import time

from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    RegistrationConfirm,
    RegistrationRequest,
    TransportAddress,
)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    codec = RasCodec()
    phone = TransportAddress("192.0.2.10", 1720)
    rrq = RegistrationRequest(
        1, (phone,), (TransportAddress("192.0.2.10", 1719),),
        (Alias(AliasKind.DIALLED_DIGITS, "2201"),), vendor="bench 1.0", time_to_live=300,
        tokens=(make_cat("2201", "pw2201", 1_700_000_000, 7),))
    rcf = RegistrationConfirm(1, TransportAddress("192.0.2.1", 1720), rrq.terminal_aliases,
                              "acdgate", "0123456789abcdef", 300)
    data = codec.encode(rrq)
    for label, run in (("decode RRQ", lambda: codec.decode(data)),
                       ("encode RRQ", lambda: codec.encode(rrq)),
                       ("encode RCF", lambda: codec.encode(rcf))):
        start = time.perf_counter()
        for _ in range(n):
            run()
        print(f"{label}: {(time.perf_counter() - start) / n * 1e6:.0f} us ({len(data)} octets RRQ)")


if __name__ == "__main__":
    main()
