"""sipvicious (svmap, svwar, svcrack) as an attacker runs it, in a bounded subprocess.

sipvicious 0.3.x accepts `-b` but svwar and svcrack never pass it to their socket: they send from
the address the kernel picks, 127.0.0.1 toward a gateway on 127.0.0.1. The legitimate phone in
the tests therefore uses 127.0.0.2 (loopback answers for all of 127/8).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
ATTACKER = "127.0.0.1"  # where svwar and svcrack send from (see above)
PHONE = "127.0.0.2"  # the legitimate phone's address


@dataclass(frozen=True, slots=True)
class Run:
    """What one sipvicious run printed, its exit status and how long it took."""

    stdout: str
    stderr: str
    returncode: int
    seconds: float


def command(tool: str, *args: str) -> list[str]:
    """The command line of `sipvicious_<tool>` from this interpreter's environment."""
    return [str(BIN / f"sipvicious_{tool}"), *args]


def run(tool: str, *args: str, timeout: float = 90.0) -> Run:
    """Run `sipvicious_<tool> args` to its end (at most `timeout` seconds)."""
    start = time.monotonic()
    proc = subprocess.run(command(tool, *args), capture_output=True, text=True, timeout=timeout)
    return Run(proc.stdout, proc.stderr, proc.returncode, time.monotonic() - start)


def svwar(target: tuple[str, int], method: str, extensions: str = "2095-2115") -> Run:
    """svwar over `extensions` with `method`; `--force` scans on though every extension is
    challenged alike (without it svwar gives up at once: "authentication request for an unknown
    extension"); it stops after 5 s without an answer."""
    return run("svwar", "--force", f"-e{extensions}", "-m", method, "--maximumtime=5",
               f"udp://{target[0]}:{target[1]}")


def svcrack_command(target: tuple[str, int], user: str, dictionary: Path) -> list[str]:
    """svcrack guessing `user`'s password from `dictionary`; it stops after 5 s without an answer
    (so a blocked source ends its run)."""
    return command("svcrack", f"-u{user}", "-d", str(dictionary), "--maximumtime=5",
                   f"udp://{target[0]}:{target[1]}")


def dictionary(path: Path, password: str, *, at: int, size: int) -> Path:
    """A password list of `size` wrong guesses with `password` at position `at` (0-based)."""
    words = [f"guess{i:04d}" for i in range(size - 1)]
    words.insert(at, password)
    path.write_text("\n".join(words) + "\n")
    return path
