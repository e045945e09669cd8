"""Fuzz the as-feature-event XML parser (BroadSoft device key synchronisation) against its contract.

Contract (gateway/presence/feature_event_xml.py): `parse_request` (SUBSCRIBE bodies from
phones) and `parse_event` (NOTIFY bodies) raise only `FeatureXmlError`; what they accept
builds back into a body that parses into the same request or event.
"""

from __future__ import annotations

from acdgate.gateway.presence.feature_event_xml import (
    FeatureXmlError,
    build_event,
    build_request,
    parse_event,
    parse_request,
)


def check(data: bytes) -> None:
    """One input as a SUBSCRIBE body and as a NOTIFY body."""
    try:
        request = parse_request(data)
    except FeatureXmlError:
        pass
    else:
        assert parse_request(build_request(request)) == request, request
    try:
        event = parse_event(data)
    except FeatureXmlError:
        pass
    else:
        assert parse_event(build_event(event)) == event, event


if __name__ == "__main__":
    from driver import fuzz

    fuzz(check)
