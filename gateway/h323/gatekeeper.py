"""The H.225.0 RAS gatekeeper, sans-IO: datagrams and time in, datagrams and events out.

Theory of operation: `receive(datagram, addr, now)` decodes one datagram (`ras_codec`) and
answers it: GRQ -> GCF (GRJ terminalExcluded when it names another gatekeeper); RRQ -> RCF
with an endpointIdentifier and a timeToLive, a lightweight keep-alive RRQ refreshes the
registration it names; URQ -> UCF; ARQ -> ACF, gatekeeper-routed (the call signalling address
is the gateway's own); DRQ -> DCF; BRQ -> BCF; IRR refreshes (IACK when asked); LRQ -> LRJ (we
never resolve aliases for other zones); anything else that decodes -> XRS. A datagram that does
not decode gets its request's reject (undefinedReason) when its first octets still name the
request and its requestSeqNum (`RasDecodeError.seq`), and is dropped otherwise (`Dropped`,
with the defect). Stations are found by their `h323_alias`
(any alias kind) or by their extension as dialledDigits. A station with a password must prove
it with an H.235 token (`h235`: CAT, cryptoEPPwdHash or H.235.1 procedure I, whose RCF we sign
back); a missing, wrong, stale or replayed token and an unknown alias all get the same RRJ
securityDenial, so the answer never tells which aliases exist. Each such failure is
counted per source host (`auth.throttle`, the site's `[sip]` thresholds, as for SIP digest): the
RRJ is then held back (`SendDatagram.delay`) and at last the source is blocked, everything from
it dropped until the block ends. Registrations expire
when their timeToLive passes: the edge arms one timer for `next_timer()` and calls
`handle_timer(now)`. `registrations()` / `restore()` export and reload them as frozen records.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from acdgate.acd.site import Site, Station
from acdgate.gateway.auth.throttle import AuthThrottle, ThrottleAction
from acdgate.gateway.h323.h235 import (
    TokenResult,
    TokenVerifier,
    find_cat,
    hashed_token,
    signature,
)
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import (
    Address,
    Dropped,
    RasAction,
    Refused,
    Registration,
    RegistrationAdded,
    RegistrationRefreshed,
    RegistrationRemoved,
    RemovalReason,
    SendDatagram,
)
from acdgate.gateway.h323.ras_messages import (
    AdmissionConfirm,
    AdmissionReject,
    AdmissionRejectReason,
    AdmissionRequest,
    Alias,
    AliasKind,
    BandRejectReason,
    BandwidthConfirm,
    BandwidthReject,
    BandwidthRequest,
    DisengageConfirm,
    DisengageReject,
    DisengageRejectReason,
    DisengageRequest,
    GatekeeperConfirm,
    GatekeeperReject,
    GatekeeperRejectReason,
    GatekeeperRequest,
    HashedToken,
    InfoRequest,
    InfoRequestAck,
    InfoRequestResponse,
    LocationReject,
    LocationRejectReason,
    LocationRequest,
    OtherRasMessage,
    PwdHashToken,
    RasAnswer,
    RasDecodeError,
    RegistrationConfirm,
    RegistrationReject,
    RegistrationRejectReason,
    RegistrationRequest,
    TransportAddress,
    UnknownMessageResponse,
    UnregistrationConfirm,
    UnregistrationReject,
    UnregistrationRequest,
    UnregRejectReason,
)


@dataclass(frozen=True, slots=True)
class GatekeeperSettings:
    """Who the gatekeeper is and where calls go."""

    ras_address: TransportAddress  # ours, given in GCF
    call_signal_address: TransportAddress  # ours, given in RCF and ACF (gatekeeper-routed)
    gatekeeper_identifier: str = "acdgate"
    time_to_live: int = 300  # granted when the RRQ asks none, and the most we grant
    min_time_to_live: int = 30  # the least we grant: a shorter ask is raised to this
    # clock skew allowed on a token's timestamp, every H.235 form (h235's docstring)
    token_grace_seconds: int = 600


@dataclass(frozen=True, slots=True)
class _Proven:
    """A request's credentials passed: with the procedure I token to sign the answer by, if
    that is what it used (H.235.1 9.1: the gatekeeper answers in kind)."""

    signed_by: HashedToken | None = None


# The largest datagram an XRS echoes back (messageNotUnderstood): no reflection of big junk.
_MAX_ECHO = 512


def _new_identifier() -> str:
    return secrets.token_hex(8)


class Gatekeeper:
    """The RAS engine of one gatekeeper (one RAS socket): see the module docstring."""

    def __init__(self, site: Site, settings: GatekeeperSettings,
                 new_identifier: Callable[[], str] = _new_identifier, *,
                 throttle: AuthThrottle | None = None) -> None:
        self._settings = settings
        self._throttle = throttle if throttle is not None else AuthThrottle.from_settings(site.sip)
        self._codec = RasCodec()
        self._new_identifier = new_identifier
        self._tokens = TokenVerifier(self._codec.encode_clear_token,
                                     grace_seconds=settings.token_grace_seconds)
        self._sign_random = 0
        self._by_alias: dict[str, Station] = {}
        self._by_digits: dict[str, Station] = {}
        for station in site.stations:
            if station.h323_alias:
                self._by_alias[station.h323_alias] = station
            self._by_digits[station.extension] = station
        self._stations = {s.extension: s for s in site.stations}
        self._registrations: dict[str, Registration] = {}  # by endpointIdentifier
        self._by_station: dict[str, str] = {}  # extension -> endpointIdentifier
        self._irq_seq = 0

    # ---------------------------------------------------------------------------- interface

    def receive(self, datagram: bytes, addr: Address, now: float) -> list[RasAction]:
        """Answer one RAS datagram from `addr`."""
        if self._throttle.blocked(addr[0], now):
            return [Dropped(addr, "source blocked after repeated authentication failures")]
        message = self._codec.decode(datagram)
        match message:
            case RasDecodeError():
                return self._malformed(message, datagram, addr)
            case GatekeeperRequest():
                return self._grq(message, addr)
            case RegistrationRequest():
                return self._rrq(message, datagram, addr, now)
            case UnregistrationRequest():
                return self._urq(message, addr)
            case AdmissionRequest():
                return self._arq(message, addr)
            case BandwidthRequest():
                return self._brq(message, addr)
            case DisengageRequest():
                return self._drq(message, addr)
            case LocationRequest():
                return [self._send(LocationReject(message.seq, LocationRejectReason.REQUEST_DENIED),
                                   addr)]
            case InfoRequestResponse():
                return self._irr(message, addr, now)
            case OtherRasMessage():
                if message.seq is None:
                    return [Dropped(addr, f"{message.name} without requestSeqNum")]
                return [self._send(UnknownMessageResponse(message.seq, datagram), addr)]

    def next_timer(self) -> float | None:
        """When `handle_timer` must next run: the earliest expiry, None with no registration."""
        return min((r.expires_at for r in self._registrations.values()), default=None)

    def handle_timer(self, now: float) -> list[RasAction]:
        """Remove the registrations whose timeToLive has passed."""
        expired = [r for r in self._registrations.values() if r.expires_at <= now]
        return [self._remove(r, RemovalReason.EXPIRED) for r in expired]

    @property
    def throttle(self) -> AuthThrottle:
        """The authentication failure throttle (its counters are in /metrics)."""
        return self._throttle

    def registrations(self) -> list[Registration]:
        """Every live registration, to store."""
        return list(self._registrations.values())

    def restore(self, records: Iterable[Registration], now: float) -> None:
        """Reload stored registrations (after a restart); expired ones and unknown stations
        are left out."""
        for r in records:
            if r.expires_at > now and r.extension in self._stations:
                self._add(r)

    def info_request(self, endpoint_identifier: str) -> list[RasAction]:
        """IRQ to a registered endpoint (its IRR refreshes the registration)."""
        registration = self._registrations.get(endpoint_identifier)
        if registration is None:
            return []
        self._irq_seq = self._irq_seq % 65535 + 1
        return [self._send(InfoRequest(self._irq_seq), registration.source)]

    # ------------------------------------------------------------------------------ requests

    def _malformed(self, m: RasDecodeError, datagram: bytes, addr: Address) -> list[RasAction]:
        """A request we cannot read but whose kind and requestSeqNum we can: its reject with
        undefinedReason where H.225.0 has that reason, XRS for a DRQ (DisengageRejectReason
        has none, and the message was not understood, 7.13) unless echoing it back would make
        a large answer; anything else is dropped."""
        if m.request is None or m.seq is None or not 1 <= m.seq <= 65535:
            return [Dropped(addr, m.defect)]
        gk = self._settings.gatekeeper_identifier
        answers: dict[str, tuple[str, RasAnswer]] = {
            "gatekeeperRequest": ("GRQ", GatekeeperReject(
                m.seq, gk, GatekeeperRejectReason.UNDEFINED_REASON)),
            "registrationRequest": ("RRQ", RegistrationReject(
                m.seq, RegistrationRejectReason.UNDEFINED_REASON, gk)),
            "unregistrationRequest": ("URQ", UnregistrationReject(
                m.seq, UnregRejectReason.UNDEFINED_REASON)),
            "admissionRequest": ("ARQ", AdmissionReject(
                m.seq, AdmissionRejectReason.UNDEFINED_REASON)),
            "bandwidthRequest": ("BRQ", BandwidthReject(m.seq, BandRejectReason.UNDEFINED_REASON)),
            "locationRequest": ("LRQ", LocationReject(m.seq, LocationRejectReason.UNDEFINED_REASON)),
        }
        if m.request == "disengageRequest" and len(datagram) <= _MAX_ECHO:
            answers["disengageRequest"] = ("DRQ", UnknownMessageResponse(m.seq, datagram))
        found = answers.get(m.request)
        if found is None:
            return [Dropped(addr, m.defect)]
        name, answer = found
        return [self._send(answer, addr), Refused(addr, name, f"malformed: {m.defect}")]

    def _grq(self, m: GatekeeperRequest, addr: Address) -> list[RasAction]:
        gk = self._settings.gatekeeper_identifier
        if m.gatekeeper_identifier is not None and m.gatekeeper_identifier != gk:
            return [self._send(GatekeeperReject(m.seq, gk, GatekeeperRejectReason.TERMINAL_EXCLUDED),
                               addr),
                    Refused(addr, "GRQ", f"gatekeeperIdentifier {m.gatekeeper_identifier!r}")]
        return [self._send(GatekeeperConfirm(m.seq, gk, self._settings.ras_address), addr)]

    def _rrq(self, m: RegistrationRequest, datagram: bytes, addr: Address,
             now: float) -> list[RasAction]:
        if m.keep_alive:
            return self._keep_alive(m, datagram, addr, now)
        if not m.call_signal_addresses:
            return self._rrj(m, addr, RegistrationRejectReason.INVALID_CALL_SIGNAL_ADDRESS,
                             "no IPv4 callSignalAddress")
        if not m.ras_addresses:
            return self._rrj(m, addr, RegistrationRejectReason.INVALID_RAS_ADDRESS,
                             "no IPv4 rasAddress")
        station, aliases = self._station_of(m.terminal_aliases)
        if station is None:
            unknown = m.terminal_aliases[0].value if m.terminal_aliases else None
            return self._auth_failure(m, addr, now, "no station has these aliases", unknown)
        previous = self._by_station.get(station.extension)
        # a station's account held after failures from elsewhere (gateway.auth.throttle): refused
        # unchecked, unless this is where it is registered from
        usual = previous is not None and self._registrations[previous].source[0] == addr[0]
        if self._throttle.holding(now) and self._throttle.account_held(station.extension, addr[0], now,
                                                                       usual=usual):
            return self._auth_failure(m, addr, now, "account held after failures elsewhere")
        proof = self._authenticate(station, m, datagram, now)
        if isinstance(proof, str):
            return self._auth_failure(m, addr, now, proof, station.extension)
        self._throttle.success(addr[0], station.extension, now)
        actions: list[RasAction] = []
        if previous is not None:
            actions.append(self._remove(self._registrations[previous], RemovalReason.REPLACED))
        ttl = self._time_to_live(m.time_to_live)
        registration = Registration(
            endpoint_identifier=self._new_identifier(), extension=station.extension,
            aliases=aliases, call_signal_address=m.call_signal_addresses[0],
            ras_address=m.ras_addresses[0], source=addr, time_to_live=ttl,
            expires_at=now + ttl, endpoint_type=m.endpoint_type, vendor=m.vendor)
        self._add(registration)
        actions.append(self._rcf(m.seq, registration, addr, station, proof, now))
        actions.append(RegistrationAdded(registration))
        return actions

    def _keep_alive(self, m: RegistrationRequest, datagram: bytes, addr: Address,
                    now: float) -> list[RasAction]:
        # H.225.0 7.9.2: a lightweight RRQ names its endpointIdentifier; one we do not know
        # (expired, or from before a restart) must register again in full.
        registration = self._registrations.get(m.endpoint_identifier or "")
        if registration is None or registration.source != addr:
            return self._rrj(m, addr, RegistrationRejectReason.FULL_REGISTRATION_REQUIRED,
                             "keep-alive for no registration of this source")
        # A keep-alive may carry no token (the registration is bound to its source address);
        # one that carries a token must pass it.
        station = self._stations[registration.extension]
        proof = (self._authenticate(station, m, datagram, now, registration.endpoint_identifier)
                 if m.tokens or m.crypto_tokens else _Proven())
        if isinstance(proof, str):
            return self._auth_failure(m, addr, now, f"keep-alive: {proof}", registration.extension)
        ttl = self._time_to_live(m.time_to_live or registration.time_to_live)
        refreshed = replace(registration, time_to_live=ttl, expires_at=now + ttl)
        self._registrations[refreshed.endpoint_identifier] = refreshed
        return [self._rcf(m.seq, refreshed, addr, station, proof, now),
                RegistrationRefreshed(refreshed)]

    def _urq(self, m: UnregistrationRequest, addr: Address) -> list[RasAction]:
        registration = self._registrations.get(m.endpoint_identifier or "")
        if registration is None:
            registration = next((r for r in self._registrations.values()
                                 if r.call_signal_address in m.call_signal_addresses), None)
        if registration is None:
            return [self._send(UnregistrationReject(
                m.seq, UnregRejectReason.NOT_CURRENTLY_REGISTERED), addr)]
        if registration.source != addr:
            return [self._send(UnregistrationReject(m.seq, UnregRejectReason.SECURITY_DENIAL), addr),
                    Refused(addr, "URQ", f"from {addr}, registered from {registration.source}")]
        return [self._send(UnregistrationConfirm(m.seq), addr),
                self._remove(registration, RemovalReason.UNREGISTERED)]

    def _arq(self, m: AdmissionRequest, addr: Address) -> list[RasAction]:
        if self._registered_from(m.endpoint_identifier, addr) is None:
            return [self._send(AdmissionReject(m.seq, AdmissionRejectReason.CALLER_NOT_REGISTERED),
                               addr),
                    Refused(addr, "ARQ", f"endpointIdentifier {m.endpoint_identifier!r}")]
        return [self._send(AdmissionConfirm(m.seq, m.bandwidth,
                                            self._settings.call_signal_address), addr)]

    def _brq(self, m: BandwidthRequest, addr: Address) -> list[RasAction]:
        if self._registered_from(m.endpoint_identifier, addr) is None:
            return [self._send(BandwidthReject(m.seq, BandRejectReason.NOT_BOUND), addr)]
        return [self._send(BandwidthConfirm(m.seq, m.bandwidth), addr)]

    def _drq(self, m: DisengageRequest, addr: Address) -> list[RasAction]:
        if self._registered_from(m.endpoint_identifier, addr) is None:
            return [self._send(DisengageReject(m.seq, DisengageRejectReason.NOT_REGISTERED), addr)]
        return [self._send(DisengageConfirm(m.seq), addr)]

    def _irr(self, m: InfoRequestResponse, addr: Address, now: float) -> list[RasAction]:
        registration = self._registered_from(m.endpoint_identifier, addr)
        if registration is None:
            return [Dropped(addr, f"IRR for no registration ({m.endpoint_identifier!r})")]
        refreshed = replace(registration, expires_at=now + registration.time_to_live)
        self._registrations[refreshed.endpoint_identifier] = refreshed
        actions: list[RasAction] = [RegistrationRefreshed(refreshed)]
        if m.need_response:
            actions.insert(0, self._send(InfoRequestAck(m.seq), addr))
        return actions

    # ------------------------------------------------------------------------------- helpers

    def _station_of(self, aliases: tuple[Alias, ...]) -> tuple[Station | None, tuple[Alias, ...]]:
        """The station the first known alias names, and the aliases that name it."""
        station: Station | None = None
        for alias in aliases:
            found = self._by_alias.get(alias.value)
            if found is None and alias.kind is AliasKind.DIALLED_DIGITS:
                found = self._by_digits.get(alias.value)
            if found is not None:
                station = found
                break
        if station is None:
            return None, ()
        return station, tuple(a for a in aliases if a.value in (station.h323_alias, station.extension))

    def _authenticate(self, station: Station, m: RegistrationRequest, datagram: bytes, now: float,
                      endpoint_identifier: str | None = None) -> _Proven | str:
        """Whether this RRQ proves the station's password: how, or why not (securityDenial).

        The strongest token present is the one checked: procedure I, then cryptoEPPwdHash,
        then the CAT; a station without a password needs none."""
        if not station.sip_password:
            return _Proven()
        names = (station.h323_alias, station.extension)
        key, password = station.extension, station.sip_password
        hashed = next((t for t in m.crypto_tokens if isinstance(t, HashedToken)), None)
        pwd_hash = next((t for t in m.crypto_tokens if isinstance(t, PwdHashToken)), None)
        cat = find_cat(m.tokens)
        where = f"station {station.extension}"
        if hashed is not None:
            vals = hashed.hashed_vals
            if vals.senders_id not in (*names, endpoint_identifier):
                return f"{where}: procedure I sendersID {vals.senders_id!r}"
            gk = self._settings.gatekeeper_identifier
            if vals.general_id is not None and vals.general_id != gk:
                return f"{where}: procedure I generalID {vals.general_id!r}"
            result = self._tokens.check_hashed(hashed, password, datagram, key, now)
            what = "procedure I"
        elif pwd_hash is not None:
            if pwd_hash.alias.value not in names:
                return f"{where}: cryptoEPPwdHash alias {pwd_hash.alias.value!r}"
            result = self._tokens.check_pwd_hash(pwd_hash, password, key, now)
            what = "cryptoEPPwdHash"
        elif cat is not None:
            if cat.general_id not in names:
                return f"{where}: CAT generalID {cat.general_id!r}"
            result = self._tokens.check_cat(cat, password, key, now)
            what = "CAT"
        else:
            return f"{where}: no token"
        if result is not TokenResult.OK:
            return f"{where}: {what} {result.value}"
        return _Proven(signed_by=hashed)

    def _registered_from(self, endpoint_identifier: str, addr: Address) -> Registration | None:
        registration = self._registrations.get(endpoint_identifier)
        return registration if registration is not None and registration.source == addr else None

    def _time_to_live(self, asked: int | None) -> int:
        s = self._settings
        return s.time_to_live if asked is None else max(s.min_time_to_live,
                                                         min(asked, s.time_to_live))

    def _add(self, registration: Registration) -> None:
        self._registrations[registration.endpoint_identifier] = registration
        self._by_station[registration.extension] = registration.endpoint_identifier

    def _remove(self, registration: Registration, reason: RemovalReason) -> RegistrationRemoved:
        del self._registrations[registration.endpoint_identifier]
        if self._by_station.get(registration.extension) == registration.endpoint_identifier:
            del self._by_station[registration.extension]
        return RegistrationRemoved(registration, reason)

    def _rcf(self, seq: int, r: Registration, addr: Address, station: Station, proof: _Proven,
             now: float) -> SendDatagram:
        gk = self._settings.gatekeeper_identifier
        answer = RegistrationConfirm(seq, self._settings.call_signal_address, r.aliases, gk,
                                     r.endpoint_identifier, r.time_to_live)
        if proof.signed_by is None:
            return self._send(answer, addr)
        # H.235.1 9.1, 14: signed back by procedure I, from us (sendersID) to the endpoint
        # (generalID: the name it sent as), in the version of OIDs it used.
        self._sign_random = self._sign_random % 0xFFFFFFFF + 1
        token = hashed_token(senders_id=gk, general_id=proof.signed_by.hashed_vals.senders_id,
                             timestamp=int(now), random=self._sign_random,
                             version=proof.signed_by.token_oid[5])

        def signed(digest: bytes) -> RegistrationConfirm:
            return replace(answer, crypto_tokens=(replace(token, hash=digest),))
        digest = signature(lambda d: self._codec.encode(signed(d)), station.sip_password)
        return self._send(signed(digest), addr)

    def _rrj(self, m: RegistrationRequest, addr: Address, reason: RegistrationRejectReason,
             why: str) -> list[RasAction]:
        answer = RegistrationReject(m.seq, reason, self._settings.gatekeeper_identifier)
        return [self._send(answer, addr), Refused(addr, "RRQ", why)]

    def _auth_failure(self, m: RegistrationRequest, addr: Address, now: float,
                      why: str, account: str | None = None) -> list[RasAction]:
        """RRJ securityDenial for a failed authentication: now, held back, or (the source now
        blocked) not at all, as the throttle says; counted on `account` (the station, or the
        unknown alias tried) too."""
        verdict = self._throttle.failure(addr[0], now, account)
        if verdict.action is ThrottleAction.BLOCK:
            return [Dropped(addr, f"RRQ refused ({why}); source blocked after "
                                  f"{verdict.failures} authentication failures")]
        answer = RegistrationReject(m.seq, RegistrationRejectReason.SECURITY_DENIAL,
                                    self._settings.gatekeeper_identifier)
        return [replace(self._send(answer, addr), delay=verdict.delay),
                Refused(addr, "RRQ", f"{why} (failure {verdict.failures} from this source)")]

    def _send(self, answer: RasAnswer, addr: Address) -> SendDatagram:
        return SendDatagram(self._codec.encode(answer), addr, answer)
