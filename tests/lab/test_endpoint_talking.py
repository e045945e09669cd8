"""`Endpoint.stays_in_call`: a scenario's talking time is waited on the endpoint's observations,
failing at once when the call ends meanwhile (a fake endpoint; observations come from a thread
as a driver's would)."""

from __future__ import annotations

import threading
import time

import pytest
from acdgate.lab.drivers.base import Endpoint, EndpointError, Observation, ObservationKind
from acdgate.lab.inventory import EndpointKind, EndpointSpec


class InCall(Endpoint):
    """An endpoint already in a call; `drop` ends it from the far side, as a BYE would."""

    def __init__(self) -> None:
        super().__init__(EndpointSpec("phone", EndpointKind.PYVOIP, "2101", "2101", "pw2101"))

    def start(self) -> InCall:
        return self

    def stop(self) -> None:
        pass

    def register(self, timeout: float = 15.0) -> Observation:
        return self.observe(ObservationKind.REGISTERED)

    def dial(self, digits: str) -> None:
        self.observe(ObservationKind.CALL_ANSWERED)

    def answer(self) -> None:
        self.observe(ObservationKind.CALL_ANSWERED)

    def hangup(self) -> None:
        self.observe(ObservationKind.CALL_ENDED, by="local")

    def drop(self) -> None:
        self.observe(ObservationKind.CALL_ENDED, by="remote")


def test_the_talking_time_passes_while_the_call_goes_on() -> None:
    phone = InCall()
    phone.dial("6000")
    started = time.monotonic()
    phone.stays_in_call(0.3)
    assert time.monotonic() - started >= 0.3
    assert phone.wait_for(ObservationKind.CALL_ANSWERED).kind is ObservationKind.CALL_ANSWERED


def test_a_call_ending_meanwhile_fails_at_once() -> None:
    phone = InCall()
    phone.dial("6000")
    far_end = threading.Timer(0.2, phone.drop)
    far_end.start()
    started = time.monotonic()
    with pytest.raises(EndpointError, match="the call ended"):
        phone.stays_in_call(60.0)
    assert time.monotonic() - started < 30.0  # woken by the observation, not the 60 s
    far_end.join()


def test_an_earlier_call_ending_does_not_count() -> None:
    phone = InCall()
    phone.dial("6000")
    phone.hangup()  # a call before this one, its end never waited for
    phone.dial("6001")
    phone.stays_in_call(0.1)
