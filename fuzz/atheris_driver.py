"""The atheris driver every harness shares: instrument the loaded code, then fuzz `check`.

A harness's `check(data)` raises only when the parser broke its contract, so any exception
atheris sees is a crash worth a corpus entry (see README.md).
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable

# what is instrumented for coverage: our code, the ASN.1 PER and binary parsing libraries the
# H.323 decoders stand on, and the harness. Not everything loaded (`atheris.instrument_all`):
# that took minutes for numpy's and twisted's thousands of functions on a loaded machine.
INSTRUMENTED = ("acdgate.", "pycrate", "construct", "__main__")


def _instrument(instrument_func: Callable[[types.FunctionType], object]) -> int:
    functions = [
        obj for obj in gc.get_objects()
        if isinstance(obj, types.FunctionType)
        and isinstance(obj.__module__, str) and obj.__module__.startswith(INSTRUMENTED)
    ]
    for function in functions:
        instrument_func(function)
    return len(functions)


def fuzz(check: Callable[[bytes], None]) -> None:
    """Run atheris on `check` with the command line's libFuzzer options and corpus dirs."""
    import atheris  # the `fuzz` extra; the CI short run imports the harnesses without it

    print(f"INFO: instrumented {_instrument(atheris.instrument_func)} functions", file=sys.stderr)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


def datagrams(data: bytes) -> list[bytes]:
    """One input read as a run of datagrams, each behind a one-octet length (for the
    harnesses that feed a stream, so mutations reorder, repeat and cut packets)."""
    out = []
    at = 0
    while at < len(data):
        n = data[at]
        out.append(data[at + 1 : at + 1 + n])
        at += 1 + n
    return out
