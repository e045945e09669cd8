"""Short code matching: dialled strings (`*35*3000*1234#`) against IP Office dial patterns.

Theory of operation. A pattern is a string over the dial alphabet `0-9 * #` plus two
placeholders: `X` is exactly one digit, `N` is a run of one or more of `0-9 *` (never `#`),
so `*35*N#` captures `3000*1234` from `*35*3000*1234#`. A pattern holds at most one `N`.
When a dialled string fits several ways, `N` takes as little as it can while the rest of the
pattern still fits ("up to the next literal").

Each pattern is a small NFA whose state `i` means "the first i tokens are consumed"; the
token before state i, when it is `N`, adds a self-loop on `0-9 *`. The table runs all of them
at once as a lazily built DFA (a state is the set of (code, position) pairs still alive), so
a digit pressed one at a time costs one dict lookup once the DFA is warm.

Precedence, when several codes match the whole string (IP Office picks the most specific):
  1. more literal characters (digits, `*`, `#`) in the pattern wins;
  2. then more `X` placeholders (fixed-length wins over `N`);
  3. then a pattern without `N` wins over one with `N`;
  4. then the code listed first wins.
A code that can never win (every string it matches goes to a code ranked above it) is
*shadowed*; `ShortCodeTable.shadowed` finds these by exploring the product automaton.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

from .site import ShortCode

DIAL_ALPHABET = "0123456789*#"
_DIGITS = frozenset("0123456789")
_N_CHARS = frozenset("0123456789*")
_PATTERN_CHARS = frozenset("0123456789*#NX")


class MatchKind(Enum):
    """The answer to "which short code is this?"."""

    COMPLETE = "complete"  # a code matches the whole string
    NEED_MORE = "need-more"  # nothing matches yet, but more digits could make a code match
    NO_MATCH = "no-match"  # no code matches this string or any longer one


@dataclass(frozen=True, slots=True)
class ShortCodeMatch:
    """A match result; `code` is the winning code (COMPLETE) or the best candidate (NEED_MORE).

    `argument` is the code's argument with `N`/`X` replaced by the captures (COMPLETE only).
    `more_possible` is set on COMPLETE when a longer string could still match some code
    (`*38` against `*38*N#`): a digit collector should wait for the inter-digit timeout.
    """

    kind: MatchKind
    code: ShortCode | None = None
    argument: str = ""
    more_possible: bool = False


NO_MATCH = ShortCodeMatch(MatchKind.NO_MATCH)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid short code pattern, or None when it is."""
    if not pattern:
        return "must not be empty"
    bad = sorted(set(pattern) - _PATTERN_CHARS)
    if bad:
        return f"may only hold 0-9 * # N X, not {''.join(bad)!r}"
    if pattern.count("N") > 1:
        return "may hold at most one N"
    return None


def argument_problem(pattern: str, argument: str) -> str | None:
    """Why `argument` cannot be filled from what `pattern` captures, or None when it can."""
    bad = sorted(set(argument) - _PATTERN_CHARS)
    if bad:
        return f"may only hold 0-9 * # N X, not {''.join(bad)!r}"
    if "N" in argument and "N" not in pattern:
        return f"uses N but the pattern {pattern!r} has no N"
    if argument.count("X") > pattern.count("X"):
        return f"uses {argument.count('X')} X but the pattern {pattern!r} captures {pattern.count('X')}"
    return None


def precedence(code: ShortCode) -> tuple[int, int, int]:
    """Sort key of a code's specificity: smaller sorts first, i.e. wins (see module doc)."""
    p = code.pattern
    literals = sum(1 for c in p if c not in "NX")
    return (-literals, -p.count("X"), p.count("N"))


def decode_dialled(user_part: str) -> str:
    """The dialled string from a SIP request-URI user part: `%23` -> `#`, `%2A` -> `*`."""
    return unquote(user_part)


def parse_login_argument(argument: str) -> tuple[str, str | None]:
    """Split a login argument into user id and PIN: `3000*1234` -> ("3000", "1234").

    `3000` (or `3000*`) has no PIN: the caller collects it. Raises ValueError when the user
    id or the PIN is not all digits.
    """
    user_id, star, pin = argument.partition("*")
    if not user_id.isdigit() or not user_id.isascii():
        raise ValueError(f"login argument {argument!r}: user id must be digits")
    if not star or not pin:
        return user_id, None
    if not pin.isdigit() or not pin.isascii():
        raise ValueError(f"login argument {argument!r}: PIN must be digits")
    return user_id, pin


def parse_code_argument(argument: str) -> int | None:
    """A reason, wrap-up code or similar number from an argument; None when it is empty."""
    if not argument:
        return None
    if not argument.isdigit() or not argument.isascii():
        raise ValueError(f"argument {argument!r} must be a number")
    return int(argument)


