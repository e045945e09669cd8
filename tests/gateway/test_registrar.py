"""The registrar: RFC 3261 10.3 rules, digest challenges, enumeration resistance, throttling,
restore and expiry, and the exact REGISTER/INVITE shapes of pyVoIP 1.6.8."""

from __future__ import annotations

import dataclasses
import re
from email.utils import parsedate_to_datetime

import pytest

# isort: off
import pyVoIP.VoIP  # noqa: F401 -- pyVoIP.SIP imported first is a circular import
from pyVoIP.SIP import SIPClient, SIPMessage

# isort: on
from acdgate.acd.site import SipSettings, Site, Station
from acdgate.gateway.sip.digest import Algorithm, Qop, digest_response, parse_auth_params
from acdgate.gateway.sip.message import Request, Response, parse_uri
from acdgate.gateway.sip.parser import parse_message
from acdgate.gateway.sip.registrar import (
    Binding,
    RegisterResult,
    Registrar,
    credentials_from_site,
    uri_equivalent,
)

SECRET = b"registrar-test-secret-0123456789"
NOW = 1_700_000_000.0
SETTINGS = SipSettings(
    realm="acdgate",
    min_expires=60,
    max_expires=3600,
    default_expires=1800,
    auth_failures_before_delay=2,
    auth_failures_before_block=4,
    auth_block_seconds=100,
)
SITE = Site(
    name="lab",
    stations=(Station("201", "201", "pw201"), Station("202", "202", "pw202")),
    users=(),
    groups=(),
    sip=SETTINGS,
)
SRC = ("192.0.2.10", 5062)


def make_registrar(**kw: object) -> Registrar:
    return Registrar(SETTINGS, credentials_from_site(SITE), SECRET, **kw)  # type: ignore[arg-type]


def register_bytes(
    *,
    user: str = "201",
    to_user: str | None = None,
    contacts: list[str] | None = None,
    expires: int | None = None,
    call_id: str = "cid-1",
    cseq: int = 1,
    authorization: str | None = None,
    extra: list[str] | None = None,
    method: str = "REGISTER",
    uri: str = "sip:gw.example",
) -> bytes:
    lines = [
        f"{method} {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-test;rport",
        "Max-Forwards: 70",
        f"From: <sip:{user}@gw.example>;tag=ft1",
        f"To: <sip:{to_user or user}@gw.example>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        "User-Agent: TestPhone/1.0",
    ]
    lines += [f"Contact: {c}" for c in (contacts if contacts is not None else [f"<sip:{user}@192.0.2.10:5062>"])]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    lines += extra or []
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def parse(data: bytes) -> Request:
    msg = parse_message(data)
    assert isinstance(msg, Request), msg
    return msg


def authorization_for(
    challenge: Response,
    *,
    user: str = "201",
    password: str = "pw201",
    method: str = "REGISTER",
    uri: str = "sip:gw.example",
    nc: int = 1,
    index: int = 0,
) -> str:
    value = challenge.headers.get_all("WWW-Authenticate")[index]
    p = parse_auth_params(value[len("Digest ") :])
    assert isinstance(p, dict)
    alg = Algorithm.from_token(p["algorithm"])
    assert alg is not None
    ncs = f"{nc:08x}"
    resp = digest_response(
        algorithm=alg, username=user, realm=p["realm"], password=password, method=method,
        uri=uri, nonce=p["nonce"], qop=Qop.AUTH, nc=ncs, cnonce="abc123",
    )  # fmt: skip
    return (
        f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
        f'response="{resp}", algorithm={alg.value}, qop=auth, nc={ncs}, cnonce="abc123", '
        f'opaque="{p["opaque"]}"'
    )


