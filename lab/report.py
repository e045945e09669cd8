"""Run reports: JUnit XML and an HTML page (pass/fail per scenario and endpoint kind,
timings, a SIP ladder per test drawn from its capture), from one `Record` per test."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Record:
    """One test's result: scenario, endpoint kind, network conditions, outcome and timing."""

    nodeid: str
    scenario: str
    endpoint_kind: str
    conditions: str
    outcome: str  # passed | failed | error | skipped
    duration: float
    message: str = ""
    ladder_svg: str = ""
    capture: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(line: str) -> Record:
        return Record(**json.loads(line))


def read_records(path: Path) -> list[Record]:
    """Records appended one JSON object a line (by hil_tests' conftest)."""
    if not path.exists():
        return []
    return [Record.from_json(line) for line in path.read_text().splitlines() if line.strip()]


def write_junit(records: Sequence[Record], path: Path, suite: str = "hil_tests") -> None:
    """JUnit XML: one testcase per record, classname = scenario, name = kind [conditions]."""
    failures = sum(r.outcome == "failed" for r in records)
    errors = sum(r.outcome == "error" for r in records)
    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(records)), failures=str(failures),
                       errors=str(errors), skipped=str(sum(r.outcome == "skipped" for r in records)),
                       time=f"{sum(r.duration for r in records):.3f}")
    for r in records:
        case = ET.SubElement(ts, "testcase", classname=r.scenario, name=f"{r.endpoint_kind} [{r.conditions}]",
                             time=f"{r.duration:.3f}", file=r.nodeid.split("::", 1)[0])
        if r.outcome in ("failed", "error"):
            el = ET.SubElement(case, "failure" if r.outcome == "failed" else "error",
                               message=r.message.splitlines()[0][:200] if r.message else r.outcome)
            el.text = r.message
        elif r.outcome == "skipped":
            ET.SubElement(case, "skipped", message=r.message[:200])
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px}th{background:#eee}.passed{background:#d9f2d9}
.failed,.error{background:#f8d0d0}.skipped{background:#eee}details{margin:.6em 0}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:20em}"""


def write_html(records: Sequence[Record], path: Path, *, title: str = "acdgate lab run", notes: Sequence[str] = ()) -> None:
    """The HTML report: summary matrix (scenario x endpoint kind x conditions), then every
    test with its timing, failure message and SIP ladder."""
    kinds = sorted({(r.endpoint_kind, r.conditions) for r in records})
    scenarios = sorted({r.scenario for r in records})
    cell = {(r.scenario, r.endpoint_kind, r.conditions): r for r in records}
    passed = sum(r.outcome == "passed" for r in records)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p><b>{passed}</b> of <b>{len(records)}</b> passed, "
             f"{sum(r.duration for r in records):.1f} s in tests.</p>"]
    parts += [f"<p>{html.escape(n)}</p>" for n in notes]
    parts.append("<table><tr><th>scenario</th>" + "".join(
        f"<th>{html.escape(k)}<br><small>{html.escape(c)}</small></th>" for k, c in kinds) + "</tr>")
    for s in scenarios:
        row = [f"<td>{html.escape(s)}</td>"]
        for k, c in kinds:
            r = cell.get((s, k, c))
            row.append("<td>-</td>" if r is None else
                       f"<td class='{r.outcome}'><a href='#{_anchor(r)}'>{r.outcome}</a> {r.duration:.1f} s</td>")
        parts.append("<tr>" + "".join(row) + "</tr>")
    parts.append("</table><h2>Tests</h2>")
    for r in records:
        parts.append(f"<details id='{_anchor(r)}'{' open' if r.outcome in ('failed', 'error') else ''}>"
                     f"<summary class='{r.outcome}'>{html.escape(r.nodeid)}: {r.outcome} in {r.duration:.2f} s"
                     "</summary>")
        if r.message:
            parts.append(f"<pre>{html.escape(r.message[-6000:])}</pre>")
        if r.capture:
            parts.append(f"<p>capture: <code>{html.escape(_shown(r.capture, path.parent))}</code></p>")
        parts.append(r.ladder_svg or "<p>no ladder</p>")
        parts.append("</details>")
    parts.append("</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


def _shown(capture: str, report_dir: Path) -> str:
    """A capture's path as the report shows it: relative to the report's folder when it is in
    it, so that a report moved with its folder (CI copies the lab's to build/) still finds it."""
    where = Path(capture)
    return str(where.relative_to(report_dir)) if where.is_relative_to(report_dir) else capture


def _anchor(r: Record) -> str:
    return "t" + "".join(ch if ch.isalnum() else "-" for ch in r.nodeid)
