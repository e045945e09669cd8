"""The security tests run the gateway as an attacker meets it: `acdgate run` on loopback."""

from __future__ import annotations

from gateway_fixtures import gateway, start_gateway  # noqa: F401  (`acdgate run` in a child process)
