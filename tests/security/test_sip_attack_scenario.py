"""Issue 19, proof: the distributed guessing and the blind lock-out of test_sip_hardening, run
together from a few sources as one scenario, while the real phone of the attacked station
registers and an agent logs on at it by short code."""

from __future__ import annotations

import re
from pathlib import Path

from acdgate.lab.gateway_process import GatewayProcess
from digest_phone import Phone
from sipp_scenarios import run_feature_call
from sipwire import free_port, status_line

GUESSERS = [f"127.0.2.{i}" for i in range(1, 11)]
VICTIM = "127.0.0.2"  # the real phone's address, which the blind attacker forges


def test_guesses_from_ten_sources_and_forged_nonces_leave_the_real_phone_working(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    made: list[Phone] = []

    def phone(host: str, user: str = "2102") -> Phone:
        made.append(Phone(host, gateway.sip, user))
        return made[-1]

    try:
        real = phone(VICTIM)
        assert real.register("pw2102") == 200
        guessers = [phone(h) for h in GUESSERS]
        forger = phone("127.0.2.9")
        own = forger.challenge()  # a nonce issued to the forger, not to the victim
        spoofed = phone(VICTIM)  # stands for datagrams with the victim's source address
        statuses = []
        for n in range(40):  # 10 sources x 4 guesses (under the per-source delay), the right
            # password the 40th: after the 5th failure the account is held and they go unread
            g = guessers[n % len(guessers)]
            challenge = g.challenge()
            password = "pw2102" if n == 39 else f"guess{n}"
            g.send(g.request(authorization=g.authorization(challenge, password)))
            statuses.append(status_line(g.receive())[0])
            # the blind attacker: credentials on a foreign or made-up nonce, answers never read
            nonce = "A" * 43 if n % 2 else None
            spoofed.send(spoofed.request(authorization=forger.authorization(own, "guess", nonce=nonce)))
            if n % 10 == 5:
                assert real.register("pw2102") == 200
        assert statuses == [401] * 40  # the right guess too: the account was held
        call = run_feature_call(tmp_path, gateway.sip, "2102", "*35*3001*1234#", answered=True,
                                rtp_port=free_port(), local_port=free_port(), ip=VICTIM)
        assert call.status == 200, call.output[-2000:]
        agents = {str(a["user"]): a for a in gateway.get("/api/agents")}
        assert agents["3001"]["station"] == "2102", agents["3001"]
        assert real.register("pw2102") == 200
        metrics = gateway.get_text("/metrics")
        refused = re.search(r'acdgate_auth_account_refused_total\{account="2102",protocol="sip"\} (\S+)', metrics)
        assert refused and float(refused[1]) >= 30, metrics[-3000:]
        blocked = re.search(r'acdgate_auth_blocks_total\{protocol="sip"\} (\S+)', metrics)
        assert blocked and float(blocked[1]) == 0, metrics[-3000:]  # the forged nonces blocked nobody
    finally:
        for p in made:
            p.close()
