"""Amendment documents read back: the sheet, the XLSX (openpyxl), the billing CSV, the .eml."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from reportlib.db import init_db
from reportlib.errors import ConfigError, DataError
from reportlib.amendments.metrics import amendment, amendment_targets, recipients, regeneration_targets
from reportlib.amendments.email import read_eml
from reportlib.amendments.data import amendment_records, amendments
from reportlib.amendments.send import deliver

from .dataset import EXPECTED, INCREASE_AT, apply_batch, dec, generate
from ..ratedesk.dataset import BASE


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The batch applied on SQLite and the three amendments generated (no kernel) into a folder."""
    folder = tmp_path_factory.mktemp("amendments")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    init_db(url)
    batch = apply_batch(url)
    out = folder / "batch"
    docs = {(c, p): generate(url, c, p, batch, output_dir=out, stem=f"{c}-{p}", user="analyst")
            for c, p in [("C1", "P1"), ("C2", "P1"), ("C1", "P2")]}
    return url, batch, out, docs


def test_amendment_sheet_marks_every_change_type_with_its_dates(db_url):
    batch = apply_batch(db_url)
    with init_db(db_url).connect() as conn:
        assert [(t.customer_id, t.rate_plan) for t in amendment_targets(conn, batch)] == \
            [("C1", "P1"), ("C1", "P2"), ("C2", "P1")]  # C3 is disabled; P2 is touched through deck T's codes
        doc = amendment(conn, "C1", "P1", batch)
    sheet = doc.sheet.set_index("code")
    assert sorted(sheet.index) == sorted(EXPECTED)
    for code, (change, rate, previous, effective, end) in EXPECTED.items():
        row = sheet.loc[code]
        assert (row["change"], row["rate"], row["previous_rate"]) == (change, dec(rate), dec(previous)), code
        assert isinstance(row["rate"], Decimal)
        assert row["effective_date"] == effective, code
        assert (row["end_date"] if row["end_date"] is not None else None) == end, code
    assert (doc.notice.effective_from, doc.notice.effective_to, doc.notice.currency) == (BASE, INCREASE_AT, "USD")
    assert doc.recipients == {"to": ["x@example.com"], "cc": ["am@example.com"], "bcc": []}


def test_xlsx_has_text_codes_8_decimal_rates_change_indicators_and_dates(made):
    _, batch, out, docs = made
    book = load_workbook(docs["C1", "P1"].xlsx)
    assert book.sheetnames == ["Rates A-Z", "Changes"]
    ws = book["Rates A-Z"]
    cells = {row[0].value: row for row in ws.iter_rows() if row[0].value is not None}
    customer = cells["Customer"][1]  # as written, a string cell (never a formula) with the quote prefix
    assert (customer.value, customer.data_type, customer.quotePrefix) == ("=Cust", "s", True)
    assert cells["Change batch"][1].value == batch
    assert cells["Effective to"][1].value == INCREASE_AT
    header_row = next(r for r in ws.iter_rows() if r[0].value == "Country / area")
    assert [c.value for c in header_row] == ["Country / area", "Code", "Rate", "Previous rate", "Change",
                                             "Effective date", "End date", "Billing increment"]
    table = [r for r in ws.iter_rows(min_row=header_row[0].row + 1) if r[1].value]
    assert len(table) == len(EXPECTED)
    by_code = {r[1].value: r for r in table}
    for code, (change, rate, previous, effective, end) in EXPECTED.items():
        row = by_code[code]
        assert row[1].data_type == "s", code  # 0044 and 4477009001234567 stay text
        assert row[2].data_type == "n" and Decimal(str(row[2].value)) == dec(rate)
        assert row[2].number_format == "0.00000000"
        assert (Decimal(str(row[3].value)) if row[3].value is not None else None) == dec(previous)
        assert row[4].value == change
        assert row[5].value == effective and row[5].is_date
        assert row[6].value == end
    assert by_code["4950"][7].value == "0/60/60" and by_code["4950"][7].data_type == "s"
    changes = [r[1].value for r in book["Changes"].iter_rows() if r[4].value in
               ("New", "Increase", "Decrease", "Closed", "Unchanged")]
    assert sorted(changes) == sorted(c for c, e in EXPECTED.items() if e[0] != "Unchanged")


def test_templates_choose_sheets_columns_order_and_labels(made):
    _, _, _, docs = made
    changes_only = load_workbook(docs["C2", "P1"].xlsx)
    assert changes_only.sheetnames == ["Changes"]
    compact = load_workbook(docs["C1", "P2"].xlsx)
    assert compact.sheetnames == ["Price list"]
    header = next(r for r in compact["Price list"].iter_rows(values_only=True) if r[0] == "Prefix")
    assert header == ("Prefix", "Destination", "Price", "Billing", "Status", "Valid from", "Valid until")


