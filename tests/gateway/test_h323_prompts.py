"""Prompts instead of refusals from an H.323 desk (issue 16): the lab's H.323 endpoint
registers with a running gateway on a site that requires a reason, dials `*38`, hears the
prompt over RTP (the tone, or the site's spoken prompt correlated against its WAV), keys the
reason as H.245 userInputIndication, and the agent is Not Ready with that reason in /api and
the journal; a wrong code gets the error tone and a `FeatureUsed` record saying which.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from acdgate.codecs.tone_detector import detect_tone
from acdgate.codecs.tones import REASON_PROMPT
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.lab.drivers.h323_endpoint import H323Endpoint
from acdgate.lab.drivers.heard import tone_seconds, tones_in
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from test_code_prompts_calls import required_site
from test_h323_calls import agent, assert_tshark_reads_every_message, features_used, released, until
from test_spoken_prompts import best_correlation, prompt_samples, spoken_site, write_wav

REASON_HZ = REASON_PROMPT.segments[0].freqs[0]


def endpoint_for(gw: GatewayProcess, made: list[H323Endpoint], extension: str) -> H323Endpoint:
    h323 = gw.info["h323"]
    ep = H323Endpoint(extension, f"pw{extension}", ras=(h323["ras"]["host"], int(h323["ras"]["port"])),
                      call_signalling=(h323["host"], int(h323["port"])))
    made.append(ep)
    ep.register()
    return ep


@pytest.fixture
def made() -> Iterator[list[H323Endpoint]]:
    endpoints: list[H323Endpoint] = []
    yield endpoints
    for ep in endpoints:
        ep.close()


def ready_agent(gw: GatewayProcess, ep: H323Endpoint, user: str) -> None:
    """Log `user` on at the endpoint's station and make it Ready (short codes, as a desk)."""
    for code in (f"*35*{user}*1234#", "*37"):
        call = ep.call(code)
        call.connected()
        released(call)
        assert "confirmation" in tones_in(call.heard()), code
        call.close()
    row = agent(gw, user)
    assert row is not None and row["state"] == "READY"


def state_changes(gw: GatewayProcess, user: str) -> list[dict[str, object]]:
    return [r for r in read_journal(gw.state_dir / "acdgate.sqlite3", kinds=["StateChanged"])
            if r.get("user_id") == user]


def test_an_h323_desk_is_prompted_for_the_reason_and_keys_it_by_user_input(
        start_gateway: StartGateway, tmp_path: Path, made: list[H323Endpoint]) -> None:
    pcap = tmp_path / "h323.pcap"
    gw = start_gateway(config=required_site(tmp_path / "site.toml"), extra=["--h323-trace", str(pcap)])
    ep = endpoint_for(gw, made, "2201")
    ready_agent(gw, ep, "3000")
    # a wrong code after the prompt: the error tone, still Ready, journaled
    call = ep.call("*38")
    call.connected()
    until(lambda: tone_seconds(call.heard(), REASON_HZ) > 0.05, what="the reason prompt heard")
    call.send_uii("9#")
    released(call)
    assert "error" in tones_in(call.heard()) and "confirmation" not in tones_in(call.heard())
    call.close()
    row = agent(gw, "3000")
    assert row is not None and row["state"] == "READY"
    # the right one: Not Ready with that reason
    call = ep.call("*38")
    call.connected()
    until(lambda: tone_seconds(call.heard(), REASON_HZ) > 0.05, what="the reason prompt heard")
    call.send_uii("2#", signal=True)
    released(call)
    assert "confirmation" in tones_in(call.heard()) and "error" not in tones_in(call.heard())
    call.close()
    row = agent(gw, "3000")
    assert row is not None and row["state"] == "NOT_READY" and row["reason_code"] == 2
    assert features_used(gw)[-2:] == [
        ("2201", "*38", "Unknown reason code 9 entered after the prompt"),
        ("2201", "*38", "Done with reason code 2 entered after the prompt"),
    ]
    last = state_changes(gw, "3000")[-1]
    assert last["new"] == "not-ready" and last["reason_code"] == 2
    assert_tshark_reads_every_message(gw, pcap)


def test_an_h323_desk_hears_the_site_s_spoken_prompt(
        start_gateway: StartGateway, tmp_path: Path, made: list[H323Endpoint]) -> None:
    samples = prompt_samples()
    write_wav(tmp_path / "prompts" / "reason.wav", samples)
    gw = start_gateway(config=spoken_site(tmp_path))
    ep = endpoint_for(gw, made, "2202")
    ready_agent(gw, ep, "3001")
    call = ep.call("*38")
    call.connected()
    first = samples[:1600]

    def heard() -> bool:
        return best_correlation(call.heard(), first) > 0.9

    until(heard, what="the spoken prompt's first 200 ms heard")
    call.send_uii("1#")
    released(call)
    audio = call.heard()
    assert not detect_tone(audio, (REASON_HZ,))  # spoken, not the tone
    assert best_correlation(audio, samples[-8000:]) < 0.5  # the key stopped it
    assert "confirmation" in tones_in(audio)
    call.close()
    row = agent(gw, "3001")
    assert row is not None and row["state"] == "NOT_READY" and row["reason_code"] == 1
    assert features_used(gw)[-1] == ("2202", "*38", "Done with reason code 1 entered after the prompt")
    last = state_changes(gw, "3001")[-1]
    assert last["new"] == "not-ready" and last["reason_code"] == 1
