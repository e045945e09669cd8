"""The running gateway: site, state store, ACD, registrar, SIP stack, H.323 gatekeeper and HTTP
API, wired together.

`Gateway` assembles the parts and serves the API views; `run_from_args` is `acdgate run`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from acdgate.acd.engine import Acd
from acdgate.acd.live_board import BOARD_KINDS, LiveBoard
from acdgate.acd.reports.intervals import day_start
from acdgate.acd.site import Site
from acdgate.acd.states import AgentState
from acdgate.gateway import build
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.short_code_calls import FeatureHandler
from acdgate.gateway.calls.context import CallContext
from acdgate.gateway.calls.direct import CallController
from acdgate.gateway.calls.dispatcher import CallDispatcher
from acdgate.gateway.calls.feature_lamps import FeatureLamps
from acdgate.gateway.calls.h323_entry import H323Entry
from acdgate.gateway.calls.routed import RoutedCalls
from acdgate.gateway.calls.supervision import Supervision
from acdgate.gateway.h323.cs_protocol import CallSignallingFactory
from acdgate.gateway.h323.gatekeeper import Gatekeeper, GatekeeperSettings
from acdgate.gateway.h323.ras_events import Registration
from acdgate.gateway.h323.ras_messages import TransportAddress
from acdgate.gateway.h323.ras_protocol import RasProtocol
from acdgate.gateway.h323.trace import H323Trace
from acdgate.gateway.i18n.catalogs import rejection_text, translations
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.prompt_audio import load_prompt_audio
from acdgate.gateway.media.recordings import RecordingArchive
from acdgate.gateway.presence.dialog_info import DialogStates
from acdgate.gateway.presence.feature_sync import FeatureSync
from acdgate.gateway.sip.digest import Algorithm
from acdgate.gateway.sip.qualify import ProbeState
from acdgate.gateway.sip.registrar import Binding, Registrar, credentials_from_site
from acdgate.gateway.sip.service import SipService
from acdgate.gateway.sip.stack import SipStack, StreamLimits
from acdgate.gateway.sip.trace import SipTrace
from acdgate.gateway.sip.transaction import TimerSettings
from acdgate.gateway.sip.transaction_layer import TransactionLayer
from acdgate.gateway.storage.contract import Store
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.gateway.web.agent_actions import AgentActions
from acdgate.gateway.web.call_data_api import CallDataResource
from acdgate.gateway.web.event_stream import EventStream, LiveFeed
from acdgate.gateway.web.health import Health, HealthResource, package_version
from acdgate.gateway.web.http_api import LiveChildren, make_site
from acdgate.gateway.web.metrics import (
    CallCounters,
    GroupSample,
    MetricsResource,
    MetricsSample,
    auth_sample,
    make_registry,
)
from acdgate.gateway.web.openapi import OpenApiResource
from acdgate.gateway.web.phone_xml import (
    PhoneAgentService,
    make_phone_resource,
    registered_hosts,
    station_by_registration,
)
from acdgate.gateway.web.report_api import Reports
from acdgate.gateway.web.screen_push import ScreenPush
from acdgate.gateway.web.wallboard_page import WallboardPage
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.web import server

log = Logger(namespace="acdgate")

READY_PREFIX = "acdgate ready "
_REACHABLE = (ProbeState.IDLE_UP, ProbeState.PROBING_UP)


class Gateway:
    """Everything `acdgate run` serves, for one site and one state directory."""

    def __init__(self, reactor: Any, site: Site, store: Store, *, trace: SipTrace | None = None) -> None:
        self.reactor = reactor
        self.site = site
        self.store = store
        self.trace = trace
        now = reactor.seconds()
        self.acd_service = AcdService(reactor, site, store)
        self.registrar = Registrar(
            site.sip,
            credentials_from_site(site),
            secrets.token_bytes(32),
            algorithms=[Algorithm(name) for name in site.sip.digest_algorithms],
        )
        self.registrar.restore([Binding.from_row(b) for b in store.load_bindings(now)], now)
        self.sip_service = SipService(reactor, self.registrar, store, qualify_seconds=site.sip.qualify_seconds)
        timers = TimerSettings(t1=site.sip.timer_t1_ms / 1000, t2=site.sip.timer_t2_ms / 1000,
                               t4=site.sip.timer_t4_ms / 1000)
        limits = StreamLimits(site.sip.tcp_idle_seconds, site.sip.tcp_max_connections,
                              site.sip.tcp_max_connections_per_source)
        self.stack = SipStack(reactor, self.sip_service, trace=trace, layer=TransactionLayer(timers), limits=limits)
        self.sip_service.attach(self.stack)
        # -- recording and supervisor intervention (issue 6) --
        self.recordings = RecordingArchive(store.state_dir / "recordings")
        self.supervision = Supervision(reactor, site, self.acd_service, recordings=self.recordings)
        # -- end of recording and supervisor intervention --
        # -- phone XML services (IP Phone Agent screens on /xml/), issue 5 --
        self.phone_agent = PhoneAgentService(self.acd_service, recording_flags=self.supervision.notices,
                                             recording_control=self.supervision.agent_recording)
        # -- end of phone XML services --
        # -- feature keys (as-feature-event) and busy lamp fields (dialog), issue 5 --
        self.dialog_states = DialogStates()  # the call layer feeds the stations' call states here
        self.feature_sync = FeatureSync(reactor, self.sip_service, self.acd_service, site, store,
                                        self.dialog_states)
        # -- end of feature keys --
        self.sip_port = 0
        self.calls: CallDispatcher | None = None
        self.screen_push: ScreenPush | None = None  # made by listen when the site pushes to phones
        self.tls_port: int | None = None
        self.http_port: IListeningPort | None = None
        self.http_site: server.Site | None = None  # what http_port serves
        # -- the H.323 RAS gatekeeper (issue 15), when listen_h323 runs --
        self.gatekeeper: Gatekeeper | None = None
        self.ras_port: IListeningPort | None = None
        self.h323_port: int | None = None  # call signalling (TCP): given out in RCF/ACF
        self.h323_listener: IListeningPort | None = None
        self.h323_calls: CallSignallingFactory | None = None
        self.h323_trace: H323Trace | None = None  # --h323-trace
        # -- /metrics and /api/health (issue 17) --
        self.started_at = now
        self.stopping = False
        self.rtp_ports: RtpPortPool | None = None  # made by listen
        self.call_counters = CallCounters(g.number for g in site.groups)
        self.acd_service.listeners.append(self.call_counters)
        self.metrics = make_registry(self, self.call_counters)
        # -- end of /metrics and /api/health --
        self.live_feed: LiveFeed | None = None  # the wallboard's event stream, with the HTTP API

    def listen(self, bind: str, sip_port: int, http_port: int | None, *,
               tls_port: int | None = None, tls_context: Any = None) -> None:
        """Open the SIP listeners (TLS too with a port and a context) and the HTTP API."""
        if tls_context is not None and tls_port is not None:
            self.tls_port = tls_port or _free_tcp_port(bind)
        self.sip_port = self.stack.listen(bind, sip_port, tls_port=self.tls_port, tls_context=tls_context)
        # -- calls: short-code features on SIP legs with RTP media, issue 5 --
        prompts = load_prompt_audio(self.site)  # ConfigError (bad WAV): the gateway does not start
        self.features = FeatureHandler(self.reactor, self.site, self.acd_service,
                                       reason_prompt=prompts.reason, wrapup_prompt=prompts.wrapup,
                                       translate=lambda language, rejected: rejection_text(
                                           translations(language), rejected))
        self.feature_lamps = FeatureLamps(self.features, self.dialog_states)  # *37 lights the BLF
        ports = self.rtp_ports = RtpPortPool(self.site.sip.rtp_port_min, self.site.sip.rtp_port_max)
        context = CallContext(self.reactor, self.site, self.acd_service, self.registrar, self.stack,
                              ports, bind, dialog_states=self.dialog_states)
        self.direct_calls = CallController(context)
        self.routed_calls = RoutedCalls(context)
        self.calls = CallDispatcher(self.reactor, self.site, self.sip_service, self.stack, self.features,
                                    ports, bind, context.legs, calls=self.direct_calls, routed=self.routed_calls)
        # -- end of calls --
        # -- caller data (issue 16): the Caller Data screen reads the routed calls' data --
        self.phone_agent.call_data = self.routed_calls.data_of
        # -- end of caller data --
        # -- recording and supervisor intervention (issue 6) --
        self.supervision.attach(self.routed_calls, context.legs)
        self.features.call_features = self.supervision
        # -- end of recording and supervisor intervention --
        if http_port is not None:
            # issue 19: a screen, or a supervisor action without the token, acts for a station only
            # from where the station is registered (a screen also with the station's sid)
            hosts = registered_hosts(self.site, self.registrar, self.reactor, self._h323_hosts)
            self.supervision.station_hosts = hosts
            phones = make_phone_resource(
                self.phone_agent, station_lookup=station_by_registration(self.site, self.registrar, self.reactor),
                station_hosts=hosts,
            )
            token = self.site.http.token
            # -- archived reports (issue 17): read on a worker thread, a connection of its own --
            journal_at = self.store.location  # the SQLite file or the PostgreSQL URL
            reports = Reports(self.reactor, self.site,
                              lambda end, kinds: read_journal(journal_at, end=end, kinds=kinds))
            # -- end of archived reports --
            # -- real time (issue 17): /wallboard, /api/events, agent-state actions --
            self.live_feed, live = _live(self.reactor, self.site, self.acd_service, journal_at)
            # -- end of real time --
            self.http_site = make_site(
                self, extra_children={b"xml": phones, b"metrics": MetricsResource(self.metrics)},
                calls=self.supervision, token=token, reports=reports, live=live,
                max_body_bytes=self.site.http.max_body_bytes, max_json_depth=self.site.http.max_json_depth,
                api_children={b"health": HealthResource(self), b"openapi.json": OpenApiResource(),
                              # -- caller data (issue 16): /api/calls/<id>/data --
                              b"calls": CallDataResource(self.routed_calls)})
            self.http_port = self.reactor.listenTCP(http_port, self.http_site, interface=bind)
            # -- screen push (issue 16): Caller Data on an offer, "No User" on a logoff --
            if self.site.caller_data.push:
                served: Any = self.http_port.getHost()
                self.screen_push = ScreenPush(self.reactor, self.site,
                                              f"http://{_advertised_host(bind)}:{int(served.port)}")
                self.acd_service.listeners.append(self.screen_push.on_events)
                self.feature_sync.owed_listeners.append(self.screen_push.owed)  # keys refused: Wrap-up Data
            # -- end of screen push --
            if token is None:
                address: Any = self.http_port.getHost()
                log.warn("the HTTP control API on {bind}:{port} is open: anyone who reaches it can run "
                         "supervisor actions (POST /api/agents/...); set [http] token in the site file "
                         "(docs/site-file.md)", bind=bind, port=int(address.port))

    def _h323_hosts(self) -> list[tuple[str, frozenset[str]]]:
        """(station, hosts) of each live H.323 registration: its RRQ's source, its RAS and call
        signalling addresses (phone_xml.registered_hosts)."""
        if self.gatekeeper is None:
            return []
        now = self.reactor.seconds()
        return [(r.extension, frozenset({r.source[0], r.ras_address.host, r.call_signal_address.host}))
                for r in self.gatekeeper.registrations() if r.expires_at > now]

    def listen_h323(self, bind: str, ras_port: int, call_port: int, *,
                    trace: H323Trace | None = None) -> None:
        """Serve the H.323 RAS gatekeeper on UDP `ras_port` (0: a free one) with the stored
        registrations restored, and H.225.0 call signalling on TCP `call_port` (0: a free one;
        the port the gatekeeper gives endpoints) once `listen` made the call dispatcher; every
        RAS datagram and call signalling segment goes to `trace`."""
        self.h323_trace = trace
        host = _advertised_host(bind)
        ras_port = ras_port or _free_udp_port(bind)
        if self.calls is not None and self.rtp_ports is not None:
            entry = H323Entry(self.reactor, self._h323_registrations, self.calls, self.rtp_ports, bind)
            self.h323_calls = entry.factory = CallSignallingFactory(self.reactor, entry, trace=trace)
            self.routed_calls.ring_h323 = entry.ring  # H.323 agents answer routed calls
            self.direct_calls.ring_h323 = entry.ring  # and direct calls ring H.323 desks
            self.h323_listener = self.reactor.listenTCP(call_port, self.h323_calls, interface=bind)
            address: Any = self.h323_listener.getHost()
            self.h323_port = int(address.port)
        else:
            self.h323_port = call_port or _free_tcp_port(bind)
        now = self.reactor.seconds()
        self.gatekeeper = Gatekeeper(self.site, GatekeeperSettings(
            ras_address=TransportAddress(host, ras_port),
            call_signal_address=TransportAddress(host, self.h323_port)))
        stored = self.store.load_h323_registrations()
        self.gatekeeper.restore([Registration.from_row(row) for row in stored], now)
        kept = {r.endpoint_identifier for r in self.gatekeeper.registrations()}
        gone = [str(row[0]) for row in stored if row[0] not in kept]
        if gone:  # expired while the gateway was down, or their station left the site file
            self.store.save_h323_registrations([], gone)
        ras = RasProtocol(self.gatekeeper, self.reactor, store=self.store, trace=trace)
        self.ras_port = self.reactor.listenUDP(ras_port, ras, interface=bind)
        ras.reschedule()

    def _h323_registrations(self) -> list[Registration]:
        return self.gatekeeper.registrations() if self.gatekeeper is not None else []

    def ready_info(self, bind: str) -> dict[str, Any]:
        """What the ready line tells tests and tools: where each service listens."""
        host = "127.0.0.1" if bind in ("0.0.0.0", "") else ("::1" if bind == "::" else bind)
        info: dict[str, Any] = {
            "site": self.site.name,
            "sip": {"host": host, "port": self.sip_port, "transports": ["udp", "tcp"]},
            "state_dir": str(self.store.state_dir),
            "store": self.store.display_name,  # the SQLite file, or the URL with its password masked
            "pid": os.getpid(),
            "build": build.describe(),
        }
        if self.http_port is not None:
            address: Any = self.http_port.getHost()
            info["http"] = {"host": host, "port": int(address.port)}
        if self.tls_port is not None:
            info["tls"] = {"host": host, "port": self.tls_port}
        if self.ras_port is not None:
            ras: Any = self.ras_port.getHost()
            # "port" is the call signalling port (TCP)
            serves = ["ras", "call-signalling"] if self.h323_listener is not None else ["ras"]
            info["h323"] = {"host": host, "port": self.h323_port, "serves": serves,
                            "ras": {"host": host, "port": int(ras.port)}}
        return info

    @property
    def acd(self) -> Acd:
        """The ACD engine (read-only use: commands go through `acd_service.execute`)."""
        return self.acd_service.acd

    def stop(self) -> Any:
        """Stop timers and listeners; close the trace and the store."""
        self.stopping = True  # /api/health answers 503 from now on
        if self.calls is not None:
            self.calls.stop()
        self.acd_service.stop()
        if self.live_feed is not None:
            self.live_feed.close()
        self.feature_sync.stop()
        self.supervision.stop()
        self.sip_service.stop()
        d = self.stack.stop()
        if self.http_port is not None:
            d.addCallback(lambda _: self.http_port.stopListening() if self.http_port else None)
        if self.ras_port is not None:
            d.addCallback(lambda _: self.ras_port.stopListening() if self.ras_port else None)
        if self.h323_listener is not None:  # the H.323 legs were released by calls.stop()
            d.addCallback(lambda _: self.h323_listener.stopListening() if self.h323_listener else None)
            if self.h323_calls is not None:
                d.addCallback(lambda _: self.h323_calls.close_all() if self.h323_calls else None)

        def close(_: object) -> None:
            if self.trace is not None:
                self.trace.close()
            if self.h323_trace is not None:
                self.h323_trace.close()
            self.store.close()

        d.addBoth(close)
        return d

    # -- API views -----------------------------------------------------------------------

    def stations_view(self) -> list[dict[str, Any]]:
        """Each station: registered SIP contacts and H.323 endpoints, reachability (SIP
        qualify), and who is logged on there."""
        now = self.reactor.seconds()
        h323: dict[str, list[dict[str, Any]]] = {}
        for r in self.gatekeeper.registrations() if self.gatekeeper is not None else ():
            h323.setdefault(r.extension, []).append(_h323_row(r, now))
        rows = []
        for station in self.site.stations:
            agent = self.acd.agent_at_station(station.extension)
            contacts = []
            for b in self.registrar.bindings(station.sip_username, now):
                contacts.append({
                    "contact": b.contact,
                    "transport": b.transport,
                    "source": f"{b.source[0]}:{b.source[1]}",
                    "user_agent": b.user_agent,
                    "expires": b.remaining(now),
                    "reachable": self.sip_service.qualifier.state(b.key()) in _REACHABLE,
                })
            rows.append({
                "extension": station.extension,
                "label": station.label,
                "sip_username": station.sip_username,
                "registered": bool(contacts) or station.extension in h323,
                "reachable": any(c["reachable"] for c in contacts),
                "contacts": contacts,
                "h323_alias": station.h323_alias,
                "h323": h323.get(station.extension, []),
                "user": agent.user_id if agent is not None else None,
                "display": _display_for(self.site, agent.user_id) if agent is not None else "No User",
            })
        return rows

    def agents_view(self) -> list[dict[str, Any]]:
        """Each logged-on agent: station, state, reason code and since when."""
        rows = []
        for a in self.acd.agents():
            rows.append({
                "user": a.user_id,
                "name": _display_for(self.site, a.user_id),
                "station": a.station,
                "state": a.state.name,
                "reason_code": a.reason_code,
                "pending_state": a.pending_state.name if a.pending_state is not None else None,
                "wrapup_code": a.wrapup_code,
                "wrapup_owed": a.wrapup_owed is not None,  # asked for by the next short code
                "since": a.since,
                "calls_handled": a.calls_handled,
            })
        return rows

    def groups_view(self) -> list[dict[str, Any]]:
        """Each group: mode, members, CIQ and LQT."""
        now = self.reactor.seconds()
        rows = []
        for g in self.site.groups:
            stats = self.acd.group_stats(g.number, now)
            rows.append({
                "number": g.number,
                "name": g.name,
                "mode": g.mode.value,
                "members": list(g.members),
                "monitored": g.monitored,
                "ciq": stats.ciq,
                "lqt": stats.lqt_seconds,
                "agents": {k.name: v for k, v in stats.agents.items()},
            })
        return rows


    # -- /metrics and /api/health (issue 17) --------------------------------------------

    def metrics_sample(self) -> MetricsSample:
        """The live figures `/metrics` exposes (gateway.web.metrics)."""
        now = self.reactor.seconds()
        registrations = {("sip", "udp"): 0, ("sip", "tcp"): 0, ("sip", "tls"): 0}
        for b in self.registrar.all_bindings(now):
            key = ("sip", b.transport.lower())
            registrations[key] = registrations.get(key, 0) + 1
        if self.gatekeeper is not None:
            registrations[("h323", "ras")] = len(self.gatekeeper.registrations())
        agents: dict[AgentState, int] = {}
        for a in self.acd.agents():
            agents[a.state] = agents.get(a.state, 0) + 1
        groups = []
        for g in self.site.groups:
            stats = self.acd.group_stats(g.number, now)
            groups.append(GroupSample(g.number, stats.ciq, float(stats.lqt_seconds)))
        auth = [auth_sample("sip", self.registrar.throttle, now)]
        if self.gatekeeper is not None:
            auth.append(auth_sample("h323", self.gatekeeper.throttle, now))
        counts = self.stack.counts
        ports = self.rtp_ports
        return MetricsSample(
            registrations=registrations, agents=agents, groups=groups,
            sip_requests_in=dict(counts.requests_in), sip_requests_out=counts.sent_requests(),
            sip_responses_in=dict(counts.responses_in), sip_responses_out=counts.sent_responses(),
            auth=auth, rtp_streams=ports.streams if ports is not None else 0,
            rtp_packets_relayed=ports.packets_forwarded() if ports is not None else 0,
            uptime=now - self.started_at,
            sip_connections_open=self.stack.open_streams,
            sip_connections_refused=self.stack.refused_streams.total,
            sip_connections_idle_closed=self.stack.idle_closed,
        )

    def health(self) -> Health:
        """What `/api/health` tells a load balancer (gateway.web.health)."""
        problem = self.store.write_check()
        return Health(
            version=package_version(), uptime=self.reactor.seconds() - self.started_at,
            store_writable=problem is None, store_error=problem,
            sip_listening=self.sip_port != 0 and not self.stopping,
            h323_listening=self.ras_port is not None and not self.stopping,
            stopping=self.stopping,
        )


# -- real time (issue 17) --
def _live(reactor: Any, site: Site, service: AcdService, journal_at: str) -> tuple[LiveFeed, LiveChildren]:
    """The live board (today's figures so far read from the journal once, at start-up), fed by
    every commit of the ACD service before any other listener sees it; the page, the stream
    and the agent-state actions on it."""
    now = reactor.seconds()
    today = day_start(now)
    history = (r for r in read_journal(journal_at, end=now, kinds=BOARD_KINDS) if float(r["at"]) >= today)
    feed = LiveFeed(reactor, LiveBoard(site, service.acd, now, history))
    service.listeners.insert(0, feed.publish)
    by = (site.http.token_holder or "api") if site.http.token is not None else "api"
    return feed, LiveChildren(WallboardPage(site), EventStream(feed), AgentActions(service, by))
# -- end of real time --


def _h323_row(r: Registration, now: float) -> dict[str, Any]:
    """One H.323 registration as `/api/stations` shows it."""
    return {
        "endpoint_identifier": r.endpoint_identifier,
        "aliases": [{"kind": a.kind.value, "value": a.value} for a in r.aliases],
        "call_signal_address": f"{r.call_signal_address.host}:{r.call_signal_address.port}",
        "ras_address": f"{r.ras_address.host}:{r.ras_address.port}",
        "source": f"{r.source[0]}:{r.source[1]}",
        "endpoint_type": r.endpoint_type,
        "vendor": r.vendor,
        "expires": max(0, round(r.expires_at - now)),
    }


def _display_for(site: Site, user_id: str) -> str:
    user = site.user(user_id)
    return user.name if user is not None else user_id


# -- SIP over TLS (RFC 3261 26.2.1) --------------------------------------------------------

def tls_context_for(site: Site) -> Any:
    """A server TLS context from the site's `tls_certificate` (PEM, leaf first, then any
    chain) and `tls_key` (PEM, unencrypted); relative paths are from the site file's folder.

    Raises ConfigError naming the site file, the key and the PEM file at fault.
    """
    from acdgate.acd.config import ConfigError
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from OpenSSL import SSL, crypto
    from twisted.internet import ssl

    base = Path(site.source).parent if Path(site.source).is_file() else Path.cwd()

    def read(key: str, name: str | None) -> tuple[Path, bytes]:
        if not name:
            raise ConfigError(site.source, f"sip.{key}", "required for SIP over TLS")
        path = base / name
        try:
            return path, path.read_bytes()
        except OSError as exc:
            raise ConfigError(site.source, f"sip.{key}", f"cannot read {path}: {exc.strerror}") from None

    cert_path, cert_pem = read("tls_certificate", site.sip.tls_certificate)
    key_path, key_pem = read("tls_key", site.sip.tls_key)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ConfigError(site.source, "sip.tls_certificate", f"{cert_path}: no PEM certificate in it") from None
    try:
        private_key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(site.source, "sip.tls_key",
                          f"{key_path}: not an unencrypted PEM private key ({exc})") from None
    options = ssl.CertificateOptions(
        privateKey=crypto.PKey.from_cryptography_key(private_key),  # type: ignore[arg-type]
        certificate=crypto.X509.from_cryptography(chain[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in chain[1:]],
    )
    try:
        options.getContext()  # OpenSSL checks here that the key belongs to the certificate
    except SSL.Error as exc:
        raise ConfigError(site.source, "sip.tls_key",
                          f"{key_path} does not match the certificate {cert_path} ({exc})") from None
    return options


def _free_tcp_port(bind: str) -> int:
    """A TCP port free on `bind` now (for `--sip-tls-port 0`: the stack reports no TLS port)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((bind, 0))
        return int(s.getsockname()[1])


