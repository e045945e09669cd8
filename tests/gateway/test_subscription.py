"""RFC 6665 notifier-side subscription dialogs: create, refresh, 423, unsubscribe, expiry, NOTIFY."""

from __future__ import annotations

import itertools

import pytest
from acdgate.gateway.sip.message import Headers, Request
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.subscription import (
    TRANSITIONS,
    ExpiresPolicy,
    SubInput,
    SubscribeOutcome,
    SubscriptionError,
    SubscriptionTable,
    SubState,
    TerminationReason,
    event_type,
    negotiate_expires,
)

POLICY = ExpiresPolicy(minimum=60, maximum=3600, default=1800)
SOURCE = ("127.0.0.1", 5070)


def subscribe(cseq: int = 1, *, expires: str | None = "600", to_tag: str | None = None,
              event: str = "as-feature-event", contact: str | None = "<sip:2101@10.0.0.5:5062>",
              record_route: tuple[str, ...] = ()) -> Request:
    headers = Headers([
        ("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK" + str(cseq)),
        ("From", "<sip:2101@gw>;tag=phone1"),
        ("To", "<sip:2101@gw>" + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", "sub-1@phone"),
        ("CSeq", f"{cseq} SUBSCRIBE"),
        ("Event", event),
    ])
    for rr in record_route:
        headers.add("Record-Route", rr)
    if contact:
        headers.add("Contact", contact)
    if expires is not None:
        headers.add("Expires", expires)
    return Request("SUBSCRIBE", "sip:2101@gw", headers)


def receive(table: SubscriptionTable, request: Request, now: float) -> SubscribeOutcome:
    return table.receive(request, now, resource="2101", subscriber="2101", policy=POLICY,
                         source=SOURCE, transport="UDP")


@pytest.mark.parametrize("requested, granted", [(None, 1800), ("0", 0), ("60", 60), ("600", 600),
                                                ("99999", 3600)])
def test_expires_negotiation(requested: str | None, granted: int) -> None:
    assert negotiate_expires(requested, POLICY) == granted


def test_too_brief_is_423_with_min_expires() -> None:
    with pytest.raises(SubscriptionError) as info:
        negotiate_expires("59", POLICY)
    assert info.value.status == 423
    assert ("Min-Expires", "60") in info.value.headers


@pytest.mark.parametrize("bad", ["-1", "abc", "1e3", "99999999999"])
def test_malformed_expires_is_400(bad: str) -> None:
    with pytest.raises(SubscriptionError) as info:
        negotiate_expires(bad, POLICY)
    assert info.value.status == 400


def test_event_header_package_and_id() -> None:
    assert event_type("Dialog;id=7") == ("dialog", "7")
    assert event_type("as-feature-event") == ("as-feature-event", None)
    with pytest.raises(SubscriptionError):
        event_type(None)


def test_new_subscription_dialog_and_notify() -> None:
    table = SubscriptionTable()
    rr = ("<sip:proxy1;lr>", "<sip:proxy2;lr>")
    outcome = receive(table, subscribe(record_route=rr), 100.0)
    sub = outcome.subscription
    assert outcome.created and outcome.expires == 600
    assert sub.state is SubState.ACTIVE and len(table) == 1
    assert sub.remote_target == "sip:2101@10.0.0.5:5062"
    n1 = sub.notify(130.0, via="SIP/2.0/UDP 127.0.0.1:5060", contact="<sip:acdgate@127.0.0.1>",
                    body=b"<x/>", content_type="application/x-as-feature-event+xml")
    n2 = sub.notify(131.0, via="SIP/2.0/UDP 127.0.0.1:5060", contact="<sip:acdgate@127.0.0.1>")
    parsed = parse_message(n1.to_bytes())
    assert isinstance(parsed, Request)
    assert parsed.method == "NOTIFY" and parsed.uri == "sip:2101@10.0.0.5:5062"
    assert parsed.headers.get_all("Route") == list(rr)  # RFC 3261 12.1.1: same order for the UAS
    assert parsed.from_addr is not None and parsed.from_addr.tag == sub.key.local_tag
    assert parsed.to_addr is not None and parsed.to_addr.tag == "phone1"
    assert parsed.headers.get("Subscription-State") == "active;expires=570"
    assert parsed.headers.get("Event") == "as-feature-event"
    assert parsed.cseq == (1, "NOTIFY") and n2.cseq == (2, "NOTIFY")
    assert parsed.body == b"<x/>"


def test_refresh_extends_and_updates_target() -> None:
    table = SubscriptionTable()
    sub = receive(table, subscribe(), 0.0).subscription
    tag = sub.key.local_tag
    again = receive(table, subscribe(2, expires="3600", to_tag=tag, contact="<sip:2101@10.0.0.9:6000>"), 500.0)
    assert not again.created and again.subscription is sub
    assert sub.expires_at == 4100.0 and sub.remote_target == "sip:2101@10.0.0.9:6000"
    assert table.next_expiry() == 4100.0
    assert table.expire(700.0) == []  # the old deadline no longer counts


def test_refresh_with_stale_cseq_is_500_and_unknown_dialog_481() -> None:
    table = SubscriptionTable()
    tag = receive(table, subscribe(5), 0.0).subscription.key.local_tag
    with pytest.raises(SubscriptionError) as info:
        receive(table, subscribe(5, to_tag=tag), 1.0)
    assert info.value.status == 500
    with pytest.raises(SubscriptionError) as info:
        receive(table, subscribe(6, to_tag="nosuchtag"), 1.0)
    assert info.value.status == 481
    with pytest.raises(SubscriptionError) as info:
        receive(table, subscribe(7, to_tag=tag, event="dialog"), 1.0)
    assert info.value.status == 481


def test_too_brief_refresh_keeps_the_subscription() -> None:
    table = SubscriptionTable()
    sub = receive(table, subscribe(), 0.0).subscription
    with pytest.raises(SubscriptionError) as info:
        receive(table, subscribe(2, expires="10", to_tag=sub.key.local_tag), 1.0)
    assert info.value.status == 423
    assert sub.state is SubState.ACTIVE and len(table) == 1


def test_unsubscribe_terminates_with_final_state() -> None:
    table = SubscriptionTable()
    sub = receive(table, subscribe(), 0.0).subscription
    out = receive(table, subscribe(2, expires="0", to_tag=sub.key.local_tag), 10.0)
    assert out.expires == 0 and sub.state is SubState.TERMINATED and len(table) == 0
    notify = sub.notify(10.0, via="SIP/2.0/UDP h:1", contact="<sip:gw>")
    assert notify.headers.get("Subscription-State") == "terminated;reason=timeout"
    with pytest.raises(SubscriptionError) as info:
        receive(table, subscribe(3, to_tag=sub.key.local_tag), 11.0)
    assert info.value.status == 481


def test_fetch_creates_nothing() -> None:
    table = SubscriptionTable()
    out = receive(table, subscribe(expires="0"), 0.0)
    assert out.created and out.subscription.state is SubState.TERMINATED and len(table) == 0


def test_expiry_with_a_fake_clock() -> None:
    table = SubscriptionTable()
    sub = receive(table, subscribe(), 0.0).subscription
    assert table.next_expiry() == 600.0
    assert table.expire(599.9) == []
    assert table.expire(600.0) == [sub]
    assert sub.state is SubState.TERMINATED and sub.reason is TerminationReason.TIMEOUT
    assert table.next_expiry() is None and len(table) == 0


def test_notify_rejected_terminates() -> None:
    table = SubscriptionTable()
    sub = receive(table, subscribe(), 0.0).subscription
    table.terminate(sub, SubInput.NOTIFY_REJECTED, TerminationReason.GIVEUP)
    assert sub.state is SubState.TERMINATED and len(table) == 0 and table.next_expiry() is None


def test_initial_subscribe_needs_contact_and_from_tag() -> None:
    table = SubscriptionTable()
    with pytest.raises(SubscriptionError) as info:
        receive(table, subscribe(contact=None), 0.0)
    assert info.value.status == 400


@pytest.mark.parametrize("state, what", list(itertools.product(SubState, SubInput)))
def test_every_state_input_pair_is_in_the_table_or_refused(state: SubState, what: SubInput) -> None:
    table = SubscriptionTable()
    sub = receive(table, subscribe(), 0.0).subscription
    sub.state = state
    if (state, what) in TRANSITIONS:
        assert sub.fire(what) is TRANSITIONS[(state, what)]
    else:
        with pytest.raises(SubscriptionError) as info:
            sub.fire(what)
        assert info.value.status == 481
        assert sub.state is state
