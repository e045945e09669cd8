"""H.235 hashed password tokens at the gatekeeper engine (fake time): cryptoEPPwdHash and H.235.1
procedure I, built by `h235_tokens` (written from the standards in the test support), for the
right password, a wrong one, an unknown alias, a stale timestamp and a replay; the RCF to a
procedure I request is signed back and checked the same independent way."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from acdgate.gateway.h323.h235 import pwd_clear_token
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import SendDatagram
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    ClearToken,
    HashedToken,
    PwdHashToken,
    RegistrationConfirm,
    RegistrationReject,
    RegistrationRejectReason,
    RegistrationRequest,
)
from h235_tokens import procedure_i_hash, procedure_i_valid, pwd_hash, pwd_hash_clear_token_per
from h323_ras_support import NOW, PHONE, digits, make_gatekeeper, rrq, write_pcap

MD5 = (1, 2, 840, 113549, 2, 5)
OID_A = (0, 0, 8, 235, 0, 2, 1)
OID_T = (0, 0, 8, 235, 0, 2, 5)
OID_U = (0, 0, 8, 235, 0, 2, 6)
TSHARK = shutil.which("tshark")
DENIAL = RegistrationReject(9, RegistrationRejectReason.SECURITY_DENIAL, "acdgate")


def pwd_hash_rrq(alias: Alias, password: str, *, seq: int = 9, now: float = NOW,
                 token_alias: Alias | None = None) -> bytes:
    """A full RRQ with a cryptoEPPwdHash made by the test's own encoder."""
    named = token_alias or alias
    token = PwdHashToken(named, int(now), MD5, pwd_hash(named.value, password, int(now)))
    return RasCodec().encode(replace(rrq(seq, alias, None, now=now), crypto_tokens=(token,)))


def procedure_i_rrq(alias: Alias, password: str, *, seq: int = 9, now: float = NOW,
                    random: int = 1, senders_id: str | None = None,
                    general_id: str | None = "acdgate",
                    base: RegistrationRequest | None = None) -> bytes:
    """An RRQ signed by procedure I: encoded with the hash zeroed, HMAC'd here, re-encoded."""
    request = base or rrq(seq, alias, None, now=now)
    vals = ClearToken(token_oid=OID_T, timestamp=int(now), random=random, general_id=general_id,
                      senders_id=senders_id if senders_id is not None else alias.value)

    def encoded(digest: bytes) -> bytes:
        token = HashedToken(OID_A, vals, OID_U, digest)
        return RasCodec().encode(replace(request, crypto_tokens=(token,)))
    return encoded(procedure_i_hash(password, encoded(bytes(12))))


def sent(actions: list[object]) -> SendDatagram:
    (answer,) = [a for a in actions if isinstance(a, SendDatagram)]
    return answer


def test_our_clear_token_encoding_is_x691s() -> None:
    """What a cryptoEPPwdHash hashes: the codec's PER of the ClearToken equals the hand-made one."""
    for alias, password, timestamp in (("2201", "pw2201", 1_700_000_000), ("desk-2202", "x", 1),
                                       ("a" * 60, "p" * 100, 255), ("é", "ü", 65_536)):
        ours = RasCodec().encode_clear_token(pwd_clear_token(alias, password, timestamp))
        assert ours == pwd_hash_clear_token_per(alias, password, timestamp)


# ----------------------------------------------------------------------------- cryptoEPPwdHash


def test_pwd_hash_with_the_right_password_registers() -> None:
    gk = make_gatekeeper()
    answer = sent(gk.receive(pwd_hash_rrq(digits("2201"), "pw2201"), PHONE, NOW + 5))
    assert isinstance(answer.message, RegistrationConfirm) and not answer.message.crypto_tokens
    assert [r.extension for r in gk.registrations()] == ["2201"]


def test_pwd_hash_by_h323_alias_registers() -> None:
    gk = make_gatekeeper()
    alias = Alias(AliasKind.H323_ID, "desk-2202")
    assert isinstance(sent(gk.receive(pwd_hash_rrq(alias, "pw2202"), PHONE, NOW)).message,
                      RegistrationConfirm)


