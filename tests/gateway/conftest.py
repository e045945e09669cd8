"""Fixtures shared by the gateway tests."""

from inprocess_gateway import local_gateway  # noqa: F401  (the in-process gateway fixture)
