"""Ladders drawn from a pcap written by the gateway's SipTrace; JUnit and HTML reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from acdgate.gateway.sip.trace import SipTrace
from acdgate.lab.capture import read_sip
from acdgate.lab.ladder import ladder_svg
from acdgate.lab.report import Record, read_records, write_html, write_junit

PHONE, GW = ("198.18.1.1", 5062), ("198.18.0.1", 5060)


def _msg(first: str, call_id: str) -> bytes:
    return f"{first}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n".encode()


def _trace(path: Path) -> Path:
    t = SipTrace(path)
    t.record(_msg("INVITE sip:*37@198.18.0.1 SIP/2.0", "c1"), PHONE, GW, "UDP", 100.0)
    t.record(_msg("SIP/2.0 401 Unauthorized", "c1"), GW, PHONE, "UDP", 100.01)
    t.record(_msg("SIP/2.0 200 OK", "c2"), GW, PHONE, "TCP", 100.5)
    t.record(b"not sip at all", GW, PHONE, "UDP", 100.6)
    t.close()
    return path


def test_capture_reads_sip_from_a_gateway_trace(tmp_path: Path) -> None:
    packets = read_sip(_trace(tmp_path / "t.pcap"))
    assert [(p.label, p.src, p.transport) for p in packets] == [
        ("INVITE *37", "198.18.1.1:5062", "UDP"), ("401 Unauthorized", "198.18.0.1:5060", "UDP"),
        ("200 OK", "198.18.0.1:5060", "TCP")]
    assert [p.call_id for p in packets] == ["c1", "c1", "c2"]
    assert read_sip(tmp_path / "t.pcap", start=100.4) == packets[2:]


def test_ladder_has_a_column_per_host_and_an_arrow_per_message(tmp_path: Path) -> None:
    packets = read_sip(_trace(tmp_path / "t.pcap"))
    svg = ladder_svg(packets, {"198.18.0.1": "acdgate"}, title="t")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    arrows = [el for el in root.iter(f"{ns}line") if el.get("marker-end")]
    assert len(arrows) == 3
    assert float(arrows[0].get("x1", 0)) < float(arrows[0].get("x2", 0))  # phone -> gateway
    assert float(arrows[1].get("x1", 0)) > float(arrows[1].get("x2", 0))
    assert arrows[0].get("stroke") == arrows[1].get("stroke") != arrows[2].get("stroke")  # by Call-ID
    texts = [el.text for el in root.iter(f"{ns}text")]
    assert "acdgate" in texts and "INVITE *37" in texts and "+   0.500s" in texts


def test_junit_and_html_reports(tmp_path: Path) -> None:
    records = [Record("hil_tests/t.py::test_a[clean-pyvoip]", "test_a", "pyvoip", "clean", "passed", 1.5,
                      ladder_svg="<svg></svg>"),
               Record("hil_tests/t.py::test_a[clean-baresip]", "test_a", "baresip", "clean", "failed", 2.0,
                      message="AssertionError: no tone\nmore")]
    with open(tmp_path / "records.jsonl", "w") as f:
        f.writelines(r.to_json() + "\n" for r in records)
    assert read_records(tmp_path / "records.jsonl") == records
    write_junit(records, tmp_path / "junit.xml")
    suite = ET.parse(tmp_path / "junit.xml").getroot()[0]
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite[1].find("failure")
    assert failure is not None and failure.get("message") == "AssertionError: no tone"
    write_html(records, tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text()
    assert "<b>1</b> of <b>2</b> passed" in page
    assert page.count("class='failed'") == 2 and "<svg></svg>" in page


def test_html_report_shows_captures_relative_to_its_folder(tmp_path: Path) -> None:
    """A report copied with its folder (CI copies the lab's to build/) still names its captures."""
    report = tmp_path / "lab-report"
    inside = report / "work" / "clean-pyvoip" / "t0" / "trace.pcap"
    outside = tmp_path / "elsewhere" / "trace.pcap"
    records = [Record("hil_tests/t.py::test_a[clean-pyvoip]", "test_a", "pyvoip", "clean", "passed", 1.0,
                      capture=str(inside)),
               Record("hil_tests/t.py::test_b[clean-pyvoip]", "test_b", "pyvoip", "clean", "passed", 1.0,
                      capture=str(outside))]
    write_html(records, report / "index.html")
    page = (report / "index.html").read_text()
    assert "capture: <code>work/clean-pyvoip/t0/trace.pcap</code>" in page
    assert f"capture: <code>{outside}</code>" in page
