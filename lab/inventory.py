"""The lab inventory: which gateway to test and which endpoints to drive, from a TOML file.

    [gateway]
    start = true                 # start one here (`acdgate run`), optionally on a site file
    site = "site.toml"           # relative to the inventory file; default: the demo site
    # or, for a gateway that already runs:  address = "198.18.0.1:5060"  http = "http://198.18.0.1:8080"

    [network]
    mode = "auto"                # auto | netns | loopback
    impairments = [{ name = "clean" }, { name = "lossy", loss_percent = 5, jitter_ms = 50 }]

    [[endpoint]]
    name = "alice"
    kind = "baresip"             # pyvoip | baresip | sipp | yealink | polycom | cisco
    station = "2101"
    password = "pw2101"          # username defaults to the station
    [endpoint.control]           # phones: their HTTP API; `twin = true` serves it here instead
    url = "http://10.0.0.21"
    username = "admin"
    password = "admin"

Every problem is reported with the file, the key and the reason (`InventoryError`).
"""

from __future__ import annotations

import enum
import ipaddress
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class EndpointKind(enum.Enum):
    """What drives an endpoint: a softphone run here, or a phone's remote-control API."""

    PYVOIP = "pyvoip"
    BARESIP = "baresip"
    SIPP = "sipp"
    YEALINK = "yealink"
    POLYCOM = "polycom"
    CISCO = "cisco"

    @property
    def is_phone(self) -> bool:
        """Controlled over a vendor HTTP API (a real phone, or its twin)."""
        return self in (EndpointKind.YEALINK, EndpointKind.POLYCOM, EndpointKind.CISCO)


class NetworkMode(enum.Enum):
    AUTO = "auto"  # namespaces when the machine allows them, else loopback
    NETNS = "netns"  # namespaces or fail
    LOOPBACK = "loopback"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an inventory: where and why."""

    source: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.reason}"


class InventoryError(ValueError):
    """An inventory that cannot be used; `problems` lists every (file, key, reason)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Impairment:
    """Network conditions applied to every lab host's link (netem, or the userspace hub)."""

    name: str = "clean"
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_percent: float = 0.0

    @property
    def is_clean(self) -> bool:
        return self.delay_ms == 0 and self.jitter_ms == 0 and self.loss_percent == 0


CLEAN = Impairment()
LOSSY = Impairment("lossy", delay_ms=0.0, jitter_ms=50.0, loss_percent=5.0)


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    """Start a gateway here (`start`, on `site` or the demo site), or use one at `address`."""

    start: bool
    site: Path | None = None
    address: tuple[str, int] | None = None
    http: str | None = None
    digest_algorithms: tuple[str, ...] = ("MD5",)


@dataclass(frozen=True, slots=True)
class PhoneControl:
    """How to reach a phone's HTTP API; `twin` serves the same API here, acting through a softphone."""

    url: str | None = None
    username: str = ""
    password: str = ""
    twin: bool = False
    twin_softphone: EndpointKind = EndpointKind.BARESIP


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One endpoint of the lab: its station's credentials and how it is driven."""

    name: str
    kind: EndpointKind
    station: str
    username: str
    password: str
    transport: str = "udp"
    control: PhoneControl | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inventory:
    """A whole lab: gateway, network and endpoints; `source` names the file it came from."""

    source: str
    gateway: GatewaySpec
    endpoints: tuple[EndpointSpec, ...]
    network: NetworkMode = NetworkMode.AUTO
    impairments: tuple[Impairment, ...] = (CLEAN,)

    def by_kind(self, kind: EndpointKind) -> list[EndpointSpec]:
        return [e for e in self.endpoints if e.kind is kind]

    def endpoint(self, name: str) -> EndpointSpec:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(name)


_TRANSPORTS = ("udp", "tcp", "tls")
_GATEWAY_KEYS = {"start", "site", "address", "http", "digest_algorithms"}
_ENDPOINT_KEYS = {"name", "kind", "station", "username", "password", "transport", "control", "options"}
_CONTROL_KEYS = {"url", "username", "password", "twin", "twin_softphone"}
_IMPAIR_KEYS = {"name", "delay_ms", "jitter_ms", "loss_percent"}


