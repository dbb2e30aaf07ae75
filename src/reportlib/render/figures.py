"""Figures as every output shows them: one function per kind of figure, one rounding rule.

**The rule.** A figure is rounded *half up* — a tie goes away from zero: 6126.205 shows as
6,126.21, -2.675 as -2.68, 19.645 % as 19.65 % at two places — at its kind's number of places,
on its exact ``Decimal`` value: never through a binary float, never half to even (which is what
Python's ``round`` and ``format`` of a ``Decimal`` do). Before that, a value with more than 15
significant digits (a quotient, such as a health score or a share) is taken to 15, half up: a
spreadsheet keeps no more, and :func:`spreadsheet_value` stores the same 15 digits in an XLSX
cell, whose number format (:attr:`Kind.number_format`) then shows the same text. Thousands are
separated by ``,`` (CSV files for other systems leave them out). A negative value that rounds
to zero keeps its sign (``-0.00``), as Excel shows it. A float (chart data, a similarity score)
is taken at its shortest decimal text (``repr``), not at its binary expansion.

The kinds (:data:`KINDS`) and their functions:

=========  ======================  =====================================================
kind       function                reads
=========  ======================  =====================================================
money      :func:`money`           1,234.57 (2 places)
rate       :func:`rate`            0.12345678: a price per unit, no thousands separator
                                   (rate plans 8 places, unit prices 4)
percent    :func:`percent`         19.7 %: the value is in percent (0-100); a spreadsheet
                                   cell holds the fraction (0.197) with a % format
count      :func:`count`           1,234
days       :func:`days`            130.8 days
score      :func:`score`           69.3: the QBR health score, one decimal
number     :func:`number`          any other decimal with its own places (hours, CSAT,
                                   points), optionally signed (+2.50) or with a unit
=========  ======================  =====================================================

HTML, PPTX text and tables, chart labels and tooltips, CSV and e-mail bodies call these; an
XLSX cell holds the exact value (:meth:`Kind.cell`) with the number format of the same kind.
A value with a kind of its own inside a column of another (a table whose rows are different
measures) is a :class:`Figure`.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

__all__ = ["COUNT", "DAYS", "Figure", "KINDS", "Kind", "MONEY", "NA", "PERCENT", "RATE", "SCORE",
           "SPREADSHEET_DIGITS", "count", "days", "exact", "is_missing", "money", "number", "percent", "plain", "rate",
           "rounded", "score", "spreadsheet_value"]

NA = "n/a"
SPREADSHEET_DIGITS = 15  # significant digits a spreadsheet keeps of a number (a double shows 15 exactly)
_WIDE = Context(prec=200, rounding=ROUND_HALF_UP)  # quantize never runs out of digits
_SPREADSHEET = Context(prec=SPREADSHEET_DIGITS, rounding=ROUND_HALF_UP)


def is_missing(value: Any) -> bool:
    """True for no value: None, NaN (float or Decimal), pandas' NA and NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    return type(value).__name__ in ("NAType", "NaTType")


def exact(value: Any) -> Decimal | None:
    """``value`` as a ``Decimal`` (None when missing); a float at its shortest text, ``repr``."""
    if is_missing(value):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError(f"{value!r} is a yes/no, not a figure")
    elif isinstance(value, numbers.Integral):  # int and numpy's integers
        result = Decimal(int(value))
    elif isinstance(value, numbers.Real):  # float and numpy's floats
        result = Decimal(repr(float(value)))
    else:
        result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def spreadsheet_value(value: Decimal) -> Decimal:
    """``value`` to at most 15 significant digits, half up: what a spreadsheet cell holds of it.

    A value with 15 digits or fewer (every stored amount and rate) is returned as it is.
    """
    return _SPREADSHEET.plus(value) if value.is_finite() else value


@functools.lru_cache(maxsize=None)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def rounded(value: Any, places: int) -> Decimal | None:
    """The figure's value as shown with ``places`` decimals: half up, on the exact decimal."""
    d = exact(value)
    if d is None:
        return None
    return spreadsheet_value(d).quantize(_quantum(places), context=_WIDE)


