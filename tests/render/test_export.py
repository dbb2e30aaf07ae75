"""reportlib.export: any DataFrame as a house-style workbook, read back with openpyxl."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

import reportlib
from reportlib.errors import ConfigError
from reportlib.render.table import HEADER_FILL


def test_export_types_each_column_from_its_values_under_the_house_header(tmp_path):
    frame = pd.DataFrame({
        "partner": ["P001", "P002"],
        "deals": [3, 12],
        "share": [0.25, 0.125],
        "revenue": [Decimal("1200.50"), Decimal("80.25")],
        "day": pd.to_datetime(["2026-10-01", "2026-10-02"]),
        "at": [datetime(2026, 10, 1, 9, 30), datetime(2026, 10, 2, 17, 5)],
        "signed": [date(2026, 9, 1), date(2026, 9, 2)],
        "active": [True, False],
    })
    path = reportlib.export(frame, tmp_path / "deals.xlsx", kinds={"revenue": "money"})
    sheet = openpyxl.load_workbook(path).active
    assert sheet.title == "deals"
    assert [c.value for c in sheet[1]] == list(frame.columns)
    assert sheet["A1"].fill.fgColor.rgb == HEADER_FILL and sheet["A1"].font.bold
    row = [c.value for c in sheet[2]]
    assert row[:4] == ["P001", 3, 0.25, 1200.5]
    assert row[4] == datetime(2026, 10, 1) and sheet["E2"].number_format == "yyyy-mm-dd"
    assert row[5] == datetime(2026, 10, 1, 9, 30) and sheet["F2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert row[6] == datetime(2026, 9, 1) and sheet["G2"].number_format == "yyyy-mm-dd"
    assert row[7] is True
    assert sheet["B2"].number_format == "#,##0" and sheet["D2"].number_format == "#,##0.00"


def test_export_keeps_a_named_index_and_lands_a_relative_path_under_scratch(outputs):
    frame = pd.DataFrame({"tier": ["a", "b", "a"], "revenue": [Decimal("1.125"), Decimal("2"), Decimal("3")]})
    by_tier = frame.groupby("tier")["revenue"].sum()
    path = reportlib.export(by_tier, "by tier.xlsx", sheet="Revenue by tier")
    assert path == outputs.resolve() / "scratch" / "by tier.xlsx"
    sheet = openpyxl.load_workbook(path)["Revenue by tier"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["tier", "revenue"], ["a", 4.125], ["b", 2]]
    assert sheet["B2"].number_format == "#,##0.000"
    plain = reportlib.export(frame.sort_values("revenue", ascending=False), "sorted.xlsx")
    assert [c.value for c in openpyxl.load_workbook(plain).active[1]] == ["tier", "revenue"]  # no "index"


def test_export_says_what_is_wrong_and_writes_nothing(tmp_path):
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(ConfigError, match="'b'.*its columns: a"):
        reportlib.export(frame, tmp_path / "x.xlsx", kinds={"b": "money"})
    with pytest.raises(ConfigError, match="unknown column kind.*money"):
        reportlib.export(frame, tmp_path / "x.xlsx", kinds={"a": "cash"})
    with pytest.raises(ConfigError, match="ending in .xlsx"):
        reportlib.export(frame, tmp_path / "x.csv")
    with pytest.raises(ConfigError, match="DataFrame or Series, not list"):
        reportlib.export([1, 2], tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []
