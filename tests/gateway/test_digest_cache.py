"""Digest: what the authenticator precomputes (H(A1) per user, challenge text) follows changes."""

from __future__ import annotations

import base64
import struct

from acdgate.gateway.sip.digest import (
    Algorithm,
    AuthStatus,
    DigestAuthenticator,
    FailureReason,
    NonceSigner,
    Qop,
    digest_response,
    parse_auth_params,
)

SECRET = b"0123456789abcdef-test-secret"
NOW = 1_700_000_000.0
URI = "sip:gw.example"


def answer(
    challenge: str, *, username: str = "201", password: str = "secret201", nc: int = 1
) -> str:
    """The Authorization value a phone sends for `challenge` (qop=auth, opaque echoed)."""
    p = parse_auth_params(challenge.removeprefix("Digest "))
    assert isinstance(p, dict)
    alg = Algorithm.from_token(p["algorithm"])
    assert alg is not None
    resp = digest_response(
        algorithm=alg, username=username, realm=p["realm"], password=password, method="REGISTER",
        uri=URI, nonce=p["nonce"], qop=Qop.AUTH, nc=f"{nc:08x}", cnonce="cafe",
    )  # fmt: skip
    realm = p["realm"].replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{p["nonce"]}", uri="{URI}", '
        f'response="{resp}", algorithm={alg.value}, qop=auth, nc={nc:08x}, cnonce="cafe", '
        f'opaque="{p["opaque"]}"'
    )


def make_auth(credentials: dict[str, str], **kw: object) -> DigestAuthenticator:
    return DigestAuthenticator("acdgate", credentials, SECRET, 300, **kw)  # type: ignore[arg-type]


def check(auth: DigestAuthenticator, header: str) -> tuple[AuthStatus, FailureReason | None]:
    out = auth.check("REGISTER", URI, [header], NOW)
    return out.status, out.reason


def test_swapped_credential_table_is_used_at_once() -> None:
    auth = make_auth({"201": "old", "202": "gone"})
    ch = auth.challenges(NOW)[0]
    assert check(auth, answer(ch, password="old", nc=1)) == (AuthStatus.OK, None)
    auth.credentials = {"201": "new", "203": "added"}  # what Registrar.set_credentials does
    assert check(auth, answer(ch, password="old", nc=2)) == (
        AuthStatus.FAILED,
        FailureReason.BAD_RESPONSE,
    )
    assert check(auth, answer(ch, password="new", nc=3)) == (AuthStatus.OK, None)
    assert check(auth, answer(ch, username="203", password="added", nc=4)) == (AuthStatus.OK, None)
    removed = answer(ch, username="202", password="gone", nc=5)
    assert check(auth, removed) == (AuthStatus.FAILED, FailureReason.UNKNOWN_USER)


def test_table_changed_in_place_is_still_honoured() -> None:
    table = {"201": "old"}
    auth = make_auth(table)
    ch = auth.challenges(NOW)[1]
    table["201"] = "changed"
    table["204"] = "fresh"
    assert check(auth, answer(ch, password="old", nc=1))[1] is FailureReason.BAD_RESPONSE
    assert check(auth, answer(ch, password="changed", nc=2)) == (AuthStatus.OK, None)
    assert check(auth, answer(ch, username="204", password="fresh", nc=3)) == (AuthStatus.OK, None)
    del table["204"]
    gone = answer(ch, username="204", password="fresh", nc=4)
    assert check(auth, gone) == (AuthStatus.FAILED, FailureReason.UNKNOWN_USER)


def test_every_algorithm_verifies_against_the_precomputed_ha1() -> None:
    algorithms = (Algorithm.SHA256, Algorithm.MD5, Algorithm.SHA256_SESS, Algorithm.MD5_SESS)
    auth = make_auth({"201": "secret201"}, algorithms=algorithms)
    for nc, value in enumerate(auth.challenges(NOW), start=1):
        assert check(auth, answer(value, nc=nc)) == (AuthStatus.OK, None), value
        wrong = answer(value, password="nope", nc=nc + 10)
        assert check(auth, wrong) == (AuthStatus.FAILED, FailureReason.BAD_RESPONSE), value


def test_a_new_realm_changes_challenges_and_hashes() -> None:
    auth = make_auth({"201": "secret201"})
    auth.realm = 'other "realm"'
    ch = auth.challenges(NOW)[0]
    assert ch.startswith('Digest realm="other \\"realm\\"", nonce="')
    assert check(auth, answer(ch)) == (AuthStatus.OK, None)


def test_challenge_text_is_exactly_the_documented_form() -> None:
    auth = make_auth({}, offer_auth_int=True)
    plain, stale = auth.challenges(NOW), auth.challenges(NOW + 1, stale=True)
    for values, tail in ((plain, ""), (stale, ", stale=true")):
        nonce = values[0].split('nonce="', 1)[1].split('"', 1)[0]
        assert values == [
            f'Digest realm="acdgate", nonce="{nonce}", opaque="{auth.opaque}", '
            f'algorithm={alg}, qop="auth,auth-int"{tail}'
            for alg in ("SHA-256", "MD5")
        ]


def test_nonce_is_unpadded_base64url_of_time_serial_and_tag() -> None:
    signer = NonceSigner(SECRET, 300)
    nonces = [signer.make(NOW + i / 7) for i in range(200)]
    for i, nonce in enumerate(nonces):
        assert len(nonce) == 43 and "=" not in nonce
        raw = base64.urlsafe_b64decode(nonce + "=")
        millis, _serial = struct.unpack(">QQ", raw[:16])
        assert millis == int((NOW + i / 7) * 1000)
        assert signer.issued_at(nonce) == millis / 1000
    assert any("-" in n or "_" in n for n in nonces)  # the url-safe alphabet is exercised
    assert signer.issued_at("\u00e9" + nonces[0][1:]) is None  # non-ASCII: not ours, no error
