"""baresip 1.0, a softphone nobody here wrote, dials short codes; what it heard is decoded.

Gateway (198.18.0.1) and baresip (198.18.0.2, veth1) share one private network namespace
per test, as in test_baresip_register.py; the site offers MD5 only (baresip 1.0 gives up on
a SHA-256 challenge). baresip is driven over ctrl_tcp: `dial` with the code in the user part
(`#` as `%23`), `sndcode` for the PIN (RFC 4733 telephone-events; the microphone is silence,
so nothing can arrive in-band, and baresip 1.0 cannot send SIP INFO).

What baresip received is the `sndfile` filter's WAV of its decoded stream, one per call
(`Baresip.received_audio()`): simpler than capturing RTP (no capture process, no pcap
decoding, no ports to guess) and it is what the phone itself decoded. It holds the decoded
frames back to back, so a pause in which the gateway sent no packets leaves no trace. The
tones are found with the codecs' tone detector: the confirmation tone is three ~100 ms
bursts of 350+440 Hz, the error tone (reorder) ~250 ms bursts of 480+620 Hz.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from acdgate.codecs.tone_detector import tone_segments
from acdgate.codecs.tones import CONFIRMATION_TONE, DIAL_TONE, ERROR_TONE
from acdgate.lab.gateway_process import GatewayProcess
from acdgate.lab.lab_site import write_site
from baresip import Baresip, BaresipError, read_wav_samples
from filewatch import FileWatch
from netns import NetworkNamespace, VethPair

VETH = VethPair()
GATEWAY_IP = VETH.left_address.split("/")[0]
STATION = "2101"
CONFIRM_FREQS = CONFIRMATION_TONE.segments[0].freqs
ERROR_FREQS = ERROR_TONE.segments[0].freqs
REMOTE_BYE = "Connection reset by peer"  # baresip's CALL_CLOSED reason when the far end sent BYE


@dataclass(slots=True)
class Lab:
    """The namespace, the gateway in it and baresip registered as station 2101."""

    ns: NetworkNamespace
    gw: GatewayProcess
    phone: Baresip

    def explain(self) -> str:
        """Output tails of both programs, for assertion messages."""
        return (f"\n--- baresip (tail) ---\n{self.phone.output()[-3000:]}"
                f"\n--- gateway (tail) ---\n{self.gw.output()[-3000:]}")

    def uri(self, code: str) -> str:
        host, port = self.gw.sip
        return f"sip:{code.replace('#', '%23')}@{host}:{port}"

    def agents(self) -> dict[str, dict[str, Any]]:
        return {str(a["user"]): a for a in self.ns.get_json(self.gw.http + "/api/agents")}

    def journal(self) -> list[tuple[str, str]]:
        """(dialled, reason) of each FeatureUsed record, read from the live database."""
        db = sqlite3.connect(f"file:{self.gw.state_dir / 'acdgate.sqlite3'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT data FROM journal WHERE kind = 'FeatureUsed' ORDER BY seq").fetchall()
        finally:
            db.close()
        return [(r["dialled"], r["reason"]) for r in (json.loads(row[0]) for row in rows)]

    def station(self) -> dict[str, Any]:
        rows = {s["extension"]: s for s in self.ns.get_json(self.gw.http + "/api/stations")}
        row: dict[str, Any] = rows[STATION]
        return row


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    site = write_site(tmp_path / "site.toml", digest_algorithms=["MD5"])
    with NetworkNamespace(VETH) as ns:
        gw = GatewayProcess(tmp_path / "state", config=site, bind=GATEWAY_IP,
                            command_prefix=ns.command([])).start()
        try:
            # a deep home on purpose: baresip 1.0 cuts sndfile's dump names at 128 bytes, and a
            # checkout in a deep folder once lost every recording (the driver goes through a short alias)
            home = tmp_path / ("deep-" + "d" * 60) / "baresip"
            phone = Baresip(home, netns=ns, net_interface=VETH.right).start()
            try:
                host, port = gw.sip
                phone.register(f"<sip:{STATION}@{host}:{port};transport=udp>;auth_pass=pw{STATION};regint=600")
                yield Lab(ns, gw, phone)
            finally:
                phone.stop()
        finally:
            gw.stop()


def bursts_ms(samples: npt.NDArray[np.int16], freqs: tuple[float, ...]) -> list[float]:
    """On-times (ms) of the stretches where all of `freqs` sound together."""
    return [round(s.duration * 1000.0) for s in tone_segments(samples, freqs)]


def assert_confirmation(samples: npt.NDArray[np.int16], lab: Lab, *, after_dial_tone: bool = False) -> None:
    """Three beeps of 350+440 Hz (the first may lose a packet or two to call set-up) and no
    error tone.

    With `after_dial_tone`, dial tone (the same pair, >= 300 ms) comes first. The gateway
    sends no RTP while it collects digits and sndfile records decoded frames back to back, so
    the dial tone may run straight into the first beep: then only the last two stand apart.
    """
    confirm, error = bursts_ms(samples, CONFIRM_FREQS), bursts_ms(samples, ERROR_FREQS)
    if after_dial_tone:
        dial, beeps = confirm[:1], confirm[1:]
        ok = (bool(dial) and dial[0] >= 300 and len(beeps) in (2, 3)
              and all(20 <= d <= 140 for d in beeps[:-2]) and all(60 <= d <= 140 for d in beeps[-2:]))
    else:
        ok = len(confirm) == 3 and 20 <= confirm[0] <= 140 and all(60 <= d <= 140 for d in confirm[1:])
    assert ok and not error, (
        f"expected {'dial tone, then ' if after_dial_tone else ''}the confirmation tone "
        f"(3 x 100 ms of 350+440 Hz) and no error tone; heard 350+440 Hz bursts {confirm} ms, "
        f"480+620 Hz bursts {error} ms in {len(samples) / 8000:.2f} s" + lab.explain())


def assert_error(samples: npt.NDArray[np.int16], lab: Lab) -> None:
    confirm, error = bursts_ms(samples, CONFIRM_FREQS), bursts_ms(samples, ERROR_FREQS)
    reorder = [d for d in error if 200 <= d <= 300]
    assert len(reorder) >= 2 and not confirm, (
        f"expected the error tone (250 ms bursts of 480+620 Hz) and no confirmation tone; heard "
        f"480+620 Hz bursts {error} ms, 350+440 Hz bursts {confirm} ms in {len(samples) / 8000:.2f} s"
        + lab.explain())


def feature_call(lab: Lab, code: str, pin: str = "", *, dial_tone_first: bool = False) -> npt.NDArray[np.int16]:
    """Dial `code`, send `pin` as RFC 4733 once answered, expect the gateway's BYE; return
    the audio baresip received."""
    phone = lab.phone
    phone.dial(lab.uri(code))
    try:
        event = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, 10)
    except BaresipError as exc:
        raise AssertionError(f"{code}: no answer: {exc}" + lab.explain()) from None
    assert event.type == "CALL_ESTABLISHED", f"{code}: closed before answer: {event.param}" + lab.explain()
    if dial_tone_first:
        wait_for_dial_tone(lab, code)
    if pin:
        phone.send_dtmf(pin)
    try:
        closed = phone.wait_call_closed(15)
    except BaresipError as exc:
        raise AssertionError(f"{code}: the gateway did not hang up: {exc}" + lab.explain()) from None
    assert closed.param == REMOTE_BYE, f"{code}: call ended by {closed.param!r}, not the gateway's BYE" + lab.explain()
    return read_wav_samples(phone.received_audio())


def wait_for_dial_tone(lab: Lab, code: str, timeout: float = 5.0) -> None:
    """Until the call's sndfile dump holds 300 ms of dial tone.

    baresip reports no event for received audio; the file sndfile writes as packets are
    decoded is the signal, watched with inotify (each write wakes the check).
    """
    deadline = time.monotonic() + timeout
    heard: list[float] = []
    with FileWatch(lab.phone.snd_path) as watch:
        while True:
            dumps = list(lab.phone.snd_path.glob("dump-*-dec.wav"))
            if dumps:
                raw = dumps[0].read_bytes()
                data = raw.find(b"data")  # the header's sizes are only written when the call ends
                raw = raw[data + 8:] if data >= 0 else b""
                samples = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)
                heard = bursts_ms(samples, DIAL_TONE.segments[0].freqs)
                if any(d >= 300 for d in heard):
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not watch.wait(remaining):
                raise AssertionError(f"{code}: no dial tone within {timeout} s (350+440 Hz bursts {heard} ms)"
                                     + lab.explain())


def test_star35_logs_on_and_baresip_hears_the_confirmation(lab: Lab) -> None:
    audio = feature_call(lab, "*35*3000*1234#")
    assert_confirmation(audio, lab)
    agent = lab.agents().get("3000")
    assert agent is not None and agent["station"] == STATION and agent["state"] == "NOT_READY", (
        f"agent 3000: {agent}" + lab.explain())


def test_hash_code_collects_the_pin_as_rfc4733_events(lab: Lab) -> None:
    audio = feature_call(lab, "#3001", "1234#", dial_tone_first=True)
    assert_confirmation(audio, lab, after_dial_tone=True)
    agent = lab.agents().get("3001")
    assert agent is not None and agent["station"] == STATION, f"agent 3001: {agent}" + lab.explain()
    sent = [line for line in lab.phone.output().splitlines() if "send DTMF digit:" in line]
    assert len(sent) == 5, sent  # baresip put each key on the wire as a telephone-event
    assert lab.journal() == [("#3001", "Done")], lab.journal()  # and the PIN is not in it


def test_wrong_pin_plays_the_error_tone(lab: Lab) -> None:
    assert_error(feature_call(lab, "*35*3002*9999#"), lab)
    assert "3002" not in lab.agents(), lab.explain()
    assert lab.journal() == [("*35*3002*xxxx#", "Wrong pin")], lab.journal()
    assert lab.station()["display"] == "No User", lab.station()


def test_unknown_reason_is_an_error_then_logoff_shows_no_user(lab: Lab) -> None:
    assert_confirmation(feature_call(lab, "*35*3003*1234#"), lab)
    assert_error(feature_call(lab, "*38*9#"), lab)
    agent = lab.agents()["3003"]
    assert agent["state"] == "NOT_READY" and agent["reason_code"] is None, f"agent 3003: {agent}" + lab.explain()
    assert_confirmation(feature_call(lab, "*38*2#"), lab)
    agent = lab.agents()["3003"]
    assert agent["state"] == "NOT_READY" and agent["reason_code"] == 2, f"agent 3003: {agent}" + lab.explain()
    assert_confirmation(feature_call(lab, "*36"), lab)
    assert "3003" not in lab.agents(), lab.explain()
    station = lab.station()
    assert station["user"] is None and station["display"] == "No User", f"station {STATION}: {station}" + lab.explain()
    assert [reason for _, reason in lab.journal()] == ["Done", "Unknown reason code 9", "Done", "Done"], lab.journal()


def test_hanging_up_during_pin_collection_frees_the_call(lab: Lab) -> None:
    phone = lab.phone
    phone.dial(lab.uri("#3004"))
    event = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, 10)
    assert event.type == "CALL_ESTABLISHED", event.param + lab.explain()
    wait_for_dial_tone(lab, "#3004")
    phone.send_dtmf("12")
    phone.hangup()
    assert phone.wait_call_closed().param == "Connection reset by user", lab.explain()
    phone.received_audio()
    # baresip logs where the gateway's RTP came from; the gateway must release that port on
    # the BYE, well before its inter-digit timeout (5 s) would end the collection anyway
    [media] = re.findall(r"receiving from [\d.]+:(\d+)", phone.output())
    lab.gw.wait_for_output(re.escape(f"(UDP Port {media} Closed)"), timeout=3.0)
    assert "3004" not in lab.agents(), lab.explain()
    assert_confirmation(feature_call(lab, "*35*3004*1234#"), lab)  # the station can dial again
