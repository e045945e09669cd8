"""SIPp scenarios for feature calls, written per test: dial a code, maybe send digits as SIP
INFO, expect the gateway to answer and hang up (or to refuse), and run SIPp on loopback.

The SDP offers the test's own UDP socket as the media address, so the test receives the
gateway's RTP itself and decodes the tone it played.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
"""

_INVITE = """  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Desk" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
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
      o=sipp 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio {rtp_port} RTP/AVP {formats}
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000
      a=rtpmap:3 GSM/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=sendrecv
    ]]>
  </send>
"""

_ACK_ERROR = """  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

_INFO = """  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Desk" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
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


@dataclass(frozen=True, slots=True)
class FeatureCallResult:
    """What SIPp saw: the final status of the authenticated INVITE, and its output."""

    status: int
    output: str


def users_csv(path: Path, stations: list[str]) -> Path:
    """A SIPp injection file: username; auth keyword (SIPp expands it per call)."""
    lines = ["SEQUENTIAL", *(f"{s};[authentication username={s} password=pw{s}]" for s in stations)]
    path.write_text("\n".join(lines) + "\n")
    return path


def feature_call_scenario(*, answered: bool, info_digits: str = "", formats: str = "0 8 101",
                          rtp_port: int = 4000, info_delay_ms: int = 600) -> str:
    """A scenario: INVITE (401, then with credentials), then either 200/ACK, the digits as
    INFO, and the gateway's BYE; or a final refusal (any 4xx/5xx) that is ACKed."""
    parts = [_HEAD.format(name="feature call")]
    parts.append(_INVITE.format(cseq=1, auth="", rtp_port=rtp_port, formats=formats))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="401" auth="true"/>\n')
    parts.append(_ACK_ERROR.format(cseq=1))
    parts.append(_INVITE.format(cseq=2, auth="[field1]", rtp_port=rtp_port, formats=formats))
    parts.append('  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n')
    if answered:
        parts.append('  <recv response="200" rrs="true"/>\n')
        parts.append("""  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Desk" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
""")
        cseq = 3
        for digit in info_digits:
            parts.append(f'  <pause milliseconds="{info_delay_ms}"/>\n')
            parts.append(_INFO.format(cseq=cseq, digit=digit))
            cseq += 1
        parts.append("""  <recv request="BYE"/>
  <send>
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
""")
    else:
        for status in (403, 404, 486, 488, 501):
            parts.append(f'  <recv response="{status}" optional="true" next="refused"/>\n')
        parts.append('  <recv response="480" next="refused"/>\n')
        parts.append('  <label id="refused"/>\n')
        parts.append(_ACK_ERROR.format(cseq=2))
    parts.append("</scenario>\n")
    return "".join(parts)


def run_feature_call(tmp: Path, target: tuple[str, int], station: str, dialled: str, *,
                     answered: bool, info_digits: str = "", formats: str = "0 8 101",
                     rtp_port: int = 4000, local_port: int = 0, timeout: float = 60) -> FeatureCallResult:
    """Dial `dialled` from `station` with SIPp (`#` sent as %23) and return the final status."""
    scenario = tmp / f"call_{abs(hash((station, dialled, info_digits)))}.xml"
    scenario.write_text(feature_call_scenario(answered=answered, info_digits=info_digits,
                                              formats=formats, rtp_port=rtp_port))
    users = tmp / f"user_{station}.csv"
    users.write_text(f"SEQUENTIAL\n{station};[authentication username={station} password=pw{station}]\n")
    errors = tmp / "sipp_feature_errors.log"
    args = ["sipp", "-sf", str(scenario), "-inf", str(users), "-i", "127.0.0.1", "-p", str(local_port),
            "-s", dialled.replace("#", "%23"), "-m", "1", "-timeout", f"{int(timeout)}s", "-nostdin",
            "-trace_err", "-error_file", str(errors), "-trace_msg", "-message_file", str(tmp / "sipp_msgs.log"),
            f"{target[0]}:{target[1]}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30, cwd=tmp)
    out = proc.stdout + proc.stderr
    messages = (tmp / "sipp_msgs.log").read_text(errors="replace") if (tmp / "sipp_msgs.log").exists() else ""
    if proc.returncode != 0:
        err = errors.read_text(errors="replace") if errors.exists() else ""
        raise AssertionError(f"SIPp failed ({proc.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
    finals = [int(s) for s in re.findall(r"^SIP/2\.0 (\d{3}) ", messages, re.M) if int(s) >= 200 and int(s) != 401]
    return FeatureCallResult(finals[0] if finals else 0, messages)
