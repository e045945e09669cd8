"""Digest authentication: RFC vectors, header parsing, nonces, nonce counts, verification."""

from __future__ import annotations

import hashlib

import pytest
from acdgate.gateway.sip.digest import (
    Algorithm,
    AuthParseError,
    AuthStatus,
    DigestAuthenticator,
    DigestCredentials,
    FailureReason,
    NonceCounts,
    NonceSigner,
    NonceState,
    Qop,
    digest_response,
    parse_auth_params,
    parse_authorization,
)
from hypothesis import given
from hypothesis import strategies as st

SECRET = b"0123456789abcdef-test-secret"
NOW = 1_700_000_000.0

# RFC 7616 section 3.9.1
RFC7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


def test_rfc7616_md5_vector() -> None:
    got = digest_response(algorithm=Algorithm.MD5, qop=Qop.AUTH, **RFC7616)
    assert got == "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc7616_sha256_vector() -> None:
    got = digest_response(algorithm=Algorithm.SHA256, qop=Qop.AUTH, **RFC7616)
    assert got == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def test_rfc2617_section_3_5_vector() -> None:
    got = digest_response(
        algorithm=Algorithm.MD5,
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop=Qop.AUTH,
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert got == "6629fae49393a05397450978507c4ef1"


def test_rfc2069_style_without_qop_is_h_of_ha1_nonce_ha2() -> None:
    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    got = digest_response(
        algorithm=Algorithm.MD5,
        username="Mufasa",
        realm="testrealm@host.com",
        password="CircleOfLife",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
    )
    ha1 = md5("Mufasa:testrealm@host.com:CircleOfLife")
    ha2 = md5("GET:/dir/index.html")
    assert got == md5(f"{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}")
    assert len(got) == 32


def test_sess_and_auth_int_change_the_response() -> None:
    base = digest_response(algorithm=Algorithm.SHA256, qop=Qop.AUTH, **RFC7616)
    sess = digest_response(algorithm=Algorithm.SHA256_SESS, qop=Qop.AUTH, **RFC7616)
    body1 = digest_response(algorithm=Algorithm.MD5, qop=Qop.AUTH_INT, body=b"a", **RFC7616)
    body2 = digest_response(algorithm=Algorithm.MD5, qop=Qop.AUTH_INT, body=b"b", **RFC7616)
    assert len({base, sess}) == 2
    assert body1 != body2


# -- parsing ----------------------------------------------------------------------------


def test_parse_rfc7616_authorization() -> None:
    header = (
        'Digest username="Mufasa",\r\n realm="http-auth@example.org",\r\n'
        ' uri="/dir/index.html", algorithm=SHA-256,\r\n'
        ' nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n'
        " nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth,\r\n"
        ' response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",\r\n'
        ' opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    creds = parse_authorization(header)
    assert isinstance(creds, DigestCredentials)
    assert creds.algorithm is Algorithm.SHA256
    assert creds.qop is Qop.AUTH
    assert creds.nonce_count == 1
    assert creds.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def test_quoted_strings_with_escapes_and_commas() -> None:
    params = parse_auth_params(r'username="a\"b,c", realm = "x\\y" ,, nonce=n1 , uri="sip:a,b"')
    assert params == {"username": 'a"b,c', "realm": "x\\y", "nonce": "n1", "uri": "sip:a,b"}


def test_quoted_and_unquoted_variants_are_equal() -> None:
    a = parse_authorization(
        'Digest username="u", realm="r", nonce="n", uri="sip:h", response="AB", '
        'algorithm="md5", qop="auth", nc="00000002", cnonce="c"'
    )
    b = parse_authorization(
        "digest username=u,realm=r,nonce=n,uri=\"sip:h\",response=ab,"
        "algorithm=MD5,qop=auth,nc=00000002,cnonce=c"
    )
    assert isinstance(a, DigestCredentials)
    assert a == b


def test_tab_after_scheme() -> None:
    creds = parse_authorization("Digest\tusername=u, realm=r, nonce=n, uri=u, response=x")
    assert isinstance(creds, DigestCredentials) and creds.username == "u"


def test_algorithm_absent_means_md5() -> None:
    creds = parse_authorization('Digest username="u", realm="r", nonce="n", uri="u", response="x"')
    assert isinstance(creds, DigestCredentials)
    assert creds.algorithm is Algorithm.MD5
    assert creds.qop is None


def test_username_star_ext_value() -> None:
    creds = parse_authorization(
        "Digest username*=UTF-8''J%C3%A4s%C3%B8n, realm=r, nonce=n, uri=u, response=x"
    )
    assert isinstance(creds, DigestCredentials)
    assert creds.username == "Jäsøn"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic dXNlcjpwYXNz",
        "Digest",
        'Digest username="u", realm="r", nonce="n", uri="u"',  # no response
        'Digest username="u, realm=r, nonce=n, uri=u, response=x',  # unterminated quote
        'Digest username="u" realm="r", nonce=n, uri=u, response=x',  # missing comma
        "Digest username=u, username=v, realm=r, nonce=n, uri=u, response=x",
        "Digest username=u, realm=r, nonce=n, uri=u, response=x, algorithm=SHA-1",
        "Digest username=u, realm=r, nonce=n, uri=u, response=x, qop=auth",  # no nc/cnonce
        "Digest username=u, realm=r, nonce=n, uri=u, response=x, qop=auth, nc=zz, cnonce=c",
        "Digest username=u, realm=r, nonce=n, uri=u, response=x, qop=bogus, nc=1, cnonce=c",
        "Digest =x",
        "Digest username=, realm=r",
        'Digest username="\\',
        "Digest username*=latin1''x, realm=r, nonce=n, uri=u, response=x",
        "Digest " + "a=b, " * 2000,
    ],
)
def test_malformed_headers_give_a_parse_error_not_an_exception(header: str) -> None:
    assert isinstance(parse_authorization(header), AuthParseError)


