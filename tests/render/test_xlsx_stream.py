"""The streaming XLSX writer read back: the same cells as openpyxl's, exact decimals, LibreOffice opens it."""

import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal as D

import openpyxl
import pandas as pd
import pytest

from reportlib.errors import DataError
from reportlib.render import figures
from reportlib.render.figures import Figure
from reportlib.render.table import STREAM_ROWS, Col, Sheet, write_workbook
from reportlib.render.xlsx import write_streaming_workbook

from ..conftest import pdf_text

COLUMNS = [Col("area", "Area"), Col("code", "Code", "code"), Col("rate", "Rate", "rate", places=8),
           Col("amount", "Amount", "money"), Col("count", "Count", "int"), Col("share", "Share", "percent", places=1),
           Col("day", "Day", "date"), Col("at", "At", "datetime"), Col("ok", "OK", "bool"),
           Col("figure", "Figure", "decimal", places=2)]
# A column whose rows hold different kinds of figure, each with its own number format.
FIGURES = [Figure(D("19.645"), figures.PERCENT.at(2)), Figure(D("6126.205"), figures.MONEY), Figure(1234, figures.COUNT),
           Figure(D("130.75"), figures.DAYS), Figure(None, figures.SCORE), D("2.345")]
TRICKY = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "a & <b>", " padded ", "plain"]


def _rows(count: int) -> list[dict]:
    return [dict(area=TRICKY[n % len(TRICKY)], code="00%06d" % n, rate=D("0.12345678") + D(n % 7) / 10**8,
                 amount=None if n % 5 == 0 else D("1234.5") * (n % 3), count=n if n % 4 else None,
                 share=D(n % 100) / 4, day=date(2026, 1, 1 + n % 28) if n % 6 else None,
                 at=datetime(2026, 10, 1, 9, n % 60) if n % 2 else pd.NaT, ok=None if n % 3 == 0 else bool(n % 2),
                 figure=FIGURES[n % len(FIGURES)])
            for n in range(count)]


