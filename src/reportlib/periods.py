"""Reporting periods: a calendar month, a quarter and an ISO week, parsed from their names.

Periods are accepted from :data:`FIRST_YEAR` to :data:`LAST_YEAR` (1900 to 2199): every period
a family derives from one (the quarter before, a 13-period trend, the days after it) is then a
date that Python, pandas (whose timestamps end in 2262) and every database can hold, so an
impossible period is refused with the parameters, before any kernel starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

__all__ = ["FIRST_YEAR", "IsoWeek", "LAST_YEAR", "Month", "Quarter"]

FIRST_YEAR = 1900
LAST_YEAR = 2199


def _check_year(kind: type, text: object, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"{text!r} is outside the supported range, {kind.FIRST} to {kind.LAST}")


class _Period:
    """What every period shares: a half-open range ``[start, end)`` and stepping backwards."""

    start: date
    end: date

    def __add__(self, steps: int):  # pragma: no cover - each period defines it
        raise NotImplementedError

    @property
    def last_day(self) -> date:
        """The last day inside the period."""
        return self.end - timedelta(days=1)

    def __sub__(self, steps: int):
        return self + (-steps)


@dataclass(frozen=True, order=True)
class Month(_Period):
    """A calendar month, written ``2026-10``."""

    FIRST: ClassVar[str] = f"{FIRST_YEAR}-01"
    LAST: ClassVar[str] = f"{LAST_YEAR}-12"

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", str(text).strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"{text!r} is not a month; write it as YYYY-MM, e.g. 2026-10")
        _check_year(cls, text, int(m.group(1)))
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day after the month (periods are half-open: start <= d < end)."""
        return (self + 1).start


    def __add__(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")


@dataclass(frozen=True, order=True)
class Quarter(_Period):
    """A calendar quarter, written ``2026Q3``."""

    FIRST: ClassVar[str] = f"{FIRST_YEAR}Q1"
    LAST: ClassVar[str] = f"{LAST_YEAR}Q4"

    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        m = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", str(text).strip())
        if not m:
            raise ValueError(f"{text!r} is not a quarter; write it as YYYYQn, e.g. 2026Q3")
        _check_year(cls, text, int(m.group(1)))
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        """The first day after the quarter."""
        return (self + 1).start


    def __add__(self, quarters: int) -> "Quarter":
        index = self.year * 4 + self.quarter - 1 + quarters
        return Quarter(index // 4, index % 4 + 1)


    def __str__(self) -> str:
        return f"{self.year:04d}Q{self.quarter}"


@dataclass(frozen=True, order=True)
class IsoWeek(_Period):
    """An ISO 8601 week, written ``2026-W43`` (Monday to Sunday)."""

    FIRST: ClassVar[str] = f"{FIRST_YEAR}-W01"
    LAST: ClassVar[str] = f"{LAST_YEAR}-W52"

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> "IsoWeek":
        m = re.fullmatch(r"(\d{4})-?W(\d{1,2})", str(text).strip(), flags=re.IGNORECASE)
        if not m:
            raise ValueError(f"{text!r} is not an ISO week; write it as YYYY-Www, e.g. 2026-W43")
        year, week = int(m.group(1)), int(m.group(2))
        _check_year(cls, text, year)
        if not 1 <= week <= date(year, 12, 28).isocalendar().week:
            raise ValueError(f"{text!r}: {year} has no ISO week {week}")
        return cls(year, week)

    @classmethod
    def of(cls, day: date) -> "IsoWeek":
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=7)


    def __add__(self, weeks: int) -> "IsoWeek":
        return IsoWeek.of(self.start + timedelta(weeks=weeks))


    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"
