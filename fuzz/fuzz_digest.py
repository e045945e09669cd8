"""Fuzz the digest header parsing and checking (RFC 7616/8760) against its contract.

Contract (gateway/sip/digest.py): `parse_auth_params` and `parse_authorization` never raise
(a defect is an `AuthParseError` naming it), parsed credentials have a readable nonce count,
and `DigestAuthenticator.check` answers every header value with an `AuthOutcome`. The text
`@NONCE@` in an input is replaced by a nonce the authenticator issued, so mutations reach
the verification past the nonce check.
"""

from __future__ import annotations

from acdgate.gateway.sip.digest import (
    AuthOutcome,
    AuthParseError,
    DigestAuthenticator,
    parse_auth_params,
    parse_authorization,
)

NOW = 1000.0
_AUTH = DigestAuthenticator(
    "acdgate", {"2101": "pw2101", "2102": "pw2102"}, b"fuzz-secret-0123456789", 300.0,
    local_hosts=("192.0.2.1",),
)


def check(data: bytes) -> None:
    """One input as an Authorization header value (UTF-8, as the SIP parser decodes it)."""
    text = data.decode("utf-8", "replace")
    if "@NONCE@" in text:
        nonce = _AUTH.challenges(NOW)[0].split('nonce="', 1)[1].split('"', 1)[0]
        text = text.replace("@NONCE@", nonce)
    params = parse_auth_params(text)
    assert isinstance(params, dict | AuthParseError), params
    creds = parse_authorization(text)
    if isinstance(creds, AuthParseError):
        assert creds.reason
    else:
        assert creds.nonce_count is None or creds.nonce_count >= 0, creds
    for method in ("REGISTER", "INVITE"):
        outcome = _AUTH.check(method, "sip:192.0.2.1", [text], NOW, body=b"v=0\r\n",
                              domain_hosts=("192.0.2.1",))
        assert isinstance(outcome, AuthOutcome), outcome


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
