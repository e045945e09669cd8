"""`GET /api/health`: whether this gateway can take traffic, for load balancers.

200 with a small JSON object when it can; 503 with the same object, `"status": "unavailable"`
and the reasons, when the state store cannot be written (nothing could be acknowledged: every
command and registration is committed before it is answered) or the gateway is stopping.
Whether SIP and H.323 listen is told, not judged: a site may run without H.323.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from twisted.web import resource, server


@dataclass(frozen=True, slots=True)
class Health:
    """The gateway's health now."""

    version: str
    uptime: float  # seconds since start
    store_writable: bool
    store_error: str | None  # why not, when it is not
    sip_listening: bool
    h323_listening: bool
    stopping: bool

    @property
    def reasons(self) -> list[str]:
        """Why it cannot take traffic; empty when it can."""
        reasons = []
        if not self.store_writable:
            reasons.append(f"state store not writable: {self.store_error or 'unknown error'}")
        if self.stopping:
            reasons.append("stopping")
        return reasons

    def to_json(self) -> dict[str, object]:
        """The body of `/api/health` (docs/http-api.md)."""
        reasons = self.reasons
        return {
            "status": "unavailable" if reasons else "ok",
            "reasons": reasons,
            "version": self.version,
            "uptime_seconds": round(self.uptime, 3),
            "store_writable": self.store_writable,
            "sip_listening": self.sip_listening,
            "h323_listening": self.h323_listening,
        }


def package_version() -> str:
    """The installed acdgate's version (setup.cfg), "unknown" when run from a bare checkout."""
    try:
        return version("acdgate")
    except PackageNotFoundError:
        return "unknown"


class HealthSource(Protocol):
    """What `/api/health` asks (the gateway implements it)."""

    def health(self) -> Health: ...


class HealthResource(resource.Resource):
    """GET (and HEAD): 200 when healthy, else 503 (RFC 9110 15.6.4: a temporary condition)."""

    isLeaf = True

    def __init__(self, source: HealthSource) -> None:
        super().__init__()
        self._source = source

    def render_GET(self, request: server.Request) -> bytes:
        health = self._source.health()
        request.setResponseCode(503 if health.reasons else 200)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(health.to_json(), indent=2, sort_keys=True).encode() + b"\n"


__all__ = ["Health", "HealthResource", "HealthSource", "package_version"]