def test_billing_csv_splits_increments_and_writes_iso_utc_dates_and_flags(made):
    _, _, _, docs = made
    with open(docs["C1", "P1"].csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(EXPECTED)
    by_code = {r["code"]: r for r in rows}
    assert set(by_code) == set(EXPECTED)
    assert all("/" not in value for r in rows for value in r.values() if value != r["destination"])
    assert (by_code["4950"]["increment_first"], by_code["4950"]["increment_next"],
            by_code["4950"]["increment_third"]) == ("0", "60", "60")
    assert (by_code["4910"]["increment_first"], by_code["4910"]["increment_next"],
            by_code["4910"]["increment_third"]) == ("60", "60", "")
    assert by_code["4910"]["valid_from"] == "2026-11-28T00:00:00Z" and by_code["4910"]["rate"] == "0.12000000"
    assert (by_code["4931"]["valid_to"], by_code["4931"]["blocked"], by_code["4931"]["discontinued"]) == \
        ("2026-11-28T00:00:00Z", "1", "1")
    assert (by_code["0044"]["blocked"], by_code["0044"]["discontinued"]) == ("0", "0")
    assert by_code["0044"]["customer_ref"] == "E1" and by_code["0044"]["rate_plan_ref"] == "EP1"
    assert docs["C2", "P1"].csv is None  # no CSV template in its setup


def test_eml_carries_the_xlsx_and_every_recipient_and_billing_gets_the_csvs(made, monkeypatch):
    url, batch, out, docs = made
    report = deliver(url, f"batch-{batch}", billing_address="billing@ext.example")
    assert not report.failed and len(report.written) == 4
    message = read_eml(out / "outbox" / "C2-P1.eml")
    assert message["To"] == "a@zed.example, b@zed.example"
    assert message["Bcc"] == "audit@zed.example, am2@example.com"
    assert "P1" in message["Subject"] and message["Date"] and message["Message-ID"]
    body = message.get_body(("plain",)).get_content()
    assert "Dear Zed & Co <rates>," in body and "2 increase(s), 1 decrease(s), 2 new and 1 closed" in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "C2-P1.xlsx"
    assert attachment.get_content() == docs["C2", "P1"].xlsx.read_bytes()
    c1 = read_eml(out / "outbox" / "C1-P1.eml")
    assert (c1["To"], c1["Cc"], c1["Bcc"]) == ("x@example.com", "am@example.com", None)
    billing = read_eml(out / "outbox" / f"billing-batch-{batch}.eml")
    assert billing["To"] == "billing@ext.example"
    assert sorted(a.get_filename() for a in billing.iter_attachments()) == ["C1-P1.billing.csv", "C1-P2.billing.csv"]
    with init_db(url).connect() as conn:
        records = amendment_records(conn, batch=batch)
    assert set(records["email_status"]) == {"written"}
    assert set(records.set_index("customer_id").loc["C2", "billing_status"].split()) == {"none"}
    assert set(records[records["csv_status"] == "ok"]["billing_status"]) == {"written"}


def test_record_holds_request_user_files_rows_and_xlsx_timing(made):
    url, batch, out, docs = made
    with init_db(url).connect() as conn:
        records = amendment_records(conn, period=f"batch-{batch}").set_index(["customer_id", "rate_plan"])
    row = records.loc["C1", "P1"]
    assert (row["user"], row["batch_id"], row["xlsx_status"], row["csv_status"]) == ("analyst", batch, "ok", "ok")
    assert (row["xlsx_file"], row["csv_file"], row["rows"], row["changes"]) == ("C1-P1.xlsx", "C1-P1.billing.csv",
                                                                                  10, 6)
    assert row["xlsx_seconds"] >= 0 and row["xlsx_peak_mb"] > 0 and isinstance(row["requested_at"], datetime)
    assert json.loads(row["recipients"])["cc"] == ["am@example.com"]


def test_a_bad_template_fails_naming_it_and_writes_no_document(made, tmp_path):
    url, batch, _, _ = made
    from reportlib.ratedesk import data as s

    with init_db(url).begin() as conn:
        conn.execute(s.customer_rp_setup.update().where(s.customer_rp_setup.c.customer_id == "C1",
                                                        s.customer_rp_setup.c.rate_plan == "P2")
                     .values(amendment_template="no-such"))
    try:
        with pytest.raises(ConfigError, match=r"C1 × rate plan P2: amendment_template 'no-such'.*known: "):
            generate(url, "C1", "P2", batch, output_dir=tmp_path, stem="bad", user="analyst")
        assert list(tmp_path.iterdir()) == []  # no document and no record file
    finally:
        with init_db(url).begin() as conn:
            conn.execute(s.customer_rp_setup.update().where(s.customer_rp_setup.c.customer_id == "C1",
                                                            s.customer_rp_setup.c.rate_plan == "P2")
                         .values(amendment_template="compact"))


def test_recipients_reject_a_malformed_address_naming_the_setup():
    setup = dict(customer_id="C9", rate_plan="P1", to_emails="ok@example.com, not-an-address", cc_emails=None,
                 bcc_emails=None, add_account_manager="to")
    with pytest.raises(DataError, match=r"customer C9 × rate plan P1: to_emails 'not-an-address'.*"
                                        r"add_account_manager is 'to' but the customer has no account_manager_email"):
        recipients(setup, None)


def test_regeneration_shows_every_code_unchanged_for_chosen_plans_or_groups(db_url):
    apply_batch(db_url)
    with init_db(db_url).connect() as conn:
        assert [(t.customer_id, t.rate_plan) for t in regeneration_targets(conn, groups=("H",))] == [("C1", "P2")]
        assert [(t.customer_id, t.rate_plan) for t in regeneration_targets(conn, plans=("P1",))] == \
            [("C1", "P1"), ("C2", "P1")]
        doc = amendment(conn, "C1", "P1", None, at=datetime(2026, 12, 1))
    assert set(doc.sheet["change"]) == {"Unchanged"} and doc.notice.batch is None
    assert dict(zip(doc.sheet["code"], doc.sheet["rate"]))["4910"] == Decimal("0.12")
    assert "4931" not in set(doc.sheet["code"])


def test_a_large_plan_keeps_text_codes_and_8_decimal_rates(tmp_path):
    from reportlib.amendments.metrics import Amendment, Notice, compare_sheets
    from reportlib.amendments.templates import AMENDMENT_TEMPLATES
    from reportlib.amendments.xlsx import amendment_sheets, write_amendment_xlsx
    from reportlib.render.xlsx import CHUNK_ROWS

    start, change_at = datetime(2026, 1, 1), datetime(2026, 12, 1)
    count = CHUNK_ROWS + 500
    before = [("Area %03d" % (n // 50), "00%06d" % n, Decimal("0.12345678"), "60/60", start, change_at, start, None,
               "allow", "accept") for n in range(count)]
    after = [(a, c, Decimal("0.12345679") if n % 2 else r, i, change_at if n % 2 else rf, None, cf, ct, p5, pe)
             for n, (a, c, r, i, rf, _, cf, ct, p5, pe) in enumerate(before[:-1])]
    sheet = compare_sheets(before, after)
    assert sheet["change"].value_counts().to_dict() == {"Unchanged": count // 2, "Increase": count // 2 - 1,
                                                        "Closed": 1}
    notice = Notice("C9", "@Big =Customer", "Big plan", "Deck", "USD", change_at, 7, change_at, change_at)
    doc = Amendment(notice, {"customer_id": "C9", "rate_plan": "Big plan"}, sheet)
    template = AMENDMENT_TEMPLATES.get("full-az")
    assert len(amendment_sheets(doc, template)[0].rows) == count
    stats = write_amendment_xlsx(doc, template, tmp_path / "big.xlsx")
    assert stats.rows == count and stats.peak_mb > 0
    book = load_workbook(tmp_path / "big.xlsx")
    ws = book["Rates A-Z"]
    assert (ws["A1"].value, ws["A2"].value) == ("Rate amendment", "Customer")
    assert (ws["B2"].value, ws["B2"].data_type, ws["B2"].quotePrefix) == ("@Big =Customer", "s", True)
    header = next(r[0].row for r in ws.iter_rows() if r[0].value == "Country / area")
    first, second = ws[header + 1], ws[header + 2]
    assert (first[1].value, first[1].data_type, first[4].value) == ("00000000", "s", "Unchanged")
    assert (second[1].value, second[4].value, second[2].number_format) == ("00000001", "Increase", "0.00000000")
    assert Decimal(str(second[2].value)) == Decimal("0.12345679") and second[5].value == change_at
    assert ws.max_row == header + count


def test_records_of_a_batch_id_reused_after_a_reload_are_not_mixed_in(sqlite_url, tmp_path):
    init_db(sqlite_url)
    first = apply_batch(sqlite_url)
    for customer in ("C1", "C2"):
        generate(sqlite_url, customer, "P1", first, output_dir=tmp_path / "a", stem=customer, user="analyst")
    again = apply_batch(sqlite_url)  # reloads the domain: its batches are emptied, SQLite hands out the id again
    assert again == first
    generate(sqlite_url, "C1", "P1", again, output_dir=tmp_path / "b", stem="C1", user="analyst")
    with init_db(sqlite_url).connect() as conn:
        records = amendment_records(conn, period=f"batch-{again}")
    assert list(records["customer_id"]) == ["C1"] and set(records["folder"]) == {str(tmp_path / "b")}


def test_billing_csv_carries_ids_and_names_verbatim_for_the_billing_system(db_url, tmp_path):
    from reportlib.ratedesk import data as s

    batch = apply_batch(db_url)
    setup = s.customer_rp_setup.c
    with init_db(db_url).begin() as conn:
        conn.execute(s.customer_rp_setup.update().where(setup.customer_id == "C1", setup.rate_plan == "P1")
                     .values(ext_billing_customer="=E1+1", ext_billing_rate_plan="-EP1 @gold"))
    made = generate(db_url, "C1", "P1", batch, output_dir=tmp_path, stem="c1", user="analyst")
    with made.csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["customer_ref"], r["rate_plan_ref"]) for r in rows} == {("=E1+1", "-EP1 @gold")}
    assert {r["rate"] for r in rows if r["code"] == "4930"} == {"0.04000000"}
