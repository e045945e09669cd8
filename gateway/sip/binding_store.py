"""What the SIP service needs of a state store: somewhere to make registrations durable.

The SIP layer owns this small protocol and the store implements it, so `sip/` never imports
storage (docs/architecture.md). RFC 3261 10.3 step 7: a binding is acknowledged (200) only
once it is stored; a store that cannot store raises BindingStoreError and the phone gets 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from acdgate.gateway.sip.registrar import BindingRow


class BindingStoreError(Exception):
    """The bindings were not stored (the store says why); nothing of the batch is durable."""


class BindingStore(Protocol):
    """Durable registrar bindings, rows in the registrar's `BindingRow` order."""

    def save_bindings(self, changed: Iterable[BindingRow], removed: Iterable[tuple[str, str]] = ()) -> None:
        """Upsert `changed` and delete the `removed` (username, contact) keys, all or none;
        raises BindingStoreError when that could not be done."""
        ...
