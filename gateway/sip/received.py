"""RFC 3261 18.2.1 and RFC 3581 4: the received and rport a server stamps on a request's top Via.

One function over the Via's parameters, shared by `via.with_received` (a parsed `Via`) and
`register_scan` (a Via read from its text); compiled with the registrar's hot path (setup.py).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["stamped"]


def stamped(params: Sequence[tuple[str, str | None]], sent_by_host: str,
            source: tuple[str, int]) -> list[tuple[str, str | None]] | None:
    """The Via parameters with `received` when the sent-by host is not the source's, and an
    empty `rport` filled with the source port (and `received` then too); None when nothing
    changes. Parameter names are case-insensitive (RFC 3261 7.3.1); the first of each counts."""
    host, port = source
    rport_at = received_at = -1
    for i, (name, _) in enumerate(params):
        lname = name.lower()
        if lname == "rport":
            if rport_at < 0:
                rport_at = i
        elif lname == "received" and received_at < 0:
            received_at = i
    rport_value = params[rport_at][1] if rport_at >= 0 else None
    fill_rport = rport_at >= 0 and not (rport_value and rport_value.isdigit())
    want_received = sent_by_host.strip("[]") != host or (fill_rport and received_at < 0)
    if not (fill_rport or want_received):
        return None
    new = list(params)
    if fill_rport:
        new[rport_at] = (params[rport_at][0], str(port))
    if want_received:
        if received_at >= 0:
            new[received_at] = (params[received_at][0], host)
        else:
            new.append(("received", host))
    return new
