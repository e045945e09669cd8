"""`acdgate lab run`: run hil_tests/ against an inventory with a progress bar, then write
JUnit XML and the HTML report (with a SIP ladder per test) under the output folder."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from acdgate.lab.report import read_records, write_html, write_junit


class ProgressBar:
    """A pytest plugin drawing `[#####.....] 12/40 name` on standard error as tests finish."""

    def __init__(self, width: int = 30) -> None:
        self.width = width
        self.total = 0
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()

    def pytest_collection_finish(self, session: object) -> None:
        self.total = len(getattr(session, "items", []))

    def pytest_runtest_logreport(self, report: object) -> None:
        when = getattr(report, "when", "")
        if when == "call" or (when == "setup" and getattr(report, "failed", False)):
            self.done += 1
            self.failed += bool(getattr(report, "failed", False))
            filled = self.width * self.done // max(self.total, 1)
            name = str(getattr(report, "nodeid", "")).split("::")[-1][:50]
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                             f"{self.failed} failed {time.monotonic() - self.started:5.0f}s {name:<50}")
            sys.stderr.flush()


def run_suite(*, inventory: str | None, keyword: str | None, out: str, tests: str | None, quick: bool) -> int:
    """Run the suite; returns pytest's exit status."""
    import pytest

    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "records.jsonl").unlink(missing_ok=True)
    os.environ["ACDGATE_LAB_OUT"] = str(out_dir)
    if inventory:
        os.environ["ACDGATE_LAB_INVENTORY"] = str(Path(inventory).resolve())
    if quick:
        os.environ["ACDGATE_LAB_QUICK"] = "1"
    folder = tests or str(Path.cwd() / "hil_tests")
    args = [folder, "-q", "-p", "no:cacheprovider", "--basetemp", str(out_dir / "work")]
    if keyword:
        args += ["-k", keyword]
    code = int(pytest.main(args, plugins=[ProgressBar()]))
    sys.stderr.write("\n")
    records = read_records(out_dir / "records.jsonl")
    write_junit(records, out_dir / "junit.xml")
    write_html(records, out_dir / "index.html",
               notes=[f"inventory: {inventory or 'default lab (softphones started here)'}"])
    print(f"report: {out_dir / 'index.html'}  junit: {out_dir / 'junit.xml'}")
    return code
