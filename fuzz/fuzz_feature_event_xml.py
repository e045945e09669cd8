"""Fuzz the as-feature-event XML parser (BroadSoft device key synchronisation) against its contract.

Contract (gateway/presence/feature_event_xml.py): `parse_request` (SUBSCRIBE bodies from
phones) and `parse_event` (NOTIFY bodies) raise only `FeatureXmlError`; what they accept
builds back into a body that parses into the same request or event, when its texts survive
the builders' ISO-8859-1 (as the phones write it; other characters become `?`) and hold no
CR (XML 1.0 2.11 reads a raw CR as LF).
"""

from __future__ import annotations

from dataclasses import astuple

from acdgate.gateway.presence.feature_event_xml import (
    FeatureXmlError,
    build_event,
    build_request,
    parse_event,
    parse_request,
)


def _plain(value: object) -> bool:
    """Whether every text of `value` survives the builders (see the module docstring)."""
    texts = [t for t in astuple(value) if isinstance(t, str)]  # type: ignore[call-overload]
    return all("\r" not in t and t.encode("iso-8859-1", "ignore").decode("iso-8859-1") == t
               for t in texts)


def check(data: bytes) -> None:
    """One input as a SUBSCRIBE body and as a NOTIFY body."""
    try:
        request = parse_request(data)
    except FeatureXmlError:
        pass
    else:
        if _plain(request):
            assert parse_request(build_request(request)) == request, request
    try:
        event = parse_event(data)
    except FeatureXmlError:
        pass
    else:
        if _plain(event):
            assert parse_event(build_event(event)) == event, event


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
