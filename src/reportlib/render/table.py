"""The table model that every workbook is written from: sheets, typed columns, cell values.

A sheet is a table described by :class:`Col` specs over a DataFrame (or any iterable of
mappings), optionally under a heading and a block of label/value lines. This module decides
what each cell holds and how it reads — the value to store (:func:`cell_value`: numbers as
numbers, exact ``Decimal`` when given, to the 15 significant digits a spreadsheet keeps;
percentages as fractions; dates as dates; codes and any other text as text), its number
format (:func:`cell_format`, the format of its kind of figure in :mod:`reportlib.render.figures`),
the heading and label lines (:func:`preamble_lines`), column widths (:func:`column_widths`) and
sheet titles (:func:`sheet_titles`) — and nothing about a file format:
:mod:`reportlib.render.xlsx` writes it as SpreadsheetML, and the tests' openpyxl oracle
(``tests/oracles/xlsx_reference.py``) writes the same model through openpyxl.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from ..errors import DataError
from . import figures
from .figures import Figure, Kind

__all__ = ["Col", "FORMATS", "Font", "HEADER_FILL", "HEADER_FONT", "LABEL_FONT", "MAX_WIDTH", "SAMPLE_ROWS", "Sheet",
           "TITLE_FONT", "cell_format", "cell_value", "column_widths", "preamble_lines", "sheet_titles", "table_rows",
           "value_error"]

MAX_WIDTH = 60
SAMPLE_ROWS = 1000  # a column's width is worked out from its header and its first values
FORMATS = {
    "int": figures.COUNT.number_format,
    "money": figures.MONEY.number_format,
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}


@dataclass(frozen=True)
class Font:
    """How a cell's text is drawn: bold, size in points, colour as ARGB hex (None: the default)."""

    bold: bool = False
    size: float = 11.0
    color: str | None = None


HEADER_FONT = Font(bold=True, color="00FFFFFF")
HEADER_FILL = "001F3864"  # the header row's solid fill, ARGB hex
TITLE_FONT = Font(bold=True, size=14.0)
LABEL_FONT = Font(bold=True)


@dataclass(frozen=True)
class Col:
    """One column of a sheet: the row key, its header and how to type and format it.

    Kinds: ``text``, ``code`` (digits kept as text), ``int``, ``decimal`` (``places``
    decimals), ``rate`` (a price per unit, ``places`` decimals, no thousands separator),
    ``money`` (two decimals, thousands separator), ``percent`` (the value is in percent, 0–100,
    written as a fraction with a % format), ``date``, ``datetime``, ``bool``. The number kinds
    read as :mod:`reportlib.render.figures` shows them (:attr:`figure`). A :class:`Figure` value
    brings its own kind into any column.
    """

    key: str
    header: str | None = None
    kind: str = "text"
    places: int = 2
    width: float | None = None

    @property
    def title(self) -> str:
        return self.header or self.key.replace("_", " ").capitalize()

    @functools.cached_property  # a writer asks once per distinct value of a column
    def figure(self) -> Kind | None:
        """How the column's numbers read (None for a column that holds no figures)."""
        if self.kind == "int":
            return figures.COUNT
        if self.kind == "money":
            return figures.MONEY
        if self.kind == "decimal":
            return figures.KINDS["number"].at(self.places)
        if self.kind == "rate":
            return figures.RATE.at(self.places)
        if self.kind == "percent":
            return figures.PERCENT.at(self.places)
        return None

    @functools.cached_property
    def number_format(self) -> str | None:
        figure = self.figure
        return figure.number_format if figure is not None else FORMATS.get(self.kind)


@dataclass
class Sheet:
    """A table on its own sheet, optionally under a title and a block of label/value lines."""

    title: str
    rows: Any  # a DataFrame or an iterable of mappings
    columns: Sequence[Col]
    heading: str | None = None
    preamble: Sequence[tuple[str, Any]] = field(default_factory=tuple)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover
        return False


