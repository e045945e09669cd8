"""``;name=value`` parameter lists of URIs, Via and name-addr values (RFC 3261 19.1.1, 20.42,
20.10): one lookup, one serialisation and one split of the plain shape for all three.

Imports nothing of the SIP package, so `uri`, `via` and `address` (and the compiled modules
that use them) can all build on it.
"""

from __future__ import annotations

__all__ = ["Params", "WithParams", "format_params", "split_plain_params"]

# (name, value) pairs in the order sent; value None for a flag such as ``lr`` or ``rport``
Params = tuple[tuple[str, str | None], ...]


class WithParams:
    """Base of the values that carry parameters (`SipURI`, `Via`, `NameAddr`): their lookup.

    Names are case-insensitive (RFC 3261 7.3.1, 19.1.4); the first of a repeated name counts.
    """

    __slots__ = ()

    params: Params

    def param(self, name: str) -> str | None:
        """Value of parameter `name`; "" for a flag without a value, None when absent."""
        key = name.lower()
        for pname, pvalue in self.params:
            if pname.lower() == key:
                return "" if pvalue is None else pvalue
        return None

    def has_param(self, name: str) -> bool:
        """True when parameter `name` is present, with or without a value."""
        key = name.lower()
        for pname, _ in self.params:
            if pname.lower() == key:
                return True
        return False


def format_params(params: Params) -> str:
    """The wire text of `params`: ``;name=value`` or ``;name`` each, in order."""
    return "".join([f";{n}" if v is None else f";{n}={v}" for n, v in params])


def split_plain_params(ptext: str) -> Params:
    """``;a=1;b`` -> ``(("a", "1"), ("b", None))`` for a run the plain regexes validated:
    no ';' inside values, no '=' in names, no LWS, so split and partition are exact."""
    out: list[tuple[str, str | None]] = []
    for item in ptext[1:].split(";"):
        name, eq, value = item.partition("=")
        out.append((name, value if eq else None))
    return tuple(out)
