from datetime import date, datetime
from decimal import Decimal as D

import openpyxl
import pandas as pd
import pytest

from reportlib.errors import DataError
from reportlib.render.table import Col, Sheet, write_workbook

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


@pytest.fixture(params=[False, True], ids=["normal", "streaming"])
def book(request, tmp_path):
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("Data: 1/2", ROWS, COLUMNS, heading="Title",
                                                      preamble=[("Customer", "=evil()"), ("Issued", date(2026, 11, 1))],
                                                      stream=request.param)])
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