class Phone:
    """A client that answers the registrar's challenge (one nonce, counting nc up)."""

    def __init__(self, reg: Registrar, user: str = "201", password: str = "pw201") -> None:
        self.reg, self.user, self.password = reg, user, password
        self.challenge: Response | None = None
        self.nc = 0
        self.cseq = 0

    def register(self, now: float = NOW, source: tuple[str, int] = SRC, **kw: object) -> RegisterResult:
        if self.challenge is None:
            self.cseq += 1
            first = self.reg.handle_register(parse(register_bytes(user=self.user, cseq=self.cseq)), source, "udp", now)
            assert first.response.status == 401
            self.challenge = first.response
        self.nc += 1
        kw.setdefault("cseq", self.cseq + 1)
        self.cseq = int(kw["cseq"])  # type: ignore[call-overload]
        auth = authorization_for(self.challenge, user=self.user, password=self.password, nc=self.nc)
        req = parse(register_bytes(user=self.user, authorization=auth, **kw))  # type: ignore[arg-type]
        return self.reg.handle_register(req, source, "udp", now)


def contact_expires(response: Response) -> dict[str, int]:
    out = {}
    for value in response.headers.get_all("Contact"):
        m = re.match(r"<([^>]*)>.*;expires=(\d+)", value)
        assert m, value
        out[m.group(1)] = int(m.group(2))
    return out


# -- challenges ---------------------------------------------------------------------------


def test_unauthenticated_register_gets_sha256_then_md5_challenge() -> None:
    result = make_registrar().handle_register(parse(register_bytes()), SRC, "UDP", NOW)
    r = result.response
    assert r.status == 401
    values = r.headers.get_all("WWW-Authenticate")
    assert [re.search(r"algorithm=([\w-]+)", v).group(1) for v in values] == ["SHA-256", "MD5"]  # type: ignore[union-attr]
    assert all('realm="acdgate"' in v and 'qop="auth"' in v for v in values)
    assert r.to_addr is not None and r.to_addr.tag
    assert result.auth_failure is None and result.delay == 0 and not result.drop


def test_register_binds_and_lists_contact_with_date() -> None:
    reg = make_registrar()
    result = Phone(reg).register(
        contacts=['<sip:201@192.0.2.10:5062;transport=udp>;q=0.7;+sip.instance="<urn:uuid:abc>";reg-id=1'],
        expires=600,
    )
    r = result.response
    assert r.status == 200, r.reason
    assert contact_expires(r) == {"sip:201@192.0.2.10:5062;transport=udp": 600}
    contact = r.headers.get_all("Contact")[0]
    assert ";q=0.7" in contact and '+sip.instance="<urn:uuid:abc>"' in contact and ";reg-id=1" in contact
    date = r.headers.get("Date")
    assert date is not None and parsedate_to_datetime(date).timestamp() == NOW
    (b,) = result.added_or_refreshed
    assert b == Binding(
        username="201", contact="sip:201@192.0.2.10:5062;transport=udp", expires_at=NOW + 600,
        call_id="cid-1", cseq=2, source=SRC, transport="UDP", user_agent="TestPhone/1.0",
        q=0.7, instance_id="<urn:uuid:abc>", reg_id=1,
    )  # fmt: skip
    assert reg.bindings("201", NOW) == [b]
    assert result.removed == ()


def test_default_expires_and_contact_param_beats_header() -> None:
    reg = make_registrar()
    r = Phone(reg).register(contacts=["<sip:201@192.0.2.10:1>", "<sip:201@192.0.2.10:2>;expires=120"], expires=None)
    assert contact_expires(r.response) == {"sip:201@192.0.2.10:1": 1800, "sip:201@192.0.2.10:2": 120}
    r = Phone(reg, "202", "pw202").register(
        contacts=["<sip:202@192.0.2.11>;expires=300"], expires=900, call_id="x"
    )
    assert contact_expires(r.response) == {"sip:202@192.0.2.11": 300}


def test_to_user_must_be_the_authenticated_user() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    r = phone.register(to_user="202")
    assert r.response.status == 403
    assert reg.all_bindings(NOW) == []


def test_interval_too_brief_423_with_min_expires() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    r = phone.register(expires=30)
    assert r.response.status == 423
    assert r.response.headers.get("Min-Expires") == "60"
    r = phone.register(contacts=["<sip:201@192.0.2.10>;expires=59"], expires=3600)
    assert r.response.status == 423
    assert reg.all_bindings(NOW) == []


