"""An H.323 softphone in Python, built on the product's H.323 codecs and engines.

No H.323 endpoint is packaged for Debian 12, so the tests and the lab speak H.323 through this:
RAS registration (RRQ with an H.235 CAT, the answer read by pycrate's H.225.0), then calls on
TCP: a Setup with fastStart proposals (`offer_fast_start`) and h245Tunnelling, Connect read
for the accepted channels (`read_fast_start_answer`), the gateway's RTP received and decoded
(`heard.tones_in` names the tones), our own RTP sent; without fastStart, media is negotiated by
the product's own H.245 engine (`H245Session`), tunnelled in the call signalling or on a
separate H.245 connection the gateway opens to the address we give it; digits as tunnelled H.245
userInputIndication, as RFC 4733 events (after a tunnelled capability set that offers them)
or as a Q.931 Keypad IE in Information, and Release Complete. Plain
blocking sockets with a reader thread per call, so it runs beside a reactor in the same process;
every wait is bounded.
"""

from __future__ import annotations

import queue
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from acdgate.codecs import g711
from acdgate.codecs.rtp import RtpError, RtpPacket
from acdgate.codecs.telephone_event import TelephoneEventSender
from acdgate.gateway.h323.cs_codec import CallSignalCodec
from acdgate.gateway.h323.cs_messages import (
    Alerting,
    CallSignal,
    CallSignalDecodeError,
    Connect,
    Facility,
    H245Tunnel,
    Information,
    ReleaseComplete,
    Setup,
)
from acdgate.gateway.h323.fast_start import (
    FastStartAccepted,
    answer_fast_start,
    offer_fast_start,
    read_fast_start_answer,
)
from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.h245_codec import H245Codec
from acdgate.gateway.h323.h245_events import H245Action, MediaReady, SendH245
from acdgate.gateway.h323.h245_messages import AudioCodec, UserInputAlphanumeric, UserInputSignal
from acdgate.gateway.h323.h245_session import H245Session, H245Settings, our_capabilities
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    RegistrationRequest,
    TransportAddress,
)
from acdgate.gateway.h323.tpkt import TpktError, TpktReader, frame
from pycrate_asn1dir import H225

Address = tuple[str, int]
_LAWS = {AudioCodec.G711_ULAW: g711.Law.ULAW, AudioCodec.G711_ALAW: g711.Law.ALAW}


class H323Error(RuntimeError):
    """The gateway did not answer as expected (a refusal, a timeout)."""


