"""Every figure reads the same in every output of a family: HTML, PPTX, XLSX as displayed, CSV, e-mail.

Each family runs on its test dataset extended with figures on rounding edges (a tie at the last
shown place, negatives, large amounts, rates of 4 to 8 decimals, percentages like 19.645 %).
The HTML is the exported page of a real run, the workbook is read back with openpyxl and shown
through its number formats (``readback.excel_display``, checked against LibreOffice in
``tests/render/test_figures.py``); the texts expected are worked out from the exact values by
the README's rule, and their half-to-even or binary-float spellings must appear nowhere.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal as D
from email import policy
from email.parser import BytesParser

import openpyxl
import pytest

from reportlib.load import write_domain
from reportlib.render import figures
from reportlib.run import run_report

from .conftest import pdf_text
from .readback import html_table, html_tables, html_text, pptx_text, sheet_lines, sheet_table

pytestmark = pytest.mark.kernel


def _cards(page: str) -> dict[str, str]:
    """The headline cards of a page: label -> value."""
    return dict(re.findall(r'<div class="label">(.*?)</div><div class="value">(.*?)</div>', page))


def _has(text: str, figure: str) -> bool:
    """True if ``figure`` is in ``text`` as a figure of its own (not part of a longer number)."""
    return re.search(rf"(?<![\d.,]){re.escape(figure)}(?![\d])", text) is not None


def _keyed(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row for row in rows}


# --------------------------------------------------------------------------- statements

@pytest.fixture(scope="module")
def statement(tmp_path_factory):
    from .statements.dataset import EDGE_PARTNER, edge_billing_rows

    root = tmp_path_factory.mktemp("statement-figures")
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("billing", edge_billing_rows(), url=url, source="rounding edges")
    result = run_report("statement", {"partner": EDGE_PARTNER, "month": "2026-10"}, out=root / "outputs", db_url=url)
    assert result.status == "ok"
    stem = root / "outputs" / "statements" / "2026-10" / result.stem
    return {"root": root, "html": stem.with_suffix(".html").read_text(encoding="utf-8"),
            "xlsx": stem.with_suffix(".xlsx"), "book": openpyxl.load_workbook(stem.with_suffix(".xlsx"))}


def test_statement_cards_read_as_the_summary_sheet_and_sit_on_the_edges(statement):
    cards = _cards(statement["html"])
    summary = sheet_lines(statement["book"]["Summary"])
    pairs = {"Opening balance": "Opening balance", "Topped up": "Topped up", "Used": "Used",
             "Closing balance": "Closing balance", "Net revenue": "Revenue, net"}
    for card, line in pairs.items():
        assert cards[card] == summary[line], card
    assert cards["Net revenue"] == "6,126.21"  # 6126.205 exactly; half to even or a float: 6,126.20
    assert cards["Topped up"] == "987,654,321.25" and summary["Accounts"] == "3"
    assert "gross 6,806.90, discount 680.69" in html_text(statement["html"])  # 6806.895375, 680.690375


@pytest.mark.parametrize("title, sheet, header", [
    ("total_credit", "Total credit", ["Account", "Account name", "Type", "Opening balance", "Topped up", "Used",
                                      "Accrued", "Adjustments", "Closing balance"]),
    ("revenue_by_service", "Revenue by service", ["Service", "Lines", "Gross", "Discount", "Net"]),
    ("revenue_by_account", "Revenue by account", ["Account", "Account name", "Lines", "Gross", "Discount", "Net"]),
    ("usage_by_service", "Usage by service", ["Service", "Transactions", "Used"]),
    ("discounts", "Discounts", ["Account", "Account name", "Type", "Service", "Discount", "Kind", "Value",
                                "Valid from", "Valid to", "Status"]),
])
def test_statement_tables_read_as_their_sheets(statement, title, sheet, header):
    page_rows = _keyed(html_table(statement["html"], header))
    sheet_header, sheet_rows = sheet_table(statement["book"][sheet], header[0])
    assert sheet_header == header
    sheet_rows = _keyed(sheet_rows)
    assert page_rows and all(page_rows[key] == sheet_rows[key] for key in page_rows), title


def test_statement_edges_read_half_up_everywhere(statement):
    book, text = statement["book"], html_text(statement["html"])
    credit = _keyed(sheet_table(book["Total credit"], "Account")[1])
    assert credit["C4"][4:9] == ["987,654,321.13", "12.35", "0.01", "-2.67", "987,654,306.12"]
    assert credit["P4"][4] == "0.13" and credit["C5"][8] == "-0.00"  # -0.004: Excel keeps the minus
    name = next(c for row in book["Total credit"].iter_rows() for c in row if c.value == "=2+5")
    assert name.data_type == "s" and name.quotePrefix and credit["C5"][1] == "=2+5"  # as written, never a formula
    usage = _keyed(sheet_table(book["Credit usage"], "Time (UTC)")[1])
    assert [r[5] for r in usage.values()] == ["12.3457"]  # 12.34565 at four places
    lines = sheet_table(book["Revenue detailed"], "Date")[1]
    assert sorted(r[5:8] for r in lines) == [["1,000", "0.1235", "6,806.90"], ["3", "0.0001", "0.00"]]
    discount = _keyed(sheet_table(book["Discounts"], "Account")[1])
    assert discount["C4"][6] == "12.35"
    # C4's adjustment -2.665 reads -2.67 (its table row); the card's "Accrued + adjustments" is -2.664.
    assert _cards(statement["html"])["Accrued + adjustments"] == "-2.66"
    for wrong in ("6,126.20", "987,654,321.12", "987,654,306.11", "0.12"):
        assert not _has(text, wrong), wrong


@pytest.mark.office
def test_libreoffice_shows_the_statement_workbook_with_the_same_figures(statement, tmp_path):
    text = pdf_text(statement["xlsx"], tmp_path)
    for shown in ("6,126.21", "987,654,321.13", "987,654,306.12", "-2.67", "0.1235", "12.3457", "1,000", "=2+5"):
        assert shown in text, shown
    assert "6,126.20" not in text and "'=2+5" not in text


# --------------------------------------------------------------------------- QBR decks and portfolio

@pytest.fixture(scope="module")
def review_outputs(tmp_path_factory):
    from .qbr.dataset import EDGE_PARTNER, edge_qbr_rows

    root = tmp_path_factory.mktemp("qbr-figures")
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("qbr", edge_qbr_rows(), url=url, source="rounding edges")
    deck = run_report("qbr", {"partner": EDGE_PARTNER, "quarter": "2026Q3"}, out=root / "outputs", db_url=url)
    book = run_report("qbr-portfolio", {"quarter": "2026Q3"}, out=root / "outputs", db_url=url)
    assert deck.status == "ok" and book.status == "ok"
    folder = root / "outputs" / "qbr" / "2026q3"
    return {"pptx": folder / f"{deck.stem}.pptx", "html": (folder / f"{deck.stem}.html").read_text(encoding="utf-8"),
            "portfolio_html": (folder / f"{book.stem}.html").read_text(encoding="utf-8"),
            "book": openpyxl.load_workbook(folder / f"{book.stem}.xlsx")}


def _deck_tables(path) -> list[list[list[str]]]:
    from pptx import Presentation

    return [[[cell.text for cell in row.cells] for row in shape.table.rows]
            for slide in Presentation(str(path)).slides for shape in slide.shapes if shape.has_table]


QBR_EDGES = {  # shown half up -> what half to even would show
    "-80.3 %": "-80.2 %", "6.3 %": "6.2 %", "36.3 h": "36.2 h", "4.13": "4.12", "+6.3": "+6.2", "62.3 %": "62.2 %",
    "2.3:1": "2.2:1", "560.3 days": "560.2 days", "0.13": "0.12", "43.1": "43.0"}


def test_deck_and_html_show_every_qbr_figure_alike_half_up(review_outputs):
    deck_tables = _deck_tables(review_outputs["pptx"])
    page = review_outputs["html"]
    header = ["Figure", "Value", "Target", "Status"]
    sections = [t for t in deck_tables if t[0] == header]
    assert len(sections) == 6 and [t[1:] for t in html_tables(page) if t[0] == header] == [t[1:] for t in sections]
    breakdown = next(t for t in deck_tables if t[0][0] == "Component")
    assert html_table(page, breakdown[0]) == breakdown[1:]
    benchmarks = next(t for t in deck_tables if t[0][0] == "KPI")
    page_benchmarks = html_table(page, benchmarks[0] + ["Status"])
    assert [row[:5] for row in page_benchmarks] == benchmarks[1:]
    deck, text = pptx_text(review_outputs["pptx"]), html_text(page)
    assert "Health score 43.1 — Critical" in deck and "Health score 43.1 (Critical)" in text
    for shown, wrong in QBR_EDGES.items():
        assert _has(deck, shown) and _has(text, shown), shown
        assert not _has(deck, wrong) and not _has(text, wrong), wrong


def test_deck_chart_points_are_the_figures_rounded_half_up(review_outputs):
    from pptx import Presentation

    charts = {shape.chart.chart_title.text_frame.text: shape.chart for slide in Presentation(str(review_outputs["pptx"])).slides
              for shape in slide.shapes if shape.has_chart and shape.chart.has_title}
    points = list(charts["Points earned vs weight"].plots[0].series[0].values)
    # 1.875, 12.64375, 10.625, 12.375 and 5.53125 points to two places; half to even gives 10.62 for 10.625
    assert points == [1.88, 12.64, 10.63, 12.38, 5.53]


def test_portfolio_workbook_holds_exact_scores_that_read_as_the_deck(review_outputs):
    book, page = review_outputs["book"], review_outputs["portfolio_html"]
    header, rows = sheet_table(book["Portfolio"], "Partner")
    assert _keyed(html_table(page, header)) == _keyed(rows)
    e5 = dict(zip(header, _keyed(rows)["E5"]))
    assert (e5["Health score"], e5["Band"], e5["Attainment"], e5["Coverage"]) == ("43.1", "Critical", "6.3 %", "2.3 %")
    cell = next(c for row in book["Portfolio"].iter_rows() for c in row if c.value == "E5").offset(column=6)
    assert D(repr(cell.value)) == D("43.05") and cell.number_format == "#,##0.0"  # exact, shown to one decimal
    tricky = next(c for row in book["Portfolio"].iter_rows() for c in row if str(c.value).startswith("=HYPERLINK"))
    assert tricky.data_type == "s" and tricky.quotePrefix  # the name as written, never a formula
    assert "43.1 — Critical" in pptx_text(review_outputs["pptx"])


def test_tier_benchmarks_sheet_names_metrics_and_reads_as_the_deck(review_outputs):
    header, rows = sheet_table(review_outputs["book"]["Tier benchmarks"], "Tier")
    assert header == ["Tier", "Metric", "Partners", "25th percentile", "Median", "75th percentile"]
    select = {row[1]: " · ".join(row[3:6]) for row in rows if row[0] == "select"}
    assert "revenue_attainment_pct" not in select and "Revenue attainment" in select and "Health score" in select
    deck = next(t for t in _deck_tables(review_outputs["pptx"]) if t[0][0] == "KPI")
    for kpi, _value, _target, tier, _rank in deck[1:]:
        assert select[kpi] == tier, kpi
    assert select["Time to approval"] == "36.3 h · 36.3 h · 36.3 h" and select["CSAT"] == "4.13 · 4.13 · 4.13"


# --------------------------------------------------------------------------- dashboard

@pytest.fixture(scope="module")
def dashboard_outputs(tmp_path_factory):
    from .dashboard.dataset import edge_leads

    root = tmp_path_factory.mktemp("dashboard-figures")
    url = f"sqlite:///{root / 'db.sqlite'}"
    write_domain("leads", edge_leads(), url=url, source="rounding edges")
    result = run_report("dashboard", {"month": "2026-10"}, out=root / "outputs", db_url=url)
    assert result.status == "ok"
    stem = root / "outputs" / "dashboard" / "2026-10" / result.stem
    return {"html": stem.with_suffix(".html").read_text(encoding="utf-8"),
            "book": openpyxl.load_workbook(stem.with_suffix(".xlsx"))}


def test_dashboard_cards_read_as_the_summary_sheet(dashboard_outputs):
    cards = _cards(dashboard_outputs["html"])
    header, rows = sheet_table(dashboard_outputs["book"]["Summary"], "Measure")
    summary = {row[0]: dict(zip(header, row)) for row in rows}
    for measure, row in summary.items():
        assert cards[measure] == row["This period"], measure
    assert summary["Total leads"] == {"Measure": "Total leads", "This period": "1,037", "Previous period": "1,040",
                                      "Change (rate: points)": "-3", "Change %": "-0.29 %"}
    rate = summary["Invalidation rate"]  # a fraction with a percent format, as on every other sheet
    assert (rate["This period"], rate["Previous period"], rate["Change (rate: points)"]) == ("15.63 %", "0.00 %",
                                                                                           "+15.63")
    assert summary["Valid leads"]["Change %"] == "+2,600.00 %"
    text = html_text(dashboard_outputs["html"])
    assert "vs 2026-09: -0.29 % (-3)" in text and "vs 2026-09: +15.63 points (was 0.00 %)" in text
    assert not _has(text, "15.62 %") and not _has(text, "1037")


@pytest.mark.parametrize("header, sheet", [
    (["Period", "Total", "Deleted", "Valid", "Invalid", "Caution", "Billable", "Processed", "Valid + Invalid",
      "Invalidation rate"], "Trend (13 months)"),
    (["Channel", "Total", "Deleted", "Valid", "Invalid", "Caution", "Billable", "Processed", "Valid + Invalid",
      "Invalidation rate", "Total, previous period", "Invalidation rate, previous period"], "Channels"),
    (["Enterprise type", "Total", "Deleted", "Valid", "Invalid", "Caution", "Billable", "Processed", "Valid + Invalid",
      "Invalidation rate", "Total, previous period", "Invalidation rate, previous period"], "Enterprise types"),
    (["Enterprise", "Name", "Type", "Total", "Deleted", "Valid", "Invalid", "Caution", "Billable", "Processed",
      "Valid + Invalid", "Invalidation rate", "Total, previous period", "Invalidation rate, previous period"],
     "Enterprises"),
])
def test_dashboard_tables_read_as_their_sheets(dashboard_outputs, header, sheet):
    page_rows = _keyed(html_table(dashboard_outputs["html"], header))
    sheet_header, sheet_rows = sheet_table(dashboard_outputs["book"][sheet], header[0])
    assert sheet_header == header and page_rows == _keyed(sheet_rows)
    assert any("1,0" in cell for row in page_rows.values() for cell in row)  # thousands show their separator


def test_dashboard_chart_tooltips_carry_the_figures_as_text(dashboard_outputs):
    page = dashboard_outputs["html"]
    assert not re.search(r'"format": "[,+.]', page)  # no d3 number format left for the browser to apply
    assert '"invalidation_rate_text": "15.63 %"' in page and '"total_text": "1,037"' in page


# --------------------------------------------------------------------------- rate amendments

@pytest.fixture(scope="module")
def amendment_outputs(tmp_path_factory):
    from reportlib.cli import main
    from reportlib.db import init_db

    from .amendments.dataset import apply_edge_batch

    root = tmp_path_factory.mktemp("amendment-figures")
    url = f"sqlite:///{root / 'db.sqlite'}"
    init_db(url)
    batch = apply_edge_batch(url)
    out = root / "outputs"
    assert main(["amendments", "make", "--batch", str(batch), "--db", url, "--out", str(out), "--workers", "1",
                 "--billing-address", "billing@ext.example"]) == 0
    folder = out / "amendments" / f"batch-{batch}"

    def eml(name):
        with open(folder / "outbox" / name, "rb") as handle:
            return BytesParser(policy=policy.default).parse(handle).get_body(("plain",)).get_content()

    with open(folder / "c1-cust-p1.billing.csv", newline="", encoding="utf-8") as handle:
        billing = list(csv.DictReader(handle))
    return {"url": url, "html": (folder / "c1-cust-p1.html").read_text(encoding="utf-8"),
            "book": openpyxl.load_workbook(folder / "c1-cust-p1.xlsx"), "csv": billing,
            "mail": eml("c1-cust-p1.eml"), "billing_mail": eml(f"billing-batch-{batch}.eml")}


def test_amendment_rates_read_alike_in_html_workbook_and_billing_csv(amendment_outputs):
    page = amendment_outputs["html"]
    shown = _keyed([row[1:] + row[:1] for row in html_table(page, ["Country / area", "Code", "Rate", "Previous rate",
                                                                   "Change", "Effective", "End date", "Increment"])])
    header, rows = sheet_table(amendment_outputs["book"]["Changes"], "Country / area")
    sheet = {row[1]: row for row in rows}
    billing = {row["code"]: row for row in amendment_outputs["csv"]}
    everything = sheet_table(amendment_outputs["book"]["Rates A-Z"], "Country / area")[1]
    assert len(shown) == 200 and len(sheet) == 1007 and len(billing) == len(everything)  # the page lists 200
    for code, row in shown.items():
        assert row[1:4] == sheet[code][2:5], code  # rate, previous rate, change
        assert billing[code]["rate"] == sheet[code][2], code
    expected = {"4910": "0.12340000", "4930": "0.12345678", "4940": "1234.50000000", "0044": "0.01001250",
                "4477009001234567": "0.49999999", "590000": "0.01230000"}
    assert {code: sheet[code][2] for code in expected} == expected
    assert {code: billing[code]["rate"] for code in expected} == expected


def test_amendment_counts_read_alike_in_html_and_email(amendment_outputs):
    cards = _cards(amendment_outputs["html"])
    assert (cards["Increase"], cards["Decrease"], cards["Unchanged"]) == ("1,006", "1", "1")
    assert ("Changes: 1,006 increase(s), 1 decrease(s), 0 new and 0 closed code(s)"
            in amendment_outputs["mail"])
    assert "Changed codes (1,007 of 1,008), first 200" in html_text(amendment_outputs["html"])
    assert "1,008 row(s) in all" in amendment_outputs["billing_mail"]


def test_rate_review_reads_alike_in_html_and_workbook(amendment_outputs, tmp_path):
    from reportlib.db import init_db
    from reportlib.ratedesk import ChangeRow, VerifyOptions, verify_deck
    from reportlib.ratedesk.html import write_review_html
    from reportlib.ratedesk.xlsx import write_review_xlsx

    from .amendments.dataset import EDGE_RATES
    from .ratedesk.dataset import BASE, NOW

    rows = [ChangeRow(n, "Area RATE", code_deck="T", area=area, rate_new=str(D(rate) * 2))
            for n, (area, rate) in enumerate(EDGE_RATES.items(), start=1)]
    rows.append(ChangeRow(len(rows) + 1, "Area RATE", code_deck="T", area="Beta", rate_new="0.20025"))
    with init_db(amendment_outputs["url"]).connect() as conn:
        result = verify_deck(conn, rows, VerifyOptions(plans=("P1",), now=NOW, base_date=BASE))
    xlsx = write_review_xlsx(result.frame(), result.errors, result.warnings, tmp_path / "review.xlsx")
    page = write_review_html(result.frame(), result.errors, result.warnings, tmp_path / "review.html")
    book, page = openpyxl.load_workbook(xlsx), page.read_text(encoding="utf-8")
    for sheet, first in (("By plan", "Rate plan"), ("Largest changes", "Deck row")):
        header, rows_shown = sheet_table(book[sheet], first)
        assert html_table(page, header) == rows_shown, sheet
    changes = {row[2]: row for row in sheet_table(book["Largest changes"], "Deck row")[1]}
    assert changes["Beta"][4:8] == ["0.20000000", "0.20025000", "0.00025000", "0.13 %"]  # 0.125 % half up
    assert changes["Zero"][7] == "100.25 %"  # 0.0100125 -> 0.020025
