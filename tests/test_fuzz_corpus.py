"""The fuzzing harnesses' short run for CI (fuzz/README.md has the long runs with atheris).

Every kept corpus file goes through its harness's `check` (the function atheris calls, so a
crash atheris found and the corpus kept fails here until it is fixed), and hypothesis feeds
each harness bounded mutations of its corpus and random bytes, so CI exercises mutations
without atheris. A harness's `check` raises only when its parser broke its contract.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).parent.parent
FUZZ = ROOT / "fuzz"
DATA = Path(__file__).parent / "gateway" / "data"
# harness module -> its corpus directories (the H.323 decoders' hostile corpora stay where
# their own tests keep them) and how many hypothesis examples it gets in CI
HARNESSES: dict[str, tuple[tuple[Path, ...], int]] = {
    "fuzz_sip_parser": ((FUZZ / "corpus" / "sip",), 150),
    "fuzz_sdp": ((FUZZ / "corpus" / "sdp",), 150),
    "fuzz_digest": ((FUZZ / "corpus" / "digest",), 150),
    "fuzz_feature_event_xml": ((FUZZ / "corpus" / "feature_event_xml",), 150),
    "fuzz_dialog_info": ((FUZZ / "corpus" / "dialog_info",), 150),
    "fuzz_phone_xml_query": ((FUZZ / "corpus" / "phone_xml_query",), 40),
    "fuzz_rtp": ((FUZZ / "corpus" / "rtp",), 150),
    "fuzz_rfc4733": ((FUZZ / "corpus" / "rfc4733",), 150),
    "fuzz_h323_ras": ((FUZZ / "corpus" / "h323_ras", DATA / "h323_ras_corpus"), 60),
    "fuzz_h323_cs": ((FUZZ / "corpus" / "h323_cs", DATA / "h323_cs_corpus"), 60),
    "fuzz_h245": ((FUZZ / "corpus" / "h245", DATA / "h245_corpus"), 60),
}


def harness(name: str) -> Callable[[bytes], None]:
    """The harness's `check`, imported from fuzz/ (not installed: it is not the package)."""
    if str(FUZZ) not in sys.path:
        sys.path.insert(0, str(FUZZ))
    module: ModuleType = importlib.import_module(name)
    check: Callable[[bytes], None] = module.check
    return check


def corpus(name: str) -> list[Path]:
    dirs, _ = HARNESSES[name]
    return sorted(p for d in dirs if d.is_dir() for p in d.iterdir()
                  if p.is_file() and p.suffix != ".md")


def test_every_harness_is_run_here_and_has_a_corpus() -> None:
    assert sorted(p.stem for p in FUZZ.glob("fuzz_*.py")) == sorted(HARNESSES)
    for name in HARNESSES:
        assert corpus(name), f"{name} has no corpus"


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_every_corpus_file_keeps_the_parsers_contract(name: str) -> None:
    """One test a harness (not a file: the suite's per-test hygiene checks cost more than a
    file does); the failure names every file that broke the contract and how."""
    check = harness(name)
    broken = []
    for path in corpus(name):
        try:
            check(path.read_bytes())
        except Exception as exc:  # every file that fails is reported (the test fails), not the first
            broken.append(f"{path.relative_to(ROOT)}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not broken, "\n".join(broken)


def _mutated(seed: bytes, edits: list[tuple[int, int, int]], cut: int) -> bytes:
    """`seed` with each edit (at, kind, octet): overwrite, insert or delete one octet; then cut."""
    data = bytearray(seed)
    for at, kind, octet in edits:
        i = at % (len(data) + 1)
        if kind == 0 and i < len(data):
            data[i] = octet
        elif kind == 1:
            data.insert(i, octet)
        elif i < len(data):
            del data[i]
    return bytes(data[: cut % (len(data) + 1)] if cut else data)


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_mutations_keep_the_parsers_contract(name: str) -> None:
    check = harness(name)
    seeds = [p.read_bytes()[:4096] for p in corpus(name)]
    _, examples = HARNESSES[name]

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.one_of(
        st.builds(_mutated, st.sampled_from(seeds),
                  st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 2), st.integers(0, 255)),
                           max_size=8),
                  st.integers(0, 4096)),
        st.binary(max_size=512),
    ))
    def run(data: bytes) -> None:
        check(data)

    run()
