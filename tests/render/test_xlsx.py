"""Workbooks read back: typed cells, formats, header, widths, text never a formula, the same cells as openpyxl's."""

import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal as D

import openpyxl
import pandas as pd
import pytest

from reportlib.errors import DataError
from reportlib.render import figures
from reportlib.render.figures import Figure
from reportlib.render.table import Col, Sheet
from reportlib.render.xlsx import write_workbook

from ..conftest import pdf_text
from ..oracles.xlsx_reference import write_reference_workbook

LARGE = 6234  # rows: several chunks of the writer

COLUMNS = [Col("name", "Name"), Col("code", "Code", "code"), Col("count", "Count", "int"),
           Col("amount", "Amount", "money"), Col("rate", "Rate", "rate", places=8),
           Col("share", "Share", "percent", places=1), Col("day", "Day", "date"), Col("at", "At", "datetime")]
ROWS = [
    dict(name="=1+2", code="0044", count=3, amount=D("1234.5"), rate=D("0.01234567"), share=D("12.5"),
         day=date(2026, 10, 1), at=datetime(2026, 10, 1, 9, 30)),
    dict(name="+Plus", code="4477009001234567", count=None, amount=D("-2.25"), rate=None, share=50.0,
         day=pd.Timestamp("2026-10-02"), at=None),
    dict(name="@Home", code="1", count=0, amount=0, rate=D(0), share=None, day=None, at=None),
    dict(name="-Dash", code="2", count=1, amount=D("0.01"), rate=D(1), share=D(0), day=None, at=None),
    dict(name="\tTab", code="3", count=1, amount=D(1), rate=D(1), share=D(1), day=None, at=None),
]


@pytest.fixture(params=[write_workbook, write_reference_workbook], ids=["reportlib", "openpyxl-oracle"])
def book(request, tmp_path):
    path = request.param(tmp_path / "t.xlsx", [Sheet("Data: 1/2", ROWS, COLUMNS, heading="Title",
                                                     preamble=[("Customer", "=evil()"), ("Issued", date(2026, 11, 1))])])
    return openpyxl.load_workbook(path)


def test_cells_are_typed_and_formatted(book):
    ws = book.worksheets[0]
    assert ws.title == "Data_ 1_2"
    header = [c.value for c in ws[5]]
    assert header == ["Name", "Code", "Count", "Amount", "Rate", "Share", "Day", "At"]
    first = {h: c for h, c in zip(header, ws[6])}
    assert first["Code"].value == "0044" and first["Code"].data_type == "s"
    assert first["Count"].value == 3 and first["Count"].number_format == "#,##0"
    assert first["Amount"].value == 1234.5 and first["Amount"].number_format == "#,##0.00"
    assert first["Rate"].value == pytest.approx(0.01234567) and first["Rate"].number_format == "0.00000000"
    assert first["Share"].value == pytest.approx(0.125) and first["Share"].number_format == "#,##0.0 %"
    assert first["Day"].value == datetime(2026, 10, 1) and first["Day"].number_format == "yyyy-mm-dd"
    assert first["At"].value == datetime(2026, 10, 1, 9, 30)
    assert ws["B7"].value == "4477009001234567"


def test_header_is_bold_frozen_and_filtered(book):
    ws = book.worksheets[0]
    assert all(c.font.b for c in ws[5])
    assert ws.freeze_panes == "A6"
    assert ws.auto_filter.ref == "A5:H10"
    assert ws.column_dimensions["A"].width >= 8


def test_text_can_never_become_a_formula_and_reads_as_written(book):
    ws = book.worksheets[0]
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
    names = [ws.cell(row=r, column=1) for r in range(6, 11)]
    assert [c.value for c in names] == ["=1+2", "+Plus", "@Home", "-Dash", "\tTab"]  # no visible apostrophe
    assert all(c.data_type == "s" and c.quotePrefix for c in names)  # and editing the cell keeps it text
    assert ws["B2"].value == "=evil()" and ws["B2"].data_type == "s" and ws["B2"].quotePrefix
    assert not ws["A6"].offset(column=1).quotePrefix and not ws["A1"].quotePrefix  # plain text: no prefix


def test_exact_decimals_are_written_as_written(tmp_path):
    path = write_workbook(tmp_path / "d.xlsx", [Sheet("S", [{"v": D("0.12345678")}], [Col("v", kind="decimal", places=8)])])
    import zipfile

    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>0.12345678</v>" in xml


def test_dataframe_with_missing_values(tmp_path):
    frame = pd.DataFrame({"n": [1, None], "m": [D("1.5"), None]})
    path = write_workbook(tmp_path / "f.xlsx", [Sheet("S", frame, [Col("n", kind="int"), Col("m", kind="money")])])
    ws = openpyxl.load_workbook(path).active
    assert [ws["A2"].value, ws["A3"].value, ws["B2"].value, ws["B3"].value] == [1, None, 1.5, None]


def test_a_bad_value_in_a_small_sheet_is_one_clear_error_and_nothing_is_written(tmp_path):
    rows = [{"code": f"C{i}", "rate": D("0.01")} for i in range(100)]
    rows[50]["rate"] = "n/a"
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"the previous file")
    with pytest.raises(DataError, match=r"'n/a' to sheet 'Rates', row 52, column 'Rate' \(decimal\)"):
        write_workbook(path, [Sheet("Rates", rows, [Col("code", "Code", "code"), Col("rate", "Rate", "decimal", 4)])])
    assert path.read_bytes() == b"the previous file" and [p.name for p in tmp_path.iterdir()] == ["bad.xlsx"]


