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
from acdgate.lab.inventory import EndpointSpec

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="{name}">\n'
_FROM = 'From: "[field0]" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]'

_INVITE = """  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      {from_}
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: SIPp
      {auth}
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio {rtp_port} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=sendrecv
    ]]>
  </send>
"""

_ACK = """  <send>
    <![CDATA[
      ACK {uri} SIP/2.0
      {via}
      {from_}
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

_INFO = """  <pause milliseconds="{pause}"/>
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      {from_}
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      [routes]
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
"""

_OK_TO_REQUEST = """  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

_SUBSCRIBE = """  <send retrans="500">
    <![CDATA[
      SUBSCRIBE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      {from_}
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} SUBSCRIBE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Event: as-feature-event
      Expires: 60
      Max-Forwards: 70
      User-Agent: SIPp
      {auth}
      Content-Type: application/x-as-feature-event+xml
      Content-Length: [len]

{body}
    ]]>
  </send>
"""

_STATUS = (403, 404, 480, 486, 488, 500, 501, 503, 603)


def call_scenario(info_digits: str, rtp_port: int, info_pause_ms: int = 400) -> str:
    """INVITE (401, then with credentials); then 200/ACK, the digits as SIP INFO, and the
    gateway's BYE answered; or a final refusal that is ACKed."""
    f = _FROM
    parts = [_HEAD.format(name="lab call")]
    parts.append(_INVITE.format(cseq=1, auth="", rtp_port=rtp_port, from_=f))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="401" auth="true"/>\n')
    ack_err = _ACK.format(uri="sip:[service]@[remote_ip]:[remote_port]", via="[last_Via:]", from_=f, cseq="{cseq}")
    parts.append(ack_err.format(cseq=1))
    parts.append(_INVITE.format(cseq=2, auth="[field1]", rtp_port=rtp_port, from_=f))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
                 '  <recv response="183" optional="true"/>\n')
    for status in _STATUS:
        parts.append(f'  <recv response="{status}" optional="true" next="refused"/>\n')
    parts.append('  <recv response="200" rrs="true"/>\n')
    parts.append(_ACK.format(uri="[next_url]", via="Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport",
                             from_=f, cseq=2))
    cseq = 3
    for digit in info_digits:
        parts.append(_INFO.format(pause=info_pause_ms, from_=f, cseq=cseq, digit=digit))
        cseq += 1
    parts.append('  <recv request="BYE"/>\n' + _OK_TO_REQUEST + '  <nop next="end"/>\n')
    parts.append('  <label id="refused"/>\n')
    parts.append(ack_err.format(cseq=2))
    parts.append('  <label id="end"/>\n</scenario>\n')
    return "".join(parts)


def subscribe_scenario(body: str) -> str:
    """SUBSCRIBE as-feature-event with a request body (401, then with credentials), 200, and
    the NOTIFYs that follow answered (up to three, 3 s apart at most)."""
    f = _FROM
    indented = "\n".join("      " + line for line in body.strip().splitlines())
    parts = [_HEAD.format(name="feature key")]
    parts.append(_SUBSCRIBE.format(cseq=1, auth="", from_=f, body=indented))
    parts.append('  <recv response="401" auth="true"/>\n')
    parts.append(_SUBSCRIBE.format(cseq=2, auth="[field1]", from_=f, body=indented))
    parts.append('  <recv response="202" optional="true" next="subscribed"/>\n  <recv response="200"/>\n'
                 '  <label id="subscribed"/>\n')
    for i in range(3):
        parts.append(f'  <recv request="NOTIFY" timeout="3000" ontimeout="end"/>\n{_OK_TO_REQUEST}')
        del i
    parts.append('  <label id="end"/>\n</scenario>\n')
    return "".join(parts)


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
        (self.workdir / "users.csv").write_text(
            f"SEQUENTIAL\n{self.spec.username};[authentication username={self.spec.username} "
            f"password={self.spec.password}]\n")
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
        scenario = (_HEAD.format(name="register") + """  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Expires: 3600
      Max-Forwards: 70
      User-Agent: SIPp
      {auth}
      Content-Length: 0

    ]]>
  </send>
""")
        text = scenario.format(cseq=1, auth="") + '  <recv response="401" auth="true"/>\n'
        text += scenario.split('<scenario name="register">\n', 1)[1].format(cseq=2, auth="[field1]")
        text += '  <recv response="200"/>\n</scenario>\n'
        code, _ = self._sipp(text, self.spec.username, timeout)
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
