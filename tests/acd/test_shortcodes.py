"""Short code matching: IP Office patterns, precedence, digit-by-digit, shadowing."""

from __future__ import annotations

import itertools
import re

import pytest
from acdgate.acd.shortcodes import (
    DigitCollector,
    MatchKind,
    ShortCodeMatch,
    ShortCodeTable,
    argument_problem,
    decode_dialled,
    parse_code_argument,
    parse_login_argument,
    pattern_problem,
)
from acdgate.acd.site import Feature, ShortCode
from hypothesis import given, settings
from hypothesis import strategies as st

C, M, N = MatchKind.COMPLETE, MatchKind.NEED_MORE, MatchKind.NO_MATCH

DEFAULTS = [
    ShortCode("*35*N#", Feature.LOGIN, "N"),
    ShortCode("#3000", Feature.LOGIN, "3000"),
    ShortCode("#3001", Feature.LOGIN, "3001*1234"),
    ShortCode("*36", Feature.LOGOUT),
    ShortCode("*37", Feature.READY),
    ShortCode("*38", Feature.NOT_READY),
    ShortCode("*38*N#", Feature.NOT_READY, "N"),
    ShortCode("*39*N#", Feature.WORK_READY, "N"),
    ShortCode("*45*N#", Feature.MONITOR, "N"),
    ShortCode("*5X", Feature.GROUP_DISABLE, "600X"),
    ShortCode("*50", Feature.GROUP_ENABLE, "6000"),
    ShortCode("*6XX", Feature.BARGE, "30XX"),
    ShortCode("*7N", Feature.INTERCEPT, "N"),
    ShortCode("*8N*X#", Feature.WHISPER, "X"),
]


@pytest.mark.parametrize(
    ("dialled", "kind", "pattern", "argument", "more"),
    [
        ("*35*3000*1234#", C, "*35*N#", "3000*1234", False),  # N takes * inside
        ("*35*3000#", C, "*35*N#", "3000", False),
        ("*35*#", N, None, "", False),  # N needs at least one character
        ("*35*30#00#", N, None, "", False),  # N never takes #
        ("*35", M, "*35*N#", "", False),  # strict prefix: the gateway collects the rest
        ("*35*3000", M, "*35*N#", "", False),
        ("#3000", C, "#3000", "3000", False),  # per-user login: the PIN is collected
        ("#3001", C, "#3001", "3001*1234", False),  # the IP Office tip's variant
        ("#300", M, "#3000", "", False),  # best candidate among #3000 and #3001: listed first
        ("#3002", N, None, "", False),
        ("*36", C, "*36", "", False),
        ("*38", C, "*38", "", True),  # *38*N# could still follow
        ("*38*2#", C, "*38*N#", "2", False),
        ("*38*", M, "*38*N#", "", False),
        ("*51", C, "*5X", "6001", False),  # X substituted into a literal argument
        ("*50", C, "*50", "6000", False),  # literal beats X
        ("*5", M, "*50", "", False),  # *50 (3 literals) ranks above *5X
        ("*512", N, None, "", False),
        ("*607", C, "*6XX", "3007", False),  # X captures in order
        ("*6*7", N, None, "", False),  # X is a digit, never *
        ("*712", C, "*7N", "12", True),  # N at the end: always more possible
        ("*7*", C, "*7N", "*", True),
        ("*81*2*3#", C, "*8N*X#", "3", False),  # N stops where the rest still fits
        ("*8", M, "*8N*X#", "", False),
        ("", M, "#3000", "", False),  # 5 literals and no N: the best candidate of all
        ("9", N, None, "", False),
        ("*3A", N, None, "", False),  # not a dial key
    ],
)
def test_match(dialled: str, kind: MatchKind, pattern: str | None, argument: str, more: bool) -> None:
    m = ShortCodeTable(DEFAULTS).match(dialled)
    assert m.kind is kind
    assert (m.code.pattern if m.code else None) == pattern
    assert m.argument == argument
    assert m.more_possible is more


@pytest.mark.parametrize(
    ("patterns", "dialled", "winner"),
    [
        (["*4N#", "*41#"], "*41#", "*41#"),  # more literals wins, whatever the order
        (["*41#", "*4N#"], "*41#", "*41#"),
        (["*4N#", "*4X#"], "*41#", "*4X#"),  # same literals: X beats N
        (["N", "X"], "5", "X"),
        (["N1", "1N"], "111", "N1"),  # a tie in every rule: listed first
        (["1N", "N1"], "111", "1N"),
        (["*4XX", "*4X1"], "*411", "*4X1"),
        (["#N", "#3000"], "#3000", "#3000"),
    ],
)
def test_precedence(patterns: list[str], dialled: str, winner: str) -> None:
    table = ShortCodeTable([ShortCode(p, Feature.LOGIN, "") for p in patterns])
    m = table.match(dialled)
    assert m.kind is C
    assert m.code is not None and m.code.pattern == winner


