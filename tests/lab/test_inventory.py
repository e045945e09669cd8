"""Lab inventories: valid files load, every problem is named by file, key and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from acdgate.lab.inventory import (
    EndpointKind,
    InventoryError,
    NetworkMode,
    default_inventory,
    load_inventory,
)

GOOD = """
[gateway]
start = true
site = "site.toml"

[network]
mode = "loopback"
impairments = [{ name = "clean" }, { name = "lossy", loss_percent = 5, jitter_ms = 50 }]

[[endpoint]]
name = "alice"
kind = "pyvoip"
station = "2101"
password = "pw2101"

[[endpoint]]
name = "desk"
kind = "yealink"
station = 2102
password = "pw2102"
[endpoint.control]
url = "http://10.1.2.3"
username = "admin"
password = "secret"
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "site.toml").write_text("# a site\n")
    path = tmp_path / "lab.toml"
    path.write_text(text)
    return path


def test_a_valid_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, GOOD))
    assert inv.gateway.start and inv.gateway.site == tmp_path / "site.toml"
    assert inv.network is NetworkMode.LOOPBACK
    assert [i.name for i in inv.impairments] == ["clean", "lossy"]
    assert inv.impairments[1].loss_percent == 5.0 and inv.impairments[1].jitter_ms == 50.0
    alice, desk = inv.endpoints
    assert (alice.kind, alice.station, alice.username, alice.password) == (EndpointKind.PYVOIP, "2101", "2101", "pw2101")
    assert desk.kind is EndpointKind.YEALINK and desk.station == "2102"
    assert desk.control is not None and desk.control.url == "http://10.1.2.3" and not desk.control.twin


def test_every_problem_is_named_with_file_key_and_reason(tmp_path: Path) -> None:
    bad = """
[gateway]
start = false
colour = "blue"

[network]
mode = "wifi"
impairments = [{ name = "x", loss_percent = 150 }]

[[endpoint]]
name = "a"
kind = "nokia"
station = "21x"

[[endpoint]]
name = "b"
kind = "pyvoip"
station = "2102"
password = "p"
transport = "tcp"

[[endpoint]]
name = "c"
kind = "cisco"
station = "2103"
password = "p"
"""
    path = _write(tmp_path, bad)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    got = {(p.key, p.reason.split(" ")[0]) for p in info.value.problems}
    assert all(p.source == str(path) for p in info.value.problems)
    assert ("gateway.colour", "unknown") in got
    assert ("gateway.address", "required") in got
    assert ("network.mode", "must") in got
    assert ("network.impairments[0].loss_percent", "must") in got
    assert ("endpoint[0].kind", "must") in got
    assert ("endpoint[0].station", "required:") in got
    assert ("endpoint[0].password", "required:") in got
    assert ("endpoint[1].transport", "pyVoIP") in got
    assert ("endpoint[2].control", "required") in got
    assert len(info.value.problems) == 9
    assert f"{path}: gateway.colour: unknown key" in str(info.value)


def test_unreadable_and_invalid_toml_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "missing.toml")
    path = tmp_path / "broken.toml"
    path.write_text("[gateway\n")
    with pytest.raises(InventoryError, match="not valid TOML"):
        load_inventory(path)


def test_gateway_address_and_duplicates(tmp_path: Path) -> None:
    text = """
[gateway]
start = false
address = "198.18.0.1:99999"
[[endpoint]]
name = "a"
kind = "sipp"
station = "2101"
password = "p"
[[endpoint]]
name = "a"
kind = "baresip"
station = "2102"
password = "p"
control = { url = "http://x" }
"""
    with pytest.raises(InventoryError) as info:
        load_inventory(_write(tmp_path, text))
    keys = [p.key for p in info.value.problems]
    assert keys == ["gateway.address", "endpoint[1].control"]
    with pytest.raises(InventoryError) as info:
        load_inventory(_write(tmp_path, text.replace("control = { url = \"http://x\" }", "")
                              .replace("99999", "5060")))
    assert [(p.key, p.reason) for p in info.value.problems] == [("endpoint[1].name", "duplicate endpoint name 'a'")]


def test_default_lab_has_softphones_of_each_kind() -> None:
    inv = default_inventory()
    assert [e.kind for e in inv.endpoints] == [EndpointKind.PYVOIP] * 2 + [EndpointKind.BARESIP] * 2 + [
        EndpointKind.SIPP]
    assert [e.station for e in inv.endpoints] == ["2101", "2102", "2103", "2104", "2105"]
    assert [i.name for i in inv.impairments] == ["clean", "lossy"]


def test_lab_check_command(tmp_path: Path) -> None:
    good = _write(tmp_path, GOOD)
    ok = subprocess.run([sys.executable, "-m", "acdgate.console", "lab", "check", str(good)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout and "endpoint desk: yealink station 2102" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[[endpoint]]\nname = 'x'\n")
    fail = subprocess.run([sys.executable, "-m", "acdgate.console", "lab", "check", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert fail.returncode == 2
    assert f"{bad}: endpoint[0].kind: required" in fail.stderr
    gw = subprocess.run([sys.executable, "-m", "acdgate.console", "demo-config"],
                        capture_output=True, text=True, timeout=60)
    assert gw.returncode == 0 and "[sip]" in gw.stdout


def test_the_twins_lab_is_installed_and_named_twins(tmp_path: Path) -> None:
    """`acdgate lab check twins` from a directory with no checkout: the packaged inventory
    (lab-twins.toml ships in the wheel; the test runs on the installed wheel in CI)."""
    check = subprocess.run([sys.executable, "-m", "acdgate.console", "lab", "check", "twins"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    for kind, station in (("cisco", 2103), ("yealink", 2104), ("polycom", 2105)):
        assert f"{kind} station {station}" in check.stdout
    # a file of that name in the current directory is what the user meant
    (tmp_path / "twins").write_text("[[endpoint]]\nname = 'x'\n")
    own = subprocess.run([sys.executable, "-m", "acdgate.console", "lab", "check", "twins"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert own.returncode == 2 and "twins: endpoint[0].kind: required" in own.stderr
