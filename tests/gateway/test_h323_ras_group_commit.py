"""The RAS edge's group commit on a real loopback socket: a burst of RRQs that waits on the
socket before the reactor reads it is stored in one transaction, and every RCF goes out after
it; the real store (SQLite in tmp_path) holds the burst's last registration."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest_twisted
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import RegistrationRow
from acdgate.gateway.h323.ras_messages import OtherRasMessage
from acdgate.gateway.h323.ras_protocol import RasProtocol
from acdgate.gateway.storage.store import StateStore
from h323_ras_support import digits, encode, make_gatekeeper, rrq
from twisted.internet import defer, reactor
from twisted.internet.protocol import DatagramProtocol

BURST = 8


class CountingStore(StateStore):
    """The real store, counting its transactions and what had been answered at each."""

    def __init__(self, state_dir: Path, phone: Phone) -> None:
        super().__init__(state_dir)
        self.phone = phone
        self.answered_at_save: list[int] = []

    def save_h323_registrations(self, changed: Iterable[RegistrationRow],
                                removed: Iterable[str] = ()) -> None:
        self.answered_at_save.append(len(self.phone.answers))
        super().save_h323_registrations(changed, removed)


class Phone(DatagramProtocol):
    """A loopback endpoint that collects BURST answers."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self.done: defer.Deferred[list[bytes]] = defer.Deferred()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.answers.append(datagram)
        if len(self.answers) == BURST:
            self.done.callback(self.answers)


@pytest_twisted.ensureDeferred
async def test_a_burst_is_stored_in_one_transaction_before_any_rcf(tmp_path: Path) -> None:
    now = reactor.seconds()  # type: ignore[attr-defined]
    phone = Phone()
    store = CountingStore(tmp_path, phone)
    protocol = RasProtocol(make_gatekeeper(), reactor, store=store)  # type: ignore[arg-type]
    gk_port: Any = reactor.listenUDP(0, protocol, interface="127.0.0.1")  # type: ignore[attr-defined]
    phone_port: Any = reactor.listenUDP(0, phone, interface="127.0.0.1")  # type: ignore[attr-defined]
    try:
        target = ("127.0.0.1", gk_port.getHost().port)
        for n in range(BURST):  # all written before the reactor reads any: one burst
            phone.transport.write(  # type: ignore[union-attr]
                encode(rrq(n + 1, digits("2201"), "pw2201", now=now, random=n)), target)
        answers = await phone.done
    finally:
        await phone_port.stopListening()
        await gk_port.stopListening()
        store.close()
    assert [RasCodec().decode(a) for a in answers] == [
        OtherRasMessage(n + 1, "registrationConfirm") for n in range(BURST)]
    assert store.answered_at_save == [0]  # one transaction, before the first RCF
    reopened = StateStore(tmp_path)
    try:
        assert len(reopened.load_h323_registrations()) == 1  # each RRQ replaced the one before
    finally:
        reopened.close()