@dataclass(frozen=True)
class Kind:
    """How one kind of figure reads in text and in a spreadsheet cell.

    ``places`` decimals; ``grouping``: thousands separated by ``,``; ``signed``: ``+`` before a
    positive value; ``suffix``: text after the number (`` %``, `` days``); ``percent``: the value
    is in percent and a cell holds the fraction under a ``%`` format.
    """

    name: str
    places: int
    grouping: bool = True
    signed: bool = False
    suffix: str = ""
    percent: bool = False

    @functools.lru_cache(maxsize=None)  # a handful of variants, asked for once per figure shown
    def at(self, places: int | None = None, *, signed: bool | None = None, suffix: str | None = None) -> "Kind":
        """This kind with other places, sign or suffix."""
        return replace(self, places=self.places if places is None else places,
                       signed=self.signed if signed is None else signed,
                       suffix=self.suffix if suffix is None else suffix)

    def text(self, value: Any, *, missing: str = NA, grouping: bool | None = None) -> str:
        """``value`` as it reads (``missing`` when there is none); ``grouping=False`` for CSV."""
        d = value if type(value) is Decimal and value.is_finite() else exact(value)  # most figures: a Decimal
        if d is None:
            return missing
        d = _SPREADSHEET.plus(d)
        shown = d.quantize(_quantum(self.places), context=_WIDE).copy_abs()
        # The sign is the value's, as a spreadsheet decides it: -0.001 reads -0.00, +0.001 +0.00 when signed.
        sign = "" if d.is_zero() else "-" if d.is_signed() else "+" if self.signed else ""
        separator = "," if (self.grouping if grouping is None else grouping) else ""
        return f"{sign}{shown:{separator}.{self.places}f}{self.suffix}"

    def cell(self, value: Any) -> Decimal | None:
        """What an XLSX cell holds: the exact value (to 15 significant digits); a percent's fraction."""
        d = value if type(value) is Decimal and value.is_finite() else exact(value)  # most cells: a Decimal
        if d is None:
            return None
        return _SPREADSHEET.plus(d / 100 if self.percent else d)

    @property
    def number_format(self) -> str:
        """The spreadsheet number format that shows :meth:`cell` as :meth:`text` reads (rounding half up)."""
        digits = ("#,##0" if self.grouping else "0") + ("." + "0" * self.places if self.places else "")
        # A percent's suffix is " %": a literal space, then the % that shows the fraction in percent.
        # Any other suffix is quoted text.
        suffix = self.suffix if self.percent or not self.suffix else '"' + self.suffix.replace('"', "") + '"'
        code = digits + suffix
        return f"+{code};-{code};{code}" if self.signed else code


MONEY = Kind("money", 2)
RATE = Kind("rate", 8, grouping=False)
PERCENT = Kind("percent", 1, suffix=" %", percent=True)
COUNT = Kind("count", 0)
DAYS = Kind("days", 1, suffix=" days")
SCORE = Kind("score", 1)
KINDS: dict[str, Kind] = {k.name: k for k in (MONEY, RATE, PERCENT, COUNT, DAYS, SCORE, Kind("number", 2))}


@dataclass(frozen=True)
class Figure:
    """A value with its own kind, for a table column whose rows hold different kinds of figure."""

    value: Any
    kind: Kind


def money(value: Any, places: int = 2, *, signed: bool = False, missing: str = NA) -> str:
    """An amount: ``1,234.57``."""
    return MONEY.at(places, signed=signed).text(value, missing=missing)


def rate(value: Any, places: int = 8, *, missing: str = NA) -> str:
    """A price per unit (a rate plan's rate, a unit price): ``0.12345678``, no thousands separator."""
    return RATE.at(places).text(value, missing=missing)


def percent(value: Any, places: int = 1, *, signed: bool = False, missing: str = NA) -> str:
    """A value in percent (0-100): ``19.7 %``."""
    return PERCENT.at(places, signed=signed).text(value, missing=missing)


def count(value: Any, *, signed: bool = False, missing: str = NA) -> str:
    """A whole number: ``1,234``."""
    return COUNT.at(signed=signed).text(value, missing=missing)


def days(value: Any, places: int = 1, *, missing: str = NA) -> str:
    """A duration in days: ``130.8 days``."""
    return DAYS.at(places).text(value, missing=missing)


def score(value: Any, *, missing: str = NA) -> str:
    """The QBR health score, one decimal: ``69.3``."""
    return SCORE.text(value, missing=missing)


def number(value: Any, places: int, *, signed: bool = False, suffix: str = "", missing: str = NA) -> str:
    """Any other decimal: ``4.25``, ``+12.5``, ``36.6 h``."""
    return KINDS["number"].at(places, signed=signed, suffix=suffix).text(value, missing=missing)


def plain(value: Any) -> str:
    """The exact decimal text of a number for another system (CSV): no rounding, separator or exponent."""
    d = exact(value)
    return "" if d is None else format(d, "f")