@pytest.mark.parametrize("request_", [
    pytest.param(lambda: pwd_hash_rrq(digits("2201"), "wrong"), id="wrong-password"),
    pytest.param(lambda: pwd_hash_rrq(digits("9999"), "pw9999"), id="unknown-alias"),
    pytest.param(lambda: pwd_hash_rrq(digits("2201"), "pw2201", now=NOW - 3600), id="stale"),
    pytest.param(lambda: pwd_hash_rrq(digits("2201"), "pw2202", token_alias=digits("2202")),
                 id="token-names-another-station"),
    pytest.param(lambda: procedure_i_rrq(digits("2201"), "wrong"), id="procedure-i-wrong"),
    pytest.param(lambda: procedure_i_rrq(digits("9999"), "pw9999"), id="procedure-i-unknown"),
    pytest.param(lambda: procedure_i_rrq(digits("2201"), "pw2201", now=NOW - 3600),
                 id="procedure-i-stale"),
    pytest.param(lambda: procedure_i_rrq(digits("2201"), "pw2201", general_id="other-gk"),
                 id="procedure-i-for-another-gatekeeper"),
    pytest.param(lambda: procedure_i_rrq(digits("2201"), "pw2202", senders_id="2202"),
                 id="procedure-i-sender-is-another-station"),
])
def test_every_token_failure_is_the_same_securitydenial(request_: Callable[[], bytes]) -> None:
    gk = make_gatekeeper()
    answer = sent(gk.receive(request_(), PHONE, NOW))
    assert answer.message == DENIAL
    reference = sent(gk.receive(RasCodec().encode(rrq(9, digits("9999"), None)), PHONE, NOW))
    assert answer.data == reference.data  # byte for byte: an unknown alias looks the same
    assert gk.registrations() == []


def test_a_replayed_pwd_hash_is_refused() -> None:
    gk = make_gatekeeper()
    request = pwd_hash_rrq(digits("2201"), "pw2201")
    assert isinstance(sent(gk.receive(request, PHONE, NOW)).message, RegistrationConfirm)
    assert sent(gk.receive(request, PHONE, NOW + 2)).message == DENIAL
    later = pwd_hash_rrq(digits("2201"), "pw2201", now=NOW + 30)  # a fresh timestamp is fine
    assert isinstance(sent(gk.receive(later, PHONE, NOW + 30)).message, RegistrationConfirm)


# ----------------------------------------------------------------------- H.235.1 procedure I


def test_procedure_i_registers_and_the_rcf_is_signed_back() -> None:
    gk = make_gatekeeper()
    answer = sent(gk.receive(procedure_i_rrq(digits("2201"), "pw2201"), PHONE, NOW))
    rcf = answer.message
    assert isinstance(rcf, RegistrationConfirm)
    (token,) = rcf.crypto_tokens
    assert token.token_oid == OID_A and token.algorithm_oid == OID_U
    vals = token.hashed_vals
    assert vals.token_oid == OID_T and vals.timestamp == int(NOW)
    assert vals.senders_id == "acdgate" and vals.general_id == "2201"  # H.235.1 clause 14
    assert procedure_i_valid("pw2201", answer.data, token.hash)
    assert not procedure_i_valid("pw2202", answer.data, token.hash)


def test_procedure_i_without_generalid_is_accepted() -> None:
    """H323Plus leaves generalID out before it knows the gatekeeper's identifier (no GRQ)."""
    gk = make_gatekeeper()
    request = procedure_i_rrq(digits("2201"), "pw2201", general_id=None)
    assert isinstance(sent(gk.receive(request, PHONE, NOW)).message, RegistrationConfirm)


def test_a_replayed_procedure_i_rrq_is_refused_and_a_fresh_random_is_not() -> None:
    gk = make_gatekeeper()
    request = procedure_i_rrq(digits("2201"), "pw2201", random=5)
    assert isinstance(sent(gk.receive(request, PHONE, NOW)).message, RegistrationConfirm)
    assert sent(gk.receive(request, PHONE, NOW + 1)).message == DENIAL
    fresh = procedure_i_rrq(digits("2201"), "pw2201", random=6)
    assert isinstance(sent(gk.receive(fresh, PHONE, NOW + 1)).message, RegistrationConfirm)


