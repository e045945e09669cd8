"""`RasCodec`'s caches give exactly what pycrate gives: an answer encoded before with another
requestSeqNum, and a request decoded before with another, come out as pycrate makes them
without the cache (`_encode`; a fresh codec's first decode), for every answer kind the cache
keeps and every request kind."""

from __future__ import annotations

from dataclasses import replace

from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    AdmissionConfirm,
    AdmissionReject,
    AdmissionRejectReason,
    AdmissionRequest,
    BandRejectReason,
    BandwidthConfirm,
    BandwidthReject,
    BandwidthRequest,
    DisengageConfirm,
    DisengageReject,
    DisengageRejectReason,
    DisengageRequest,
    GatekeeperConfirm,
    GatekeeperReject,
    GatekeeperRejectReason,
    GatekeeperRequest,
    InfoRequestAck,
    LocationReject,
    LocationRejectReason,
    LocationRequest,
    RasAnswer,
    RasRequest,
    RegistrationConfirm,
    RegistrationReject,
    RegistrationRejectReason,
    RegistrationRequest,
    UnregistrationConfirm,
    UnregistrationReject,
    UnregistrationRequest,
    UnregRejectReason,
)
from h323_ras_support import GK_RAS, GK_SIGNAL, PHONE_RAS, PHONE_SIGNAL, digits, rrq
from hypothesis import given
from hypothesis import strategies as st

CONF = bytes(range(16))
ANSWERS: list[RasAnswer] = [
    GatekeeperConfirm(7, "acdgate", GK_RAS),
    GatekeeperReject(7, "acdgate", GatekeeperRejectReason.UNDEFINED_REASON),
    RegistrationConfirm(7, GK_SIGNAL, (digits("2201"),), "acdgate", "0123456789abcdef", 300),
    RegistrationReject(7, RegistrationRejectReason.SECURITY_DENIAL, "acdgate"),
    UnregistrationConfirm(7), UnregistrationReject(7, UnregRejectReason.UNDEFINED_REASON),
    AdmissionConfirm(7, 1280, GK_SIGNAL), AdmissionReject(7, AdmissionRejectReason.SECURITY_DENIAL),
    BandwidthConfirm(7, 640), BandwidthReject(7, BandRejectReason.NOT_BOUND, 10),
    DisengageConfirm(7), DisengageReject(7, DisengageRejectReason.NOT_REGISTERED),
    LocationReject(7, LocationRejectReason.REQUEST_DENIED), InfoRequestAck(7),
]
REQUESTS: list[RasRequest] = [
    GatekeeperRequest(7, PHONE_RAS, (digits("2201"),)),
    rrq(7, digits("2201"), "pw2201"),
    RegistrationRequest(7, (PHONE_SIGNAL,), (PHONE_RAS,), keep_alive=True,
                        endpoint_identifier="ep1", time_to_live=120),
    UnregistrationRequest(7, (PHONE_SIGNAL,), endpoint_identifier="ep1"),
    AdmissionRequest(7, "ep1", (digits("2201"),), 1280, 77, CONF, call_identifier=CONF),
    BandwidthRequest(7, "ep1", CONF, 77, 640, CONF),
    DisengageRequest(7, "ep1", CONF, 77, CONF, answered_call=True),
    LocationRequest(7, (digits("2202"),), PHONE_RAS),
]
SEQS = st.sampled_from([1, 2, 7, 255, 256, 4097, 65534, 65535]) | st.integers(1, 65535)


@given(answer=st.sampled_from(ANSWERS), seq=SEQS)
def test_a_cached_answer_is_what_pycrate_encodes(answer: RasAnswer, seq: int) -> None:
    warm = RasCodec()
    warm.encode(answer)  # seq 7 now in the cache
    wanted = replace(answer, seq=seq)
    assert warm.encode(wanted) == RasCodec()._encode(wanted)  # pycrate itself, no cache


@given(request_=st.sampled_from(REQUESTS), seq=SEQS)
def test_a_cached_request_is_what_pycrate_decodes(request_: RasRequest, seq: int) -> None:
    codec = RasCodec()
    warm = RasCodec()
    assert warm.decode(codec.encode(request_)) == request_  # seq 7 now in the cache
    data = RasCodec().encode(replace(request_, seq=seq))
    assert warm.decode(data) == RasCodec().decode(data) == replace(request_, seq=seq)
