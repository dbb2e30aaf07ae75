"""One rounding for every figure: half up on the exact decimal, the same text in every output."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import openpyxl
import pytest

from reportlib.render import figures
from reportlib.render.figures import Figure
from reportlib.render.html import format_value
from reportlib.render.table import Col, Sheet
from reportlib.render.xlsx import write_workbook

from ..conftest import pdf_text
from ..oracles.xlsx_reference import write_reference_workbook
from ..readback import cell_display, excel_display

# (value, kind, text): ties at the last shown place, negatives, large amounts, 4-8 decimal rates.
EDGES = [
    (D("6126.205"), figures.MONEY, "6,126.21"),
    (D("-6126.205"), figures.MONEY, "-6,126.21"),
    (D("2.675"), figures.MONEY, "2.68"),
    (D("-2.665"), figures.MONEY, "-2.67"),
    (D("0.005"), figures.MONEY, "0.01"),
    (D("-0.004"), figures.MONEY, "-0.00"),
    (D("987654321.125"), figures.MONEY, "987,654,321.13"),
    (D("123456789012.345"), figures.MONEY, "123,456,789,012.35"),
    (D("12.34565"), figures.KINDS["number"].at(4), "12.3457"),
    (D("0.12345"), figures.RATE.at(4), "0.1235"),
    (D("0.123456785"), figures.RATE, "0.12345679"),
    (D("0.12345678"), figures.RATE, "0.12345678"),
    (D("1234.5"), figures.RATE, "1234.50000000"),
    (D("19.645"), figures.PERCENT.at(2), "19.65 %"),
    (D("-80.25"), figures.PERCENT, "-80.3 %"),
    (D("6.25"), figures.PERCENT, "6.3 %"),
    (D("2.5"), figures.PERCENT.at(2, signed=True), "+2.50 %"),
    (D("1234"), figures.COUNT, "1,234"),
    (D("-12"), figures.COUNT.at(signed=True), "-12"),
    (D("0"), figures.COUNT.at(signed=True), "0"),
    (D("10.25"), figures.DAYS, "10.3 days"),
    (D("69.25"), figures.SCORE, "69.3"),
    (D("70.625"), figures.SCORE, "70.6"),
    (D("69.04999999999999999999999999"), figures.SCORE, "69.1"),  # a quotient: 15 digits, as a spreadsheet holds
    (D("36.25"), figures.KINDS["number"].at(1, suffix=" h"), "36.3 h"),
    (D("6.25"), figures.KINDS["number"].at(1, signed=True), "+6.3"),
]


@pytest.mark.parametrize("value, kind, text", EDGES, ids=[e[2] for e in EDGES])
def test_each_kind_rounds_half_up_on_the_exact_value_and_a_spreadsheet_shows_the_same(value, kind, text):
    assert kind.text(value) == text
    assert excel_display(kind.cell(value), kind.number_format) == text


def test_the_functions_of_each_kind():
    assert figures.money(D("6126.205")) == "6,126.21" and figures.money(6126.205) == "6,126.21"
    assert f"{D('6126.205'):,.2f}" == "6,126.20"  # what the HTML showed: format() rounds half to even
    assert figures.rate(D("0.12345"), 4) == "0.1235" and figures.rate(D("1234.5"), 2) == "1234.50"
    assert figures.percent(D("19.645"), 2) == "19.65 %" and figures.percent(D("19.65")) == "19.7 %"
    assert figures.count(np.int64(12345)) == "12,345" and figures.count(3, signed=True) == "+3"
    assert figures.days(D("130.75")) == "130.8 days" and figures.score(D("69.85")) == "69.9"
    assert figures.number(D("4.125"), 2) == "4.13" and figures.number(D("-0.5"), 0) == "-1"
    assert figures.money(None) == "n/a" and figures.money(float("nan"), missing="") == ""
    assert figures.rounded(D("2.345"), 2) == D("2.35") and figures.rounded(2.675, 2) == D("2.68")
    assert figures.plain(D("0.00000001")) == "0.00000001" and figures.plain(1e-05) == "0.00001"
    with pytest.raises(TypeError):
        figures.money(True)


def test_html_tables_and_workbook_cells_read_alike(tmp_path):
    columns = [Col("amount", "Amount", "money"), Col("share", "Share", "percent"), Col("n", "N", "int"),
               Col("rate", "Rate", "rate", places=8), Col("usage", "Usage", "decimal", places=4),
               Col("any", "Figure", "decimal", places=2)]
    rows = [dict(amount=D("6126.205"), share=D("19.645"), n=1234, rate=D("0.123456785"), usage=D("12.34565"),
                 any=Figure(D("10.25"), figures.DAYS)),
            dict(amount=D("-2.665"), share=D("-0.005"), n=-7, rate=D("0.1234"), usage=D("-0.00005"), any=D("2.345"))]
    for write in (write_workbook, write_reference_workbook):
        path = write(tmp_path / f"t-{write.__name__}.xlsx", [Sheet("T", rows, columns)])
        ws = openpyxl.load_workbook(path).active
        shown = [[cell_display(c) for c in row] for row in ws.iter_rows(min_row=2)]
        assert shown == [[format_value(col, r[col.key]) for col in columns] for r in rows]
    assert shown[0] == ["6,126.21", "19.65 %", "1,234", "0.12345679", "12.3457", "10.3 days"]
    assert shown[1] == ["-2.67", "-0.01 %", "-7", "0.12340000", "-0.0001", "2.35"]


@pytest.mark.office
def test_libreoffice_shows_the_workbook_as_the_figures_read(tmp_path):
    """The spreadsheet side of the rule, checked in a real office suite (LibreOffice, like Excel,
    rounds the stored value half away from zero). LibreOffice drops the minus of a negative that
    rounds to zero (-0.004 shows 0.00) where Excel keeps it; such a value is left out here."""
    edges = [(v, k, t) for v, k, t in EDGES if t.lstrip("-+").strip("0.,% ") or v == 0]
    rows = [{"label": f"row{n:02d}", "value": Figure(v, k)} for n, (v, k, _) in enumerate(edges)]
    path = write_workbook(tmp_path / "edges.xlsx", [Sheet("Edges", rows, [Col("label", "Label"),
                                                                          Col("value", "Value", width=30)])])
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in pdf_text(path, tmp_path).splitlines()
             if line.strip().startswith("row")}
    assert {f"row{n:02d}": t for n, (_, _, t) in enumerate(edges)} == lines
