"""`acdgate run` takes every H.235 password form in a full RRQ over loopback: the CAT, a
cryptoEPPwdHash and H.235.1 procedure I (tokens made by `h235_tokens`, written from the
standards), each registering a demo station; the procedure I RCF comes back signed with the
station's password, and a wrong password gets the very RRJ an unknown alias gets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    ClearToken,
    HashedToken,
    PwdHashToken,
    RegistrationRequest,
    TransportAddress,
)
from acdgate.lab.gateway_process import GatewayProcess
from h235_tokens import procedure_i_hash, procedure_i_valid, pwd_hash
from pycrate_asn1dir import H225

OID_A = (0, 0, 8, 235, 0, 2, 1)
OID_T = (0, 0, 8, 235, 0, 2, 5)
OID_U = (0, 0, 8, 235, 0, 2, 6)
Form = Callable[[socket.socket, str, str, int], bytes]


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5.0)
    yield s
    s.close()


def _rrq(sock: socket.socket, extension: str, seq: int) -> RegistrationRequest:
    return RegistrationRequest(
        seq=seq, call_signal_addresses=(TransportAddress("127.0.0.1", 1720),),
        ras_addresses=(TransportAddress("127.0.0.1", sock.getsockname()[1]),),
        terminal_aliases=(Alias(AliasKind.DIALLED_DIGITS, extension),),
        vendor="acdgate-test 1.0", time_to_live=120)


def with_cat(sock: socket.socket, extension: str, password: str, seq: int) -> bytes:
    token = make_cat(extension, password, int(time.time()), seq % 256)
    return RasCodec().encode(replace(_rrq(sock, extension, seq), tokens=(token,)))


def with_pwd_hash(sock: socket.socket, extension: str, password: str, seq: int) -> bytes:
    now = int(time.time())
    token = PwdHashToken(Alias(AliasKind.DIALLED_DIGITS, extension), now, (1, 2, 840, 113549, 2, 5),
                         pwd_hash(extension, password, now))
    return RasCodec().encode(replace(_rrq(sock, extension, seq), crypto_tokens=(token,)))


def with_procedure_i(sock: socket.socket, extension: str, password: str, seq: int) -> bytes:
    vals = ClearToken(token_oid=OID_T, timestamp=int(time.time()), random=seq,
                      general_id="acdgate", senders_id=extension)

    def encoded(digest: bytes) -> bytes:
        token = HashedToken(OID_A, vals, OID_U, digest)
        return RasCodec().encode(replace(_rrq(sock, extension, seq), crypto_tokens=(token,)))
    return encoded(procedure_i_hash(password, encoded(bytes(12))))


def exchange(sock: socket.socket, gw: GatewayProcess, data: bytes) -> tuple[bytes, str, Any]:
    ras = gw.info["h323"]["ras"]
    sock.sendto(data, (ras["host"], int(ras["port"])))
    answer, _ = sock.recvfrom(65535)
    message = H225.H323_MESSAGES.RasMessage
    message.from_aper(answer)
    name, value = message.get_val()
    return answer, str(name), value


@pytest.mark.parametrize("form", [with_cat, with_pwd_hash, with_procedure_i],
                         ids=["cat", "cryptoEPPwdHash", "procedure-I"])
def test_each_token_form_registers_and_a_wrong_password_is_denied(
        gateway: GatewayProcess, sock: socket.socket, form: Form) -> None:
    answer, name, rcf = exchange(sock, gateway, form(sock, "2202", "pw2202", 1))
    assert name == "registrationConfirm", rcf
    row = next(s for s in gateway.get("/api/stations") if s["extension"] == "2202")
    assert [r["endpoint_identifier"] for r in row["h323"]] == [rcf["endpointIdentifier"]]
    if form is with_procedure_i:  # H.235.1: the gatekeeper answers signed, with our password
        ((kind, (inner, hashed)),) = rcf["cryptoTokens"]
        assert (kind, inner) == ("nestedcryptoToken", "cryptoHashedToken")
        value, bits = hashed["token"]["hash"]
        assert bits == 96 and hashed["hashedVals"]["sendersID"] == "acdgate"
        assert procedure_i_valid("pw2202", answer, value.to_bytes(12, "big"))
    else:
        assert "cryptoTokens" not in rcf
    wrong, name, rrj = exchange(sock, gateway, form(sock, "2203", "not-pw2203", 2))
    unknown, _, _ = exchange(sock, gateway, form(sock, "2299", "pw2299", 2))
    assert name == "registrationReject" and rrj["rejectReason"][0] == "securityDenial"
    assert wrong == unknown  # byte for byte: no enumeration of aliases