# -- nonces and counts ------------------------------------------------------------------


def test_nonce_fresh_then_stale_and_forgeries_refused() -> None:
    signer = NonceSigner(SECRET, lifetime=300)
    nonce = signer.make(NOW)
    assert signer.state(nonce, NOW + 299) is NonceState.FRESH
    assert signer.state(nonce, NOW + 301) is NonceState.STALE
    other = NonceSigner(b"another-secret-of-16-bytes", lifetime=300)
    assert other.state(nonce, NOW) is NonceState.FORGED
    flipped = nonce[:-2] + ("A" if nonce[-2] != "A" else "B") + nonce[-1]
    assert signer.state(flipped, NOW) is NonceState.FORGED
    assert signer.state("not a nonce", NOW) is NonceState.FORGED
    assert signer.make(NOW) != nonce


def test_nonce_counts_reject_replay_and_decrease_and_stay_bounded() -> None:
    counts = NonceCounts(capacity=2)
    assert counts.advance("a", 1.0, 1)
    assert not counts.advance("a", 1.0, 1)
    assert counts.advance("a", 1.0, 3)
    assert not counts.advance("a", 1.0, 2)
    counts.advance("b", 2.0, 1)
    counts.advance("c", 3.0, 1)
    assert len(counts) == 2
    assert not counts.known("a")
    # the evicted nonce's own issue time, not that of the nonce whose insertion evicted it
    assert counts.evicted_up_to == 1.0


def test_nonce_counts_evict_the_oldest_issued_nonce() -> None:
    counts = NonceCounts(capacity=2)
    counts.advance("late", 5.0, 1)
    counts.advance("early", 2.0, 1)
    counts.advance("later", 6.0, 1)  # evicts "early" (issued first), though used after "late"
    assert (counts.known("early"), counts.known("late"), counts.known("later")) == (False, True, True)
    assert counts.evicted_up_to == 2.0