class _Reader:
    """Collects problems while reading one TOML document."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.source, key, reason))

    def table(self, doc: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = doc.get(key, {})
        if not isinstance(value, dict):
            self.problem(f"{where}{key}", f"must be a table, not {type(value).__name__}")
            return {}
        return value

    def unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in sorted(set(table) - allowed):
            self.problem(f"{where}{key}", f"unknown key (known: {', '.join(sorted(allowed))})")

    def string(self, table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str | None:
        value = table.get(key, default)
        if value is not None and not isinstance(value, str):
            self.problem(f"{where}{key}", f"must be a string, not {type(value).__name__}")
            return default
        return value

    def number(self, table: Mapping[str, Any], key: str, where: str, low: float, high: float) -> float:
        value = table.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{where}{key}", f"must be a number, not {type(value).__name__}")
            return 0.0
        if not low <= value <= high:
            self.problem(f"{where}{key}", f"must be between {low:g} and {high:g}, not {value}")
            return 0.0
        return float(value)


def _parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    ipaddress.ip_address(host.strip("[]"))
    return host.strip("[]"), int(port)


def parse_inventory(doc: Mapping[str, Any], source: str, base: Path | None = None) -> Inventory:
    """An inventory from a decoded TOML document (`base`: folder that relative paths start from)."""
    r = _Reader(source)
    base = base or Path.cwd()
    r.unknown(doc, {"gateway", "network", "endpoint"}, "")
    gateway = _parse_gateway(r, r.table(doc, "gateway", ""), base)
    network, impairments = _parse_network(r, r.table(doc, "network", ""))
    raw_endpoints = doc.get("endpoint", [])
    endpoints: list[EndpointSpec] = []
    if not isinstance(raw_endpoints, list):
        r.problem("endpoint", "must be an array of tables ([[endpoint]])")
        raw_endpoints = []
    if not raw_endpoints:
        r.problem("endpoint", "no endpoints: add at least one [[endpoint]]")
    names: set[str] = set()
    for i, raw in enumerate(raw_endpoints):
        spec = _parse_endpoint(r, raw, f"endpoint[{i}].")
        if spec is None:
            continue
        if spec.name in names:
            r.problem(f"endpoint[{i}].name", f"duplicate endpoint name {spec.name!r}")
        names.add(spec.name)
        endpoints.append(spec)
    if r.problems:
        raise InventoryError(r.problems)
    return Inventory(source, gateway, tuple(endpoints), network, impairments)


def _parse_gateway(r: _Reader, table: Mapping[str, Any], base: Path) -> GatewaySpec:
    w = "gateway."
    r.unknown(table, _GATEWAY_KEYS, w)
    start = table.get("start", "address" not in table)
    if not isinstance(start, bool):
        r.problem(f"{w}start", "must be true or false")
        start = True
    site_text = r.string(table, "site", w)
    address_text = r.string(table, "address", w)
    http = r.string(table, "http", w)
    algorithms = table.get("digest_algorithms", ["MD5"])
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        r.problem(f"{w}digest_algorithms", "must be an array of strings")
        algorithms = ["MD5"]
    site: Path | None = None
    address: tuple[str, int] | None = None
    if start and address_text is not None:
        r.problem(f"{w}address", "give either start = true (a gateway started here) or an address, not both")
    if not start and address_text is None:
        r.problem(f"{w}address", "required when start = false (where the gateway listens, HOST:PORT)")
    if address_text is not None:
        try:
            address = _parse_address(address_text)
        except ValueError as exc:
            r.problem(f"{w}address", str(exc))
    if site_text is not None:
        if not start:
            r.problem(f"{w}site", "only for a gateway started here (start = true)")
        site = (base / site_text) if not Path(site_text).is_absolute() else Path(site_text)
        if not site.is_file():
            r.problem(f"{w}site", f"no such file: {site}")
    if http is not None and urlsplit(http).scheme not in ("http", "https"):
        r.problem(f"{w}http", f"not an http(s) URL: {http!r}")
    return GatewaySpec(bool(start), site, address, http, tuple(algorithms))


def _parse_network(r: _Reader, table: Mapping[str, Any]) -> tuple[NetworkMode, tuple[Impairment, ...]]:
    w = "network."
    r.unknown(table, {"mode", "impairments"}, w)
    mode_text = r.string(table, "mode", w, "auto") or "auto"
    try:
        mode = NetworkMode(mode_text)
    except ValueError:
        r.problem(f"{w}mode", f"must be one of {', '.join(m.value for m in NetworkMode)}, not {mode_text!r}")
        mode = NetworkMode.AUTO
    raw = table.get("impairments", [{"name": "clean"}])
    if not isinstance(raw, list) or not raw:
        r.problem(f"{w}impairments", "must be a non-empty array of tables")
        return mode, (CLEAN,)
    out: list[Impairment] = []
    for i, item in enumerate(raw):
        where = f"{w}impairments[{i}]."
        if not isinstance(item, dict):
            r.problem(where.rstrip("."), "must be a table")
            continue
        r.unknown(item, _IMPAIR_KEYS, where)
        name = r.string(item, "name", where, f"impairment{i}") or f"impairment{i}"
        out.append(Impairment(
            name,
            r.number(item, "delay_ms", where, 0, 5000),
            r.number(item, "jitter_ms", where, 0, 5000),
            r.number(item, "loss_percent", where, 0, 100),
        ))
    if len({i.name for i in out}) != len(out):
        r.problem(f"{w}impairments", "impairment names must be unique")
    return mode, tuple(out)


def _parse_endpoint(r: _Reader, raw: Any, w: str) -> EndpointSpec | None:
    if not isinstance(raw, dict):
        r.problem(w.rstrip("."), "must be a table")
        return None
    r.unknown(raw, _ENDPOINT_KEYS, w)
    before = len(r.problems)
    name = r.string(raw, "name", w)
    kind_text = r.string(raw, "kind", w)
    station = raw.get("station")
    if isinstance(station, int) and not isinstance(station, bool):
        station = str(station)
    if name is None or not name:
        r.problem(f"{w}name", "required (a short name for reports)")
    kind: EndpointKind | None = None
    if kind_text is None:
        r.problem(f"{w}kind", f"required: one of {', '.join(k.value for k in EndpointKind)}")
    else:
        try:
            kind = EndpointKind(kind_text)
        except ValueError:
            r.problem(f"{w}kind", f"must be one of {', '.join(k.value for k in EndpointKind)}, not {kind_text!r}")
    if not isinstance(station, str) or not station.isdigit():
        r.problem(f"{w}station", "required: the station's extension number (digits)")
        station = ""
    username = r.string(raw, "username", w, station) or station
    password = r.string(raw, "password", w)
    if password is None:
        r.problem(f"{w}password", "required: the station's SIP password")
    transport = (r.string(raw, "transport", w, "udp") or "udp").lower()
    if transport not in _TRANSPORTS:
        r.problem(f"{w}transport", f"must be one of {', '.join(_TRANSPORTS)}, not {transport!r}")
    if kind is EndpointKind.PYVOIP and transport != "udp":
        r.problem(f"{w}transport", "pyVoIP 1.6.8 speaks SIP over UDP only")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        r.problem(f"{w}options", "must be a table")
        options = {}
    control = _parse_control(r, raw.get("control"), kind, f"{w}control.")
    if len(r.problems) > before or kind is None or name is None or password is None:
        return None
    return EndpointSpec(name, kind, station, username, password, transport, control, options)


def _parse_control(r: _Reader, raw: Any, kind: EndpointKind | None, w: str) -> PhoneControl | None:
    if raw is None:
        if kind is not None and kind.is_phone:
            r.problem(w.rstrip("."), f"required for a {kind.value} phone: url = \"http://PHONE\", or twin = true")
        return None
    if not isinstance(raw, dict):
        r.problem(w.rstrip("."), "must be a table")
        return None
    if kind is not None and not kind.is_phone:
        r.problem(w.rstrip("."), f"only phones (yealink, polycom, cisco) have a control API, not {kind.value}")
        return None
    r.unknown(raw, _CONTROL_KEYS, w)
    url = r.string(raw, "url", w)
    twin = raw.get("twin", False)
    if not isinstance(twin, bool):
        r.problem(f"{w}twin", "must be true or false")
        twin = False
    if url is None and not twin:
        r.problem(f"{w}url", "required unless twin = true (the phone's web address, http://PHONE)")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            r.problem(f"{w}url", f"not an http(s) URL with a host: {url!r}")
    soft_text = r.string(raw, "twin_softphone", w, "baresip") or "baresip"
    try:
        soft = EndpointKind(soft_text)
        if soft not in (EndpointKind.BARESIP, EndpointKind.PYVOIP):
            raise ValueError(soft_text)
    except ValueError:
        r.problem(f"{w}twin_softphone", f"must be baresip or pyvoip, not {soft_text!r}")
        soft = EndpointKind.BARESIP
    return PhoneControl(url, r.string(raw, "username", w, "") or "", r.string(raw, "password", w, "") or "",
                        twin, soft)


# inventories installed with the package, named on the command line (`acdgate lab run twins`)
PACKAGED_INVENTORIES: dict[str, str] = {"twins": "twins/lab-twins.toml"}


def inventory_path(name: str) -> str:
    """The file an inventory argument names: a path as given, or, when no such file exists, one
    of the inventories installed with acdgate (`PACKAGED_INVENTORIES`), so a wheel needs no
    checkout to run the twins lab."""
    packaged = PACKAGED_INVENTORIES.get(name)
    if packaged is None or Path(name).exists():
        return name
    return str(Path(__file__).resolve().parent / packaged)


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file; raises `InventoryError` naming every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([Problem(str(p), "-", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError([Problem(str(p), "-", f"not valid TOML: {exc}")]) from None
    return parse_inventory(doc, str(p), p.parent)


def default_inventory(kinds: Sequence[EndpointKind] = (EndpointKind.PYVOIP, EndpointKind.BARESIP,
                                                       EndpointKind.SIPP),
                      per_kind: int = 2) -> Inventory:
    """The default lab: a gateway started here on the demo site, softphones on stations 2101...
    (two each of pyVoIP and baresip, one SIPp), clean and lossy (5 % loss, 50 ms jitter)."""
    endpoints = []
    station = 2101
    for kind in kinds:
        for i in range(1 if kind is EndpointKind.SIPP else per_kind):
            endpoints.append(EndpointSpec(f"{kind.value}{i + 1}", kind, str(station), str(station), f"pw{station}"))
            station += 1
    return Inventory("<default lab>", GatewaySpec(start=True), tuple(endpoints), NetworkMode.AUTO, (CLEAN, LOSSY))


def summary(inv: Inventory) -> str:
    """A few lines describing a valid inventory (for `acdgate lab check`)."""
    g = inv.gateway
    where = (f"started here on {g.site or 'the demo site'}" if g.start
             else f"at {g.address[0]}:{g.address[1]}" if g.address else "?")
    lines = [f"inventory {inv.source}: OK", f"  gateway {where}",
             f"  network {inv.network.value}; conditions: "
             + ", ".join(f"{i.name} (delay {i.delay_ms:g} ms, jitter {i.jitter_ms:g} ms, loss {i.loss_percent:g} %)"
                         for i in inv.impairments)]
    for e in inv.endpoints:
        how = ""
        if e.control is not None:
            how = " via twin" if e.control.twin else f" via {e.control.url}"
        lines.append(f"  endpoint {e.name}: {e.kind.value} station {e.station} ({e.transport}){how}")
    return "\n".join(lines)