def cell_value(col: Col, value: Any) -> Any:
    """The value to store for ``value`` in a ``col`` cell (typed; text as written)."""
    if isinstance(value, Figure):
        return value.kind.cell(value.value)
    if _is_missing(value):
        return None
    kind = col.kind
    if kind in ("text", "code"):
        return str(value)
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind in ("decimal", "rate", "money", "percent"):
        return col.figure.cell(value)
    if kind == "date":
        if hasattr(value, "date") and isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value)[:10])
    if kind == "datetime":
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        return value.replace(tzinfo=None) if isinstance(value, datetime) else value
    return value


def cell_format(col: Col, value: Any) -> str | None:
    """The number format of ``value``'s cell in ``col``: a :class:`Figure`'s own, else the column's."""
    return value.kind.number_format if isinstance(value, Figure) else col.number_format


def table_rows(rows: Any) -> tuple[Iterable[Mapping], int | None]:
    """The rows of a sheet as mappings, and their count (None for an iterable of unknown length)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return (dict(zip(rows.columns, r)) for r in rows.itertuples(index=False, name=None)), len(rows)
    if isinstance(rows, Sequence):
        return rows, len(rows)
    return rows, None


def _safe_title(title: str, used: set[str]) -> str:
    cleaned = "".join("_" if ch in '[]:*?/\\' else ch for ch in title).strip("'")[:31] or "Sheet"
    candidate, n = cleaned, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate, n = cleaned[: 31 - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def sheet_titles(sheets: Sequence[Sheet]) -> list[str]:
    """Each sheet's title as a workbook allows it: at most 31 characters, none of ``[]:*?/\\``,
    unique whatever the case (``All``, ``All (2)``)."""
    used: set[str] = set()
    return [_safe_title(sheet.title, used) for sheet in sheets]


def _width(col: Col, samples: list[Any]) -> float:
    if col.width:
        return col.width
    longest = len(col.title)
    if col.kind in ("date", "datetime"):  # wide enough for a date even when the sampled rows have none
        longest = max(longest, len(FORMATS[col.kind]))
    for value in samples:
        if value is None:
            continue
        text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
        longest = max(longest, len(text) + (3 if col.kind in ("money", "int") else 0))
    return min(MAX_WIDTH, longest + 2)


def preamble_lines(sheet: Sheet) -> list[list[tuple[Any, Font | None, str | None]]]:
    """The lines above a sheet's header: its heading, each label and value, then an empty line;
    each cell as (value, font, number format)."""
    lines: list[list[tuple[Any, Font | None, str | None]]] = []
    if sheet.heading:
        lines.append([(sheet.heading, TITLE_FONT, None)])
    for label, value in sheet.preamble:
        lines.append([(str(label), LABEL_FONT, None), _preamble_value(value)])
    if lines:
        lines.append([])
    return lines


def _preamble_value(value: Any) -> tuple[Any, None, str | None]:
    """(cell value, font, number format) of a preamble line's value: a Decimal is money, an int a count."""
    if isinstance(value, Figure):
        return value.kind.cell(value.value), None, value.kind.number_format
    if isinstance(value, str) or value is None:
        return value, None, None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), None, FORMATS["datetime"]
    if isinstance(value, date):
        return value, None, FORMATS["date"]
    if isinstance(value, Decimal):
        return figures.MONEY.cell(value), None, FORMATS["money"]
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None, FORMATS["int"]
    return value, None, None


def value_error(title: str, row: int, col: Col, value: Any, exc: Exception) -> DataError:
    """The error for a ``value`` that :func:`cell_value` cannot write, naming where it is."""
    return DataError(f"Cannot write {value!r} to sheet {title!r}, row {row}, column {col.title!r} "
                     f"({col.kind}): {exc or type(exc).__name__}. Nothing was written.")


def column_widths(sheet: Sheet, samples: list[list[Any]]) -> list[float]:
    """Each column's width from its header and sample values; the preamble's labels widen the first."""
    widths = [_width(col, values) for col, values in zip(sheet.columns, samples)]
    if sheet.preamble:
        labels = min(MAX_WIDTH, max(len(str(label)) for label, _ in sheet.preamble) + 2)
        widths = [max(widths[0], labels)] + widths[1:] if widths else [labels]
    return widths
