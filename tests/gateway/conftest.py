"""Fixtures shared by the gateway tests: `acdgate run` in a child process, and the in-process
gateway."""

from __future__ import annotations

from gateway_fixtures import gateway, start_gateway  # noqa: F401  (`acdgate run` in a child process)
from inprocess_gateway import local_gateway  # noqa: F401  (the in-process gateway fixture)