def test_above_max_is_clamped() -> None:
    r = Phone(make_registrar()).register(expires=99999)
    assert r.response.status == 200
    assert list(contact_expires(r.response).values()) == [3600]
    assert r.added_or_refreshed[0].expires_at == NOW + 3600


def test_invalid_expires_and_q_are_400() -> None:
    phone = Phone(make_registrar())
    assert phone.register(extra=["Expires: soon"]).response.status == 400
    assert phone.register(contacts=["<sip:201@h>;q=1.5"]).response.status == 400
    assert phone.register(contacts=["<sip:201@h>;expires=-1"]).response.status == 400


# -- refresh, several contacts, fetch, unregister -----------------------------------------


def test_refresh_same_call_id_higher_cseq_keeps_binding() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    first = phone.register(expires=600)
    again = phone.register(now=NOW + 300, expires=600)
    assert again.response.status == 200
    (b,) = reg.bindings("201", NOW + 300)
    assert b.expires_at == NOW + 900 and b.cseq == first.added_or_refreshed[0].cseq + 1
    assert again.added_or_refreshed == (b,) and again.removed == ()


@pytest.mark.parametrize("delta", [0, -1])
def test_same_call_id_with_lower_or_equal_cseq_is_500_and_changes_nothing(delta: int) -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(cseq=10, expires=600)
    before = reg.all_bindings(NOW)
    r = phone.register(cseq=10 + delta, expires=0)
    assert r.response.status == 500
    assert reg.all_bindings(NOW) == before
    assert r.added_or_refreshed == () and r.removed == ()


def test_new_call_id_replaces_the_binding_whatever_the_cseq() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(cseq=10)
    r = phone.register(cseq=1, call_id="after-reboot")
    assert r.response.status == 200
    (b,) = reg.bindings("201", NOW)
    assert b.call_id == "after-reboot" and b.cseq == 1


def test_several_contacts_listed_and_fetch_changes_nothing() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@10.0.0.1>", "<sip:201@10.0.0.2>;q=0.5"], expires=600)
    r = phone.register(contacts=["<sip:201@10.0.0.3>"], call_id="desk-2", expires=1200, now=NOW + 100)
    assert contact_expires(r.response) == {
        "sip:201@10.0.0.1": 500, "sip:201@10.0.0.2": 500, "sip:201@10.0.0.3": 1200,
    }  # fmt: skip
    fetch = phone.register(contacts=[], now=NOW + 200)
    assert fetch.response.status == 200
    assert contact_expires(fetch.response) == {
        "sip:201@10.0.0.1": 400, "sip:201@10.0.0.2": 400, "sip:201@10.0.0.3": 1100,
    }  # fmt: skip
    assert fetch.added_or_refreshed == () and fetch.removed == ()
    assert len(reg.bindings("201", NOW + 200)) == 3


def test_expires_zero_removes_one_contact() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@10.0.0.1>", "<sip:201@10.0.0.2>"])
    r = phone.register(contacts=["<sip:201@10.0.0.1>;expires=0"])
    assert [b.contact for b in r.removed] == ["sip:201@10.0.0.1"]
    assert list(contact_expires(r.response)) == ["sip:201@10.0.0.2"]


def test_uri_comparison_matches_equivalent_contacts() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@Desk.Example;transport=UDP>"])
    r = phone.register(contacts=["<sip:201@desk.example;transport=udp>"])
    assert [b.contact for b in r.removed] == ["sip:201@Desk.Example;transport=UDP"]
    assert [b.contact for b in reg.bindings("201", NOW)] == ["sip:201@desk.example;transport=udp"]
    assert not set(b.key() for b in r.removed) & set(b.key() for b in r.added_or_refreshed)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("sip:u@h", "sip:u@H", True),
        ("sip:u@h", "sip:U@h", False),
        ("sip:u@h", "sip:u@h:5060", False),
        ("sip:u@h;transport=tcp", "sip:u@h", False),
        ("sip:u@h;line=1", "sip:u@h", True),
        ("sip:u@h;line=1", "sip:u@h;line=2", False),
        ("sip:%41@h", "sip:A@h", True),
        ("sips:u@h", "sip:u@h", False),
    ],
)
def test_uri_equivalent(a: str, b: str, same: bool) -> None:
    assert uri_equivalent(parse_uri(a), parse_uri(b)) is same


