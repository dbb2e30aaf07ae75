import csv
from datetime import date, datetime
from decimal import Decimal as D

from reportlib.render.csv import write_csv


def test_csv_fields_are_typed_and_text_is_neutralised(tmp_path):
    path = tmp_path / "out.csv"
    rows = [{"name": "=SUM(A1)", "code": "0044", "rate": D("0.01000000"), "day": date(2026, 10, 1),
             "at": datetime(2026, 10, 1, 9), "blocked": True, "note": None},
            {"name": "@cmd", "code": "4477009001234567", "rate": D("1E-8"), "day": None, "at": None,
             "blocked": False, "note": "plain"}]
    assert write_csv(path, rows, ["name", "code", "rate", "day", "at", "blocked", "note"]) == 2
    got = list(csv.reader(path.open(newline="")))
    assert got[1] == ["'=SUM(A1)", "0044", "0.01000000", "2026-10-01", "2026-10-01T09:00:00", "1", ""]
    assert got[2] == ["'@cmd", "4477009001234567", "0.00000001", "", "", "0", "plain"]
