"""`acdgate lab run`: run the hil_tests scenarios against an inventory with a progress bar,
then write JUnit XML and the HTML report (with a SIP ladder per test) under the output folder.

The scenarios are the ones installed with acdgate (the package `acdgate.hil_tests`: the
checkout's hil_tests/ for an editable install, site-packages/acdgate/hil_tests for a wheel),
so a plain `pip install .` can run the lab from any directory; `--tests DIR` runs another
folder. Nothing to run (no such folder, or pytest collects nothing) is an error, said in one
line that names the folder.

The default lab (softphones started here, one lab LAN of namespaces per pytest process) runs
in shards at once: one pytest process per network condition and endpoint kind (selected by
the test ids' `-k`, kinds made disjoint, plus one for tests of no listed kind), each with its
own LAN, gateways and report records (`<out>/shards/<shard>/`), merged at the end. An
inventory with phones (real ones, or twins that stand for them) runs in one process: two
shards must never drive the same phone.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from acdgate.lab.report import Record, read_records, write_html, write_junit

DEFAULT_JOBS = 4  # shards at once: the lab mostly waits (tones, timers), about 0.2 core each
SCENARIOS_PACKAGE = "acdgate.hil_tests"  # setup.cfg installs hil_tests/ under this name
SCENARIO_TIMEOUT = 300  # seconds before pytest-timeout fails a hung scenario (as pyproject.toml's)
NO_TESTS_COLLECTED = 5  # pytest's exit status when it collected nothing
NOTHING_TO_RUN = 2  # our exit status then, and when the scenarios' folder is missing


class NoScenarios(Exception):
    """There is nothing to run; the message says where the runner looked."""


@dataclass(frozen=True, slots=True)
class Scenarios:
    """A folder of scenarios and how pytest is to run it.

    The installed scenarios run on pytest settings of their own: no pytest.ini, pyproject.toml
    or conftest.py above their folder (a project around the venv, site-packages) applies; the
    rootdir is the folder's parent, so test ids read `hil_tests/test_x.py::...` as from a
    checkout. A `--tests` folder keeps pytest's usual lookup (a checkout's pyproject.toml)."""

    folder: Path
    installed: bool

    def pytest_args(self, basetemp: Path) -> list[str]:
        """pytest's arguments for this folder, its temporary files under `basetemp`."""
        args = [str(self.folder), "-q", "-ra", "-p", "no:cacheprovider", "--basetemp", str(basetemp),
                "--timeout", str(SCENARIO_TIMEOUT)]
        if self.installed:
            args += ["-c", os.devnull, "--rootdir", str(self.folder.parent), "--confcutdir", str(self.folder)]
        return args


def installed_scenarios() -> Path | None:
    """The folder of the installed scenarios (`acdgate.hil_tests`, a namespace package: no
    `__init__.py`, so that pytest puts only that folder on sys.path, never site-packages/acdgate
    whose `codecs` would shadow the standard library's); None when it is not installed."""
    spec = importlib.util.find_spec(SCENARIOS_PACKAGE)
    locations = spec.submodule_search_locations if spec is not None else None
    # an editable install's namespace path also holds a placeholder entry that is no folder
    return next((Path(p) for p in locations or [] if (Path(p) / "conftest.py").is_file()), None)


def find_scenarios(tests: str | None) -> Scenarios:
    """The scenarios to run: the folder `tests`, or by default the installed ones."""
    if tests is not None:
        folder = Path(tests).resolve()
        if not folder.is_dir():
            raise NoScenarios(f"no scenarios: {folder} is not a folder")
        return Scenarios(folder, installed=False)
    found = installed_scenarios()
    if found is None:
        raise NoScenarios(f"no scenarios: the package {SCENARIOS_PACKAGE} (hil_tests) is not installed "
                          "with acdgate here; name a folder with --tests DIR")
    return Scenarios(found, installed=True)


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


@dataclass(frozen=True, slots=True)
class Shard:
    """One pytest process of a sharded run: the tests `select`ed under one network condition."""

    name: str
    conditions: str
    select: str  # a pytest -k expression

    def command(self, scenarios: Scenarios, out: Path, keyword: str | None) -> list[str]:
        expr = f"({keyword}) and ({self.select})" if keyword else self.select
        return [sys.executable, "-m", "pytest", *scenarios.pytest_args(out / "work" / self.name),
                "-k", expr]


def shards(conditions: list[str], kinds: list[str]) -> list[Shard]:
    """Per condition: a shard per endpoint kind (a test whose id names two kinds goes to the
    first), then one for tests with none of them; together they run every test once."""
    out: list[Shard] = []
    for i, kind in enumerate(kinds):  # the first kinds (most tests) first, every condition at once
        out += [Shard(f"{c}-{kind}", c, " and ".join([kind, *(f"not {k}" for k in kinds[:i])]))
                for c in conditions]
    out += [Shard(f"{c}-other", c, " and ".join(f"not {k}" for k in kinds) or "true") for c in conditions]
    return out


def _shardable(inventory: str | None, quick: bool) -> tuple[list[str], list[str]] | None:
    """The condition names and endpoint kinds to shard by, or None when the inventory must
    run in one process."""
    from acdgate.lab.inventory import default_inventory, load_inventory

    inv = load_inventory(inventory) if inventory else default_inventory()
    if any(e.kind.is_phone for e in inv.endpoints) or not inv.gateway.start:
        return None
    kinds = list(dict.fromkeys(e.kind.value for e in inv.endpoints))
    return [i.name for i in inv.impairments if i.is_clean or not quick], kinds


