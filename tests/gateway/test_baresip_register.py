"""baresip, a SIP client nobody here wrote, registers with a running gateway over UDP and TCP.

Both run inside a private network namespace (baresip will not run on loopback alone): the
gateway on 198.18.0.1 (veth0), baresip on 198.18.0.2 (veth1). The test reads the gateway's
HTTP API from inside the namespace too.

The site offers only MD5: baresip 1.0 on libre 1.1 gives up ("Function not implemented")
when any challenge of a 401 names an algorithm it does not know, such as SHA-256.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acdgate.lab.gateway_process import GatewayProcess
from acdgate.lab.lab_site import write_site
from baresip import Baresip
from netns import NetworkNamespace, VethPair

VETH = VethPair()
GATEWAY_IP = VETH.left_address.split("/")[0]
PHONE_IP = VETH.right_address.split("/")[0]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[NetworkNamespace, GatewayProcess]]:
    """A namespace with the gateway listening on veth0."""
    site = write_site(tmp_path / "site.toml", digest_algorithms=["MD5"])
    with NetworkNamespace(VETH) as ns:
        gw = GatewayProcess(tmp_path / "state", config=site, bind=GATEWAY_IP,
                            command_prefix=ns.command([])).start()
        try:
            yield ns, gw
        finally:
            gw.stop()


def station(ns: NetworkNamespace, gw: GatewayProcess, extension: str) -> dict[str, Any]:
    rows = {s["extension"]: s for s in ns.get_json(gw.http + "/api/stations")}
    row: dict[str, Any] = rows[extension]
    return row


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_baresip_registers_and_unregisters(
    lab: tuple[NetworkNamespace, GatewayProcess], tmp_path: Path, transport: str
) -> None:
    ns, gw = lab
    host, port = gw.sip
    phone = Baresip(tmp_path / "baresip", netns=ns, net_interface=VETH.right).start()
    try:
        event = phone.register(f"<sip:2101@{host}:{port};transport={transport}>;auth_pass=pw2101;regint=600")
        assert event.account.startswith(f"sip:2101@{host}")
        row = station(ns, gw, "2101")
        assert row["registered"] is True
        [contact] = row["contacts"]
        assert contact["transport"] == transport.upper()
        assert str(contact["user_agent"]).startswith("baresip v")
        assert f"@{PHONE_IP}:" in contact["contact"]
        source_host = str(contact["source"]).rsplit(":", 1)[0]
        # UDP: baresip sends from the socket bound to veth1. TCP: libre leaves the local
        # address to the kernel, which picks the destination's own address (both ends of
        # the veth pair live in this one namespace, so the route is local).
        assert source_host == (PHONE_IP if transport == "udp" else GATEWAY_IP)
        assert 0 < int(contact["expires"]) <= 600
        assert station(ns, gw, "2102")["registered"] is False
    finally:
        code = phone.stop()
    assert code == 0, phone.output()
    # baresip un-REGISTERs (Expires: 0) before it exits on SIGTERM
    assert station(ns, gw, "2101")["registered"] is False

