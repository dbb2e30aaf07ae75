from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import pytest

from reportlib.errors import ParameterError
from reportlib.params import ReportParams, load_params_file, parse_cli_pairs
from reportlib.periods import IsoWeek, Month, Quarter


@dataclass(frozen=True)
class Example(ReportParams):
    family = "example"
    partner: str
    month: Month
    limit: int = 10
    rate: Decimal = Decimal("0.5")
    since: date | None = None
    mode: Literal["separate", "invalid", "valid"] = "separate"
    tags: tuple[str, ...] = ()
    draft: bool = False


def test_parse_converts_every_type():
    p = Example.parse({"partner": "P001", "month": "2026-10", "limit": "3", "rate": "1.25", "since": "2026-01-31",
                       "mode": "INVALID", "tags": "a, b", "draft": "yes"})
    assert (p.month, p.limit, p.rate, p.since, p.mode, p.tags, p.draft) == \
        (Month(2026, 10), 3, Decimal("1.25"), date(2026, 1, 31), "invalid", ("a", "b"), True)


def test_every_problem_is_listed_in_one_error():
    with pytest.raises(ParameterError) as caught:
        Example.parse({"partnr": "P001", "month": "2026-13", "limit": "ten", "mode": "maybe"})
    problems = caught.value.problems
    assert len(problems) == 5
    text = str(caught.value)
    assert "unknown parameter 'partnr' (did you mean 'partner'?)" in text
    assert "parameter 'partner' is required" in text
    assert "'2026-13' is not a month" in text
    assert "parameter 'limit': 'ten' is not a whole number" in text
    assert "'maybe' is not one of: separate, invalid, valid" in text


def test_to_notebook_round_trips_through_parse():
    p = Example.parse({"partner": "P001", "month": "2026-10", "rate": "0.10", "since": "2026-01-01"})
    assert Example.parse(p.to_notebook()) == p
    assert p.to_notebook()["month"] == "2026-10" and p.to_notebook()["rate"] == "0.10"


def test_yaml_keeps_dates_as_strings_until_the_schema_decides(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("partner: P001\nmonth: 2026-10\nsince: 2026-01-31\nlimit: 5\n")
    raw = load_params_file(path)
    assert raw == {"partner": "P001", "month": "2026-10", "since": "2026-01-31", "limit": 5}
    assert parse_cli_pairs([("since", "2026-01-31"), ("limit", "7")]) == {"since": "2026-01-31", "limit": 7}


def test_bad_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("partner: [unclosed\n")
    with pytest.raises(ParameterError, match="bad.yaml is not valid YAML"):
        load_params_file(path)
    with pytest.raises(ParameterError, match="does not exist"):
        load_params_file(tmp_path / "missing.yaml")


def test_periods_parse_and_step():
    assert Month.parse("2026-01") - 1 == Month(2025, 12)
    assert Month(2026, 2).end == date(2026, 3, 1)
    assert Quarter.parse("2026Q3").start == date(2026, 7, 1) and Quarter(2026, 1) - 1 == Quarter(2025, 4)
    week = IsoWeek.parse("2026-W01")
    assert week.start == date(2025, 12, 29) and str(week - 1) == "2025-W52"
    assert str(IsoWeek.of(date(2026, 10, 22))) == "2026-W43"
    with pytest.raises(ValueError, match="no ISO week 53"):
        IsoWeek.parse("2025-W53")


@pytest.mark.parametrize("kind, value, first, last", [
    (Month, "0000-01", "1900-01", "2199-12"), (Month, "9999-12", "1900-01", "2199-12"),
    (Month, "1899-12", "1900-01", "2199-12"), (Quarter, "0000Q1", "1900Q1", "2199Q4"),
    (Quarter, "9999Q4", "1900Q1", "2199Q4"), (IsoWeek, "0000-W01", "1900-W01", "2199-W52"),
    (IsoWeek, "9999-W52", "1900-W01", "2199-W52"), (IsoWeek, "2200-W01", "1900-W01", "2199-W52")])
def test_periods_outside_the_supported_years_are_refused_with_the_range(kind, value, first, last):
    with pytest.raises(ValueError) as caught:
        kind.parse(value)
    assert str(caught.value) == f"{value!r} is outside the supported range, {first} to {last}"
    # the bounds themselves, and what families derive from them (a 13-period trend, the days
    # after the period), are dates Python and pandas hold
    import pandas as pd

    earliest, latest = (kind.parse(first) - 13).start, kind.parse(last).end + timedelta(days=366)
    assert pd.Timestamp(earliest).date() == earliest and pd.Timestamp(latest).date() == latest


def test_a_parameter_outside_the_range_names_parameter_value_and_range():
    with pytest.raises(ParameterError) as caught:
        Example.parse({"partner": "P1", "month": Month(9999, 12)})  # an object is held to the range too
    assert caught.value.problems == ["parameter 'month': '9999-12' is outside the supported range, "
                                     "1900-01 to 2199-12"]


@pytest.mark.parametrize("command", [
    ["run", "statement", "-p", "partner", "P1", "-p", "month", "0000-01"],
    ["run", "statement", "-p", "partner", "P1", "-p", "month", "9999-12"],
    ["run", "dashboard", "-p", "week", "9999-W52"],
    ["run", "qbr", "-p", "partner", "P1", "-p", "quarter", "9999Q4"],
    ["batch", "dashboard", "-p", "from_month", "9999-10", "-p", "to_month", "9999-12"],
])
def test_impossible_periods_are_refused_before_any_folder_or_kernel(command, tmp_path, capsys):
    from reportlib.cli import main
    from reportlib.load import write_domain

    from .statements.dataset import billing_rows

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("billing", billing_rows(), url=url, source="test")  # P1 exists: only the period is wrong
    out = tmp_path / "out"
    assert main([*command, "--db", url, "--out", str(out), "--workers", "1"] if command[0] == "batch"
                else [*command, "--db", url, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    name, value = command[-2], command[-1]
    assert f"parameter {name!r}: {value!r} is outside the supported range" in err, err
    assert not out.exists()