def test_a_message_changed_after_signing_is_refused() -> None:
    gk = make_gatekeeper()
    request = bytearray(procedure_i_rrq(digits("2201"), "pw2201"))
    at = request.find(b"acdgate-test")  # the vendor's productId: changing it keeps the PER valid
    assert at > 0
    request[at] ^= 0x01
    assert sent(gk.receive(bytes(request), PHONE, NOW)).message == DENIAL


def test_a_keep_alive_signed_with_the_endpoint_identifier_is_signed_back() -> None:
    gk = make_gatekeeper()
    rcf = sent(gk.receive(procedure_i_rrq(digits("2201"), "pw2201"), PHONE, NOW)).message
    assert isinstance(rcf, RegistrationConfirm)
    keep_alive = replace(rrq(10, digits("2201"), None, now=NOW + 60), keep_alive=True,
                         endpoint_identifier=rcf.endpoint_identifier, terminal_aliases=())
    request = procedure_i_rrq(digits("2201"), "pw2201", seq=10, now=NOW + 60, random=2,
                              senders_id=rcf.endpoint_identifier, base=keep_alive)
    answer = sent(gk.receive(request, PHONE, NOW + 60))
    assert isinstance(answer.message, RegistrationConfirm)
    (token,) = answer.message.crypto_tokens
    assert token.hashed_vals.general_id == rcf.endpoint_identifier
    assert procedure_i_valid("pw2201", answer.data, token.hash)
    wrong = procedure_i_rrq(digits("2201"), "nope", seq=11, now=NOW + 61, random=3,
                            senders_id=rcf.endpoint_identifier, base=replace(keep_alive, seq=11))
    refused = sent(gk.receive(wrong, PHONE, NOW + 61)).message
    assert isinstance(refused, RegistrationReject)
    assert refused.reason is RegistrationRejectReason.SECURITY_DENIAL


def test_tshark_reads_the_tokens_and_the_signed_rcf(tmp_path: Path) -> None:
    """The independent check of the PER: Wireshark's H.225.0/H.235 dissector reads every token
    field as meant, the signed RCF included, with no malformed packet or expert warning."""
    assert TSHARK is not None
    gk = make_gatekeeper()
    pwd = pwd_hash_rrq(digits("2201"), "pw2201", seq=1)
    signed = procedure_i_rrq(digits("2202"), "pw2202", seq=2, random=77)
    log = [(pwd, True), (sent(gk.receive(pwd, PHONE, NOW)).data, False),
           (signed, True), (sent(gk.receive(signed, PHONE, NOW)).data, False)]
    write_pcap(tmp_path / "tokens.pcap", log)
    fields = ("h225.RasMessage", "h235.algorithmOID", "h235.tokenOID", "h235.random",
              "h235.generalID", "h235.sendersID", "h235.hash", "_ws.malformed", "_ws.expert")
    command = [TSHARK, "-r", str(tmp_path / "tokens.pcap"), "-d", "udp.port==1719,h225",
               "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        command += ["-e", f]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
    assert [r["h225.RasMessage"] for r in rows] == ["3", "4", "3", "4"]  # RRQ RCF RRQ RCF
    assert all(r["_ws.malformed"] == "" and r["_ws.expert"] == "" for r in rows), rows
    assert rows[0]["h235.algorithmOID"] == "1.2.840.113549.2.5"
    assert rows[0]["h235.hash"] == pwd_hash("2201", "pw2201", int(NOW)).hex()
    assert rows[1]["h235.hash"] == ""  # an RCF to a cryptoEPPwdHash is not signed
    assert rows[2]["h235.tokenOID"] == "0.0.8.235.0.2.1,0.0.8.235.0.2.5"
    assert rows[2]["h235.algorithmOID"] == "0.0.8.235.0.2.6"
    assert (rows[2]["h235.random"], rows[2]["h235.generalID"], rows[2]["h235.sendersID"]) == (
        "77", "acdgate", "2202")
    assert (rows[3]["h235.generalID"], rows[3]["h235.sendersID"]) == ("2202", "acdgate")
    assert procedure_i_valid("pw2202", log[3][0], bytes.fromhex(rows[3]["h235.hash"]))
