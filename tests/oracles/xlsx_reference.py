"""The openpyxl oracle: the table model of :mod:`reportlib.render.table` written through openpyxl.

This was reportlib's writer of small workbooks; the package now writes every workbook with
:mod:`reportlib.render.xlsx`, and the tests hold its cells (values, types, number formats,
fonts, quote prefixes, frozen pane, autofilter, column widths) to what openpyxl's cell API
makes of the same sheets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reportlib.files import atomic_path
from reportlib.render import table
from reportlib.render.table import (HEADER_FILL, HEADER_FONT, SAMPLE_ROWS, Col, Sheet, cell_format, cell_value,
                                    column_widths, preamble_lines, sheet_titles, table_rows, value_error)
from reportlib.render.text import looks_like_formula

__all__ = ["write_reference_workbook"]


def _font(font: table.Font) -> Font:
    return Font(bold=font.bold, size=font.size if font.size != 11 else None, color=font.color)


def write_reference_workbook(path: str | Path, sheets: Sequence[Sheet]) -> Path:
    """Write ``sheets`` to one XLSX file at ``path`` with openpyxl (atomically); returns the path."""
    path = Path(path)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, sheet in zip(sheet_titles(sheets), sheets):
        _write_sheet(workbook, title, sheet)
    with atomic_path(path) as tmp:
        workbook.save(tmp)
    return path


def _text_cell(cell, value: Any) -> None:
    """A string cell is never a formula; one that looks like a formula gets the quote prefix too."""
    if isinstance(value, str):
        cell.data_type = "s"
        if looks_like_formula(value):
            cell.quotePrefix = True


def _write_sheet(workbook: Workbook, title: str, sheet: Sheet) -> None:
    ws = workbook.create_sheet(title)
    row_number = 0
    for line in preamble_lines(sheet):
        row_number += 1
        for index, (value, font, fmt) in enumerate(line, start=1):
            cell = ws.cell(row=row_number, column=index, value=value)
            if font:
                cell.font = _font(font)
            if fmt:
                cell.number_format = fmt
            _text_cell(cell, value)
    header_row = row_number + 1
    for index, col in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=header_row, column=index, value=col.title)
        cell.font, cell.fill = _font(HEADER_FONT), PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(vertical="center")
        _text_cell(cell, col.title)
    rows, _ = table_rows(sheet.rows)
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
            if row_number - header_row <= SAMPLE_ROWS:
                samples[index].append(value)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    last = get_column_letter(max(1, len(sheet.columns)))
    ws.auto_filter.ref = f"A{header_row}:{last}{max(row_number, header_row)}"
    for index, width in enumerate(column_widths(sheet, samples), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


def _checked_value(title: str, row: int, col: Col, value: Any) -> Any:
    try:
        return cell_value(col, value)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise value_error(title, row, col, value, exc) from exc
