"""A phone endpoint from an inventory entry: the vendor's driver, pointed at the phone's
URL, or at a twin started here that acts through `softphone`.

Programmed keys come from the entry's `options.keys` (short code -> the vendor's key name)
or the vendor's defaults; the twin is set up with the same keys, so a key the scenario
presses dials the same code on the twin as on a phone provisioned like the docs say.
"""

from __future__ import annotations

from collections.abc import Mapping

from acdgate.lab.drivers.base import Endpoint
from acdgate.lab.drivers.cisco import DEFAULT_KEYS as CISCO_KEYS
from acdgate.lab.drivers.cisco import CiscoPhone
from acdgate.lab.drivers.http_phone import HttpPhone
from acdgate.lab.drivers.polycom import DEFAULT_KEYS as POLYCOM_KEYS
from acdgate.lab.drivers.polycom import PolycomPhone
from acdgate.lab.drivers.yealink import DEFAULT_KEYS as YEALINK_KEYS
from acdgate.lab.drivers.yealink import DEFAULT_MENU_KEY, YealinkPhone
from acdgate.lab.inventory import EndpointKind, EndpointSpec
from acdgate.lab.twins.base import PhoneTwin
from acdgate.lab.twins.browser import Connect
from acdgate.lab.twins.cisco import CiscoTwin
from acdgate.lab.twins.polycom import PolycomTwin
from acdgate.lab.twins.yealink import YealinkTwin

TWIN_USER = "admin"
TWIN_PASSWORD = "twin-secret"


def _keys(spec: EndpointSpec, default: Mapping[str, str]) -> dict[str, str]:
    keys = spec.options.get("keys")
    return dict(keys) if isinstance(keys, dict) else dict(default)


def phone_endpoint(spec: EndpointSpec, *, gateway_http: str, sip_host: str, softphone: Endpoint | None = None,
                   connect: Connect | None = None) -> HttpPhone:
    """The driver for `spec` (a yealink, polycom or cisco entry). With `softphone` (and
    `connect`, how the twin's browser reaches the gateway), a twin serves the API here."""
    control = spec.control
    if control is None:
        raise ValueError(f"{spec.name}: a phone needs [endpoint.control]")
    twin: PhoneTwin | None = None
    user, password = control.username, control.password
    ext = spec.station
    if control.twin:
        if softphone is None or connect is None:
            raise ValueError(f"{spec.name}: a twin needs a softphone and a way to the gateway")
        user, password = TWIN_USER, TWIN_PASSWORD
        twin = _twin(spec, softphone, gateway_http, ext, connect)
        twin.start()
        url = twin.url
    else:
        url = control.url or ""
    mirror = twin.softphone if twin is not None else None
    on_stop = twin.stop if twin is not None else None
    on_start = twin.softphone.start if twin is not None else None
    if spec.kind is EndpointKind.CISCO:
        return CiscoPhone(spec, url, user, password, mirror=mirror, keys=_keys(spec, CISCO_KEYS), on_start=on_start, on_stop=on_stop)
    if spec.kind is EndpointKind.YEALINK:
        menu_key = str(spec.options.get("menu_key", DEFAULT_MENU_KEY))
        return YealinkPhone(spec, url, user, password, outgoing_uri=f"{spec.username}@{sip_host}", mirror=mirror,
                            keys=_keys(spec, YEALINK_KEYS), menu_key=menu_key, on_start=on_start, on_stop=on_stop)
    if spec.kind is EndpointKind.POLYCOM:
        return PolycomPhone(spec, url, user, password, mirror=mirror, keys=_keys(spec, POLYCOM_KEYS),
                            on_start=on_start, on_stop=on_stop)
    raise ValueError(f"{spec.name}: {spec.kind.value} is not a phone")


def _twin(spec: EndpointSpec, softphone: Endpoint, gateway_http: str, ext: str, connect: Connect) -> PhoneTwin:
    if spec.kind is EndpointKind.CISCO:
        lines = {name: ("speed-dial", code) for code, name in _keys(spec, CISCO_KEYS).items()}
        return CiscoTwin(softphone, username=TWIN_USER, password=TWIN_PASSWORD,
                         services_url=f"{gateway_http}/xml/?ext={ext}", connect=connect,
                         lines={"Line1": ("line", ""), **lines})
    if spec.kind is EndpointKind.YEALINK:
        keys: dict[str, tuple[str, str]] = {name: ("speed-dial", code)
                                            for code, name in _keys(spec, YEALINK_KEYS).items()}
        keys[str(spec.options.get("menu_key", DEFAULT_MENU_KEY))] = ("xml", f"{gateway_http}/xml/yealink/?ext={ext}")
        return YealinkTwin(softphone, username=TWIN_USER, password=TWIN_PASSWORD, menu_url="",
                           connect=connect, keys={"L1": ("line", ""), **keys})
    lines = {name: ("speed-dial", code) for code, name in _keys(spec, POLYCOM_KEYS).items()}
    return PolycomTwin(softphone, username=TWIN_USER, password=TWIN_PASSWORD, server_root_url=gateway_http,
                       lines={"Line1": ("line", ""), **lines})