def test_n_capture_is_lazy_up_to_the_next_literal() -> None:
    table = ShortCodeTable([ShortCode("N*X", Feature.LOGIN, "N")])
    # N = "1" leaves "*2*3" for "*X", which does not fit; "1*2" is the shortest that does.
    assert table.match("1*2*3").argument == "1*2"


def test_digit_collector_one_key_at_a_time() -> None:
    table = ShortCodeTable(DEFAULTS)
    collector = DigitCollector(table)
    answers = [collector.press(k) for k in "*35*3000*1234#"]
    assert [a.kind for a in answers[:-1]] == [M] * 13
    assert answers[-1] == ShortCodeMatch(C, DEFAULTS[0], "3000*1234")
    assert collector.dialled == "*35*3000*1234#"
    assert collector.end() == answers[-1]


def test_digit_collector_waits_then_ends() -> None:
    table = ShortCodeTable(DEFAULTS)
    collector = DigitCollector(table)
    assert [collector.press(k).kind for k in "*38"] == [M, M, C]
    assert collector.press("*").kind is M  # *38* is on its way to *38*N#
    assert collector.end().kind is N  # the caller gave up half way


def test_digit_collector_complete_with_more_possible_then_timeout() -> None:
    table = ShortCodeTable(DEFAULTS)
    collector = DigitCollector(table)
    for k in "*38":
        last = collector.press(k)
    assert last.kind is C and last.more_possible
    final = collector.end()
    assert final.kind is C and not final.more_possible and final.code == DEFAULTS[5]


def test_digit_collector_prefix_from_invite_and_dead_end() -> None:
    table = ShortCodeTable(DEFAULTS)
    collector = DigitCollector(table, prefix="*35")  # the INVITE said *35: NEED_MORE
    assert collector.dialled == "*35"
    assert collector.press("9").kind is N  # *359 matches nothing, ever
    assert collector.press("#").kind is N
    with pytest.raises(ValueError):
        collector.press("12")


def test_empty_table_matches_nothing() -> None:
    table = ShortCodeTable([])
    assert table.match("").kind is N
    assert DigitCollector(table).press("1").kind is N
    assert table.shadowed() == []


def _codes(*patterns: str) -> list[ShortCode]:
    return [ShortCode(p, Feature.LOGIN, "") for p in patterns]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["*4X", "*4X"], [("*4X", "*4X")]),  # an exact duplicate: the later never wins
        ([*(f"*4{d}" for d in range(10)), "*4X"], [("*4X", f"*4{d}") for d in range(10)]),
        ([*(f"*4{d}" for d in range(9)), "*4X"], []),  # *49 still goes to *4X
        (["N", "X"], []),  # N also matches longer strings
        (["X", "1", "2"], []),  # X still wins 0 and 3-9
        (["*N#", "*X#", "*XN#", "**N#", "**#"], [("*N#", p) for p in ("**#", "**N#", "*X#", "*XN#")]),
        (["*N#", "*X#", "*XN#", "**N#"], []),  # "**#" goes to *N#
        (["*38", "*38*N#"], []),
        (["1N", "N1"], []),  # 111 goes to 1N, but 121 goes to N1 and 112 to 1N
        (["1N1", "1N", "N1"], []),  # 1N1 ranks first; 12 still goes to 1N, 21 to N1
    ],
)
def test_shadowed(patterns: list[str], expected: list[tuple[str, str]]) -> None:
    table = ShortCodeTable(_codes(*patterns))
    assert [(a.pattern, b.pattern) for a, b in table.shadowed()] == expected


def test_shadowed_names_the_later_duplicate_only() -> None:
    first, second = ShortCode("*36", Feature.LOGOUT), ShortCode("*36", Feature.READY)
    assert ShortCodeTable([first, second]).shadowed() == [(second, first)]


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "must not be empty"),
        ("*3n", "may only hold 0-9 * # N X, not 'n'"),
        ("*N*N#", "may hold at most one N"),
        ("*35 #", "may only hold 0-9 * # N X, not ' '"),
    ],
)
def test_pattern_problems(pattern: str, problem: str) -> None:
    assert pattern_problem(pattern) == problem
    with pytest.raises(ValueError, match="short code"):
        ShortCodeTable([ShortCode(pattern, Feature.LOGIN)])


@pytest.mark.parametrize(
    ("pattern", "argument", "problem"),
    [
        ("*35*N#", "N", None),
        ("*5XX", "X1X", None),
        ("*36", "N", "uses N but the pattern '*36' has no N"),
        ("*5X", "XX", "uses 2 X but the pattern '*5X' captures 1"),
        ("*5X", "a", "may only hold 0-9 * # N X, not 'a'"),
    ],
)
def test_argument_problems(pattern: str, argument: str, problem: str | None) -> None:
    assert argument_problem(pattern, argument) == problem


