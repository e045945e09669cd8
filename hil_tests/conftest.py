"""Lab fixtures for the hardware-in-the-loop scenarios.

The inventory comes from `ACDGATE_LAB_INVENTORY` (a TOML file) or is the default lab
(pyVoIP and baresip softphones started here). Each network condition of the inventory
(clean; lossy: 5 % loss, 50 ms jitter) gets its own lab LAN of namespaces when the machine
allows them, else loopback (said in the report; baresip needs a non-loopback address and
then runs only on the lab LAN). Each test gets a fresh gateway (its own state and SIP
trace) and its endpoints; the trace becomes the test's SIP ladder in the report.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from acdgate.gateway.site_loader import load_site
from acdgate.lab.capture import read_sip
from acdgate.lab.drivers.base import Endpoint
from acdgate.lab.gateway_process import GatewayProcess
from acdgate.lab.inventory import (
    EndpointKind,
    EndpointSpec,
    Impairment,
    Inventory,
    NetworkMode,
    default_inventory,
    load_inventory,
)
from acdgate.lab.lab_site import lab_site_text, write_site
from acdgate.lab.ladder import ladder_svg
from acdgate.lab.netlab import Host, LabNet, available
from acdgate.lab.report import Record


def _inventory() -> Inventory:
    path = os.environ.get("ACDGATE_LAB_INVENTORY")
    return load_inventory(path) if path else default_inventory()


INVENTORY = _inventory()
_ONLY = os.environ.get("ACDGATE_LAB_CONDITIONS")  # a shard of `lab run`: these conditions only
_CONDITIONS = [i for i in INVENTORY.impairments
               if (os.environ.get("ACDGATE_LAB_QUICK") != "1" or i.is_clean)
               and (not _ONLY or i.name in _ONLY.split(","))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conditions" in metafunc.fixturenames:
        metafunc.parametrize("conditions", _CONDITIONS, ids=[i.name for i in _CONDITIONS], scope="session",
                             indirect=True)
    if "kind" in metafunc.fixturenames:
        wanted = getattr(metafunc.function, "kinds", None) or [EndpointKind.PYVOIP, EndpointKind.BARESIP]
        kinds = [k for k in wanted if INVENTORY.by_kind(k)]
        metafunc.parametrize("kind", kinds, ids=[k.value for k in kinds])


def kinds(*wanted: EndpointKind) -> Callable[[Any], Any]:
    """Run a scenario on these endpoint kinds only (default: pyVoIP and baresip)."""
    def mark(fn: Any) -> Any:
        fn.kinds = list(wanted)
        return fn
    return mark


@dataclass
class LabNetwork:
    """The lab LAN for one set of conditions, or loopback."""

    conditions: Impairment
    net: LabNet | None
    note: str

    def gateway_host(self) -> Host | None:
        return self.net.gateway if self.net else None

    def phone_host(self, i: int) -> Host | None:
        return self.net.phones[i] if self.net else None


@pytest.fixture(scope="session")
def conditions(request: pytest.FixtureRequest) -> Iterator[LabNetwork]:
    imp: Impairment = request.param
    ok, why = available(probe=f"acdlab-probe{os.getpid()}")  # shards of `lab run` probe at once
    if INVENTORY.network is NetworkMode.LOOPBACK or (not ok and INVENTORY.network is NetworkMode.AUTO):
        note = "loopback (inventory)" if INVENTORY.network is NetworkMode.LOOPBACK else f"loopback: {why}"
        yield LabNetwork(imp, None, note)
        return
    if not ok:
        raise pytest.UsageError(f"inventory asks for network namespaces: {why}")
    net = LabNet(f"h{os.getpid() % 100000}{imp.name[:3]}", phones=max(len(INVENTORY.endpoints), 2),
                 impairment=imp).up()
    try:
        yield LabNetwork(imp, net, net.conditions)
    finally:
        net.down()


@dataclass
class Lab:
    """One test's lab: the gateway, its HTTP API, the endpoints made so far."""

    network: LabNetwork
    gateway: GatewayProcess
    workdir: Path
    trace: Path
    endpoints: list[Endpoint] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    api_token: str | None = None  # the site's [http] token: control requests carry it

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                via: Endpoint | None = None) -> tuple[int, str]:
        """One request to the gateway's HTTP API from inside the lab LAN: (status, body text).
        A JSON `body` is sent as such; with the site's token, as `Authorization: Bearer`. `via`:
        from that endpoint's lab host (issue 19: a phone screen acts for a station only from
        the host it registered from), else from the gateway's."""
        host, port = self.gateway.info["http"]["host"], int(self.gateway.info["http"]["port"])
        gw = (self.network.phone_host(INVENTORY.endpoints.index(via.spec)) if via is not None
              else self.network.gateway_host())
        sock = (gw.call_inside(lambda: socket.create_connection((host, port), 10)) if gw
                else socket.create_connection((host, port), 10))
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.sock = sock
        headers = {"authorization": f"Bearer {self.api_token}"} if self.api_token else {}
        try:
            data = json.dumps(body).encode() if body is not None else None
            if data is not None:
                headers["content-type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def api(self, path: str) -> Any:
        """GET a JSON resource of the gateway's HTTP API (from inside the lab LAN)."""
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body[:200])
        return json.loads(body)

    def agent(self, user: str) -> dict[str, Any] | None:
        return next((a for a in self.api("/api/agents") if a["user"] == user), None)

    def station(self, extension: str) -> dict[str, Any]:
        return next(s for s in self.api("/api/stations") if s["extension"] == extension)

    def endpoint(self, kind: EndpointKind, *, register: bool = True) -> Endpoint:
        """The next unused endpoint of `kind` from the inventory, started (and registered)."""
        spec = next((e for e in INVENTORY.by_kind(kind) if e.name not in self.used), None)
        if spec is None:
            pytest.fail(f"the inventory has no more {kind.value} endpoints (needs one more)")
        self.used.add(spec.name)
        ep = _make_endpoint(self, spec, INVENTORY.endpoints.index(spec))
        self.endpoints.append(ep)
        ep.start()
        if register:
            obs = ep.register(timeout=30)
            assert obs.data.get("reason") is None, f"{spec.name} did not register: {obs}"
        return ep