def run_suite(*, inventory: str | None, keyword: str | None, out: str, tests: str | None, quick: bool,
              jobs: int | None = None) -> int:
    """Run the suite; returns pytest's exit status (the worst of the shards'), or NOTHING_TO_RUN
    after a line on standard error when there is no scenario to run."""
    try:
        scenarios = find_scenarios(tests)
    except NoScenarios as error:
        print(f"acdgate lab run: {error}", file=sys.stderr)
        return NOTHING_TO_RUN
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "records.jsonl").unlink(missing_ok=True)
    os.environ["ACDGATE_LAB_OUT"] = str(out_dir)
    if inventory:
        os.environ["ACDGATE_LAB_INVENTORY"] = str(Path(inventory).resolve())
    if quick:
        os.environ["ACDGATE_LAB_QUICK"] = "1"
    jobs = jobs or int(os.environ.get("ACDGATE_LAB_JOBS", DEFAULT_JOBS))
    split = _shardable(inventory, quick)
    started = time.monotonic()
    if split is None or jobs <= 1:
        code = _in_process(scenarios, keyword, out_dir)
        records = read_records(out_dir / "records.jsonl")
    else:
        conditions, kinds = split
        code, records = _sharded(shards(conditions, kinds), scenarios, keyword, out_dir, jobs)
        with open(out_dir / "records.jsonl", "w", encoding="utf-8") as f:
            f.writelines(r.to_json() + "\n" for r in records)
    if code == NO_TESTS_COLLECTED and not records:
        matching = f" matching -k {keyword!r}" if keyword else ""
        print(f"acdgate lab run: no scenarios: pytest collected none{matching} in {scenarios.folder}",
              file=sys.stderr)
        return NOTHING_TO_RUN
    elapsed = time.monotonic() - started
    write_junit(records, out_dir / "junit.xml")
    write_html(records, out_dir / "index.html",
               notes=[f"inventory: {inventory or 'default lab (softphones started here)'}",
                      f"run time: {elapsed:.0f} s"])
    print(f"report: {out_dir / 'index.html'}  junit: {out_dir / 'junit.xml'}  ({elapsed:.0f} s)")
    passed = sum(r.outcome == "passed" for r in records)
    failed = sum(r.outcome in ("failed", "error") for r in records)
    print(f"hil_tests: {passed} passed, {failed} failed")  # the plain closing line CI logs read
    return code


def _in_process(scenarios: Scenarios, keyword: str | None, out_dir: Path) -> int:
    import pytest

    args = scenarios.pytest_args(out_dir / "work")
    if keyword:
        args += ["-k", keyword]
    code = int(pytest.main(args, plugins=[ProgressBar()]))
    sys.stderr.write("\n")
    return code


def _progress(paths: list[Path]) -> tuple[int, int]:
    """Tests recorded so far and how many failed (a line being written is not counted yet)."""
    done = failed = 0
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines(keepends=True):
            if line.endswith("\n"):
                done += 1
                failed += '"outcome": "failed"' in line or '"outcome": "error"' in line
    return done, failed


def _sharded(todo: list[Shard], scenarios: Scenarios, keyword: str | None, out_dir: Path,
             jobs: int) -> tuple[int, list[Record]]:
    """Run the shards, `jobs` at a time; their exit statuses' worst and their records."""
    waiting = list(todo)
    (out_dir / "work").mkdir(exist_ok=True)  # pytest makes each --basetemp, not its parent
    running: dict[Shard, subprocess.Popen[bytes]] = {}
    codes: dict[Shard, int] = {}
    started = time.monotonic()
    last_line = ""
    while waiting or running:
        while waiting and len(running) < jobs:
            shard = waiting.pop(0)
            folder = out_dir / "shards" / shard.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "records.jsonl").unlink(missing_ok=True)
            env = dict(os.environ, ACDGATE_LAB_OUT=str(folder), ACDGATE_LAB_CONDITIONS=shard.conditions)
            command = shard.command(scenarios, out_dir, keyword)
            with open(folder / "pytest.log", "wb") as log:
                log.write(f"$ ACDGATE_LAB_CONDITIONS={shard.conditions} {' '.join(command)}\n".encode())
                log.flush()
                running[shard] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        for shard, proc in list(running.items()):
            if proc.poll() is not None:
                codes[shard] = proc.returncode
                del running[shard]
        done, failed = _progress([out_dir / "shards" / s.name / "records.jsonl" for s in todo])
        line = f"{done} done, {failed} failed, shards {len(codes)}/{len(todo)} finished"
        if sys.stderr.isatty():  # a live bar on a terminal; in a CI log a line when it changes
            sys.stderr.write(f"\r{line} {time.monotonic() - started:5.0f}s")
        elif line != last_line:
            sys.stderr.write(f"{line} {time.monotonic() - started:5.0f}s\n")
        last_line = line
        sys.stderr.flush()
        if running:
            time.sleep(0.5)  # progress polling of child processes (they report through files)
    sys.stderr.write("\n")
    for shard in todo:
        if codes[shard] not in (0, NO_TESTS_COLLECTED):
            text = (out_dir / "shards" / shard.name / "pytest.log").read_text(errors="replace")
            summary = text[text.rfind("short test summary info"):] if "short test summary info" in text else text[-3000:]
            sys.stderr.write(f"--- {shard.name} (exit {codes[shard]}, log {out_dir / 'shards' / shard.name}):\n"
                             f"{summary}\n")
    records = [r for s in todo for r in read_records(out_dir / "shards" / s.name / "records.jsonl")]
    # pytest's 5 is "no tests collected": fine for a shard that -k filtered out, not for all
    real = [c for c in codes.values() if c != NO_TESTS_COLLECTED]
    return (max(real) if real else NO_TESTS_COLLECTED), records
