"""The review report of a verification: increases and decreases by plan, largest changes, errors."""

from __future__ import annotations

from openpyxl import load_workbook

from reportlib.db import init_db
from reportlib.load import write_domain
from reportlib.ratedesk import ChangeRow, VerifyOptions, verify_deck
from reportlib.ratedesk.html import write_review_html
from reportlib.ratedesk.metrics import largest_changes, review_by_plan
from reportlib.ratedesk.xlsx import write_review_xlsx

from ..amendments.dataset import amendment_data
from .dataset import BASE, NOW


def test_review_report_shows_increases_and_decreases_by_plan_largest_changes_and_errors(tmp_path, sqlite_url):
    write_domain("rates", amendment_data(), url=sqlite_url, source="review test")
    rows = [ChangeRow(1, "Area RATE", code_deck="T", area="Alpha", rate_new="0.15"),
            ChangeRow(2, "Area RATE", code_deck="T", area="Gamma", rate_new="0.045", rate_plans="P1,P2"),
            ChangeRow(3, "Area RATE", code_deck="T", area="Nowhere", rate_new="0.1")]
    with init_db(sqlite_url).connect() as conn:
        result = verify_deck(conn, rows, VerifyOptions(plans=("P1",), now=NOW, base_date=BASE))
    by_plan = review_by_plan(result.frame()).set_index("rate_plan")
    assert (by_plan.loc["P1", "increases"], by_plan.loc["P1", "decreases"]) == (1, 1)
    assert by_plan.loc["P2", "decreases"] == 1
    assert str(by_plan.loc["P1", "max_increase_pct"]) == "50.00"
    largest = largest_changes(result.frame())
    assert list(largest["area"])[0] == "Alpha"
    xlsx, html = tmp_path / "review.xlsx", tmp_path / "review.html"
    write_review_xlsx(result.frame(), result.errors, result.warnings, xlsx, title="Review <deck>")
    write_review_html(result.frame(), result.errors, result.warnings, html, title="Review <deck>")
    book = load_workbook(xlsx)
    assert book.sheetnames == ["By plan", "Largest changes", "Errors", "Warnings"]
    errors = [r[0] for r in book["Errors"].iter_rows(values_only=True)][1:]
    assert len(errors) == 1 and "row 3" in errors[0] and "Nowhere" in errors[0]
    page = html.read_text(encoding="utf-8")
    assert "Review &lt;deck&gt;" in page and "Nowhere" in page and "<script" not in page
