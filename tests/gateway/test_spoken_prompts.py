"""Spoken prompts end to end (issue 16): a site whose `[policy] reason_prompt_audio` names a
WAV, a running gateway, SIPp dialling `*38` and keying the reason as SIP INFO; the RTP it
received is correlated against the WAV (the prompt was spoken, not the tone), and the key
cut it short. A WAV in the wrong format stops start-up naming file, key and reason.

The prompt is seeded noise: its autocorrelation is a single sharp peak, so finding it in the
received audio (G.711 decoded) at a high normalised correlation means these samples were
sent, in this order.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from acdgate.acd.config import ConfigError
from acdgate.acd.site import Site
from acdgate.codecs.tone_detector import detect_tone
from acdgate.gateway.media.prompt_audio import load_prompt_audio
from acdgate.gateway.site_loader import load_site
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from test_code_prompts_calls import REASON_HZ, journal_records, required_site
from test_feature_calls import CONFIRM, ERROR, RtpSink, agents, dial, feature_journal

SECONDS = 4.0  # long enough that a key pressed ~0.6 s in cuts most of it


def prompt_samples() -> np.ndarray:
    rng = np.random.default_rng(16)
    return (rng.standard_normal(int(8000 * SECONDS)) * 4000).clip(-32000, 32000).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def spoken_site(tmp: Path, audio: str = "prompts/reason.wav", *, value: str = "") -> Path:
    """The required-codes site with a spoken reason prompt (`value`: the key's TOML value)."""
    site = required_site(tmp / "site.toml")
    value = value or f'"{audio}"'
    text = site.read_text().replace("[policy]\n", f"[policy]\nreason_prompt_audio = {value}\n", 1)
    site.write_text(text)
    return site


def best_correlation(received: np.ndarray, part: np.ndarray) -> float:
    """The highest normalised correlation of `part` anywhere in `received`."""
    if len(received) < len(part):
        return 0.0
    r = received.astype(np.float64)
    p = part.astype(np.float64)
    corr = np.correlate(r, p, mode="valid")
    window = np.sqrt(np.convolve(r * r, np.ones(len(p)), mode="valid"))
    norm = np.linalg.norm(p) * np.maximum(window, 1e-9)
    return float(np.max(corr / norm))


@pytest.fixture
def sink() -> Iterator[RtpSink]:
    s = RtpSink()
    yield s
    s.close()


def test_the_site_s_spoken_reason_prompt_is_played_and_a_key_stops_it(
        start_gateway: StartGateway, tmp_path: Path, sink: RtpSink) -> None:
    samples = prompt_samples()
    write_wav(tmp_path / "prompts" / "reason.wav", samples)
    gateway: GatewayProcess = start_gateway(config=spoken_site(tmp_path))
    assert dial(gateway, tmp_path, sink, "2101", "*35*3000*1234#") == 200
    assert dial(gateway, tmp_path, sink, "2101", "*37") == 200
    sink.audio()
    assert dial(gateway, tmp_path, sink, "2101", "*38", info="2#") == 200
    audio = sink.audio()
    # the first 200 ms of the WAV are in the RTP: spoken, not the tone
    assert best_correlation(audio, samples[:1600]) > 0.9
    assert not detect_tone(audio, REASON_HZ)
    # the key (sent 600 ms after the answer) stopped it: its last second never came
    assert best_correlation(audio, samples[-8000:]) < 0.5
    assert detect_tone(audio, CONFIRM) and not detect_tone(audio, ERROR)
    agent = agents(gateway)["3000"]
    assert agent["state"] == "NOT_READY" and agent["reason_code"] == 2
    assert feature_journal(gateway)[-1] == ("*38", "Done with reason code 2 entered after the prompt", 200)
    changed = journal_records(gateway, "StateChanged")[-1]
    assert changed["user_id"] == "3000" and changed["reason_code"] == 2


def _site_with(tmp: Path, audio: str) -> Site:
    return load_site(spoken_site(tmp, audio))


def test_prompt_audio_in_the_wrong_format_stops_start_up_naming_file_key_and_reason(tmp_path: Path) -> None:
    write_wav(tmp_path / "prompts" / "reason.wav", prompt_samples(), rate=16000)
    site = spoken_site(tmp_path)
    gw = GatewayProcess(tmp_path / "state", config=site)
    with pytest.raises(AssertionError, match="gateway exited") as failed:
        gw.start()
    message = str(failed.value)
    assert str(site) in message and "policy.reason_prompt_audio" in message and "reason.wav" in message
    assert "need 8000 Hz mono 16-bit" in message


def test_missing_prompt_audio_is_a_site_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_prompt_audio(_site_with(tmp_path, "prompts/missing.wav"))
    assert "policy.reason_prompt_audio" in str(error.value) and "missing.wav" in str(error.value)


def test_prompt_audio_must_name_a_wav_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _site_with(tmp_path, "prompts/reason.mp3")
    assert "reason_prompt_audio" in str(error.value) and ".wav" in str(error.value)


def test_the_prompt_audio_is_read_relative_to_the_site_file(tmp_path: Path) -> None:
    samples = prompt_samples()
    write_wav(tmp_path / "prompts" / "reason.wav", samples)
    audio = load_prompt_audio(_site_with(tmp_path, "prompts/reason.wav"))
    assert list(audio.reason) == [None] and np.array_equal(audio.reason[None], samples) and not audio.wrapup


def test_a_prompt_per_language_plays_the_phone_user_s(
        start_gateway: StartGateway, tmp_path: Path, sink: RtpSink) -> None:
    """`reason_prompt_audio = { en = ..., de = ... }`: user 3000 is German, 3001 has none (the
    site's English): each hears their own file."""
    english, german = prompt_samples(), -prompt_samples()[::-1]
    write_wav(tmp_path / "prompts" / "en.wav", english)
    write_wav(tmp_path / "prompts" / "de.wav", german)
    site = spoken_site(tmp_path, value='{ en = "prompts/en.wav", de = "prompts/de.wav" }')
    text = site.read_text().replace('[[users]]\nid = "3000"\n', '[[users]]\nid = "3000"\nlanguage = "de"\n', 1)
    site.write_text(text)
    gateway: GatewayProcess = start_gateway(config=site)
    for station, user, mine, other in (("2101", "3000", german, english), ("2102", "3001", english, german)):
        assert dial(gateway, tmp_path, sink, station, f"*35*{user}*1234#") == 200
        assert dial(gateway, tmp_path, sink, station, "*37") == 200
        sink.audio()
        assert dial(gateway, tmp_path, sink, station, "*38", info="2#") == 200
        audio = sink.audio()
        assert best_correlation(audio, mine[:1600]) > 0.9, user
        assert best_correlation(audio, other[:1600]) < 0.5, user
        assert agents(gateway)[user]["reason_code"] == 2


def test_a_prompt_for_an_unknown_language_is_a_site_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_site(spoken_site(tmp_path, value='{ en = "prompts/en.wav", xx = "prompts/xx.wav" }'))
    assert "reason_prompt_audio.xx" in str(error.value)


def test_per_language_prompts_are_written_back(tmp_path: Path) -> None:
    from acdgate.acd.config import parse_site
    from acdgate.acd.site_format import format_site

    site = load_site(spoken_site(tmp_path, value='{ en = "prompts/en.wav", de = "prompts/de.wav" }'))
    again = parse_site(format_site(site))
    assert again.policy.reason_prompt_audio == site.policy.reason_prompt_audio
    assert [lang.value for lang, _ in site.policy.reason_prompt_audio if lang] == ["en", "de"]
