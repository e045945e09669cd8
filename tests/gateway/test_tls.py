"""SIP over TLS: the gateway serves the site's certificate, baresip registers over TLS, and a
bad certificate or key stops start-up naming the file and the key.

SIPp as packaged by Debian has no TLS ("To use a TLS transport you must compile SIPp with
OpenSSL"), so the registering client is baresip, in a private network namespace as in
test_baresip_register.py. libre 1.1 does not verify the server's certificate, so that part
is checked by Python's ssl module (OpenSSL) on loopback, with hostname (IP SAN) checking.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from acdgate.lab.gateway_process import ACDGATE, GatewayProcess, StartGateway
from acdgate.lab.lab_site import write_site
from baresip import Baresip
from netns import NetworkNamespace, VethPair
from sipwire import header, options, status_line
from tlscert import self_signed

VETH = VethPair()
GATEWAY_IP = VETH.left_address.split("/")[0]


def tls_site(tmp: Path, addresses: list[str], **sip: str | int | list[str]) -> tuple[Path, Path]:
    """A site file with TLS keys (relative paths: resolved from the site file's folder);
    returns (site file, certificate)."""
    cert, _ = self_signed(tmp / "tls", addresses)
    keys: dict[str, str | int | list[str]] = {
        "tls_port": 5061, "tls_certificate": "tls/cert.pem", "tls_key": "tls/key.pem",
        "digest_algorithms": ["MD5"],  # baresip 1.0: see test_baresip_register.py
    }
    keys.update(sip)
    return write_site(tmp / "site.toml", **keys), cert


def read_message(conn: ssl.SSLSocket) -> bytes:
    """One SIP message from a stream (headers, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(header(head + b"\r\n\r\n", "Content-Length") or "0")
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "connection closed in the body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_tls_listener_serves_the_site_certificate(start_gateway: StartGateway, tmp_path: Path) -> None:
    site, cert = tls_site(tmp_path, ["127.0.0.1"])
    gw = start_gateway(config=site, extra=["--sip-tls-port", "0"])
    tls = gw.info["tls"]
    assert tls["host"] == "127.0.0.1" and tls["port"] not in (0, gw.sip[1])
    context = ssl.create_default_context(cafile=str(cert))  # verifies chain and IP SAN
    with socket.create_connection((tls["host"], tls["port"]), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            assert conn.version() in ("TLSv1.2", "TLSv1.3")
            port = conn.getsockname()[1]
            request = options((tls["host"], tls["port"]), port, call_id="tls-opt-1")
            conn.sendall(request.replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS", 1))
            answer = read_message(conn)
    assert status_line(answer)[0] == 200
    assert header(answer, "Call-ID") == "tls-opt-1"
    assert (header(answer, "Via") or "").startswith("SIP/2.0/TLS ")


def test_baresip_registers_over_tls(tmp_path: Path) -> None:
    site, cert = tls_site(tmp_path, ["127.0.0.1", GATEWAY_IP])
    with NetworkNamespace(VETH) as ns:
        gw = GatewayProcess(tmp_path / "state", config=site, bind=GATEWAY_IP, command_prefix=ns.command([]),
                            extra=["--sip-tls-port", "0"]).start()
        try:
            host, port = gw.info["tls"]["host"], gw.info["tls"]["port"]
            phone = Baresip(tmp_path / "baresip", netns=ns, net_interface=VETH.right, sip_cafile=cert).start()
            try:
                event = phone.register(f"<sip:2101@{host}:{port};transport=tls>;auth_pass=pw2101;regint=600")
                assert event.account == f"sip:2101@{host}:{port}"
                rows = {s["extension"]: s for s in ns.get_json(gw.http + "/api/stations")}
            finally:
                assert phone.stop() == 0, phone.output()
        finally:
            gw.stop()
    [contact] = rows["2101"]["contacts"]
    assert contact["transport"] == "TLS"
    assert str(contact["user_agent"]).startswith("baresip v")
    assert str(contact["contact"]).endswith(";transport=tls")


def _start_fails(tmp_path: Path, site: Path, *extra: str) -> str:
    """Run `acdgate run` expecting it to refuse to start; returns its standard error."""
    proc = subprocess.run(
        [*ACDGATE, "run", "--config", str(site), "--state-dir", str(tmp_path / "state"),
         "--bind", "127.0.0.1", "--sip-port", "0", "--http-port", "0", *extra],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "acdgate ready" not in proc.stdout
    return proc.stderr


def test_missing_certificate_file_stops_startup(tmp_path: Path) -> None:
    site, _ = tls_site(tmp_path, ["127.0.0.1"], tls_certificate="tls/nowhere.pem")
    err = _start_fails(tmp_path, site, "--sip-tls-port", "0")
    assert f"{site}: sip.tls_certificate: cannot read {tmp_path / 'tls' / 'nowhere.pem'}" in err
    assert "No such file or directory" in err


def test_certificate_file_without_a_certificate_stops_startup(tmp_path: Path) -> None:
    site, _ = tls_site(tmp_path, ["127.0.0.1"], tls_certificate="tls/key.pem")
    err = _start_fails(tmp_path, site, "--sip-tls-port", "0")
    assert f"{site}: sip.tls_certificate: {tmp_path / 'tls' / 'key.pem'}: no PEM certificate" in err


def test_key_of_another_certificate_stops_startup(tmp_path: Path) -> None:
    site, _ = tls_site(tmp_path, ["127.0.0.1"], tls_key="other/key.pem")
    self_signed(tmp_path / "other", ["127.0.0.1"])
    err = _start_fails(tmp_path, site, "--sip-tls-port", "0")
    assert f"{site}: sip.tls_key: {tmp_path / 'other' / 'key.pem'} does not match the certificate" in err


def test_tls_port_option_needs_a_certificate_in_the_site(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site.toml")
    err = _start_fails(tmp_path, site, "--sip-tls-port", "0")
    assert f"{site}: sip.tls_certificate: required for SIP over TLS" in err


def test_no_tls_listener_without_tls_settings(start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = start_gateway(config=write_site(tmp_path / "site.toml"))
    assert "tls" not in gw.info


def test_tls_connections_over_the_per_source_cap_are_dropped_before_the_handshake(
        start_gateway: StartGateway, tmp_path: Path) -> None:
    site, cert = tls_site(tmp_path, ["127.0.0.1"], tcp_max_connections_per_source=1)
    gw = start_gateway(config=site, extra=["--sip-tls-port", "0"])
    tls = gw.info["tls"]
    context = ssl.create_default_context(cafile=str(cert))
    with socket.create_connection((tls["host"], tls["port"]), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            # the second from the same host: no handshake, the connection is dropped (a reset,
            # seen by connect itself when it comes first, or an SSLError: all OSError)
            with pytest.raises(OSError):
                with socket.create_connection((tls["host"], tls["port"]), timeout=10) as second:
                    context.wrap_socket(second, server_hostname="127.0.0.1").close()
            port = conn.getsockname()[1]  # the first still serves
            request = options((tls["host"], tls["port"]), port, call_id="tls-cap-1")
            conn.sendall(request.replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS", 1))
            assert status_line(read_message(conn))[0] == 200
    gw.wait_for_output(r"refused 1 TLS connection\(s\), the last from 127\.0\.0\.1")
