"""XLSX workbooks with openpyxl: typed cells, formats, bold frozen header, filters, widths.

A sheet is a table described by :class:`Col` specs over a DataFrame (or any iterable of
mappings). Numbers are written as numbers (exact ``Decimal`` when given), dates as dates,
percentages as fractions with a ``%`` format, codes as text. Any text that a spreadsheet
could read as a formula is neutralised. A workbook with a sheet over ``STREAM_ROWS`` rows is
written by :mod:`reportlib.render.xlsx_stream` (streaming, column by column, the same cells);
others by openpyxl. The file is written atomically.
"""

from __future__ import annotations

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
from .text import neutralise_formula

__all__ = ["Col", "FORMATS", "STREAM_ROWS", "Sheet", "cell_value", "write_workbook"]

STREAM_ROWS = 5000
MAX_WIDTH = 60
FORMATS = {
    "int": "#,##0",
    "money": "#,##0.00",
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
    decimals), ``money`` (two decimals, thousands separator), ``percent`` (the value is in
    percent, 0–100, written as a fraction with a % format), ``date``, ``datetime``, ``bool``.
    """

    key: str
    header: str | None = None
    kind: str = "text"
    places: int = 2
    width: float | None = None

    @property
    def title(self) -> str:
        return self.header or self.key.replace("_", " ").capitalize()

    @property
    def number_format(self) -> str | None:
        if self.kind == "decimal":
            return "0." + "0" * self.places if self.places else "0"
        if self.kind == "percent":
            return "0." + "0" * self.places + "%" if self.places else "0%"
        return FORMATS.get(self.kind)


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
    """The value to store for ``value`` in a ``col`` cell (typed; text neutralised)."""
    if _is_missing(value):
        return None
    kind = col.kind
    if kind in ("text", "code"):
        return neutralise_formula(str(value))
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "percent":
        return (value if isinstance(value, Decimal) else Decimal(str(value))) / 100 \
            if not isinstance(value, float) else value / 100
    if kind in ("decimal", "money"):
        if isinstance(value, (Decimal, int, float)):
            return value
        return Decimal(str(value))
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
        from .xlsx_stream import write_streaming_workbook

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
        lines.append([(neutralise_formula(sheet.heading), TITLE_FONT, None)])
    for label, value in sheet.preamble:
        if isinstance(value, str):
            shown, fmt = neutralise_formula(value), None
        elif isinstance(value, datetime):
            shown, fmt = value.replace(tzinfo=None), FORMATS["datetime"]
        elif isinstance(value, date):
            shown, fmt = value, FORMATS["date"]
        elif isinstance(value, Decimal):
            shown, fmt = value, FORMATS["money"]
        else:
            shown, fmt = value, None
        lines.append([(neutralise_formula(str(label)), LABEL_FONT, None), (shown, None, fmt)])
    if lines:
        lines.append([])
    return lines


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
            if isinstance(value, str):
                cell.data_type = "s"
    header_row = row_number + 1
    for index, col in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=header_row, column=index, value=neutralise_formula(col.title))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    rows, _ = _iter_rows(sheet.rows)
    samples: list[list[Any]] = [[] for _ in sheet.columns]
    row_number = header_row
    formats = [c.number_format for c in sheet.columns]
    for record in rows:
        row_number += 1
        for index, col in enumerate(sheet.columns):
            value = _checked_value(title, row_number, col, record.get(col.key))
            cell = ws.cell(row=row_number, column=index + 1, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            if formats[index] and value is not None:
                cell.number_format = formats[index]
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