def test_instance_and_reg_id_identify_the_binding() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    inst = ';+sip.instance="<urn:uuid:1>";reg-id=1'
    phone.register(contacts=[f"<sip:201@10.0.0.1:5060>{inst}"])
    r = phone.register(contacts=[f"<sip:201@10.0.0.9:5060>{inst}"], call_id="new-flow")
    assert [b.contact for b in reg.bindings("201", NOW)] == ["sip:201@10.0.0.9:5060"]
    assert [b.contact for b in r.removed] == ["sip:201@10.0.0.1:5060"]


def test_wildcard_unregisters_everything() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@10.0.0.1>", "<sip:201@10.0.0.2>"])
    r = phone.register(contacts=["*"], expires=0)
    assert r.response.status == 200
    assert r.response.headers.get_all("Contact") == []
    assert sorted(b.contact for b in r.removed) == ["sip:201@10.0.0.1", "sip:201@10.0.0.2"]
    assert reg.bindings("201", NOW) == []
    assert reg.next_expiry() is None


@pytest.mark.parametrize(
    ("contacts", "expires"),
    [(["*"], None), (["*"], 60), (["*", "<sip:201@10.0.0.1>"], 0)],
)
def test_wildcard_needs_expires_zero_and_to_be_alone(contacts: list[str], expires: int | None) -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register()
    r = phone.register(contacts=contacts, expires=expires)
    assert r.response.status == 400
    assert len(reg.bindings("201", NOW)) == 1


def test_wildcard_with_stale_cseq_is_500() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(cseq=7)
    assert phone.register(cseq=7, contacts=["*"], expires=0).response.status == 500
    assert len(reg.bindings("201", NOW)) == 1


def test_contact_cap_evicts_soonest_to_expire() -> None:
    reg = make_registrar(max_contacts=2)
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@10.0.0.1>;expires=100", "<sip:201@10.0.0.2>;expires=900"])
    r = phone.register(contacts=["<sip:201@10.0.0.3>"], call_id="other", expires=600)
    assert [b.contact for b in r.removed] == ["sip:201@10.0.0.1"]
    assert sorted(b.contact for b in reg.bindings("201", NOW)) == ["sip:201@10.0.0.2", "sip:201@10.0.0.3"]


def test_unknown_require_gets_420() -> None:
    r = make_registrar().handle_register(parse(register_bytes(extra=["Require: gruu"])), SRC, "UDP", NOW)
    assert r.response.status == 420
    assert r.response.headers.get("Unsupported") == "gruu"


# -- restore and expiry -------------------------------------------------------------------


def test_refreshes_keep_one_expiry_entry_per_binding_and_the_deadline_exact() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    for i in range(300):  # a phone refreshing far more often than its bindings expire
        phone.register(contacts=["<sip:201@10.0.0.1>;expires=3600"], now=NOW + i)
    assert len(reg._expiry) <= 2  # not one heap entry per REGISTER
    assert reg.next_expiry() == NOW + 299 + 3600
    assert reg.expire(NOW + 3600) == []
    assert [b.contact for b in reg.expire(NOW + 299 + 3600)] == ["sip:201@10.0.0.1"]


def test_expiry_is_timer_driven() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@10.0.0.1>;expires=100", "<sip:201@10.0.0.2>;expires=300"])
    assert reg.next_expiry() == NOW + 100
    assert reg.expire(NOW + 99) == []
    gone = reg.expire(NOW + 100)
    assert [b.contact for b in gone] == ["sip:201@10.0.0.1"]
    assert reg.next_expiry() == NOW + 300
    phone.register(contacts=["<sip:201@10.0.0.2>;expires=600"], now=NOW + 200)
    assert reg.next_expiry() == NOW + 800  # the refresh superseded the old deadline
    assert reg.expire(NOW + 300) == []
    assert [b.contact for b in reg.expire(NOW + 800)] == ["sip:201@10.0.0.2"]
    assert reg.next_expiry() is None and reg.all_bindings(NOW) == []