def _cells(path):
    """Per sheet: frozen pane, filter, column widths and every cell's value, type, number format,
    boldness and quote prefix."""
    book = openpyxl.load_workbook(path)
    return {ws.title: [ws.freeze_panes, ws.auto_filter.ref, {k: d.width for k, d in ws.column_dimensions.items()}]
            + [[(c.value, c.data_type, c.number_format if c.value is not None else None, bool(c.font.b),
                 bool(c.quotePrefix)) for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


@pytest.mark.parametrize("rows", [_rows, lambda n: pd.DataFrame(_rows(n)), lambda n: iter(_rows(n))],
                         ids=["records", "dataframe", "iterator"])
def test_streaming_writes_the_same_cells_as_openpyxl(rows, tmp_path):
    preamble = [("Customer", "=evil()"), ("Issued", date(2026, 11, 1)), ("Total", D("12.50"))]
    normal = write_workbook(tmp_path / "normal.xlsx", [Sheet("Rates: A/Z", rows(60), COLUMNS, heading="Title",
                                                             preamble=preamble, stream=False)])
    target = tmp_path / "stream.xlsx"
    # Chunks of 7 rows: values and row numbers must carry across chunk boundaries.
    write_streaming_workbook(target, [("Rates_ A_Z", Sheet("Rates: A/Z", rows(60), COLUMNS, heading="Title",
                                                           preamble=preamble))], chunk_rows=7)
    cells = _cells(normal)
    assert len(cells["Rates_ A_Z"]) == 3 + 5 + 1 + 60  # pane, filter, widths; 5 lines of notice, header, rows
    assert _cells(target) == cells
    rows_read = cells["Rates_ A_Z"][3 + 5 + 1:]
    assert {r[0][4] for r in rows_read if r[0][0][0] in "=+-@"} == {True}  # formula-looking text: quote prefix
    assert {r[0][4] for r in rows_read if r[0][0][0] not in "=+-@\t\r"} == {False}
    assert [r[-1][2] for r in rows_read[:6]] == ["#,##0.00 %", "#,##0.00", "#,##0", '#,##0.0" days"', None, "#,##0.00"]


def test_a_large_sheet_streams_with_frozen_header_filter_widths_and_exact_rates(tmp_path):
    count = STREAM_ROWS + 1234
    rows = _rows(count)
    path = write_workbook(tmp_path / "big.xlsx", [
        Sheet("All", pd.DataFrame(rows), COLUMNS, preamble=[("Plan", "Gold")]), Sheet("All", rows[:10], COLUMNS)])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["All", "All (2)"]
    ws = book["All"]
    assert ws.freeze_panes == "A4" and ws.auto_filter.ref == f"A3:J{3 + count}" and ws.max_row == 3 + count
    assert [c.value for c in ws[3]] == [c.title for c in COLUMNS] and all(c.font.b for c in ws[3])
    assert ws.column_dimensions["B"].width >= len("00000000") and ws.column_dimensions["G"].width >= 10
    for n, row in enumerate(ws.iter_rows(min_row=4), start=0):
        expected = rows[n]
        assert row[0].value == expected["area"] and row[0].quotePrefix == (expected["area"][0] in "=+-@\t\r")
        assert (row[1].value, row[1].data_type) == (expected["code"], "s")
        assert row[2].data_type == "n" and row[2].number_format == "0.00000000"
        assert D(str(row[2].value)) == expected["rate"]
    assert book["All (2)"].max_row == 11


def test_rates_are_written_as_their_exact_decimal_text_up_to_15_digits(tmp_path):
    rows = [{"v": D("0.12345678")}, {"v": D("1E-8")}, {"v": D("1234567.1234567890123")}, {"v": D("NaN")}]
    path = write_workbook(tmp_path / "d.xlsx", [Sheet("S", rows, [Col("v", kind="rate", places=8)], stream=True)])
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    # A spreadsheet keeps 15 significant digits: the 20-digit value is stored as those 15, half up.
    assert "<v>0.12345678</v>" in xml and "<v>0.00000001</v>" in xml and "<v>1234567.12345679</v>" in xml
    assert "NaN" not in xml and openpyxl.load_workbook(path).active["A5"].value is None


def test_text_keeps_its_own_spelling_and_control_characters_stay_valid_xml(tmp_path):
    rows = [{"t": 1}, {"t": 1.0}, {"t": True}, {"t": "a\x01b"}, {"t": [1, 2]},
            {"t": datetime(2026, 1, 1, tzinfo=timezone.utc)}]
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("S", rows, [Col("t")], stream=True)])
    ws = openpyxl.load_workbook(path).active
    assert [ws.cell(row=r, column=1).value for r in range(2, 8)] == [
        "1", "1.0", "True", "a_x0001_b", "[1, 2]", "2026-01-01 00:00:00+00:00"]


def test_a_bad_value_is_one_clear_error_and_nothing_is_written(tmp_path):
    rows = _rows(STREAM_ROWS + 100)
    rows[STREAM_ROWS + 50]["rate"] = "n/a"
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"the previous file")
    with pytest.raises(DataError, match=rf"'n/a' to sheet 'Rates', row {STREAM_ROWS + 52}, column 'Rate' \(rate\)"):
        write_workbook(path, [Sheet("Rates", iter(rows), COLUMNS)])
    assert path.read_bytes() == b"the previous file" and [p.name for p in tmp_path.iterdir()] == ["bad.xlsx"]


@pytest.mark.office
def test_libreoffice_opens_a_streamed_workbook(tmp_path):
    rows = _rows(40)
    path = write_workbook(tmp_path / "lo.xlsx", [Sheet("Rates", rows, COLUMNS, heading="Rate amendment", stream=True)])
    text = pdf_text(path, tmp_path)
    assert "Rate amendment" in text and "00000039" in text and "0.12345678" in text and "=HYPERLINK" in text
    assert "'=HYPERLINK" not in text  # the text reads as written, no visible apostrophe