class _Pattern:
    """One code compiled: NFA step classes, N self-loops and a capture regex."""

    __slots__ = ("classes", "code", "end", "loops", "regex", "tokens")

    def __init__(self, code: ShortCode) -> None:
        problem = pattern_problem(code.pattern) or argument_problem(code.pattern, code.argument)
        if problem is not None:
            raise ValueError(f"short code {code.pattern!r}: {problem}")
        self.code = code
        self.tokens = code.pattern
        classes: list[frozenset[str]] = []
        parts: list[str] = []
        for t in self.tokens:
            if t == "N":
                classes.append(_N_CHARS)
                parts.append(r"([0-9*]+?)")
            elif t == "X":
                classes.append(_DIGITS)
                parts.append(r"([0-9])")
            else:
                classes.append(frozenset(t))
                parts.append(re.escape(t))
        self.classes = tuple(classes)
        self.end = len(self.tokens)
        # loops[i]: state i may stay on 0-9 * because the token just consumed is N.
        self.loops = tuple(i > 0 and self.tokens[i - 1] == "N" for i in range(self.end + 1))
        self.regex = re.compile("".join(parts))

    def step(self, state: int, char: str) -> list[int]:
        """NFA successors of `state` on `char`."""
        out = []
        if state < self.end and char in self.classes[state]:
            out.append(state + 1)
        if self.loops[state] and char in _N_CHARS:
            out.append(state)
        return out

    def live(self, state: int) -> bool:
        """True when some non-empty continuation from `state` reaches the end."""
        return state < self.end or self.loops[state]

    def argument(self, dialled: str) -> str:
        """The code's argument with N and X replaced by what `dialled` captured."""
        m = self.regex.fullmatch(dialled)
        if m is None:  # the DFA said it matches; the regex is the same language
            raise AssertionError(f"{dialled!r} does not match {self.tokens!r}")
        n_capture = ""
        x_captures: list[str] = []
        for token, value in zip((t for t in self.tokens if t in "NX"), m.groups(), strict=True):
            if token == "N":
                n_capture = value
            else:
                x_captures.append(value)
        out = []
        xs = iter(x_captures)
        for c in self.code.argument:
            if c == "N":
                out.append(n_capture)
            elif c == "X":
                out.append(next(xs))
            else:
                out.append(c)
        return "".join(out)


def _tokens_compatible(a: str, b: str) -> bool:
    """Can single-character tokens `a` and `b` (not N) match the same character?"""
    if a == "X":
        return b == "X" or b in _DIGITS
    if b == "X":
        return a in _DIGITS
    return a == b


def _may_intersect(a: str, b: str) -> bool:
    """Cheap test: False only when patterns `a` and `b` match no common string."""
    na, nb = "N" in a, "N" in b
    if (not na and len(a) < len(b)) or (not nb and len(b) < len(a)):
        return False  # a pattern without N has a fixed length; with N, a minimum length
    if not na and not nb:
        return all(_tokens_compatible(x, y) for x, y in zip(a, b, strict=True))
    for x, y in zip(a, b, strict=False):  # the heads, up to the first N
        if x == "N" or y == "N":
            break
        if not _tokens_compatible(x, y):
            return False
    for x, y in zip(reversed(a), reversed(b), strict=False):  # the tails, back to the N
        if x == "N" or y == "N":
            break
        if not _tokens_compatible(x, y):
            return False
    return True


DialState = frozenset[tuple[int, int]]  # a DFA state: the (code index, NFA state) pairs alive
_DEAD: DialState = frozenset()
_DIAL_KEYS = frozenset(DIAL_ALPHABET)


class ShortCodeTable:
    """A site's short codes, matched whole (`match`) or digit by digit (`DigitCollector`)."""

    def __init__(self, codes: Sequence[ShortCode]) -> None:
        self._patterns = [_Pattern(c) for c in codes]
        # rank[i]: position of code i in precedence order (0 wins over everything).
        order = sorted(range(len(codes)), key=lambda i: (precedence(codes[i]), i))
        self._rank = [0] * len(codes)
        for r, i in enumerate(order):
            self._rank[i] = r
        self.start: DialState = frozenset((i, 0) for i in range(len(codes)))
        self._transitions: dict[tuple[DialState, str], DialState] = {}
        self._results: dict[DialState, tuple[MatchKind, int | None, bool]] = {}

    @property
    def codes(self) -> tuple[ShortCode, ...]:
        """The codes, in table order."""
        return tuple(p.code for p in self._patterns)

    def step(self, state: DialState, char: str) -> DialState:
        """The DFA state after `char` (cached: the DFA is built lazily)."""
        if char not in _DIAL_KEYS:
            return _DEAD  # not cached: a URI may carry any character, the cache stays bounded
        key = (state, char)
        nxt = self._transitions.get(key)
        if nxt is None:
            pats = self._patterns
            nxt = frozenset((i, s2) for i, s in state for s2 in pats[i].step(s, char))
            self._transitions[key] = nxt
        return nxt

    def _classify(self, state: DialState) -> tuple[MatchKind, int | None, bool]:
        """(kind, index of the winning or best candidate code, more possible) for a DFA state."""
        result = self._results.get(state)
        if result is None:
            pats, rank = self._patterns, self._rank
            complete = [i for i, s in state if s == pats[i].end]
            live = [i for i, s in state if pats[i].live(s)]
            if complete:
                result = (MatchKind.COMPLETE, min(complete, key=rank.__getitem__), bool(live))
            elif live:
                result = (MatchKind.NEED_MORE, min(live, key=rank.__getitem__), False)
            else:
                result = (MatchKind.NO_MATCH, None, False)
            self._results[state] = result
        return result

    def result(self, state: DialState, dialled: str) -> ShortCodeMatch:
        """The match for DFA `state`, reached by dialling `dialled`."""
        kind, index, more = self._classify(state)
        if index is None:
            return NO_MATCH
        pattern = self._patterns[index]
        if kind is MatchKind.COMPLETE:
            return ShortCodeMatch(kind, pattern.code, pattern.argument(dialled), more)
        return ShortCodeMatch(kind, pattern.code)

    def match(self, dialled: str) -> ShortCodeMatch:
        """Match a whole dialled string (e.g. a SIP request-URI user part, already decoded)."""
        state = self.start
        for char in dialled:
            state = self.step(state, char)
            if not state:
                return NO_MATCH
        return self.result(state, dialled)

    def shadowed(self) -> list[tuple[ShortCode, ShortCode]]:
        """(code that never matches, a code that takes its strings), in table order.

        A code is shadowed when every string it matches is matched by codes ranked above
        it; when several codes share its strings, it is listed once with each of them.
        """
        out: list[tuple[ShortCode, ShortCode]] = []
        pats, rank = self._patterns, self._rank
        # Most codes are plain strings (#3000 ... #3999): index them, so a site with
        # thousands of codes costs (plain codes x wildcard codes), not (codes squared).
        plain: dict[str, list[int]] = {}
        wild: list[int] = []
        for i, p in enumerate(pats):
            if "N" in p.tokens or "X" in p.tokens:
                wild.append(i)
            else:
                plain.setdefault(p.tokens, []).append(i)
        for a, pa in enumerate(pats):
            takers: set[int] | None
            if "N" not in pa.tokens and "X" not in pa.tokens:  # one string: whoever ranks above and matches it takes it
                same = plain[pa.tokens] + [b for b in wild if pats[b].regex.fullmatch(pa.tokens)]
                takers = {b for b in same if rank[b] < rank[a]} or None
            else:
                above = [
                    b
                    for b, pb in enumerate(pats)
                    if rank[b] < rank[a] and _may_intersect(pa.tokens, pb.tokens)
                ]
                takers = self._covering(a, above) if above else None
            if takers is not None:
                out.extend((pa.code, pats[b].code) for b in sorted(takers, key=rank.__getitem__))
        return out

    def _covering(self, a: int, above: list[int]) -> set[int] | None:
        """The codes of `above` taking strings of code `a` if they take all of them, else None.

        Breadth-first search of the product of `a`'s NFA and the union of the others' NFAs
        over the dial alphabet; a reachable state where `a` accepts and none of `above` does
        is a string `a` wins, so `a` is not shadowed.
        """
        pats = self._patterns
        pa = pats[a]
        start = (frozenset([0]), frozenset((b, 0) for b in above))
        seen = {start}
        queue = deque([start])
        takers: set[int] = set()
        while queue:
            sa, sb = queue.popleft()
            if pa.end in sa:
                accepting = {b for b, s in sb if s == pats[b].end}
                if not accepting:
                    return None
                takers |= accepting
            for char in DIAL_ALPHABET:
                na = frozenset(s2 for s in sa for s2 in pa.step(s, char))
                if not na:
                    continue
                nb = frozenset((b, s2) for b, s in sb for s2 in pats[b].step(s, char))
                nxt = (na, nb)
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return takers


class DigitCollector:
    """Match digits as they are pressed (DTMF), one at a time.

    Start it with what is already dialled (`prefix`, e.g. `*35` from an INVITE that answered
    NEED_MORE). After NO_MATCH every further press answers NO_MATCH; `end` gives the answer
    when the inter-digit timer expires.
    """

    def __init__(self, table: ShortCodeTable, prefix: str = "") -> None:
        self._table = table
        self._state = table.start
        self._dialled = ""
        self._last = table.result(table.start, "") if table.codes else NO_MATCH
        for char in prefix:
            self.press(char)

    @property
    def dialled(self) -> str:
        """Everything pressed so far."""
        return self._dialled

    def press(self, digit: str) -> ShortCodeMatch:
        """Add one key (`0-9 * #`; any other key can match nothing) and answer."""
        if len(digit) != 1:
            raise ValueError(f"press one key at a time, not {digit!r}")
        self._dialled += digit
        if self._state:
            self._state = self._table.step(self._state, digit)
        self._last = self._table.result(self._state, self._dialled) if self._state else NO_MATCH
        return self._last

    def end(self) -> ShortCodeMatch:
        """The final answer when no more keys come: COMPLETE (without more_possible) or NO_MATCH."""
        if self._last.kind is MatchKind.COMPLETE:
            return ShortCodeMatch(MatchKind.COMPLETE, self._last.code, self._last.argument)
        return NO_MATCH
