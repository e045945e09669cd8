"""The archived HTML report in a real browser with no network: Debian's Chromium, headless,
driven by Playwright, opens the page `acdgate report --format html` writes (a golden journal
with figures checked by hand in tests/acd/test_reports_golden.py) from a file. The three charts
render with the bars the report holds, and the page asks for nothing but itself."""

from __future__ import annotations

from pathlib import Path

from acdgate.acd.reports import build_report, render_html
from acdgate.acd.reports.intervals import Granularity
from playwright.sync_api import sync_playwright
from report_journal import M, golden_journal

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HOUR = 3600.0


def test_the_html_report_renders_offline_with_its_charts(tmp_path: Path) -> None:
    site, records = golden_journal()
    report = build_report(records, M - HOUR, M + HOUR, site, Granularity.MINUTES_60)
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report, "golden"), encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            fetched: list[str] = []
            page.on("request", lambda r: fetched.append(r.url))
            page.goto(page_file.as_uri())
            assert fetched == [page_file.as_uri()]  # no script, font or image from anywhere
            charts = {name: page.locator(f"svg.chart.{name}") for name in ("calls", "service-level",
                                                                              "agent-states")}
            for name, chart in charts.items():
                box = chart.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 50, name
            # 2 hours x offered/answered/abandoned; both hours have calls counting to the level
            assert charts["calls"].locator("rect.bar").count() == 6
            assert charts["service-level"].locator("rect.bar.sl").count() == 2
            # one stacked bar per agent of the report, each segment drawn with a width
            segments = charts["agent-states"].locator("rect.bar.state")
            assert segments.count() >= len({row.user_id for row in report.agents})
            widths = segments.evaluate_all("els => els.map(e => e.getBBox().width)")
            assert all(w > 0 for w in widths)
            # the tables are there too, with the labels of each code family
            text = page.inner_text("body")
            assert "Break" in text and "Update customer record" in text
        finally:
            browser.close()