def test_restore_drops_expired_and_round_trips_through_rows() -> None:
    reg = make_registrar()
    phone = Phone(reg)
    phone.register(contacts=["<sip:201@10.0.0.1>;expires=100", "<sip:201@10.0.0.2>;q=0.2;expires=900"])
    saved = [Binding.from_row(b.to_row()) for b in reg.all_bindings(NOW)]
    assert saved == reg.all_bindings(NOW)
    fresh = make_registrar()
    fresh.restore(saved, NOW + 200)
    assert [b.contact for b in fresh.all_bindings(NOW + 200)] == ["sip:201@10.0.0.2"]
    assert fresh.next_expiry() == NOW + 900
    # and the restored registrar honours the stored Call-ID/CSeq
    stored = saved[1]
    assert stored.contact == "sip:201@10.0.0.2"
    again = Phone(fresh)
    out = again.register(contacts=["<sip:201@10.0.0.2>"], cseq=stored.cseq, now=NOW + 200)
    assert out.response.status == 500


# -- enumeration resistance and throttling ------------------------------------------------


def _masked(r: Response) -> list[tuple[str, str]]:
    out = []
    for name, value in r.headers:
        if name in ("From", "To", "Via"):
            value = re.sub(r"tag=\w+", "tag=T", re.sub(r"sip:\d+@", "sip:U@", value))
        value = re.sub(r'nonce="[^"]*"', 'nonce="N"', value)
        value = re.sub(r'opaque="[^"]*"', 'opaque="O"', value)
        out.append((name, value))
    return [(f"{r.status} {r.reason}", ""), *out]


def test_unknown_user_gets_exactly_the_known_users_challenge() -> None:
    reg = make_registrar()
    known = reg.handle_register(parse(register_bytes(user="201")), SRC, "UDP", NOW).response
    unknown = reg.handle_register(parse(register_bytes(user="999")), SRC, "UDP", NOW).response
    assert known.to_bytes() != unknown.to_bytes()
    assert _masked(known) == _masked(unknown)
    assert known.headers.get_all("WWW-Authenticate") != []


def test_wrong_password_and_unknown_user_get_the_same_answer() -> None:
    reg = make_registrar()
    answers = []
    for user in ("201", "999"):
        challenge = reg.handle_register(parse(register_bytes(user=user)), SRC, "UDP", NOW).response
        auth = authorization_for(challenge, user=user, password="guess")
        result = reg.handle_register(parse(register_bytes(user=user, cseq=2, authorization=auth)), SRC, "UDP", NOW)
        assert result.auth_failure is not None and result.auth_failure.username == user
        answers.append(result)
    assert answers[0].response.status == answers[1].response.status == 401
    assert _masked(answers[0].response) == _masked(answers[1].response)
    assert (answers[0].delay, answers[0].drop) == (answers[1].delay, answers[1].drop) == (0.0, False)
    assert answers[0].auth_failure.reason == "bad-response"  # type: ignore[union-attr]
    assert answers[1].auth_failure.reason == "unknown-user"  # type: ignore[union-attr]
    assert answers[0].auth_failure.call_id == "cid-1"  # type: ignore[union-attr]
    assert answers[0].auth_failure.source == SRC  # type: ignore[union-attr]


def test_failures_are_delayed_then_blocked_then_unblocked() -> None:
    reg = make_registrar()
    challenge = reg.handle_register(parse(register_bytes()), SRC, "UDP", NOW).response
    results = []
    for i in range(5):
        auth = authorization_for(challenge, password="guess", nc=i + 1)
        req = parse(register_bytes(cseq=i + 2, authorization=auth))
        results.append(reg.handle_register(req, SRC, "UDP", NOW + i))
    assert [(r.delay > 0, r.drop) for r in results] == [
        (False, False), (False, False), (True, False), (True, False), (False, True),
    ]  # fmt: skip
    assert all(r.auth_failure is not None for r in results)
    # blocked: even a correct REGISTER from that address is dropped, other addresses are not
    good = authorization_for(challenge, nc=10)
    blocked = reg.handle_register(parse(register_bytes(cseq=20, authorization=good)), SRC, "UDP", NOW + 50)
    assert blocked.drop and blocked.auth_failure is None
    assert reg.bindings("201", NOW + 50) == []
    assert Phone(reg).register(now=NOW + 50, source=("192.0.2.99", 5060)).response.status == 200
    # the block ends after auth_block_seconds
    assert Phone(reg).register(now=NOW + 4 + 100, call_id="later").response.status == 200


