"""XLSX workbooks with openpyxl: typed cells, formats, bold frozen header, filters, widths.

A sheet is a table described by :class:`Col` specs over a DataFrame (or any iterable of
mappings). Numbers are written as numbers (exact ``Decimal`` when given, to the 15 significant
digits a spreadsheet keeps), each with the number format of its kind of figure
(:mod:`reportlib.render.figures`), which shows it as every other output does; percentages are
fractions with a ``%`` format, dates are dates, codes are text. Text is stored as it is written,
in a string cell, which can never become a formula; text that looks like one (``=2+5``) also
gets the quote-prefix style, so editing the cell keeps it text. A workbook with a sheet over
``STREAM_ROWS`` rows is written by :mod:`reportlib.render.xlsx` (streaming, column by
column, the same cells); others by openpyxl. The file is written atomically.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..errors import DataError
from ..files import atomic_path
from . import figures
from .figures import Figure, Kind
from .text import looks_like_formula

__all__ = ["Col", "FORMATS", "STREAM_ROWS", "Sheet", "cell_format", "cell_value", "write_workbook"]

STREAM_ROWS = 5000
MAX_WIDTH = 60
FORMATS = {
    "int": figures.COUNT.number_format,
    "money": figures.MONEY.number_format,
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F3864")
TITLE_FONT = Font(bold=True, size=14)
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
    stream: bool | None = None  # None: stream when the table has more than STREAM_ROWS rows


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


def _iter_rows(rows: Any) -> tuple[Iterable[Mapping], int | None]:
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


def write_workbook(path: str | Path, sheets: Sequence[Sheet]) -> Path:
    """Write ``sheets`` to one XLSX file at ``path`` (atomically); returns the path."""
    path = Path(path)
    used: set[str] = set()
    titled = [(_safe_title(sheet.title, used), sheet) for sheet in sheets]
    if any(_needs_stream(s) for s in sheets):
        from .xlsx import write_streaming_workbook

        with atomic_path(path) as tmp:
            write_streaming_workbook(tmp, titled)
        return path
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, sheet in titled:
        _write_normal(workbook, title, sheet)
    with atomic_path(path) as tmp:
        workbook.save(tmp)
    return path


def _needs_stream(sheet: Sheet) -> bool:
    if sheet.stream is not None:
        return sheet.stream
    _, count = _iter_rows(sheet.rows)
    return count is None or count > STREAM_ROWS


def _preamble_rows(sheet: Sheet) -> list[list[tuple[Any, Font | None, str | None]]]:
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


def _text_cell(cell, value: Any) -> None:
    """A string cell is never a formula; one that looks like a formula gets the quote prefix too."""
    if isinstance(value, str):
        cell.data_type = "s"
        if looks_like_formula(value):
            cell.quotePrefix = True


def _write_normal(workbook: Workbook, title: str, sheet: Sheet) -> None:
    ws = workbook.create_sheet(title)
    row_number = 0
    for line in _preamble_rows(sheet):
        row_number += 1
        for index, (value, font, fmt) in enumerate(line, start=1):
            cell = ws.cell(row=row_number, column=index, value=value)
            if font:
                cell.font = font
            if fmt:
                cell.number_format = fmt
            _text_cell(cell, value)
    header_row = row_number + 1
    for index, col in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=header_row, column=index, value=col.title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center")
        _text_cell(cell, col.title)
    rows, _ = _iter_rows(sheet.rows)
    samples: list[list[Any]] = [[] for _ in sheet.columns]
    row_number = header_row
    for record in rows:
        row_number += 1
        for index, col in enumerate(sheet.columns):
            raw = record.get(col.key)
            value = _checked_value(title, row_number, col, raw)
            cell = ws.cell(row=row_number, column=index + 1, value=value)
            _text_cell(cell, value)
            fmt = cell_format(col, raw)
            if fmt and value is not None:
                cell.number_format = fmt
            if row_number - header_row <= 1000:
                samples[index].append(value)
    _finish(ws, sheet, header_row, row_number, samples)


def _checked_value(title: str, row: int, col: Col, value: Any) -> Any:
    """:func:`cell_value`, or a DataError naming the sheet, row, column and value."""
    try:
        return cell_value(col, value)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise value_error(title, row, col, value, exc) from exc


def value_error(title: str, row: int, col: Col, value: Any, exc: Exception) -> DataError:
    """The error for a ``value`` that :func:`cell_value` cannot write, naming where it is."""
    return DataError(f"Cannot write {value!r} to sheet {title!r}, row {row}, column {col.title!r} "
                     f"({col.kind}): {exc or type(exc).__name__}. Nothing was written.")


def _finish(ws, sheet: Sheet, header_row: int, last_row: int, samples: list[list[Any]]) -> None:
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    last = get_column_letter(max(1, len(sheet.columns)))
    ws.auto_filter.ref = f"A{header_row}:{last}{max(last_row, header_row)}"
    for index, width in enumerate(_column_widths(sheet, samples), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


def _column_widths(sheet: Sheet, samples: list[list[Any]]) -> list[float]:
    """Each column's width from its header and sample values; the preamble's labels widen the first."""
    widths = [_width(col, values) for col, values in zip(sheet.columns, samples)]
    if sheet.preamble:
        labels = min(MAX_WIDTH, max(len(str(label)) for label, _ in sheet.preamble) + 2)
        widths = [max(widths[0], labels)] + widths[1:] if widths else [labels]
    return widths
