"""SIPp endpoints: each action a scenario file run as a SIPp process.

SIPp plays whole scenarios, so a call is planned before it runs: `dial` and the SIP INFO
digits sent after it are collected, and the scenario starts at the next `wait_for`. The SDP
offers a UDP socket of this driver as the media address, so the driver receives the
gateway's RTP itself and names the tones in it. The as-feature-event key is a SUBSCRIBE
with an ECMA-323 `SetAgentState` body; every NOTIFY's event root (AgentReadyEvent, ...)
becomes an AGENT_STATE observation.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from acdgate.codecs.g711 import ulaw_decode
from acdgate.lab.drivers.baresip import NetHost
from acdgate.lab.drivers.base import (
    DtmfMethod,
    Endpoint,
    FeatureKey,
    KeyKind,
    Observation,
    ObservationKind,
)
from acdgate.lab.drivers.heard import tones_in, write_wav
from acdgate.lab.drivers.sipp_scenarios import (
    call_scenario,
    injection,
    register_scenario,
    subscribe_scenario,
)
from acdgate.lab.inventory import EndpointSpec


class SippEndpoint(Endpoint):
    """A station played by SIPp scenarios, one process per action."""

    dtmf_methods = frozenset({DtmfMethod.SIP_INFO})
    key_kinds = frozenset({KeyKind.PROGRAMMED, KeyKind.FEATURE_EVENT})

    def __init__(self, spec: EndpointSpec, gateway: tuple[str, int], *, workdir: Path,
                 local_ip: str = "127.0.0.1", command_prefix: list[str] | None = None,
                 netns: NetHost | None = None) -> None:
        super().__init__(spec)
        self.gateway = gateway
        self.workdir = workdir
        self.local_ip = local_ip
        self.command_prefix = command_prefix or []
        self._pending: tuple[str, str] | None = None  # (dialled, INFO digits)
        self._runs = 0
        self._threads: list[threading.Thread] = []
        self._log: list[str] = []
        self.netns = netns

    def start(self) -> SippEndpoint:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "users.csv").write_text(injection([(self.spec.username, self.spec.password)]))
        return self

    def _sipp(self, scenario: str, service: str, timeout: float) -> tuple[int, str]:
        self._runs += 1
        name = f"run{self._runs}"
        path = self.workdir / f"{name}.xml"
        path.write_text(scenario)
        messages = self.workdir / f"{name}_msgs.log"
        args = [*self.command_prefix, "sipp", "-sf", str(path), "-inf", str(self.workdir / "users.csv"),
                "-i", self.local_ip, "-p", "0", "-t", "u1" if self.spec.transport == "udp" else "t1",
                "-s", service.replace("#", "%23"), "-m", "1", "-timeout", f"{int(timeout)}s", "-nostdin",
                "-trace_msg", "-message_file", str(messages), "-trace_err", "-error_file",
                str(self.workdir / f"{name}_err.log"), f"{self.gateway[0]}:{self.gateway[1]}"]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30, cwd=self.workdir)
        text = messages.read_text(errors="replace") if messages.exists() else ""
        self._log.append(f"$ {' '.join(args)}\nexit {proc.returncode}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        return proc.returncode, text

    def register(self, timeout: float = 15.0) -> Observation:
        code, _ = self._sipp(register_scenario(), self.spec.username, timeout)
        if code == 0:
            return self.observe(ObservationKind.REGISTERED, via="sipp")
        return self.observe(ObservationKind.REGISTER_FAILED, reason=f"sipp exit {code}")

    def dial(self, digits: str) -> None:
        self._flush()
        self._pending = (digits, "")

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        if self._pending is None:
            raise AssertionError("SIPp sends SIP INFO digits only in a call it dials (dial first)")
        self._pending = (self._pending[0], self._pending[1] + digits)

    def _press(self, key: FeatureKey) -> None:
        """as-feature-event: `value` is a SetAgentState request body (see `feature_request`)."""
        self._flush()
        self._run_async(lambda: self._subscribe(key.value))

    def wait_for(self, kind: ObservationKind | set[ObservationKind], timeout: float = 15.0,
                 where: object | None = None) -> Observation:
        self._flush()
        return super().wait_for(kind, timeout, where)  # type: ignore[arg-type]

    def _flush(self) -> None:
        if self._pending is not None:
            dialled, digits = self._pending
            self._pending = None
            self._run_async(lambda: self._call(dialled, digits))

    def _run_async(self, fn: object) -> None:
        assert callable(fn)
        t = threading.Thread(target=fn, daemon=True, name=f"sipp-{self.spec.name}")
        self._threads.append(t)
        t.start()

    def _call(self, dialled: str, digits: str) -> None:
        def open_media() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.local_ip, 0))
            return s

        media = self.netns.call_inside(open_media) if self.netns is not None else open_media()
        audio = bytearray()
        done = threading.Event()

        def receive() -> None:
            media.settimeout(0.2)
            while not done.is_set():
                try:
                    data = media.recv(2048)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if len(data) > 12 and data[1] & 0x7F == 0:  # PCMU, RFC 3550 fixed header
                    cc = data[0] & 0x0F
                    audio.extend(data[12 + 4 * cc:])

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        try:
            code, messages = self._sipp(call_scenario(digits, media.getsockname()[1]), dialled, 60)
        finally:
            done.set()
            reader.join(2)
            media.close()
        statuses = [int(s) for s in re.findall(r"^SIP/2\.0 (\d{3}) ", messages, re.M)]
        finals = [s for s in statuses if s >= 200 and s != 401]
        if finals and finals[0] >= 300:
            line = re.search(rf"^SIP/2\.0 {finals[0]} (.*)$", messages, re.M)
            self.observe(ObservationKind.CALL_REFUSED, status=str(finals[0]),
                         reason=f"{finals[0]} {line.group(1).strip() if line else ''}")
            self.observe(ObservationKind.CALL_ENDED, by="refused")
            return
        if 200 in finals:
            self.observe(ObservationKind.CALL_ANSWERED, dialled=dialled)
        samples = np.asarray(ulaw_decode(bytes(audio)) if audio else np.zeros(0, dtype=np.int16), dtype=np.int16)
        for name in tones_in(samples):
            self.observe(ObservationKind.TONE, name=name)
        wav = write_wav(self.workdir / f"run{self._runs}-heard.wav", samples)
        self.observe(ObservationKind.CALL_ENDED, by="remote" if code == 0 else f"sipp exit {code}",
                     audio=str(wav))

    def _subscribe(self, body: str) -> None:
        code, messages = self._sipp(subscribe_scenario(body), self.spec.username, 30)
        for root in re.findall(r"<(Agent\w+Event|DoNotDisturbEvent)[\s>]", messages):
            self.observe(ObservationKind.AGENT_STATE, event=root)
        self.observe(ObservationKind.CALL_ENDED, by="subscription", status=str(code))

    def answer(self) -> None:
        raise AssertionError("SIPp endpoints dial only (incoming calls need a UAS scenario)")

    def hangup(self) -> None:
        raise AssertionError("SIPp endpoints wait for the gateway's BYE (scenario-driven)")

    def stop(self) -> None:
        self._flush()
        deadline = time.monotonic() + 90
        for t in self._threads:
            t.join(max(deadline - time.monotonic(), 0.1))

    def diagnostics(self) -> str:
        return "\n".join(self._log[-3:])