def test_more_nonces_in_flight_than_the_table_holds_all_verify() -> None:
    # Regression (issue 3): past 4096 nonces, answers arriving out of issue order were refused
    # as stale, because eviction recorded the issue time of the newest nonce, not the evicted.
    auth = make_auth(nonce_table_size=4096)  # the issue-3 table size
    n = 5000
    challenges = [auth.challenges(NOW + i * 0.01)[1] for i in range(n)]
    order = [i ^ 1 for i in range(n)]  # interleaved: 1, 0, 3, 2, ... (each pair swapped)
    at = NOW + n * 0.01
    stale = [
        i
        for i in order
        if auth.check("REGISTER", "sip:gw.example", [answer(challenges[i])], at).status
        is not AuthStatus.OK
    ]
    assert stale == []
    # an evicted nonce still cannot be replayed: it comes back as stale (fresh nonce needed)
    again = auth.check("REGISTER", "sip:gw.example", [answer(challenges[0], nc=2)], at)
    assert again.status is AuthStatus.STALE


# -- the authenticator --------------------------------------------------------------------

REALM = "acdgate"
USERS = {"201": "secret201", "202": "secret202"}


def make_auth(**kw: object) -> DigestAuthenticator:
    return DigestAuthenticator(REALM, USERS, SECRET, 300, **kw)  # type: ignore[arg-type]


def challenge_params(value: str) -> dict[str, str]:
    assert value.startswith("Digest ")
    params = parse_auth_params(value[len("Digest ") :])
    assert isinstance(params, dict)
    return params


def answer(
    challenge: str,
    *,
    username: str = "201",
    password: str = "secret201",
    method: str = "REGISTER",
    uri: str = "sip:gw.example",
    nc: int = 1,
    cnonce: str = "cafe",
    qop: Qop | None = Qop.AUTH,
    algorithm: Algorithm | None = None,
    echo_opaque: bool = True,
    body: bytes = b"",
) -> str:
    p = challenge_params(challenge)
    alg = algorithm or Algorithm.from_token(p["algorithm"])
    assert alg is not None
    ncs = f"{nc:08x}"
    resp = digest_response(
        algorithm=alg, username=username, realm=p["realm"], password=password, method=method,
        uri=uri, nonce=p["nonce"], qop=qop, nc=ncs, cnonce=cnonce, body=body,
    )  # fmt: skip
    out = f'Digest username="{username}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", response="{resp}", algorithm={alg.value}'
    if qop is not None:
        out += f', qop={qop.value}, nc={ncs}, cnonce="{cnonce}"'
    if echo_opaque:
        out += f', opaque="{p["opaque"]}"'
    return out


def test_challenges_offer_sha256_first_then_md5_with_one_nonce() -> None:
    values = make_auth().challenges(NOW)
    assert [challenge_params(v)["algorithm"] for v in values] == ["SHA-256", "MD5"]
    assert len({challenge_params(v)["nonce"] for v in values}) == 1
    assert all(challenge_params(v)["qop"] == "auth" for v in values)
    assert all("stale" not in challenge_params(v) for v in values)
    assert all(challenge_params(v)["stale"] == "true" for v in make_auth().challenges(NOW, stale=True))


@pytest.mark.parametrize("index", [0, 1])
def test_both_algorithms_verify(index: int) -> None:
    auth = make_auth()
    header = answer(auth.challenges(NOW)[index])
    out = auth.check("REGISTER", "sip:gw.example", [header], NOW + 1)
    assert out.status is AuthStatus.OK and out.username == "201"


def test_wrong_password_unknown_user_and_forged_nonce_fail() -> None:
    auth = make_auth()
    ch = auth.challenges(NOW)[0]
    wrong = auth.check("REGISTER", "sip:gw.example", [answer(ch, password="x", nc=1)], NOW)
    unknown = auth.check("REGISTER", "sip:gw.example", [answer(ch, username="999", nc=2)], NOW)
    assert (wrong.status, wrong.reason) == (AuthStatus.FAILED, FailureReason.BAD_RESPONSE)
    assert (unknown.status, unknown.reason) == (AuthStatus.FAILED, FailureReason.UNKNOWN_USER)
    forged = ch.replace(challenge_params(ch)["nonce"], "x" * 43)
    out = auth.check("REGISTER", "sip:gw.example", [answer(forged)], NOW)
    assert out.reason is FailureReason.FORGED_NONCE


