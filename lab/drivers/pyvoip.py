"""pyVoIP endpoints: each one a worker process (`pyvoip_worker`) driven by JSON lines.

pyVoIP is GPLv3 and must never load into the harness process; the worker is killed when
done (its `stop()` can hang). It registers when it starts (pyVoIP has no separate REGISTER
call), sends DTMF in-band only, plays tones by `write_audio`, and has no feature-event or
menu keys. The worker adds the SIP retransmissions pyVoIP lacks (lossy lab LAN).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from acdgate.lab.drivers.base import (
    DtmfMethod,
    Endpoint,
    EndpointError,
    Observation,
    ObservationKind,
)
from acdgate.lab.drivers.heard import read_u8, tones_in, write_wav
from acdgate.lab.inventory import EndpointSpec

WORKER = "acdgate.lab.drivers.pyvoip_worker"


class PyVoipEndpoint(Endpoint):
    """A pyVoIP phone in a worker process."""

    dtmf_methods = frozenset({DtmfMethod.INBAND})

    def __init__(self, spec: EndpointSpec, gateway: tuple[str, int], *, my_ip: str, sip_port: int,
                 workdir: Path, command_prefix: list[str] | None = None) -> None:
        super().__init__(spec)
        self.gateway = gateway
        self.my_ip = my_ip
        self.sip_port = sip_port
        self.workdir = workdir
        self.command_prefix = command_prefix or []
        self.proc: subprocess.Popen[str] | None = None
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._reader: threading.Thread | None = None
        self._err_reader: threading.Thread | None = None

    def start(self) -> PyVoipEndpoint:
        """Nothing runs until `register` (pyVoIP registers as it starts)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        return self

    def register(self, timeout: float = 15.0, attempts: int = 2) -> Observation:
        """Start the worker (pyVoIP registers as it starts) and wait for the outcome.

        pyVoIP never retransmits a REGISTER (no RFC 3261 Timer E); the worker makes it start
        afresh after 1 s without an answer, for up to 12 s. Should that still fail, the worker
        is restarted, up to `attempts` times in all.
        """
        per_attempt = timeout / attempts
        for attempt in range(attempts):
            self._spawn()
            try:
                return self.wait_for({ObservationKind.REGISTERED, ObservationKind.REGISTER_FAILED}, per_attempt)
            except EndpointError:
                if attempt == attempts - 1:
                    raise
                stale, self.proc = self.proc, None  # its reader then reports nothing
                if stale is not None:
                    stale.kill()
                    stale.wait(10)
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        args = [*self.command_prefix, sys.executable, "-m", WORKER, "--server", self.gateway[0],
                "--port", str(self.gateway[1]), "--user", self.spec.username, "--password",
                self.spec.password, "--my-ip", self.my_ip, "--sip-port", str(self.sip_port),
                "--audio-dir", str(self.workdir)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True,
                                        name=f"pyvoip-{self.spec.name}")
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, args=(self.proc,), daemon=True)
        self._err_reader.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.stdout_lines.append(line)
            try:
                message: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            self._on_event(message)
        if proc is self.proc and not any(o.kind is ObservationKind.REGISTERED for o in self.observed):
            self.observe(ObservationKind.REGISTER_FAILED, reason="pyVoIP worker exited")

    def _read_err(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.stderr_lines.append(line)

    def _on_event(self, m: dict[str, Any]) -> None:
        event = m.get("event")
        if event == "started":
            if m.get("registered"):
                self.observe(ObservationKind.REGISTERED, status=str(m.get("status")))
            else:
                self.observe(ObservationKind.REGISTER_FAILED, reason=str(m.get("status")))
        elif event == "failed":
            self.observe(ObservationKind.REGISTER_FAILED, reason=str(m.get("error")))
        elif event == "answered":
            self.observe(ObservationKind.CALL_ANSWERED, call_id=str(m.get("call_id")))
        elif event == "refused":
            self.observe(ObservationKind.CALL_REFUSED, call_id=str(m.get("call_id")),
                         status=str(m.get("status")), reason=str(m.get("heading", "")))
        elif event == "incoming":
            self.observe(ObservationKind.CALL_INCOMING, caller=str(m.get("caller")),
                         display=str(m.get("display")), call_id=str(m.get("call_id")))
        elif event == "ended":
            audio = Path(str(m.get("audio")))
            wav = ""
            if audio.is_file():
                samples = read_u8(audio)
                wav = str(write_wav(audio.with_suffix(".wav"), samples))
                for name in tones_in(samples):
                    self.observe(ObservationKind.TONE, name=name)
            self.observe(ObservationKind.CALL_ENDED, by=str(m.get("by")), call_id=str(m.get("call_id")),
                         audio=wav)
        elif event == "error":
            self.observe(ObservationKind.CALL_REFUSED, status="0", reason=f"driver error: {m.get('error')}")

    def _send(self, **command: object) -> None:
        if self.proc is None or self.proc.stdin is None or self.proc.poll() is not None:
            raise EndpointError(f"{self.spec.name}: pyVoIP worker not running\n{self.diagnostics()}")
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def dial(self, digits: str) -> None:
        self._send(cmd="dial", number=digits)

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        self._send(cmd="dtmf", digits=digits)

    def answer(self) -> None:
        self._send(cmd="answer")

    def play_tone(self, freq: float, seconds: float) -> None:
        self._send(cmd="tone", freq=freq, seconds=seconds)

    def hangup(self) -> None:
        self._send(cmd="hangup")

    def stop(self) -> None:
        """Kill the worker: pyVoIP's own stop() can hang (it would also un-REGISTER)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for t in (self._reader, self._err_reader):
            if t is not None:
                t.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def diagnostics(self) -> str:
        return "".join(self.stdout_lines[-40:]) + "".join(self.stderr_lines[-40:])
