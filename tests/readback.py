"""Read finished documents back as a reader sees them: a workbook's cells as displayed, an HTML
page's tables and text, a deck's text.

:func:`excel_display` applies a cell's number format to its stored number as Excel does: the
number to 15 significant digits, then rounded half away from zero at the format's places, a
``%`` in the format multiplying by 100, a sign section chosen by the value's sign (a negative
that rounds to zero keeps its minus: ``-0.00``). It covers the number formats reportlib writes
(``#,##0.00``, ``0.00000000``, ``#,##0.0 %``, ``#,##0.0" days"``, ``+#,##0;-#,##0;#,##0``).
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r'"([^"]*)"|\\(.)|([#0,.]+)|(.)')


def _sections(number_format: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in number_format:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]


def excel_display(value: Any, number_format: str | None) -> str:
    """The text Excel shows for the number ``value`` under ``number_format``."""
    number = value if isinstance(value, Decimal) else Decimal(repr(value)) if isinstance(value, float) \
        else Decimal(int(value))
    if number and len(number.as_tuple().digits) > 15:  # Excel shows 15 significant digits
        number = number.quantize(Decimal(1).scaleb(number.adjusted() - 14), rounding=ROUND_HALF_UP)
    if not number_format or number_format == "General":
        return format(number.normalize(), "f") if number != number.to_integral() else str(int(number))
    sections = _sections(number_format)
    sign = ""
    if len(sections) == 1:
        section = sections[0]
        sign = "-" if number < 0 else ""
    elif number > 0 or (number == 0 and len(sections) < 3):
        section = sections[0]
    elif number < 0:
        section = sections[1]  # the section writes its own sign
    else:
        section = sections[2]
    number = abs(number)
    pieces, places, grouping, percent = [], 0, False, False
    for quoted, escaped, digits, other in _TOKEN.findall(section):
        if digits:
            grouping = "," in digits
            places = len(digits.split(".")[1]) if "." in digits else 0
            pieces.append(None)  # where the number goes
        else:
            text = quoted or escaped or other
            percent = percent or (other == "%")
            pieces.append(text)
    if percent:
        number *= 100
    shown = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    digits = format(shown, f"{',' if grouping else ''}.{places}f")
    return sign + "".join(digits if p is None else p for p in pieces)


def cell_display(cell) -> str:
    """A cell as a reader sees it: numbers under their format, dates as ISO dates, text as written."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if cell.number_format == "yyyy-mm-dd" else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return excel_display(value, cell.number_format)
    return str(value)


def sheet_table(ws, first_header: str) -> tuple[list[str], list[list[str]]]:
    """The table of a sheet whose header row starts with ``first_header``: (header, rows as displayed)."""
    rows = list(ws.iter_rows())
    at = next(i for i, row in enumerate(rows) if row and row[0].value == first_header)
    header = [str(c.value) for c in rows[at]]
    return header, [[cell_display(c) for c in row] for row in rows[at + 1:] if any(c.value is not None for c in row)]


def sheet_lines(ws) -> dict[str, str]:
    """A sheet's label/value lines (its first two columns), as displayed."""
    return {str(row[0].value): cell_display(row[1]) for row in ws.iter_rows(max_col=2)
            if row[0].value is not None and len(row) > 1}


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
            self._depth += 1
        elif tag == "tr" and self._depth:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._depth:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._depth -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(page: str) -> list[list[list[str]]]:
    """Every table of an HTML page: rows of cell texts (header row first)."""
    parser = _Tables()
    parser.feed(page)
    return [t for t in parser.tables if t]


def html_table(page: str, header: list[str]) -> list[list[str]]:
    """The body rows of the first table whose header row is ``header``."""
    for table in html_tables(page):
        if table[0] == header:
            return table[1:]
    raise AssertionError(f"no table with the header {header} in the page")


def html_text(page: str) -> str:
    """The page's visible text (scripts and styles left out), whitespace collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def pptx_text(path: Path) -> str:
    """Every text frame, table cell and note of a deck, one per line."""
    from pptx import Presentation

    parts = []
    for slide in Presentation(str(path)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts.extend(cell.text for row in shape.table.rows for cell in row.cells)
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(parts)