def _free_udp_port(bind: str) -> int:
    """A UDP port free on `bind` now (`--h323-ras-port 0`: the gatekeeper's GCF names its port)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((bind, 0))
        return int(s.getsockname()[1])


def _advertised_host(bind: str) -> str:
    """The IPv4 address the gatekeeper gives endpoints: `bind`, or with a wildcard bind the
    address of the default route (a UDP connect only looks the route up), else loopback."""
    if bind not in ("0.0.0.0", "", "::"):
        return bind
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): never sent to
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def run_from_args(args: argparse.Namespace) -> int:
    """`acdgate run`: load the site, open the store, listen, and serve until SIGTERM/SIGINT."""
    from acdgate.acd.config import ConfigError
    from acdgate.gateway.site_loader import load_site, site_summary
    from acdgate.gateway.storage.contract import StoreError
    from acdgate.gateway.storage.location import choose_url, open_store
    from twisted.internet import reactor as _reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    reactor: Any = _reactor
    try:
        site = load_site(args.config)
    except ConfigError as exc:
        print(f"acdgate: refusing the site file:\n{exc}", file=sys.stderr)
        return 2
    _start_logging(args.log_level, globalLogBeginner, textFileLogObserver)
    print(site_summary(site), flush=True)
    # -- the state store (issue 18): --store, else [store] url, else SQLite in --state-dir --
    try:
        store = open_store(choose_url(getattr(args, "store", None), site.store.url), Path(args.state_dir))
    except StoreError as exc:  # the message names the store (password masked) and the reason
        print(f"acdgate: cannot use the state store {exc}", file=sys.stderr)
        return 2
    # -- end of the state store --
    tls_port = getattr(args, "sip_tls_port", None)
    tls_port = tls_port if tls_port is not None else site.sip.tls_port
    tls_context = None
    if tls_port is not None:
        try:
            tls_context = tls_context_for(site)
        except ConfigError as exc:
            print(f"acdgate: cannot serve SIP over TLS:\n{exc}", file=sys.stderr)
            store.close()
            return 2
    trace = SipTrace(args.sip_trace) if args.sip_trace else None
    gateway = Gateway(reactor, site, store, trace=trace)
    bind = args.bind or site.sip.bind
    sip_port = args.sip_port if args.sip_port is not None else site.sip.port
    try:
        gateway.listen(bind, sip_port, None if args.no_http else args.http_port,
                       tls_port=tls_port, tls_context=tls_context)
    except ConfigError as exc:  # the site's hold music file (policy.music_on_hold) is unusable
        print(f"acdgate: refusing the site file:\n{exc}", file=sys.stderr)
        store.close()
        return 2
    except (CannotListenError, OSError) as exc:  # a port in use, an address not ours: say which and stop
        print(f"acdgate: cannot listen on {bind}:{sip_port}: {exc}", file=sys.stderr)
        store.close()
        return 2
    if not args.no_h323:
        try:
            h323_trace = H323Trace(args.h323_trace) if args.h323_trace else None
            gateway.listen_h323(bind, args.h323_ras_port, args.h323_port, trace=h323_trace)
        except (CannotListenError, OSError) as exc:
            print(f"acdgate: cannot serve H.323 on {bind} (RAS {args.h323_ras_port}, call signalling "
                  f"{args.h323_port}): {exc} (--h323-ras-port, --h323-port, or --no-h323)",
                  file=sys.stderr)
            store.close()
            return 2
    log.info("acdgate build: {build}", build=build.describe())
    print(READY_PREFIX + json.dumps(gateway.ready_info(bind), sort_keys=True), flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", gateway.stop)
    # What start-up built lives as long as the process: keep it out of every collection, and
    # collect the oldest generation far less often. Measured with bench_register at 1600/s:
    # p99 204 ms -> 8 ms, and no retransmissions at 2400/s (the full collections walked
    # thousands of short-lived transactions every few hundred requests).
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 1000)
    reactor.run()
    return 0


def _start_logging(level: str, beginner: Any, observer_factory: Any) -> None:
    from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(observer_factory(sys.stderr), [predicate])
    beginner.beginLoggingTo([observer], redirectStandardIO=False)
