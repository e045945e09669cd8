"""`acdgate lab run` finds the scenarios installed with acdgate (acdgate.hil_tests) from any
working directory, runs them on pytest settings of their own, and says in one line, with a
non-zero exit, when there is nothing to run."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from acdgate.lab.runner import (
    NOTHING_TO_RUN,
    SCENARIOS_PACKAGE,
    NoScenarios,
    Scenarios,
    find_scenarios,
    installed_scenarios,
)

SCENARIO_FILES = {"conftest.py", "test_agent_logon.py", "test_menu_logon.py", "test_routed_calls.py",
                  "test_wrapup.py"}


def lab_run(cwd: Path, *args: str, jobs: int = 1) -> subprocess.CompletedProcess[str]:
    """`python -m acdgate.console lab run ARGS` in `cwd` (jobs=1: one pytest, in the runner)."""
    env = dict(os.environ, ACDGATE_LAB_JOBS=str(jobs))
    env.pop("ACDGATE_LAB_OUT", None)
    return subprocess.run([sys.executable, "-m", "acdgate.console", "lab", "run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_installed_package_carries_the_scenarios() -> None:
    folder = installed_scenarios()
    assert folder is not None
    assert SCENARIO_FILES <= {p.name for p in folder.iterdir()}
    # a namespace package: pytest puts this folder on sys.path, never the acdgate folder
    # above it, whose codecs would shadow the standard library's (DESIGN.md, Packaging)
    assert not (folder / "__init__.py").exists()
    spec = importlib.util.find_spec(SCENARIOS_PACKAGE)
    assert spec is not None and spec.origin is None
    assert str(folder) in list(spec.submodule_search_locations or [])


def test_by_default_the_installed_scenarios_run_on_settings_of_their_own() -> None:
    scenarios = find_scenarios(None)
    assert scenarios == Scenarios(installed_scenarios() or Path("missing"), installed=True)
    args = scenarios.pytest_args(Path("/tmp/work"))
    folder = str(scenarios.folder)
    assert args[0] == folder
    assert args[args.index("-c") + 1] == os.devnull
    assert args[args.index("--rootdir") + 1] == str(scenarios.folder.parent)  # ids: hil_tests/test_x.py
    assert args[args.index("--confcutdir") + 1] == folder


def test_a_tests_folder_overrides_and_keeps_pytests_usual_lookup(tmp_path: Path) -> None:
    scenarios = find_scenarios(str(tmp_path))
    assert scenarios == Scenarios(tmp_path.resolve(), installed=False)
    assert "-c" not in scenarios.pytest_args(tmp_path / "work")


def test_a_missing_tests_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(NoScenarios, match=str(tmp_path / "nowhere")):
        find_scenarios(str(tmp_path / "nowhere"))


def test_an_ini_file_around_the_installed_scenarios_does_not_apply(tmp_path: Path) -> None:
    """A project around the venv (its pytest.ini, its conftest.py) does not reach the scenarios."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    (tmp_path / "conftest.py").write_text("raise RuntimeError('the outer conftest was loaded')\n")
    folder = tmp_path / "site-packages" / "hil_tests"
    folder.mkdir(parents=True)
    (folder / "test_one.py").write_text("def test_one() -> None:\n    pass\n")

    def pytest_run(installed: bool, *extra: str) -> subprocess.CompletedProcess[str]:
        args = Scenarios(folder, installed).pytest_args(tmp_path / f"work-{installed}")
        return subprocess.run([sys.executable, "-m", "pytest", *args, *extra], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    isolated = pytest_run(True)
    assert isolated.returncode == 0, isolated.stdout + isolated.stderr
    assert "1 passed" in isolated.stdout
    ids = pytest_run(True, "--collect-only").stdout.splitlines()
    assert "hil_tests/test_one.py::test_one" in ids  # test ids as from a checkout
    assert pytest_run(False).returncode != 0  # the lookup of a --tests folder finds them


def test_lab_run_with_a_missing_folder_says_where_it_looked(tmp_path: Path) -> None:
    done = lab_run(tmp_path, "--tests", "nowhere")
    assert done.returncode == NOTHING_TO_RUN
    assert done.stderr.strip().splitlines() == [
        f"acdgate lab run: no scenarios: {tmp_path / 'nowhere'} is not a folder"]
    assert not (tmp_path / "lab-report").exists()


@pytest.mark.parametrize("jobs", [1, 4], ids=["in-process", "sharded"])
def test_lab_run_with_an_empty_folder_says_where_it_looked(tmp_path: Path, jobs: int) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = lab_run(tmp_path, "--quick", "--tests", str(empty), jobs=jobs)
    assert done.returncode == NOTHING_TO_RUN, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"acdgate lab run: no scenarios: pytest collected none in {empty}")
    assert "hil_tests: 0 passed" not in done.stdout


def test_lab_run_collects_the_installed_scenarios_from_any_directory(tmp_path: Path) -> None:
    """From a folder with no hil_tests the installed scenarios are collected (-k then
    deselects them all: nothing starts) and none matching is an error too."""
    done = lab_run(tmp_path, "--quick", "-k", "no_such_scenario")
    assert done.returncode == NOTHING_TO_RUN, done.stdout + done.stderr
    assert " deselected" in done.stdout, done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        f"acdgate lab run: no scenarios: pytest collected none matching -k 'no_such_scenario' "
        f"in {installed_scenarios()}")


RECORDING_CONFTEST = '''
import os
from pathlib import Path

import pytest
from acdgate.lab.report import Record


@pytest.fixture(autouse=True)
def _record(request):
    """As hil_tests' conftest does: a Record a test, in the folder the runner names."""
    yield
    out = Path(os.environ["ACDGATE_LAB_OUT"])
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "records.jsonl", "a", encoding="utf-8") as f:
        f.write(Record(request.node.nodeid, request.node.name, "-", "-", "passed", 0.1).to_json() + "\\n")
'''


@pytest.mark.parametrize("jobs", [1, 4], ids=["in-process", "sharded"])
def test_lab_run_writes_its_report_under_the_current_directory(tmp_path: Path, jobs: int) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "conftest.py").write_text(RECORDING_CONFTEST)
    (scenarios / "test_one.py").write_text("def test_one() -> None:\n    pass\n")
    here = tmp_path / "here"
    here.mkdir()
    done = lab_run(here, "--quick", "--tests", str(scenarios), jobs=jobs)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "hil_tests: 1 passed, 0 failed"
    report = here / "lab-report"
    assert (report / "index.html").is_file()
    assert 'tests="1"' in (report / "junit.xml").read_text()
    assert len((report / "records.jsonl").read_text().splitlines()) == 1  # the shards' merged
