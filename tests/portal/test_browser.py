"""Headless Chromium (the system's, driven over the DevTools protocol by Playwright) uses the
portal as a partner would: signs in, chooses a report and its conditions, exports it, renders a
statement on demand; the downloaded workbook holds what the page showed."""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import need

from .conftest import PASSWORDS, chromium, sheet_table

pytestmark = [pytest.mark.browser, pytest.mark.kernel]


@pytest.fixture
def browser_page(portal, tmp_path):
    need(chromium() is not None, "headless Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), timeout=60_000,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
            context.set_default_timeout(60_000)
            page = context.new_page()
            problems = []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            yield page, problems
        finally:
            browser.close()


def _shots(tmp_path: Path) -> Path:
    """Where screenshots go: $REPORTLIB_PORTAL_SCREENSHOTS (to look at them), else the test's folder."""
    folder = Path(os.environ.get("REPORTLIB_PORTAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sign_in(page, portal, name):
    page.goto(f"{portal.url}/")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal.url}/")


def _table(page, index: int) -> tuple[list[str], list[list[str]]]:
    table = page.locator("table.report").nth(index)
    headers = table.locator("thead th").all_inner_texts()
    rows = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr, tfoot tr").all()]
    return [h.strip() for h in headers], [[c.strip() for c in row] for row in rows]


@pytest.mark.parametrize("report, conditions", [
    ("total-credit", {}),
    ("discounts", {"from": "2026-11-01", "to": "2026-11-30", "account_type": "customer",
                   "status": ["active", "inactive"]}),
    ("revenue-by-service", {"account_type": "both"}),
    ("credit-usage", {"account": True}),
])
def test_a_partner_chooses_a_report_exports_it_and_the_workbook_holds_what_the_page_showed(
        portal, browser_page, tmp_path, report, conditions):
    page, problems = browser_page
    shots = _shots(tmp_path)
    _sign_in(page, portal, "bob")
    page.screenshot(path=str(shots / "partner-home.png"), full_page=True)
    page.click("nav >> text=Reports")
    page.check(f"input[name=report][value={report}]")
    assert page.is_visible("#statuses") == (report == "discounts")  # portal.js runs under the CSP
    start, end = conditions.get("from", "2026-10-01"), conditions.get("to", "2026-10-31")
    page.fill("input[name=from]", start)
    page.fill("input[name=to]", end)
    if "account_type" in conditions:
        page.select_option("select[name=account_type]", conditions["account_type"])
    for status in conditions.get("status", []):
        page.check(f"input[name=status][value={status}]")
    if conditions.get("account"):
        accounts = page.locator("#account option").all()
        page.select_option("#account", accounts[-1].get_attribute("value"))
    page.click("#show-report")
    page.wait_for_selector("#result")
    page.screenshot(path=str(shots / f"partner-report-{report}.png"), full_page=True)
    assert page.locator("table.report").count() >= 1
    with page.expect_download() as waiting:
        page.click("#export")
    download = waiting.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    book = openpyxl.load_workbook(path)
    assert len(book.worksheets) == page.locator("section.result h3").count()
    compared = 0
    for index, ws in enumerate(book.worksheets):
        if index >= page.locator("table.report").count():
            break
        headers, rows = _table(page, index)
        assert rows == sheet_table(ws, headers), ws.title
        compared += len(rows)
    assert compared > 0
    # The conditions the page shows are the file's.
    preamble = {ws_row[0].value: ws_row[1].value for ws_row in book.worksheets[0].iter_rows(min_row=2, max_row=7)
                if ws_row[0].value}
    assert preamble["Partner"].startswith("P002 ")
    assert preamble["Period"] == f"{start} to {end}"
    assert not problems, problems


def test_a_partner_renders_a_statement_on_demand_and_watches_it_come(portal, browser_page, tmp_path):
    page, problems = browser_page
    shots = _shots(tmp_path)
    _sign_in(page, portal, "alice")
    page.click("nav >> text=On demand")
    page.check("input[name=family][value=statement]")
    page.fill("input[name=month]", "2026-07")
    page.click("button:has-text('Render')")
    page.wait_for_url("**/jobs/*")
    page.screenshot(path=str(shots / "partner-job-running.png"), full_page=True)
    page.wait_for_selector("#job-files", timeout=240_000)  # portal.js polls the status, then shows the files
    page.screenshot(path=str(shots / "partner-job-done.png"), full_page=True)
    names = page.locator("#job-files a.file").all_inner_texts()
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["html", "xlsx"]
    with page.expect_download() as waiting:
        page.locator("#job-files a.file", has_text=".xlsx").click()
    path = tmp_path / waiting.value.suggested_filename
    waiting.value.save_as(path)
    assert "Summary" in openpyxl.load_workbook(path).sheetnames
    page.click("nav >> text=Documents")
    assert all(page.locator(f"a.file[href='/files/statements/2026-07/{name}']").count() == 1 for name in names)
    page.screenshot(path=str(shots / "partner-documents.png"), full_page=True)
    assert not problems, problems
