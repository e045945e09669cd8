"""A real baresip process for tests: the lab's `BaresipProcess` with call commands.

The process, its config folder (no audio device; only g711, aufile, sndfile, account, menu
and ctrl_tcp) and the ctrl_tcp JSON interface are the lab driver's
(`acdgate.lab.drivers.baresip`); a `NetworkNamespace` serves as its network host. Accounts
are added after the connection is up (`uanew`), so no REGISTER_OK can slip by unobserved.

Calls: `dial()` (ctrl_tcp `dial`), `send_dtmf()` (`sndcode`: RFC 4733 events, baresip 1.0
has no SIP INFO DTMF), `hangup()`, `wait_event()` for CALL_ESTABLISHED / CALL_CLOSED. The
microphone is a WAV of silence (baresip 1.0's `ausine` only runs at 48 kHz and would need a
resampler; silence also keeps in-band audio out of DTMF tests). What baresip *received* is
recorded by the `sndfile` audio filter, which writes each call's decoded stream to
`dump-<time>-dec.wav` (baresip 1.0's `aufile` is a source only, it cannot be the player);
`received_audio()` hands that file over once the call is gone.

    phone = Baresip(tmp / "baresip", netns=ns, net_interface="veth1").start()
    event = phone.register("<sip:2101@198.18.0.1:5060;transport=udp>;auth_pass=pw2101")
    phone.dial("sip:*36@198.18.0.1:5060")
    phone.wait_event({"CALL_CLOSED"})
    samples = read_wav_samples(phone.received_audio())
    phone.stop()
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
from acdgate.lab.drivers.baresip import BaresipError, BaresipEvent, BaresipProcess
from netns import NetworkNamespace

__all__ = ["Baresip", "BaresipError", "BaresipEvent", "read_wav_samples"]


class Baresip(BaresipProcess):
    """One baresip user agent for a test: the lab process plus dial/DTMF/hang-up and the
    audio each call received."""

    def __init__(
        self,
        home: Path,
        *,
        netns: NetworkNamespace | None = None,
        net_interface: str | None = None,
        sip_cafile: Path | None = None,
        ctrl_port: int | None = None,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        # no jitter buffer: it holds back the last frames of a call, which never get decoded
        # (and so never reach sndfile) when the far end hangs up
        config = {"jitter_buffer_delay": "0-0", **(extra_config or {})}
        super().__init__(home, netns=netns, net_interface=net_interface, sip_cafile=sip_cafile,
                         ctrl_port=ctrl_port, extra_config=config)
        self._calls_recorded = 0

    def dial(self, uri: str, timeout: float = 10.0) -> None:
        """Start a call (`dial`); a `#` in the user part must be sent as `%23`.

        Progress comes as events: CALL_ESTABLISHED when answered, CALL_CLOSED at the end.
        """
        self.command("dial", uri, timeout)

    def send_dtmf(self, digits: str, timeout: float = 10.0) -> None:
        """Key presses in the current call (`sndcode`): RFC 4733 telephone-events, queued and
        sent one after the other (each for at least 9 packets, then its end packets)."""
        self.command("sndcode", digits, timeout)

    def hangup(self, timeout: float = 10.0) -> None:
        """Hang up the current call (`hangup`: CANCEL or BYE)."""
        self.command("hangup", "", timeout)

    def wait_call_closed(self, timeout: float = 15.0) -> BaresipEvent:
        """The next CALL_CLOSED; its `param` says why ("Connection reset by peer" for a BYE)."""
        return self.wait_event({"CALL_CLOSED"}, timeout)

    def received_audio(self, timeout: float = 10.0) -> Path:
        """The decoded audio of the call that just closed, as a WAV of its own.

        sndfile names its files by the second the call started, so a later call in the same
        second would reuse the name: the file is renamed `received-<n>.wav`. A command round
        trip first makes sure baresip has finished closing the call (the call, and with it
        sndfile's file, is freed right after the CALL_CLOSED event is sent).
        """
        self.command("listcalls", "", timeout)
        dumps = sorted(self.snd_path.glob("dump-*-dec.wav"))
        if len(dumps) != 1:
            raise BaresipError(f"expected one sndfile dump in {self.snd_path}, found {dumps}\n{self.output()}")
        self._calls_recorded += 1
        target = self.snd_path / f"received-{self._calls_recorded}.wav"
        dumps[0].rename(target)
        for sent in self.snd_path.glob("dump-*-enc.wav"):
            sent.rename(self.snd_path / f"sent-{self._calls_recorded}.wav")
        return target


def read_wav_samples(path: Path) -> npt.NDArray[np.int16]:
    """A mono 16-bit 8 kHz WAV (sndfile's dump of a G.711 call) as int16 samples."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, 8000):
            raise ValueError(f"{path}: {w.getnchannels()} ch, {8 * w.getsampwidth()} bit, "
                             f"{w.getframerate()} Hz; expected 8 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16)
