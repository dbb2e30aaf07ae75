"""One real run of notebooks/dashboard.ipynb per period kind, read back in Chromium and openpyxl."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from ..conftest import browser_dom
from reportlib.demo import build_demo
from reportlib.run import run_report

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'reportlib.sqlite'}"
    build_demo(url, scale="small", domains=["leads"])
    month = run_report("dashboard", {"month": "2026-10"}, out=folder / "outputs", db_url=url)
    week = run_report("dashboard", {"week": "2026-W43", "caution_as": "invalid"}, out=folder / "outputs", db_url=url)
    return {"month": Path(month.folder) / month.stem, "week": Path(week.folder) / week.stem, "tmp": folder}


def test_html_is_offline_and_its_charts_render_as_svg_in_chromium(runs):
    html = runs["month"].with_suffix(".html")
    dom = browser_dom(html, runs["tmp"])
    charts = len(re.findall(r'<div class="rl-chart\b', dom))
    assert charts >= 10
    assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == charts
    assert "Chart error: [" not in dom and "Chart error: E" not in dom
    assert re.search(r"<svg.*?>Hilton<", dom, re.S), "advertiser names are drawn in the SVG"


def test_html_states_caution_rule_and_name_merges_and_escapes_names(runs):
    text = runs["month"].with_suffix(".html").read_text(encoding="utf-8")
    for section in ("Headline figures", "Trends: the last 13 months", "Advertisers by volume", "Publishers by volume",
                    "Channel mix", "Enterprise types", "Failing validation jobs by enterprise type", "Biggest movers"):
        assert section in text
    assert "Caution leads are counted separately" in text
    assert re.search(r"\d+ raw advertiser names resolved to \d+ advertisers \(\d+ merged", text)
    assert re.search(r"\d+ raw publisher names resolved to \d+ publishers \(\d+ merged", text)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Digital" in text
    assert not re.search(r"L\d{8}", text), "no lead's own fields (ids) in the report"


def test_week_dashboard_covers_the_iso_week_and_13_weeks(runs):
    text = runs["week"].with_suffix(".html").read_text(encoding="utf-8")
    assert "Week 2026-W43 (2026-10-19 to 2026-10-25)" in text
    assert "Caution leads are counted as invalid." in text
    book = openpyxl.load_workbook(runs["week"].with_suffix(".xlsx"))
    trend = book["Trend (13 weeks)"]
    periods = [trend.cell(row, 1).value for row in range(2, trend.max_row + 1)]
    assert periods[0] == "2026-W31" and periods[-1] == "2026-W43" and len(periods) == 13


def test_workbook_holds_numbers_not_text(runs):
    book = openpyxl.load_workbook(runs["month"].with_suffix(".xlsx"))
    assert book.sheetnames[:6] == ["Summary", "Trend (13 months)", "Trend by vertical", "Trend by industry",
                                   "Advertisers", "Publishers"]
    summary = book["Summary"]
    totals = [row for row in summary.iter_rows() if row[0].value == "Total leads"]
    assert totals and isinstance(totals[0][1].value, int) and totals[0][1].data_type == "n"
    advertisers = book["Advertisers"]
    header = [c.value for c in advertisers[1]]
    total, rate = header.index("Total") + 1, header.index("Invalidation rate") + 1
    first = advertisers.cell(2, 1).value
    assert first == "Hilton"
    assert isinstance(advertisers.cell(2, total).value, int)
    assert isinstance(advertisers.cell(2, rate).value, (int, float)) and "%" in advertisers.cell(2, rate).number_format
    assert 0 < advertisers.cell(2, rate).value < 1  # a fraction shown as a percentage


def test_an_enterprise_named_like_a_formula_stays_text(runs):
    book = openpyxl.load_workbook(runs["month"].with_suffix(".xlsx"))
    cells = [c for row in book["Enterprises"].iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells, "the formula-named demo enterprise is listed"
    for cell in cells:  # the name as written, in a string cell with the quote prefix: it reads as text
        assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK") and cell.quotePrefix
    assert not any(c.data_type == "f" for ws in book.worksheets for row in ws.iter_rows() for c in row)


def test_the_dashboard_pdf_is_its_page_printed_with_its_headline_figures_and_page_numbers(runs):
    import json
    import subprocess

    from reportlib.delivery.pdf import make_pdfs
    from reportlib.families import get_family

    from ..conftest import need
    from reportlib.render.chromium import chromium_path

    need(bool(chromium_path()), "headless Chromium")
    folder = runs["month"].parent
    report = make_pdfs(get_family("dashboard"), [folder], stems=[runs["month"].name])
    assert not report.failed and [p.name for p in report.made] == [runs["month"].name + ".pdf"]
    manifest = json.loads(runs["month"].with_name(runs["month"].name + ".manifest.json").read_text())
    assert runs["month"].name + ".pdf" in [f["name"] for f in manifest["files"]]
    text = subprocess.run(["pdftotext", "-layout", str(runs["month"].with_suffix(".pdf")), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    pages = text.split("\f")[:-1]
    assert pages and all(f"Page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))
    for figure in manifest["headline"]["figures"]:
        assert figure["text"] in text, figure