@dataclass(slots=True)
class H323Call:
    """One call placed by the endpoint: its TCP connection, its media, what it received."""

    endpoint: H323Endpoint
    sock: socket.socket
    rtp: socket.socket
    call_reference: int
    call_identifier: bytes
    messages: queue.Queue[CallSignal | CallSignalDecodeError] = field(default_factory=queue.Queue)
    received: list[CallSignal | CallSignalDecodeError] = field(default_factory=list)
    media: FastStartAccepted | None = None
    samples: list[npt.NDArray[np.int16]] = field(default_factory=list)
    rtp_from: Address | None = None
    closed: bool = False
    originator: bool = True  # False: a call the gateway placed to us (the flag on our messages)
    setup: Setup | None = None  # the gateway's Setup, on a call it placed
    tunnelling: bool = True
    h245_session: H245Session | None = None  # without fastStart: the product's engine
    h245_listener: socket.socket | None = None  # a separate H.245 connection: we listen
    h245_sock: socket.socket | None = None
    h245_received: list[object] = field(default_factory=list)  # decoded PDUs, for the tests
    _send_lock: threading.Lock = field(default_factory=threading.Lock)
    _media_set: threading.Event = field(default_factory=threading.Event)
    _h245_started: bool = False
    _threads: list[threading.Thread] = field(default_factory=list)

    # -- call signalling -----------------------------------------------------------------

    def send(self, message: CallSignal) -> None:
        with self._send_lock:
            self.sock.sendall(frame(self.endpoint.codec.encode(message)))

    def wait_for(self, kind: type, timeout: float = 5.0) -> CallSignal:
        """The next message of `kind` (others are kept in `received`); H323Error on a Release
        Complete when another kind was awaited, or on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise H323Error(f"no {kind.__name__} within {timeout} s")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(message, kind):
                return message  # type: ignore[return-value]
            if isinstance(message, ReleaseComplete):
                raise H323Error(f"Release Complete (cause {message.cause}, {message.reason}) "
                                f"while waiting for {kind.__name__}")

    def connected(self, timeout: float = 5.0) -> None:
        """Wait for Connect and take its fastStart answer (where to send our RTP)."""
        connect = self.wait_for(Connect, timeout)
        assert isinstance(connect, Connect)
        if connect.fast_start:
            answer = read_fast_start_answer(self.endpoint.h245, connect.fast_start)
            if isinstance(answer, FastStartAccepted):
                self._set_media(answer)

    def media_ready(self, timeout: float = 5.0) -> FastStartAccepted:
        """Wait until media is agreed (fastStart, or H.245's MediaReady)."""
        if not self._media_set.wait(timeout) or self.media is None:
            raise H323Error(f"no media agreed within {timeout} s")
        return self.media

    def _set_media(self, media: FastStartAccepted) -> None:
        self.media = media
        self._media_set.set()

    def send_uii(self, digits: str, *, signal: bool = False) -> None:
        """Each digit as a tunnelled userInputIndication (alphanumeric, or signal with 100 ms)
        in an empty-body Facility (H.225.0 7.4.2)."""
        for digit in digits:
            pdu = self.endpoint.h245.encode(UserInputSignal(digit, 100) if signal
                                            else UserInputAlphanumeric(digit))
            if not self.tunnelling:  # on the separate H.245 connection
                if self.h245_sock is None:
                    raise H323Error("no H.245 connection to send userInputIndication on")
                with self._send_lock:
                    self.h245_sock.sendall(frame(pdu))
                continue
            self.send(Facility(self.call_reference, self.originator, self.call_identifier,
                               h245=H245Tunnel(True, (pdu,))))

    def ring(self) -> None:
        """Alerting for a call the gateway placed: the desk rings (and is left ringing)."""
        self.send(Alerting(self.call_reference, False, self.call_identifier,
                           h245=H245Tunnel(True, ())))

    def answer(self, *, ring: bool = True) -> FastStartAccepted:
        """Answer a call the gateway placed: Alerting, then Connect with our fastStart answer
        (`answer_fast_start` on its proposals, our RTP port); the media agreed."""
        assert self.setup is not None and not self.originator
        port = self.rtp.getsockname()[1]
        host = self.endpoint.host
        accepted = answer_fast_start(self.endpoint.h245, self.setup.fast_start,
                                     TransportAddress(host, port), TransportAddress(host, port + 1))
        if not isinstance(accepted, FastStartAccepted):
            raise H323Error(f"the gateway's fastStart proposals were refused: {accepted.reason}")
        if ring:
            self.ring()
        self.send(Connect(self.call_reference, False, self.call_identifier,
                          self.setup.conference_id, fast_start=accepted.elements,
                          h245=H245Tunnel(True, ())))
        self._set_media(accepted)
        return accepted

    def send_capabilities(self) -> None:
        """Our TerminalCapabilitySet, tunnelled in an empty-body Facility: G.711, user input
        and RFC 2833 telephone events on payload type 101 (the product's `our_capabilities`)."""
        port = self.rtp.getsockname()[1]
        host = self.endpoint.host
        tcs = our_capabilities(H245Settings(rtp=TransportAddress(host, port),
                                            rtcp=TransportAddress(host, port + 1)), 1)
        self.send(Facility(self.call_reference, self.originator, self.call_identifier,
                           h245=H245Tunnel(True, (self.endpoint.h245.encode(tcs),))))

    def send_rfc4733(self, digits: str, payload_type: int = 101) -> None:
        """Each digit as an RFC 4733 event train (100 ms, 50 ms apart) to the gateway's RTP."""
        if self.media is None:
            raise H323Error("no media: the call has no fastStart answer")
        sender = TelephoneEventSender(secrets.randbits(32), secrets.randbits(16), payload_type)
        target = (self.media.remote_rtp.host, self.media.remote_rtp.port)
        timestamp = secrets.randbits(32)
        for digit in digits:
            start = time.monotonic()
            for scheduled in sender.key_press(digit, timestamp, 100.0):
                delay = start + scheduled.send_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the event train, not synchronising a test
                self.rtp.sendto(scheduled.packet.build(), target)
            timestamp = (timestamp + 8 * 150) & 0xFFFFFFFF
            time.sleep(0.05)  # the gap between two key presses

    def send_keypad(self, digits: str) -> None:
        """Digits in a Keypad IE (Q.931 Information): overlap dialling or key presses."""
        self.send(Information(self.call_reference, self.originator, self.call_identifier, keypad=digits,
                              h245=H245Tunnel(self.tunnelling, ())))

    def release(self, cause: int = 16) -> None:
        if not self.closed:
            try:
                self.send(ReleaseComplete(self.call_reference, self.originator, self.call_identifier,
                                          cause=cause, h245=H245Tunnel(self.tunnelling, ())))
            except OSError:
                pass  # the gateway closed first
        self.close()

    def close(self) -> None:
        self.closed = True
        for s in (self.sock, self.rtp, self.h245_listener, self.h245_sock):
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=2.0)

    # -- media ---------------------------------------------------------------------------

    def heard(self) -> npt.NDArray[np.int16]:
        """Every sample received so far, decoded."""
        return np.concatenate(self.samples) if self.samples else np.zeros(0, dtype=np.int16)

    def send_audio(self, samples: npt.NDArray[np.int16], *, realtime: bool = True) -> None:
        """Send `samples` as 20 ms RTP packets to the address the Connect gave."""
        if self.media is None:
            raise H323Error("no media: the call has no fastStart answer")
        law = _LAWS[self.media.codec]
        pt = 0 if law is g711.Law.ULAW else 8
        ssrc, seq, ts = secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        target = (self.media.remote_rtp.host, self.media.remote_rtp.port)
        start = time.monotonic()
        for n in range(0, len(samples) - 159, 160):
            packet = RtpPacket(pt, (seq + n // 160) & 0xFFFF, (ts + n) & 0xFFFFFFFF, ssrc,
                               g711.encode(law, samples[n:n + 160]), marker=n == 0)
            self.rtp.sendto(packet.build(), target)
            if realtime:
                delay = start + (n // 160 + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the stream, not synchronising a test

    def _read_signalling(self) -> None:
        reader = TpktReader()
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for item in reader.feed(data):
                if isinstance(item, TpktError):
                    return
                message = self.endpoint.codec.decode(item)
                self.received.append(message)
                if not isinstance(message, CallSignalDecodeError) and message.h245.control:
                    self._h245_in(message.h245.control)
                self.messages.put(message)

    # -- H.245 without fastStart ------------------------------------------------------------

    def _h245_in(self, pdus: tuple[bytes, ...]) -> None:
        session = self.h245_session
        if session is None:
            return
        out: list[H245Action] = [] if self._h245_started else session.start(time.monotonic())
        self._h245_started = True
        for pdu in pdus:
            message = self.endpoint.h245.decode(pdu)
            self.h245_received.append(message)
            out.extend(session.receive(message, time.monotonic()))
        self._h245_out(out)

    def _h245_out(self, actions: list[H245Action]) -> None:
        pdus = []
        for action in actions:
            if isinstance(action, SendH245):
                pdus.append(self.endpoint.h245.encode(action.message))
            elif isinstance(action, MediaReady):
                self._set_media(FastStartAccepted(action.codec, action.remote_rtp,
                                                  action.remote_rtcp))
        if not pdus:
            return
        if self.tunnelling:
            self.send(Facility(self.call_reference, self.originator, self.call_identifier,
                               h245=H245Tunnel(True, tuple(pdus))))
        elif self.h245_sock is not None:
            with self._send_lock:
                for pdu in pdus:
                    self.h245_sock.sendall(frame(pdu))

    def _serve_h245(self) -> None:
        """Accept the gateway's H.245 connection and run the session on it."""
        assert self.h245_listener is not None
        self.h245_listener.settimeout(10.0)
        try:
            self.h245_sock, _ = self.h245_listener.accept()
        except OSError:
            return
        reader = TpktReader()
        while not self.closed:
            try:
                data = self.h245_sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for item in reader.feed(data):
                if isinstance(item, TpktError):
                    return
                self._h245_in((item,))

    def _read_rtp(self) -> None:
        self.rtp.settimeout(0.2)
        while not self.closed:
            try:
                data, addr = self.rtp.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                packet = RtpPacket.parse(data)
            except RtpError:
                continue
            self.rtp_from = (str(addr[0]), int(addr[1]))
            if packet.payload_type in (0, 8):
                law = g711.Law.ULAW if packet.payload_type == 0 else g711.Law.ALAW
                self.samples.append(np.asarray(g711.decode(law, packet.payload), dtype=np.int16))


class H323Endpoint:
    """An H.323 terminal on loopback (or `host`): registers with a gatekeeper, places calls."""

    def __init__(self, alias: str, password: str | None, *, ras: Address, call_signalling: Address,
                 host: str = "127.0.0.1") -> None:
        self.alias = alias
        self.password = password
        self.ras_target = ras
        self.cs_target = call_signalling
        self.host = host
        self.codec = CallSignalCodec()
        self.h245 = H245Codec()
        self.endpoint_identifier: str | None = None
        self._seq = 0
        self._calls: list[H323Call] = []
        self._listener: socket.socket | None = None
        self._incoming: queue.Queue[H323Call] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def listen(self) -> None:
        """Take calls: a call signalling listener (its port goes in the next RRQ); each Setup
        that arrives is an `H323Call` for `incoming`."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.host, 0))
        listener.listen(8)
        listener.settimeout(0.2)
        self._listener = listener
        thread = threading.Thread(target=self._accept, daemon=True)
        self._threads.append(thread)
        thread.start()

    def incoming(self, timeout: float = 10.0) -> H323Call:
        """The next call the gateway placed to us (its Setup read)."""
        try:
            return self._incoming.get(timeout=timeout)
        except queue.Empty:
            raise H323Error(f"no call offered within {timeout} s") from None

    def _accept(self) -> None:
        while self._listener is not None:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(5.0)
            reader = TpktReader()
            payloads: list[bytes | TpktError] = []
            try:
                while not payloads:
                    data = sock.recv(65536)
                    if not data:
                        break
                    payloads = reader.feed(data)
            except OSError:
                sock.close()
                continue
            setup = self.codec.decode(payloads[0]) if payloads and isinstance(payloads[0], bytes) \
                else None
            if not isinstance(setup, Setup):
                sock.close()
                continue
            sock.settimeout(None)
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind((self.host, 0))
            call = H323Call(self, sock, rtp, setup.call_reference, setup.call_identifier,
                            originator=False, setup=setup)
            for target in (call._read_signalling, call._read_rtp):
                thread = threading.Thread(target=target, daemon=True)
                call._threads.append(thread)
                thread.start()
            self._calls.append(call)
            self._incoming.put(call)

    def register(self, timeout: float = 5.0, *, ttl: int = 120) -> str:
        """RRQ with a CAT (H.235); the endpointIdentifier of the RCF. H323Error on RRJ."""
        self._seq += 1
        tokens = ((make_cat(self.alias, self.password, int(time.time()), secrets.randbelow(256)),)
                  if self.password is not None else ())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((self.host, 0))
            sock.settimeout(timeout)
            me = TransportAddress(self.host, sock.getsockname()[1])
            rrq = RegistrationRequest(
                seq=self._seq, call_signal_addresses=(TransportAddress(
                    self.host, self._listener.getsockname()[1] if self._listener else 1720),),
                ras_addresses=(me,), terminal_aliases=(Alias(AliasKind.DIALLED_DIGITS, self.alias),),
                vendor="acdgate-lab-h323 1.0", time_to_live=ttl, tokens=tokens)
            sock.sendto(RasCodec().encode(rrq), self.ras_target)
            data = sock.recvfrom(65535)[0]
        message = H225.H323_MESSAGES.RasMessage
        message.from_aper(data)
        name, value = message.get_val()
        if name != "registrationConfirm":
            raise H323Error(f"registration refused: {name} {value.get('rejectReason')}")
        self.endpoint_identifier = str(value["endpointIdentifier"])
        return self.endpoint_identifier

    def call(self, number: str, *, fast_start: bool = True, overlap: bool = False,
             called_number: bool = False, separate_h245: bool = False,
             timeout: float = 5.0) -> H323Call:
        """Connect and send a Setup for `number` (dialledDigits in destinationAddress, or the
        Called party number IE with `called_number`); the call's messages arrive in its queue.
        Without `fast_start`, H.245 negotiates the media: tunnelled, or with `separate_h245` on a
        connection the gateway opens to the h245Address the Setup gives (no tunnelling)."""
        sock = socket.create_connection(self.cs_target, timeout=timeout)
        sock.settimeout(None)
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((self.host, 0))
        port = rtp.getsockname()[1]
        call = H323Call(self, sock, rtp, secrets.randbelow(0x7FFF) + 1, secrets.token_bytes(16),
                        tunnelling=not separate_h245)
        ours = (TransportAddress(self.host, port), TransportAddress(self.host, port + 1))
        proposals = offer_fast_start(self.h245, *ours) if fast_start else ()
        h245_address = None
        if not fast_start:
            call.h245_session = H245Session(H245Settings(rtp=ours[0], rtcp=ours[1],
                                                         terminal_type=50),
                                            random_number=lambda: secrets.randbelow(1 << 24))
        if separate_h245:
            call.h245_listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            call.h245_listener.bind((self.host, 0))
            call.h245_listener.listen(1)
            h245_address = TransportAddress(self.host, call.h245_listener.getsockname()[1])
        me = Alias(AliasKind.DIALLED_DIGITS, self.alias)
        setup = Setup(
            call.call_reference, True, call.call_identifier, secrets.token_bytes(16),
            source_aliases=(me,),
            destination_aliases=() if called_number else (Alias(AliasKind.DIALLED_DIGITS, number),),
            calling_number=self.alias, called_number=number if called_number else None,
            display=f"lab {self.alias}", endpoint_identifier=self.endpoint_identifier,
            source_call_signal_address=TransportAddress(self.host, sock.getsockname()[1]),
            vendor="acdgate-lab-h323 1.0", fast_start=proposals, can_overlap_send=overlap,
            h245_address=h245_address, h245=H245Tunnel(not separate_h245, ()))
        targets = [call._read_signalling, call._read_rtp]
        if separate_h245:
            targets.append(call._serve_h245)
        for target in targets:
            thread = threading.Thread(target=target, daemon=True)
            call._threads.append(thread)
            thread.start()
        call.send(setup)
        self._calls.append(call)
        return call

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for thread in self._threads:
            thread.join(timeout=2.0)
        for call in self._calls:
            if not call.closed:
                call.close()


__all__ = ["H323Call", "H323Endpoint", "H323Error"]