WIDE_COLUMNS = [Col("area", "Area"), Col("code", "Code", "code"), Col("rate", "Rate", "rate", places=8),
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
def test_the_writer_writes_the_same_cells_as_openpyxl(rows, tmp_path):
    preamble = [("Customer", "=evil()"), ("Issued", date(2026, 11, 1)), ("Total", D("12.50"))]
    normal = write_reference_workbook(tmp_path / "normal.xlsx", [Sheet("Rates: A/Z", rows(60), WIDE_COLUMNS,
                                                                       heading="Title", preamble=preamble)])
    target = tmp_path / "stream.xlsx"
    # Chunks of 7 rows: values and row numbers must carry across chunk boundaries.
    write_workbook(target, [Sheet("Rates: A/Z", rows(60), WIDE_COLUMNS, heading="Title", preamble=preamble)],
                   chunk_rows=7)
    cells = _cells(normal)
    assert len(cells["Rates_ A_Z"]) == 3 + 5 + 1 + 60  # pane, filter, widths; 5 lines of notice, header, rows
    assert _cells(target) == cells
    rows_read = cells["Rates_ A_Z"][3 + 5 + 1:]
    assert {r[0][4] for r in rows_read if r[0][0][0] in "=+-@"} == {True}  # formula-looking text: quote prefix
    assert {r[0][4] for r in rows_read if r[0][0][0] not in "=+-@\t\r"} == {False}
    assert [r[-1][2] for r in rows_read[:6]] == ["#,##0.00 %", "#,##0.00", "#,##0", '#,##0.0" days"', None, "#,##0.00"]


def test_a_large_sheet_has_a_frozen_header_filter_widths_and_exact_rates(tmp_path):
    count = LARGE + 1234
    rows = _rows(count)
    path = write_workbook(tmp_path / "big.xlsx", [
        Sheet("All", pd.DataFrame(rows), WIDE_COLUMNS, preamble=[("Plan", "Gold")]), Sheet("All", rows[:10], WIDE_COLUMNS)])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["All", "All (2)"]
    ws = book["All"]
    assert ws.freeze_panes == "A4" and ws.auto_filter.ref == f"A3:J{3 + count}" and ws.max_row == 3 + count
    assert [c.value for c in ws[3]] == [c.title for c in WIDE_COLUMNS] and all(c.font.b for c in ws[3])
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
    path = write_workbook(tmp_path / "d.xlsx", [Sheet("S", rows, [Col("v", kind="rate", places=8)])])
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    # A spreadsheet keeps 15 significant digits: the 20-digit value is stored as those 15, half up.
    assert "<v>0.12345678</v>" in xml and "<v>0.00000001</v>" in xml and "<v>1234567.12345679</v>" in xml
    assert "NaN" not in xml and openpyxl.load_workbook(path).active["A5"].value is None


def test_text_keeps_its_own_spelling_and_control_characters_stay_valid_xml(tmp_path):
    rows = [{"t": 1}, {"t": 1.0}, {"t": True}, {"t": "a\x01b"}, {"t": [1, 2]},
            {"t": datetime(2026, 1, 1, tzinfo=timezone.utc)}]
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("S", rows, [Col("t")])])
    ws = openpyxl.load_workbook(path).active
    assert [ws.cell(row=r, column=1).value for r in range(2, 8)] == [
        "1", "1.0", "True", "a_x0001_b", "[1, 2]", "2026-01-01 00:00:00+00:00"]


def test_a_bad_value_is_one_clear_error_and_nothing_is_written(tmp_path):
    rows = _rows(LARGE + 100)
    rows[LARGE + 50]["rate"] = "n/a"
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"the previous file")
    with pytest.raises(DataError, match=rf"'n/a' to sheet 'Rates', row {LARGE + 52}, column 'Rate' \(rate\)"):
        write_workbook(path, [Sheet("Rates", iter(rows), WIDE_COLUMNS)])
    assert path.read_bytes() == b"the previous file" and [p.name for p in tmp_path.iterdir()] == ["bad.xlsx"]


@pytest.mark.office
def test_libreoffice_opens_the_workbook(tmp_path):
    rows = _rows(40)
    path = write_workbook(tmp_path / "lo.xlsx", [Sheet("Rates", rows, WIDE_COLUMNS, heading="Rate amendment")])
    text = pdf_text(path, tmp_path)
    assert "Rate amendment" in text and "00000039" in text and "0.12345678" in text and "=HYPERLINK" in text
    assert "'=HYPERLINK" not in text  # the text reads as written, no visible apostrophe


@pytest.mark.parametrize("write", [write_workbook, write_reference_workbook], ids=["reportlib", "openpyxl-oracle"])
def test_a_figure_in_a_text_column_is_a_number_with_its_own_format(write, tmp_path):
    rows = [{"label": "a", "value": Figure(D("19.645"), figures.PERCENT.at(2))}, {"label": "b", "value": "text"},
            {"label": "c", "value": Figure(D("6126.205"), figures.MONEY)}, {"label": "d", "value": 1.0}]
    ws = openpyxl.load_workbook(write(tmp_path / "f.xlsx", [Sheet("F", rows, [Col("label"), Col("value")])])).active
    assert [(c.value, c.data_type, c.number_format) for c in ws["B"][1:]] == [
        (0.19645, "n", "#,##0.00 %"), ("text", "s", "General"), (6126.205, "n", "#,##0.00"), ("1.0", "s", "General")]