def test_stale_nonce_with_correct_response_gets_stale_true() -> None:
    reg = make_registrar()
    challenge = reg.handle_register(parse(register_bytes()), SRC, "UDP", NOW).response
    auth = authorization_for(challenge)
    r = reg.handle_register(parse(register_bytes(cseq=2, authorization=auth)), SRC, "UDP", NOW + 301)
    assert r.response.status == 401 and r.auth_failure is None
    assert all("stale=true" in v for v in r.response.headers.get_all("WWW-Authenticate"))
    # a wrong response on a stale nonce is not judged (no oracle, RFC 7616 3.3) nor counted
    wrong = authorization_for(challenge, password="nope", nc=2)
    r = reg.handle_register(parse(register_bytes(cseq=3, authorization=wrong)), SRC, "UDP", NOW + 301)
    assert all("stale=true" in v for v in r.response.headers.get_all("WWW-Authenticate"))
    assert r.auth_failure is None and reg.throttle.failures(SRC[0]) == 0


def test_replayed_nonce_count_is_refused() -> None:
    reg = make_registrar()
    challenge = reg.handle_register(parse(register_bytes()), SRC, "UDP", NOW).response
    data = register_bytes(cseq=2, authorization=authorization_for(challenge))
    assert reg.handle_register(parse(data), SRC, "UDP", NOW).response.status == 200
    replay = reg.handle_register(parse(data), SRC, "UDP", NOW + 1)
    assert replay.response.status == 401
    assert replay.response.status == 401 and reg.bindings("201", NOW + 1) != []
    # a copy of a good answer proves nothing about a password: a fresh nonce, no penalty
    assert all("stale=true" in v for v in replay.response.headers.get_all("WWW-Authenticate"))
    assert replay.auth_failure is None and reg.throttle.failures(SRC[0]) == 0


def test_malformed_authorization_is_400_and_not_counted() -> None:
    # no nonce of ours was answered: anyone could send it from a spoofed address
    reg = make_registrar()
    r = reg.handle_register(parse(register_bytes(authorization='Digest username="201')), SRC, "UDP", NOW)
    assert r.response.status == 400
    assert r.auth_failure is not None and r.auth_failure.reason.startswith("malformed")
    assert reg.throttle.failures(SRC[0]) == 0


# -- authenticate() for other methods -----------------------------------------------------


def test_authenticate_invite() -> None:
    reg = make_registrar()
    invite = parse(register_bytes(method="INVITE", uri="sip:300@gw.example", contacts=[]))
    challenge = reg.authenticate(invite, SRC, NOW)
    assert isinstance(challenge, RegisterResult) and challenge.response.status == 401
    assert challenge.response.cseq == (1, "INVITE")
    auth = authorization_for(challenge.response, method="INVITE", uri="sip:300@gw.example", index=1)
    signed = parse(register_bytes(method="INVITE", uri="sip:300@gw.example", contacts=[], cseq=2, authorization=auth))
    assert reg.authenticate(signed, SRC, NOW) == "201"


# -- pyVoIP 1.6.8, the exact shapes it sends -----------------------------------------------


def _pyvoip_client() -> SIPClient:
    client = SIPClient("127.0.0.1", 5060, "201", "pw201", phone=None, myIP="127.0.0.1", myPort=5070)  # type: ignore[arg-type]
    client.default_expires = 120
    return client


