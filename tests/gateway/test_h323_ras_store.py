"""Gatekeeper registrations in the state store, and the RAS edge that commits them before it
acknowledges; the engine's authentication throttle per source. Real store (SQLite in tmp_path),
a fake clock, an in-memory transport."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from acdgate.gateway.auth.throttle import AuthThrottle
from acdgate.gateway.h323.gatekeeper import Gatekeeper, GatekeeperSettings
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import (
    Dropped,
    Refused,
    Registration,
    RegistrationAdded,
    RegistrationRow,
    SendDatagram,
)
from acdgate.gateway.h323.ras_messages import (
    OtherRasMessage,
    RegistrationConfirm,
    RegistrationReject,
    RegistrationRejectReason,
    UnregistrationRequest,
)
from acdgate.gateway.h323.ras_protocol import RasProtocol
from acdgate.gateway.storage.store import StateStore
from h323_ras_support import (
    GK_RAS,
    GK_SIGNAL,
    NOW,
    PHONE,
    PHONE_SIGNAL,
    SITE,
    digits,
    encode,
    make_gatekeeper,
    rrq,
)
from twisted.internet import task


class MemoryTransport:
    """What a DatagramProtocol writes, kept in a list."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))


class WatchedStore(StateStore):
    """The real store, noting how many datagrams were sent when each save came."""

    def __init__(self, state_dir: Path, transport: MemoryTransport) -> None:
        super().__init__(state_dir)
        self.transport = transport
        self.sent_at_save: list[int] = []

    def save_h323_registrations(self, changed: Iterable[RegistrationRow],
                                removed: Iterable[str] = ()) -> None:
        self.sent_at_save.append(len(self.transport.sent))
        super().save_h323_registrations(changed, removed)


def names(transport: MemoryTransport) -> list[str]:
    return [m.name for m in (RasCodec().decode(d) for d, _ in transport.sent)
            if isinstance(m, OtherRasMessage)]


def edge(tmp_path: Path) -> tuple[task.Clock, RasProtocol, MemoryTransport, WatchedStore]:
    clock = task.Clock()
    clock.advance(NOW)
    transport = MemoryTransport()
    store = WatchedStore(tmp_path, transport)
    protocol = RasProtocol(make_gatekeeper(), clock, store=store)
    protocol.makeConnection(transport)  # type: ignore[arg-type]
    return clock, protocol, transport, store