def _free_udp_port(host: Host | None) -> int:
    def pick() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((host.ip if host else "127.0.0.1", 0))
            return int(s.getsockname()[1])
    return host.call_inside(pick) if host else pick()


def _make_endpoint(lab: Lab, spec: EndpointSpec, index: int) -> Endpoint:
    from acdgate.lab.drivers.baresip import BaresipEndpoint
    from acdgate.lab.drivers.pyvoip import PyVoipEndpoint
    from acdgate.lab.drivers.sipp import SippEndpoint

    host = lab.network.phone_host(index)
    work = lab.workdir / spec.name
    if spec.kind is EndpointKind.PYVOIP:
        return PyVoipEndpoint(spec, lab.gateway.sip, my_ip=host.ip if host else "127.0.0.1",
                              sip_port=_free_udp_port(host), workdir=work,
                              command_prefix=host.command([]) if host else None)
    if spec.kind is EndpointKind.BARESIP:
        if host is None:
            pytest.fail("baresip needs the lab LAN (it will not run on loopback alone)")
        return BaresipEndpoint(spec, lab.gateway.sip, workdir=work, netns=host, net_interface=host.interface)
    if spec.kind is EndpointKind.SIPP:
        return SippEndpoint(spec, lab.gateway.sip, workdir=work, local_ip=host.ip if host else "127.0.0.1",
                            command_prefix=host.command([]) if host else None, netns=host)
    return _phone(lab, spec, index)


def _phone(lab: Lab, spec: EndpointSpec, index: int) -> Endpoint:
    """A desk phone's driver; with `twin = true` the twin's softphone runs on the phone's lab host
    and its XML browser fetches the gateway's pages from there."""
    from dataclasses import replace

    from acdgate.lab.twins.phones import phone_endpoint

    if spec.control is None or not spec.control.twin:
        return phone_endpoint(spec, gateway_http=lab.gateway.http, sip_host=lab.gateway.sip[0])
    host = lab.network.phone_host(index)
    soft = _make_endpoint(lab, replace(spec, name=f"{spec.name}-soft", kind=spec.control.twin_softphone,
                                       control=None), index)

    def connect(address: tuple[str, int]) -> socket.socket:
        return (host.call_inside(lambda: socket.create_connection(address, 10)) if host
                else socket.create_connection(address, 10))

    return phone_endpoint(spec, gateway_http=lab.gateway.http, sip_host=lab.gateway.sip[0], softphone=soft,
                          connect=connect)


@pytest.fixture
def lab(conditions: LabNetwork, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    trace = tmp_path / "trace.pcap"
    gw_host = conditions.gateway_host()
    if INVENTORY.gateway.start:
        site = INVENTORY.gateway.site
        if site is None:  # the default lab: the demo site with short group timers
            site = write_site(tmp_path / "site.toml", digest_algorithms=list(INVENTORY.gateway.digest_algorithms))
            site.write_text(lab_site_text(site.read_text()))
        gw = GatewayProcess(tmp_path / "state", config=site, bind=gw_host.ip if gw_host else "127.0.0.1",
                            command_prefix=gw_host.command([]) if gw_host else None,
                            extra=["--sip-trace", str(trace)]).start()
    else:
        pytest.fail("hil_tests start their own gateway for now (start = true)")
    the_lab = Lab(conditions, gw, tmp_path, trace, api_token=load_site(site).http.token)
    request.node.lab = the_lab
    try:
        yield the_lab
    finally:
        for ep in the_lab.endpoints:
            ep.stop()
        gw.stop()
        (tmp_path / "gateway.log").write_text(gw.output())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def _record(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: a Record (outcome, timing, SIP ladder from its trace) for the report."""
    started = time.monotonic()
    yield
    out = os.environ.get("ACDGATE_LAB_OUT")
    if not out:
        return
    node = request.node
    rep = getattr(node, "rep_call", None) or getattr(node, "rep_setup", None)
    outcome = rep.outcome if rep is not None else "error"
    if rep is not None and rep.when == "setup" and rep.failed:
        outcome = "error"
    lab: Lab | None = getattr(node, "lab", None)
    svg, capture = "", ""
    if lab is not None and lab.trace.exists():
        names = {lab.gateway.sip[0]: "acdgate"}
        for ep in lab.endpoints:
            idx = INVENTORY.endpoints.index(ep.spec)
            host = lab.network.phone_host(idx)
            names[host.ip if host else f"{ep.spec.name}"] = f"{ep.spec.name} ({ep.spec.kind.value})"
        svg = ladder_svg(read_sip(lab.trace), names, title=node.nodeid)
        capture = str(lab.trace)
    params = getattr(node, "callspec", None)
    kind = params.params.get("kind") if params else None
    cond = params.params.get("conditions") if params else None
    record = Record(
        nodeid=node.nodeid, scenario=node.originalname, endpoint_kind=kind.value if kind else "-",
        conditions=f"{cond.name}" + (f" ({lab.network.note})" if lab else "") if cond else "-",
        outcome=outcome, duration=time.monotonic() - started,
        message=str(rep.longreprtext) if rep is not None and rep.failed else "", ladder_svg=svg, capture=capture)
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / "records.jsonl", "a", encoding="utf-8") as f:
        f.write(record.to_json() + "\n")