def test_pyvoip_register_flow_verifies() -> None:
    reg = make_registrar()
    client = _pyvoip_client()
    first = parse(client.gen_first_response().encode())
    challenge = reg.handle_register(first, ("127.0.0.1", 5070), "UDP", NOW).response
    assert challenge.status == 401
    second_text = client.gen_register(SIPMessage(challenge.to_bytes()))
    # pyVoIP 1.6.8: no qop, no opaque, digest uri "sip:<server>;transport=UDP" != Request-URI
    assert re.search(r'uri="sip:127\.0\.0\.1;transport=UDP",response="[0-9a-f]{32}",algorithm=MD5\r\n', second_text)
    assert "REGISTER sip:127.0.0.1 SIP/2.0" in second_text
    result = reg.handle_register(parse(second_text.encode()), ("127.0.0.1", 5070), "UDP", NOW + 1)
    assert result.response.status == 200, (result.response.reason, result.auth_failure)
    (b,) = result.added_or_refreshed
    assert b.contact == "sip:201@127.0.0.1:5070;transport=UDP"
    assert b.instance_id is not None and b.instance_id.startswith("<urn:uuid:")
    assert b.user_agent.startswith("pyVoIP")
    assert b.expires_at == NOW + 1 + 120


def test_pyvoip_wrong_password_is_refused() -> None:
    reg = make_registrar()
    client = _pyvoip_client()
    client.password = "wrong"
    challenge = reg.handle_register(parse(client.gen_first_response().encode()), SRC, "UDP", NOW).response
    result = reg.handle_register(parse(client.gen_register(SIPMessage(challenge.to_bytes())).encode()), SRC, "UDP", NOW)
    assert result.response.status == 401 and result.auth_failure is not None


def test_pyvoip_invite_authorization_shape_verifies() -> None:
    reg = make_registrar()
    client = _pyvoip_client()
    invite = parse(register_bytes(method="INVITE", uri="sip:300@127.0.0.1", contacts=[]))
    challenge = reg.authenticate(invite, SRC, NOW)
    assert isinstance(challenge, RegisterResult)
    msg = SIPMessage(challenge.response.to_bytes())
    authhash = client.gen_authorization(msg)
    nonce, realm = msg.authentication["nonce"], msg.authentication["realm"]
    # the header exactly as pyVoIP.SIP.SIPClient.invite() formats it
    header = (
        f'Digest username="{client.username}",realm='
        + f'"{realm}",nonce="{nonce}",uri="sip:{client.server};'
        + f'transport=UDP",response="{str(authhash, "utf8")}",'
        + "algorithm=MD5"
    )
    signed = parse(register_bytes(method="INVITE", uri="sip:300@127.0.0.1", contacts=[], cseq=2, authorization=header))
    assert reg.authenticate(signed, SRC, NOW) == "201"
    # the same shape naming a foreign host is refused
    foreign = header.replace("sip:127.0.0.1;", "sip:198.51.100.1;")
    signed = parse(register_bytes(method="INVITE", uri="sip:300@127.0.0.1", contacts=[], cseq=3, authorization=foreign))
    refused = reg.authenticate(signed, SRC, NOW)
    assert isinstance(refused, RegisterResult) and refused.auth_failure is not None
    assert refused.auth_failure.reason.startswith("uri-mismatch")


# -- guessing spread over addresses, blind lock-out (issue 19) ------------------------------


def _guess(reg: Registrar, source: tuple[str, int], password: str, now: float, cseq: int) -> RegisterResult:
    """One guesser's REGISTER pair from `source`: challenged there, then answered with `password`."""
    first = reg.handle_register(parse(register_bytes(cseq=cseq)), source, "UDP", now)
    assert first.response.status == 401
    auth = authorization_for(first.response, password=password)
    return reg.handle_register(parse(register_bytes(cseq=cseq + 1, authorization=auth)), source, "UDP", now)