def test_a_registration_row_round_trips_through_the_store(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    registration = Registration(
        endpoint_identifier="ep1", extension="2202", aliases=(digits("2202"),),
        call_signal_address=PHONE_SIGNAL, ras_address=GK_RAS, source=PHONE, time_to_live=120,
        expires_at=NOW + 120, endpoint_type="gateway", vendor="Acme 4.2")
    store.save_h323_registrations([registration.to_row()])
    (row,) = store.load_h323_registrations(NOW)
    assert Registration.from_row(row) == registration
    assert store.load_h323_registrations(NOW + 120) == []  # expired at that time
    store.save_h323_registrations([], ["ep1"])
    assert store.load_h323_registrations() == []
    store.close()


def test_rcf_and_ucf_go_out_after_the_change_is_committed(tmp_path: Path) -> None:
    _clock, protocol, transport, store = edge(tmp_path)
    protocol.datagramReceived(encode(rrq(1, digits("2201"), "pw2201")), PHONE)
    assert names(transport) == ["registrationConfirm"] and store.sent_at_save == [0]
    (row,) = store.load_h323_registrations(NOW)
    assert Registration.from_row(row).extension == "2201"
    protocol.datagramReceived(encode(UnregistrationRequest(2, (PHONE_SIGNAL,), (), "ep1")), PHONE)
    assert names(transport) == ["registrationConfirm", "unregistrationConfirm"]
    assert store.sent_at_save == [0, 1] and store.load_h323_registrations() == []
    protocol.doStop()
    store.close()


def test_expiry_is_stored_too(tmp_path: Path) -> None:
    clock, protocol, _transport, store = edge(tmp_path)
    protocol.datagramReceived(encode(rrq(1, digits("2201"), "pw2201")), PHONE)
    clock.advance(120)
    assert store.load_h323_registrations() == [] and clock.getDelayedCalls() == []
    protocol.doStop()
    store.close()


def test_no_rcf_when_the_store_cannot_write(tmp_path: Path) -> None:
    _clock, protocol, transport, store = edge(tmp_path)
    store.close()  # every write now fails inside SQLite
    protocol.datagramReceived(encode(rrq(1, digits("2201"), "pw2201")), PHONE)
    assert transport.sent == []  # not durable, so not acknowledged: the endpoint retries
    protocol.doStop()


def test_restore_brings_back_what_the_store_kept(tmp_path: Path) -> None:
    _clock, protocol, _transport, store = edge(tmp_path)
    protocol.datagramReceived(encode(rrq(1, digits("2201"), "pw2201")), PHONE)
    protocol.doStop()
    rows = store.load_h323_registrations(NOW + 60)
    store.close()
    gatekeeper = make_gatekeeper()
    gatekeeper.restore([Registration.from_row(r) for r in rows], NOW + 60)
    assert [r.extension for r in gatekeeper.registrations()] == ["2201"]
    assert gatekeeper.next_timer() == NOW + 120


def test_failures_from_one_source_are_delayed_then_blocked() -> None:
    gatekeeper = Gatekeeper(SITE, GatekeeperSettings(ras_address=GK_RAS, call_signal_address=GK_SIGNAL),
                            throttle=AuthThrottle(1, 2, 60))
    first = gatekeeper.receive(encode(rrq(1, digits("2201"), "wrong")), PHONE, NOW)
    assert isinstance(first[0], SendDatagram) and first[0].delay == 0
    assert first[0].message == RegistrationReject(1, RegistrationRejectReason.SECURITY_DENIAL, "acdgate")
    # an unknown alias counts as a failure exactly like a wrong password, and is answered alike
    second = gatekeeper.receive(encode(rrq(1, digits("2299"), "pw2299")), PHONE, NOW + 1)
    assert isinstance(second[0], SendDatagram) and second[0].delay == 1.0
    assert second[0].data == first[0].data
    assert isinstance(second[1], Refused) and "failure 2" in second[1].reason
    (blocked,) = gatekeeper.receive(encode(rrq(3, digits("2201"), "wrong")), PHONE, NOW + 2)
    assert isinstance(blocked, Dropped) and "blocked after 3" in blocked.defect
    (dropped,) = gatekeeper.receive(encode(rrq(4, digits("2201"), "pw2201", random=9)), PHONE, NOW + 3)
    assert isinstance(dropped, Dropped) and dropped.defect.startswith("source blocked")
    # another address is not affected; the block ends after block_seconds
    other = ("192.0.2.77", 1719)
    assert isinstance(gatekeeper.receive(encode(rrq(5, digits("2202"), "pw2202", now=NOW + 4)),
                                         other, NOW + 4)[0], SendDatagram)
    later = gatekeeper.receive(encode(rrq(6, digits("2201"), "pw2201", now=NOW + 63, random=11)),
                               PHONE, NOW + 63)
    assert isinstance(later[0], SendDatagram) and isinstance(later[0].message, RegistrationConfirm)
    assert isinstance(later[1], RegistrationAdded)


def test_a_success_clears_the_count() -> None:
    gatekeeper = Gatekeeper(SITE, GatekeeperSettings(ras_address=GK_RAS, call_signal_address=GK_SIGNAL),
                            throttle=AuthThrottle(1, 2, 60))
    gatekeeper.receive(encode(rrq(1, digits("2201"), "wrong")), PHONE, NOW)
    accepted = gatekeeper.receive(encode(rrq(2, digits("2201"), "pw2201")), PHONE, NOW)[0]
    assert isinstance(accepted, SendDatagram) and isinstance(accepted.message, RegistrationConfirm)
    again = gatekeeper.receive(encode(rrq(3, digits("2201"), "wrong")), PHONE, NOW)
    assert isinstance(again[0], SendDatagram) and again[0].delay == 0


def test_guessing_one_alias_from_many_sources_holds_it_but_not_for_its_registered_address() -> None:
    gatekeeper = Gatekeeper(SITE, GatekeeperSettings(ras_address=GK_RAS, call_signal_address=GK_SIGNAL),
                            throttle=AuthThrottle(5, 20, 300))
    ok = gatekeeper.receive(encode(rrq(1, digits("2201"), "pw2201")), PHONE, NOW)
    assert isinstance(ok[0], SendDatagram) and isinstance(ok[0].message, RegistrationConfirm)
    for i in range(6):  # six sources, one wrong password each: the account is held
        gatekeeper.receive(encode(rrq(10 + i, digits("2201"), "wrong")), (f"198.51.100.{i + 1}", 1719), NOW + 1)
    right = gatekeeper.receive(encode(rrq(20, digits("2201"), "pw2201", random=5)), ("198.51.100.9", 1719),
                               NOW + 1.5)
    assert isinstance(right[0], SendDatagram)
    assert right[0].message == RegistrationReject(20, RegistrationRejectReason.SECURITY_DENIAL, "acdgate")
    assert isinstance(right[1], Refused) and "account held" in right[1].reason
    again = gatekeeper.receive(encode(rrq(21, digits("2201"), "pw2201", random=6)), PHONE, NOW + 1.5)
    sent = [a for a in again if isinstance(a, SendDatagram)]  # (after the replaced registration's removal)
    assert len(sent) == 1 and isinstance(sent[0].message, RegistrationConfirm)
    assert gatekeeper.throttle.refused_by_account() == [("2201", 1)]