def test_feature_arguments() -> None:
    assert parse_login_argument("3000*1234") == ("3000", "1234")
    assert parse_login_argument("3000") == ("3000", None)
    assert parse_login_argument("3000*") == ("3000", None)
    for bad in ("", "*1234", "3000*12*34", "30a0"):
        with pytest.raises(ValueError):
            parse_login_argument(bad)
    assert parse_code_argument("") is None
    assert parse_code_argument("03") == 3
    with pytest.raises(ValueError):
        parse_code_argument("1*2")
    assert decode_dialled("%2A35%2A3000%2A1234%23") == "*35*3000*1234#"
    assert decode_dialled("#3000") == "#3000"


# --- property: the DFA agrees with a straightforward regex reference --------------------

_REF_TOKEN = {"N": "[0-9*]+", "X": "[0-9]"}


def _rx(tokens: str) -> str:
    return "".join(_REF_TOKEN.get(t, re.escape(t)) for t in tokens)


def _ref_argument(code: ShortCode, dialled: str) -> str:
    """Captures found by trying N lengths from the shortest up (no capture groups used)."""
    p = code.pattern
    j = p.find("N")
    if j < 0:
        n_capture = ""
        x_values = [dialled[i] for i, t in enumerate(p) if t == "X"]
    else:
        for n_len in range(1, len(dialled) - j + 1):
            tail = dialled[j + n_len :]
            if re.fullmatch(_rx(p[j + 1 :]), tail):
                break
        n_capture = dialled[j : j + n_len]
        head = [dialled[i] for i in range(j) if p[i] == "X"]
        tail_x = [tail[i] for i, t in enumerate(p[j + 1 :]) if t == "X"]
        x_values = head + tail_x
    xs = iter(x_values)
    return "".join(n_capture if c == "N" else next(xs) if c == "X" else c for c in code.argument)


def _reference(codes: list[ShortCode], dialled: str) -> ShortCodeMatch:
    def rank(i: int) -> tuple[int, int, int, int]:
        p = codes[i].pattern
        return (-sum(c not in "NX" for c in p), -p.count("X"), p.count("N"), i)

    def extendable(p: str) -> bool:
        return any(re.fullmatch(_rx(p[:i]), dialled) for i in range(len(p))) or (
            p.endswith("N") and re.fullmatch(_rx(p), dialled) is not None
        )

    full = [i for i, c in enumerate(codes) if re.fullmatch(_rx(c.pattern), dialled)]
    live = [i for i, c in enumerate(codes) if extendable(c.pattern)]
    if full:
        best = codes[min(full, key=rank)]
        return ShortCodeMatch(C, best, _ref_argument(best, dialled), bool(live))
    if live:
        return ShortCodeMatch(M, codes[min(live, key=rank)])
    return ShortCodeMatch(N)


@st.composite
def _code(draw: st.DrawFn, max_size: int = 4) -> ShortCode:
    body = draw(st.text(alphabet="12*#X", min_size=0, max_size=max_size))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + "N" + body[at:]
    if not body:
        body = "1"
    argument = draw(st.sampled_from(["", "N", "X", "7X", "N*X", "XX"]))
    if argument_problem(body, argument) is not None:
        argument = "9"
    return ShortCode(body, Feature.LOGIN, argument)


_codes_strategy = st.lists(_code(), min_size=1, max_size=5)
_dialled = st.text(alphabet="123*#", max_size=8)


@settings(max_examples=400, deadline=None)
@given(_codes_strategy, st.lists(_dialled, min_size=1, max_size=6))
def test_match_agrees_with_regex_reference(codes: list[ShortCode], dialled: list[str]) -> None:
    table = ShortCodeTable(codes)
    for d in dialled:
        assert table.match(d) == _reference(codes, d)


@settings(max_examples=200, deadline=None)
@given(_codes_strategy, _dialled)
def test_digit_collector_agrees_with_whole_string_match(codes: list[ShortCode], dialled: str) -> None:
    table = ShortCodeTable(codes)
    collector = DigitCollector(table)
    for i, key in enumerate(dialled, 1):
        assert collector.press(key) == table.match(dialled[:i])


@settings(max_examples=60, deadline=None)
@given(st.lists(_code(max_size=2), min_size=1, max_size=4))
def test_shadowed_agrees_with_brute_force(codes: list[ShortCode]) -> None:
    table = ShortCodeTable(codes)
    winners = set()
    for length in range(1, 6):
        for chars in itertools.product("123*#", repeat=length):
            m = table.match("".join(chars))
            if m.kind is C:
                winners.add(id(m.code))
    never = [c for c in codes if id(c) not in winners]
    assert list(dict.fromkeys(id(a) for a, _ in table.shadowed())) == [id(c) for c in never]
