"""The QBR families from data to files: real kernels, decks read back with python-pptx,
LibreOffice, the portfolio workbook read back with openpyxl."""

import json
import re
from decimal import Decimal as D

import openpyxl
import pytest
from pptx import Presentation

import reportlib
from reportlib.families import get_family
from reportlib.load import write_domain
from reportlib.periods import Quarter
from reportlib.qbr import SLIDE_TITLES, QbrBatchParams, quarter_metrics
from reportlib.run import run_report

from reportlib.render.html import assert_offline
from reportlib.render.text import escape_html

from ..conftest import browser_dom, pdf_text
from .dataset import TRICKY, qbr_rows

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One database, the decks of A1 and of the partner with the tricky name, and the portfolio."""
    root = tmp_path_factory.mktemp("qbr")
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("qbr", qbr_rows(), url=url, source="test")
    out = root / "outputs"
    runs = {pid: run_report("qbr", {"partner": pid, "quarter": "2026Q3"}, out=out, db_url=url) for pid in ("A1", "B2")}
    runs["portfolio"] = run_report("qbr-portfolio", {"quarter": "2026Q3"}, out=out, db_url=url)
    with reportlib.connect(url) as conn:
        computed = quarter_metrics(conn, "2026Q3")
    return {"root": root, "url": url, "out": out, "runs": runs, "folder": out / "qbr" / "2026q3",
            "computed": computed}


@pytest.fixture(scope="module")
def deck(world):
    return Presentation(str(world["folder"] / "a1-alpha-systems.pptx"))


def _chart(slide, title):
    for shape in slide.shapes:
        if shape.has_chart and shape.chart.has_title and shape.chart.chart_title.text_frame.text == title:
            return shape.chart
    raise AssertionError(f"no chart {title!r} on slide {slide.shapes.title.text!r}")


def _text(slide) -> str:
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts.extend(cell.text for row in shape.table.rows for cell in row.cells)
    return "\n".join(parts)


def test_runs_publish_deck_html_and_portfolio_in_the_quarter_folder(world):
    assert all(r.status == "ok" for r in world["runs"].values())
    names = set(p.name for p in world["folder"].iterdir())
    assert {"a1-alpha-systems.pptx", "a1-alpha-systems.html", "portfolio-2026q3.xlsx",
            "portfolio-2026q3.html"} <= names
    manifest = json.loads((world["folder"] / "a1-alpha-systems.manifest.json").read_text())
    assert manifest["parameters"] == {"partner": "A1", "quarter": "2026Q3", "reference_cycle_days": 180}


def test_deck_has_every_slide_of_the_spec_with_notes(deck):
    titles = [slide.shapes.title.text for slide in deck.slides]
    assert titles[0] == "Quarterly Business Review — Alpha Systems"
    assert titles[1:] == list(SLIDE_TITLES[1:])
    for slide in deck.slides:
        assert slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip()


def test_executive_summary_shows_health_score_band_and_action(deck):
    text = _text(deck.slides[1])
    assert "Health score 85.4 — Excellent" in text
    assert "Action required (Excellent)" in text
    assert text.count("• ") == 3


def test_chart_series_equal_the_computed_metrics(deck, world):
    computed = world["computed"]
    trend = computed.revenue_trend[computed.revenue_trend["partner_id"] == "A1"]
    chart = _chart(deck.slides[2], "Revenue vs target, last 8 quarters")
    assert list(chart.plots[0].categories) == [str(Quarter(2026, 3) - i) for i in reversed(range(8))]
    revenue, target = chart.plots[0].series
    assert list(revenue.values) == [float(v) for v in trend["revenue"]]
    assert revenue.values[-1] == 100000.0 and revenue.values[-2] == 30000.0
    assert list(target.values)[-2:] == [60000.0, 80000.0]
    funnel = _chart(deck.slides[4], "Registration funnel")
    assert list(funnel.plots[0].series[0].values) == [1.0, 2.0, 4.0]
    stages = _chart(deck.slides[3], "Open pipeline by stage")
    assert list(stages.plots[0].series[0].values) == [0.0, 100000.0, 0.0, 150000.0, 0.0]
    health = _chart(deck.slides[SLIDE_TITLES.index("Health score breakdown")], "Points earned vs weight")
    row = computed.metrics.set_index("partner_id").loc["A1"]
    points = [round(float(row[f"{k}_points"]), 2) for k in ("revenue", "pipeline", "engagement", "satisfaction",
                                                             "efficiency")]
    assert list(health.plots[0].series[0].values) == points
    portal = _chart(deck.slides[5], "Portal logins per month, last 8 quarters")
    assert portal.plots[0].series[0].values[-1] == 3.0


def test_kpi_tables_show_figures_with_targets(deck):
    revenue = _text(deck.slides[2])
    assert "100,000.00" in revenue and "125.0 %" in revenue and "on target" in revenue
    cx = _text(deck.slides[7])
    assert "4.00" in cx and "+25.0" in cx and "75.0 %" in cx
    breakdown = _text(deck.slides[SLIDE_TITLES.index("Health score breakdown")])
    assert "30.0" in breakdown and "attainment: 125.0 %" in breakdown


def test_deck_converts_to_pdf_with_the_health_score(world, tmp_path):
    text = pdf_text(world["folder"] / "a1-alpha-systems.pptx", tmp_path)
    assert "Health score 85.4" in text and "Executive summary" in text


CHART_TITLES = ("Revenue vs target, last 8 quarters", "Open pipeline by stage", "Deal registration funnel",
                "Portal logins per month, last 8 quarters", "Partner vs tier median (%)",
                "Health score: points earned vs weight")


def test_html_carries_the_same_content_offline(world):
    html = (world["folder"] / "a1-alpha-systems.html").read_text()
    assert "Health score" in html and "85.4" in html and "Coaching plan and action items" in html
    assert "partner_review(" not in html
    assert_offline(html)


def test_the_page_drawn_while_the_kernel_ran_is_the_page_drawn_at_export(world):
    """A run draws each chart as its cell displays it, while the kernel runs the next cells; the
    page is byte for byte the one that the export draws from the executed notebook."""
    from reportlib.render.html import notebook_to_html

    pages = sorted(world["folder"].glob("[ab][12]-*.html"))
    assert len(pages) == 2  # A1's and the tricky partner's
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count('<div class="rl-chart-svg">') == len(CHART_TITLES)
        assert text == notebook_to_html(page.with_suffix(".ipynb"))


def test_html_charts_are_inline_svg_that_chromium_shows_offline_without_any_script(world, tmp_path):
    """Issue 18: a partner's page carries its charts as drawings (inline SVG), not the 0.9 MB
    Vega bundle that the browser would run to draw them; only the dashboard keeps interaction."""
    from reportlib.render.charts import BUNDLE_MARK, CHART_MARK
    from reportlib.render.chromium import Browser, chromium_path

    page = world["folder"] / "a1-alpha-systems.html"
    html = page.read_text()
    assert BUNDLE_MARK not in html and CHART_MARK not in html and "vegaEmbed" not in html
    assert re.search(r"<script[^>]*\ssrc=", html) is None
    assert page.stat().st_size < 150_000  # the aim for a QBR page
    drawings = re.findall(r'<div class="rl-chart-svg">(<svg.*?</svg>)</div>', html, flags=re.S)
    assert len(drawings) == len(CHART_TITLES)
    for svg, title in zip(drawings, CHART_TITLES):
        assert f">{escape_html(title)}</text>" in svg, title
        assert 'class="mark-' in svg and "role-mark" in svg, title  # the data's marks, drawn
    # The executed notebook holds the charts' specs (JupyterLab draws them), not their drawings.
    notebook = (world["folder"] / "a1-alpha-systems.ipynb").read_text()
    outputs = [o for cell in json.loads(notebook)["cells"] for o in cell.get("outputs", [])]
    assert BUNDLE_MARK not in notebook and "<svg" not in notebook
    assert sum("application/vnd.vegalite.v6+json" in o.get("data", {}) for o in outputs) == len(CHART_TITLES)
    # Shown by Chromium with no network: each drawing takes room on the page and its marks are laid out.
    if chromium_path() is None:
        pytest.skip("headless Chromium is not installed")
    with Browser() as browser:
        tab = browser.page()
        tab.open(page.as_uri())
        shown = tab.evaluate("Array.from(document.querySelectorAll('.rl-chart-svg > svg')).map(s => {"
                             "const box = s.getBoundingClientRect();"
                             "const marks = Array.from(s.querySelectorAll('.role-mark > *'))"
                             ".filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });"
                             "return [box.width, box.height, marks.length]; })")
    assert len(shown) == len(CHART_TITLES)
    assert all(width > 100 and height > 100 and marks > 0 for width, height, marks in shown), shown
    dom = browser_dom(page, tmp_path)
    # The partner's rows reach the drawing: the trend's quarters and the funnel's steps are axis labels.
    assert ">2026Q3</text>" in dom and ">2024Q4</text>" in dom and ">Submitted</text>" in dom


def test_tricky_partner_name_stays_in_its_folder_and_plain_text(world):
    stem = world["runs"]["B2"].stem
    assert stem.startswith("b2-") and "/" not in stem and ".." not in stem
    deck_path = world["folder"] / f"{stem}.pptx"
    assert deck_path.is_file()
    assert Presentation(str(deck_path)).slides[0].shapes.title.text == f"Quarterly Business Review — {TRICKY}"
    outside = [p for p in world["root"].rglob("*") if p.is_file() and world["out"] not in p.parents
               and p.name != "db.sqlite" and not p.name.startswith("db.sqlite")]
    assert outside == []
    html = (world["folder"] / f"{stem}.html").read_text()
    assert "<a href=\"http://x.invalid\"" not in html


def test_portfolio_workbook_worst_first_with_plain_text_names(world):
    book = openpyxl.load_workbook(world["folder"] / "portfolio-2026q3.xlsx")
    assert book.sheetnames == ["Portfolio", "Tier benchmarks"]
    sheet = book["Portfolio"]
    rows = list(sheet.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "Partner")
    header, body = rows[header_at], [r for r in rows[header_at + 1:] if r and r[0]]
    records = [dict(zip(header, r)) for r in body]
    assert [r["Partner"] for r in records] == ["B2", "A1", "C3"]
    assert round(records[1]["Health score"], 1) == 85.4 and records[1]["Band"] == "Excellent"  # exact, shown 85.4
    assert records[1]["Attainment"] == pytest.approx(1.25)
    assert records[0]["Name"] == TRICKY  # as written, a string cell with the quote prefix
    for ws in book.worksheets:
        for row in ws.iter_rows():
            assert all(cell.data_type != "f" for cell in row)


def test_batch_selects_active_partners_only(world):
    family = get_family("qbr")
    with reportlib.connect(world["url"]) as conn:
        runs = family.entities(conn, QbrBatchParams.parse({"quarter": "2026Q3"}))
    assert [r["partner"] for r in runs] == ["A1", "B2", "C3"]
    assert all(r["quarter"] == "2026Q3" for r in runs)


def test_batch_decks_read_the_prepared_metrics_and_equal_the_single_runs(world, tmp_path):
    """A batch computes all partners' metrics once; its decks are the decks a single run makes."""
    from reportlib.batch import run_batch

    out = tmp_path / "batch"
    result = run_batch("qbr", {"quarter": "2026Q3"}, db_url=world["url"], out=out, workers=1, progress=False)
    assert result.ok and result.count("ok") == 3
    folder = out / "qbr" / "2026q3"
    executed = json.loads((folder / "a1-alpha-systems.ipynb").read_text())
    injected = next(c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert "prepared = " in "".join(injected["source"]) and "prepared = None" not in "".join(injected["source"])
    assert not (out / ".prepared").exists()  # the batch's prepared inputs go when it ends

    single, batched = Presentation(str(world["folder"] / "a1-alpha-systems.pptx")), Presentation(
        str(folder / "a1-alpha-systems.pptx"))
    assert [_text(s) for s in batched.slides] == [_text(s) for s in single.slides]
    for one, other in zip(single.slides, batched.slides):
        charts = [s.chart for s in one.shapes if s.has_chart]
        again = [s.chart for s in other.shapes if s.has_chart]
        assert [[tuple(series.values) for series in c.plots[0].series] for c in again] == \
            [[tuple(series.values) for series in c.plots[0].series] for c in charts]