def test_stale_nonce_is_stale_whatever_the_response() -> None:
    # RFC 7616 3.3: stale=true for a nonce no longer valid. Judging the response on it would
    # make old nonces an oracle for guesses that are never counted
    auth = make_auth()
    ch = auth.challenges(NOW)[1]
    late = NOW + 301
    assert auth.check("REGISTER", "sip:gw.example", [answer(ch)], late).status is AuthStatus.STALE
    bad = auth.check("REGISTER", "sip:gw.example", [answer(ch, password="no")], late)
    assert bad.status is AuthStatus.STALE


def test_nonce_verifies_only_for_the_host_it_was_issued_to() -> None:
    signer = NonceSigner(SECRET, lifetime=300)
    nonce = signer.make(NOW, "192.0.2.1")
    assert signer.state(nonce, NOW, "192.0.2.1") is NonceState.FRESH
    assert signer.state(nonce, NOW, "192.0.2.2") is NonceState.FORGED
    assert signer.state(nonce, NOW) is NonceState.FORGED
    auth = make_auth()
    ch = auth.challenges(NOW, source="192.0.2.1")[0]
    assert auth.check("REGISTER", "sip:gw.example", [answer(ch)], NOW, source="192.0.2.1").status is AuthStatus.OK
    foreign = auth.check("REGISTER", "sip:gw.example", [answer(ch, nc=2)], NOW, source="192.0.2.2")
    assert (foreign.status, foreign.reason) == (AuthStatus.FAILED, FailureReason.FORGED_NONCE)


def test_nonce_count_replay_rejected_and_increase_accepted() -> None:
    auth = make_auth()
    ch = auth.challenges(NOW)[0]
    assert auth.check("REGISTER", "sip:gw.example", [answer(ch, nc=1)], NOW).status is AuthStatus.OK
    replay = auth.check("REGISTER", "sip:gw.example", [answer(ch, nc=1)], NOW)
    assert (replay.status, replay.reason) == (AuthStatus.FAILED, FailureReason.NONCE_REPLAY)
    assert auth.check("REGISTER", "sip:gw.example", [answer(ch, nc=5)], NOW).status is AuthStatus.OK
    lower = auth.check("REGISTER", "sip:gw.example", [answer(ch, nc=4)], NOW)
    assert lower.reason is FailureReason.NONCE_REPLAY


def test_nonce_evicted_from_count_table_becomes_stale_not_replayable() -> None:
    auth = make_auth(nonce_table_size=1)
    first = auth.challenges(NOW)[0]
    second = auth.challenges(NOW + 1)[0]
    assert auth.check("REGISTER", "sip:gw.example", [answer(first)], NOW + 2).status is AuthStatus.OK
    assert auth.check("REGISTER", "sip:gw.example", [answer(second)], NOW + 2).status is AuthStatus.OK
    again = auth.check("REGISTER", "sip:gw.example", [answer(first, nc=1)], NOW + 2)
    assert again.status is AuthStatus.STALE


def test_no_qop_rfc2069_answer_accepted_and_can_be_refused() -> None:
    ch = make_auth().challenges(NOW)[1]
    header = answer(ch, qop=None, echo_opaque=False)
    assert make_auth().check("REGISTER", "sip:gw.example", [header], NOW).status is AuthStatus.OK
    strict = make_auth(allow_no_qop=False)
    ch2 = strict.challenges(NOW)[1]
    out = strict.check("REGISTER", "sip:gw.example", [answer(ch2, qop=None)], NOW)
    assert out.reason is FailureReason.QOP_REQUIRED


def test_session_and_auth_int_variants_verify() -> None:
    auth = make_auth(
        algorithms=(Algorithm.SHA256, Algorithm.MD5, Algorithm.SHA256_SESS, Algorithm.MD5_SESS),
        offer_auth_int=True,
    )
    values = auth.challenges(NOW)
    assert challenge_params(values[0])["qop"] == "auth,auth-int"
    for i, value in enumerate(values):
        h = answer(
            value, qop=Qop.AUTH_INT, method="INVITE", uri="sip:300@gw.example", nc=i + 1,
            body=b"v=0\r\n",
        )  # fmt: skip
        ok = auth.check("INVITE", "sip:300@gw.example", [h], NOW, body=b"v=0\r\n")
        assert ok.status is AuthStatus.OK, value
    tampered = answer(
        values[0], qop=Qop.AUTH_INT, method="INVITE", uri="sip:300@gw.example", nc=9,
        body=b"v=0\r\n",
    )  # fmt: skip
    out = auth.check("INVITE", "sip:300@gw.example", [tampered], NOW, body=b"v=1\r\n")
    assert out.reason is FailureReason.BAD_RESPONSE