def test_ten_sources_by_five_guesses_do_not_find_the_password_and_the_phone_still_registers() -> None:
    # the site defaults: no source alone is slowed or blocked by 5 guesses
    settings = dataclasses.replace(SETTINGS, auth_failures_before_delay=5, auth_failures_before_block=20)
    reg = Registrar(settings, credentials_from_site(SITE), SECRET)
    phone = Phone(reg)
    assert phone.register(now=NOW).response.status == 200  # the phone's binding is at SRC
    guesses = [f"guess{i}" for i in range(49)] + ["pw201"]  # the right one comes last
    outcomes = []
    for n, password in enumerate(guesses):
        source = (f"198.51.100.{n % 10 + 1}", 5060)  # 10 sources, 5 guesses each
        outcomes.append(_guess(reg, source, password, NOW + 1 + n * 0.01, 10 + 2 * n))
    assert [r.response.status for r in outcomes] == [401] * 50  # the right guess too
    assert outcomes[-1].auth_failure is not None and outcomes[-1].auth_failure.reason == "account-held"
    assert not any(r.drop for r in outcomes)  # no source was blocked: each made 5 guesses
    assert reg.throttle.refused_total >= 40
    # meanwhile the real phone, from its usual address, registers at once
    again = phone.register(now=NOW + 2, call_id="cid-1")
    assert again.response.status == 200 and again.delay == 0.0
    # another station's phone is not affected
    assert Phone(reg, "202", "pw202").register(now=NOW + 2, source=("192.0.2.20", 5060)).response.status == 200


def test_a_held_account_from_a_new_address_registers_once_the_hold_ends() -> None:
    reg = make_registrar()
    for n in range(SETTINGS.auth_failures_before_delay + 1):
        _guess(reg, (f"198.51.100.{n + 1}", 5060), "wrong", NOW, 10 + 2 * n)
    new_place = ("192.0.2.55", 5060)
    assert Phone(reg).register(now=NOW + 0.5, source=new_place).response.status == 401
    assert Phone(reg).register(now=NOW + 1.0, source=new_place).response.status == 200


def test_forged_and_foreign_nonces_from_a_victim_address_get_fresh_challenges_and_no_penalty() -> None:
    reg = make_registrar()
    victim = ("192.0.2.99", 5060)
    attacker = ("198.51.100.1", 5060)
    own = reg.handle_register(parse(register_bytes()), attacker, "UDP", NOW).response
    for i in range(3 * SETTINGS.auth_failures_before_block):
        if i % 2:  # a nonce the attacker got for itself, sent as if from the victim
            auth = authorization_for(own, password="guess", nc=i + 1)
        else:  # a made-up nonce
            auth = authorization_for(own, password="guess").replace(
                re.search(r'nonce="([^"]+)"', authorization_for(own))[1], "A" * 43)  # type: ignore[index]
        r = reg.handle_register(parse(register_bytes(cseq=i + 2, authorization=auth)), victim, "UDP", NOW + i)
        assert r.response.status == 401 and not r.drop and r.delay == 0.0 and r.auth_failure is None
        assert all("stale=true" in v for v in r.response.headers.get_all("WWW-Authenticate"))
    assert reg.throttle.failures(victim[0]) == 0 and reg.throttle.account_failures("201") == 0
    assert Phone(reg).register(now=NOW + 100, source=victim).response.status == 200


def test_unauthenticated_invites_count_toward_the_source_throttle() -> None:
    reg = make_registrar()
    invite = parse(register_bytes(method="INVITE", uri="sip:300@gw.example", contacts=[]))
    results = [reg.unauthenticated(invite, SRC, NOW + i * 0.001) for i in range(60)]
    assert results[0].response.status == 401 and results[0].auth_failure is None
    assert results[-1].drop and reg.throttle.blocked(SRC[0], NOW + 1)
    assert not reg.throttle.blocked("192.0.2.11", NOW + 1)


def test_credentials_for_another_realm_are_challenged_and_not_counted_even_on_a_held_account() -> None:
    reg = make_registrar()
    for n in range(SETTINGS.auth_failures_before_delay + 1):  # hold account 201
        _guess(reg, (f"198.51.100.{n + 1}", 5060), "wrong", NOW, 10 + 2 * n)
    challenge = reg.handle_register(parse(register_bytes()), SRC, "UDP", NOW).response
    foreign = authorization_for(challenge).replace('realm="acdgate"', 'realm="elsewhere"')
    r = reg.handle_register(parse(register_bytes(cseq=2, authorization=foreign)), SRC, "UDP", NOW)
    assert r.response.status == 401 and r.auth_failure is not None
    assert r.auth_failure.reason == "wrong-realm" and reg.throttle.failures(SRC[0]) == 0
