"""What the RAS edge needs of a state store: somewhere to make registrations durable.

The h323 package owns this small protocol and the store implements it, so `h323/` never imports
storage (docs/architecture.md), as `sip.binding_store` does for SIP. An RCF or UCF goes out only
once the change it acknowledges is stored; a store that cannot store raises
RegistrationStoreError, and the answer is withheld so the endpoint retries its request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from acdgate.gateway.h323.ras_events import RegistrationRow


class RegistrationStoreError(Exception):
    """The registrations were not stored (the store says why); nothing of the batch is durable."""


class RegistrationStore(Protocol):
    """Durable gatekeeper registrations, rows in `Registration.to_row` order."""

    def save_h323_registrations(self, changed: Iterable[RegistrationRow],
                                removed: Iterable[str] = ()) -> None:
        """Upsert `changed` and delete the `removed` endpointIdentifiers, all or none; raises
        RegistrationStoreError when that could not be done."""
        ...