def test_bad_opaque_refused_absent_opaque_accepted() -> None:
    auth = make_auth()
    ch = auth.challenges(NOW)[0]
    good = answer(ch, echo_opaque=False)
    assert auth.check("REGISTER", "sip:gw.example", [good], NOW).status is AuthStatus.OK
    bad = answer(ch, nc=2, echo_opaque=False) + ', opaque="nope"'
    assert auth.check("REGISTER", "sip:gw.example", [bad], NOW).reason is FailureReason.BAD_OPAQUE


def test_digest_uri_mismatch_allowed_only_when_it_names_us_or_the_domain() -> None:
    auth = make_auth(local_hosts=["10.0.0.1"])
    ch = auth.challenges(NOW)[1]
    ok = answer(ch, uri="sip:gw.example;transport=UDP", nc=1)
    out = auth.check("REGISTER", "sip:gw.example", [ok], NOW, domain_hosts=["gw.example"])
    assert out.status is AuthStatus.OK
    local = answer(ch, uri="sip:10.0.0.1:5060", nc=2)
    assert auth.check("REGISTER", "sip:gw.example", [local], NOW).status is AuthStatus.OK
    elsewhere = answer(ch, uri="sip:evil.example", nc=3)
    out = auth.check("REGISTER", "sip:gw.example", [elsewhere], NOW, domain_hosts=["gw.example"])
    assert out.reason is FailureReason.URI_MISMATCH
    not_sip = answer(ch, uri="/dir/index.html", nc=4)
    assert auth.check("REGISTER", "sip:gw.example", [not_sip], NOW).reason is FailureReason.URI_MISMATCH


def test_credentials_for_another_realm_and_no_credentials() -> None:
    auth = make_auth()
    assert auth.check("REGISTER", "sip:gw", [], NOW).status is AuthStatus.NO_CREDENTIALS
    other = 'Digest username="201", realm="elsewhere", nonce="n", uri="sip:gw", response="00"'
    assert auth.check("REGISTER", "sip:gw", [other], NOW).reason is FailureReason.WRONG_REALM
    ch = auth.challenges(NOW)[0]
    both = [other, answer(ch, uri="sip:gw")]
    assert auth.check("REGISTER", "sip:gw", both, NOW).status is AuthStatus.OK
    junk = auth.check("REGISTER", "sip:gw", ["Digest nonsense"], NOW)
    assert junk.reason is FailureReason.MALFORMED


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        NonceSigner(b"short", 300)


_PIECES = st.sampled_from(
    ['Digest ', "digest", "username", "=", '"', "\\", ",", " ", "\t", "realm", "nonce", "uri",
     "response", "qop", "auth", "nc", "cnonce", "algorithm", "MD5", "*", "'", "x", "0001"]
)  # fmt: skip


@given(st.one_of(st.text(max_size=300), st.lists(_PIECES, max_size=60).map("".join)))
def test_parser_never_raises(text: str) -> None:
    out = parse_authorization(text)
    assert isinstance(out, DigestCredentials | AuthParseError)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_quoted_values_round_trip(value: str) -> None:
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    assert parse_auth_params(f'a="{quoted}", b=x') == {"a": value, "b": "x"}


_AUTH_PIECES = st.sampled_from(
    [*'ab=, \t"\\\r\nxyz-.', "realm", "nonce", '"q\\"x"', 'username="201"', ", uri=sip:gw"]
)


@given(st.lists(_AUTH_PIECES, max_size=25).map("".join))
def test_auth_params_fast_path_agrees_with_the_characterwise_parser(text: str) -> None:
    from acdgate.gateway.sip.digest import _parse_auth_params_slow

    assert parse_auth_params(text) == _parse_auth_params_slow(text)
