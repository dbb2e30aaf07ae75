"""XLSX workbooks: the table model of :mod:`reportlib.render.table` written as SpreadsheetML.

:func:`write_workbook` writes typed cells with their number formats, a bold frozen header with
an autofilter, column widths, and text that can never become a formula (text that looks like
one also gets the quote-prefix style, so editing the cell keeps it text). It writes the XML
straight into the zip stream, a chunk of rows at a time and column by column, whatever the
size of the sheet (a 60,000-code rate amendment in a small, flat memory budget; measured in
DEVELOPERS.md, "XLSX writers"):

* each column of a chunk is factorised (:func:`pandas.factorize`), so the cell value of
  :func:`reportlib.render.table.cell_value`, its number text and its XML are worked out once
  per distinct value, not once per cell (a rate plan has ~1,500 distinct rates for 60,000
  codes);
* a cell is then one string: its reference plus the XML tail of its distinct value.

Numbers keep their exact decimal text (a ``Decimal`` is written as written, up to the 15
significant digits a spreadsheet keeps; no float round trip); dates are Excel serial numbers
with a date format; text is an inline string. The tests hold every cell to what openpyxl
writes for the same model (``tests/oracles/xlsx_reference.py``). The file is written
atomically.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
from openpyxl.styles.numbers import BUILTIN_FORMATS_REVERSE
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from ..files import atomic_path
from .figures import Figure
from .table import (FORMATS, HEADER_FILL, HEADER_FONT, SAMPLE_ROWS, Font, Sheet, cell_format, cell_value,
                    column_widths, preamble_lines, sheet_titles, value_error)
from .text import looks_like_formula

__all__ = ["CHUNK_ROWS", "write_workbook"]

CHUNK_ROWS = 8192  # rows rendered at a time: bounds memory, amortises the per-chunk work
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# XML 1.0 cannot carry these control characters; SpreadsheetML writes them as _xHHHH_.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff&<>\r]")
_EMPTY = "/>"


def _escape_text(text: str) -> str:
    if not _SPECIAL.search(text) and not (text[:1].isspace() or text[-1:].isspace()):
        return f"<t>{text}</t>"  # most text: nothing to escape
    text = _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    text = escape(text).replace("\r", "&#13;")
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f"<t{space}>{text}</t>"


def _number_text(value: Any) -> str | None:
    """The exact XML text of a number, or None when it has none (NaN, infinity)."""
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    return repr(value) if math.isfinite(value) else None


@dataclass
class _Styles:
    """Cell formats (number format, font, fill, quote prefix) registered as they are used; ``styles.xml``."""

    formats: dict[str, int] = field(default_factory=dict)
    fonts: dict[tuple, int] = field(default_factory=lambda: {(False, 11.0, None): 0})
    fills: dict[str, int] = field(default_factory=dict)  # solid fills by colour; ids 0 and 1 are reserved
    xfs: dict[tuple, int] = field(default_factory=lambda: {(0, 0, 0, False): 0})

    def xf(self, number_format: str | None = None, font: Font | None = None, fill: str | None = None,
           quote: bool = False) -> int:
        """The index of the cell format; a filled cell (a header) is centred vertically too."""
        fmt_id = 0
        if number_format:
            fmt_id = BUILTIN_FORMATS_REVERSE.get(number_format) or self.formats.setdefault(
                number_format, 164 + len(self.formats))
        font_id = 0
        if font is not None:
            key = (font.bold, float(font.size), font.color)
            font_id = self.fonts.setdefault(key, len(self.fonts))
        fill_id = self.fills.setdefault(fill, 2 + len(self.fills)) if fill else 0
        return self.xfs.setdefault((fmt_id, font_id, fill_id, quote), len(self.xfs))

    def xml(self) -> str:
        formats = "".join(f'<numFmt numFmtId="{i}" formatCode={quoteattr(code)}/>' for code, i in self.formats.items())
        formats = f'<numFmts count="{len(self.formats)}">{formats}</numFmts>' if formats else ""
        fonts = "".join(
            f'<font>{"<b/>" if bold else ""}<sz val="{size:g}"/>{f"<color rgb={quoteattr(rgb)}/>" if rgb else ""}'
            '<name val="Calibri"/><family val="2"/></font>' for bold, size, rgb in self.fonts)
        fills = "".join(f'<fill><patternFill patternType="solid"><fgColor rgb={quoteattr(rgb)}/><bgColor indexed="64"/>'
                        '</patternFill></fill>' for rgb in self.fills)
        xfs = "".join(_xf_xml(*xf) for xf in self.xfs)
        return (f'{_HEAD}<styleSheet xmlns="{_MAIN}">{formats}'
                f'<fonts count="{len(self.fonts)}">{fonts}</fonts>'
                f'<fills count="{2 + len(self.fills)}"><fill><patternFill patternType="none"/></fill>'
                f'<fill><patternFill patternType="gray125"/></fill>{fills}</fills>'
                '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                f'<cellXfs count="{len(self.xfs)}">{xfs}</cellXfs>'
                '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
                '</styleSheet>')


def _xf_xml(fmt: int, font: int, fill: int, quote: bool) -> str:
    attributes = f'numFmtId="{fmt}" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
    attributes += ' quotePrefix="1"' if quote else ""
    attributes += ' applyNumberFormat="1"' if fmt else ""
    attributes += ' applyFont="1"' if font else ""
    if fill:
        return f'<xf {attributes} applyFill="1" applyAlignment="1"><alignment vertical="center"/></xf>'
    return f"<xf {attributes}/>"


class _Cells:
    """The XML of cell values: ``<c r="B7"`` + a tail per distinct value (type, style, value)."""

    def __init__(self, styles: _Styles):
        self.styles = styles

    def tail(self, value: Any, number_format: str | None = None, font: Font | None = None,
             fill: str | None = None) -> str:
        """The rest of a ``<c>`` element holding ``value`` (already a cell value, or None)."""
        if isinstance(value, str):
            style = self._style(None, font, fill, looks_like_formula(value))
            return f'{style} t="inlineStr"><is>{_escape_text(value)}</is></c>'
        if value is None:
            return _EMPTY if font is None and fill is None else f' s="{self.styles.xf(None, font, fill)}"/>'
        if isinstance(value, (bool, np.bool_)):
            return f'{self._style(None, font, fill)} t="b"><v>{int(bool(value))}</v></c>'
        if isinstance(value, (int, float, Decimal, np.integer, np.floating)):
            text = _number_text(value)
            if text is None:
                return self.tail(None, number_format, font, fill)
            return f'{self._style(number_format, font, fill)}><v>{text}</v></c>'
        if isinstance(value, (datetime, date, time, timedelta)):
            if isinstance(value, (datetime, time)) and value.tzinfo is not None:
                value = value.replace(tzinfo=None)
            return f'{self._style(number_format or _date_format(value), font, fill)}><v>{to_excel(value)!r}</v></c>'
        return self.tail(str(value), None, font, fill)

    def _style(self, number_format: str | None, font: Font | None, fill: str | None, quote: bool = False) -> str:
        if number_format is None and font is None and fill is None and not quote:
            return ""
        xf = self.styles.xf(number_format, font, fill, quote)
        return f' s="{xf}"' if xf else ""


def _date_format(value: date | time | timedelta) -> str:
    """The number format of a date or time cell whose column has none (those of date columns)."""
    if isinstance(value, datetime):
        return FORMATS["datetime"]
    if isinstance(value, date):
        return FORMATS["date"]
    return "[hh]:mm:ss" if isinstance(value, timedelta) else "hh:mm:ss"


def _column_chunks(rows: Any, keys: Sequence[str], size: int) -> Iterator[tuple[int, list[Any]]]:
    """(row count, one array-like per key) for consecutive chunks of ``rows``."""
    if isinstance(rows, pd.DataFrame):
        for start in range(0, len(rows), size):
            part = rows.iloc[start:start + size]
            yield len(part), [part[key] if key in part.columns else None for key in keys]
        return
    iterator = iter(rows)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield len(chunk), [[record.get(key) for record in chunk] for key in keys]


def _factorize(values: Any, count: int, text: bool) -> tuple[np.ndarray, Sequence[Any]]:
    """Codes (-1: missing) and distinct values of one column of a chunk."""
    if values is None:
        return np.full(count, -1, dtype=np.intp), []
    if not isinstance(values, pd.Series):
        values = _objects(values)
    if text and not isinstance(values.dtype, pd.StringDtype) and \
            pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # 1, 1.0 and True are equal keys to a hash table but different texts: key text columns by their text
        # (a Figure is no text: it brings its own kind into any column).
        values = _objects([v if isinstance(v, (str, Figure)) or _missing(v) else str(v) for v in values])
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): key them by their text
        codes, uniques = pd.factorize(_objects([None if _missing(v) else str(v) for v in values]))
    return codes, list(uniques)


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (numpy would make a list of lists 2-D)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is a value, not a missing one
        return False


@dataclass
class _SheetXml:
    """One worksheet's XML around its rows: dimension, frozen pane, widths, autofilter."""

    last_column: str
    header_row: int
    widths: list[float]

    def head(self, last_row: int) -> str:
        top = f"A{self.header_row + 1}"
        cols = "".join(f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
                       for i, w in enumerate(self.widths, start=1))
        return (f'{_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
                f'<dimension ref="A1:{self.last_column}{last_row}"/>'
                f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{self.header_row}" topLeftCell="{top}" '
                f'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="{top}" '
                f'sqref="{top}"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
                f'<cols>{cols}</cols><sheetData>')

    def tail(self, last_row: int) -> str:
        return (f'</sheetData><autoFilter ref="{self.filter_ref(last_row)}"/>'
                '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>')

    def filter_ref(self, last_row: int) -> str:
        return f"A{self.header_row}:{self.last_column}{max(last_row, self.header_row)}"


def write_workbook(path: str | Path, sheets: Sequence[Sheet], *, chunk_rows: int = CHUNK_ROWS) -> Path:
    """Write ``sheets`` to one XLSX file at ``path`` (atomically); returns the path.

    A value that cannot be written is a DataError naming the sheet, row, column and value, and
    nothing is written.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        _write_package(tmp, list(zip(sheet_titles(sheets), sheets)), chunk_rows)
    return path


def _write_package(target: Path, sheets: Sequence[tuple[str, Sheet]], chunk_rows: int) -> None:
    """Write ``(title, Sheet)`` pairs as one XLSX package at ``target`` (a temporary path)."""
    cells = _Cells(_Styles())
    filters = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", _content_types(len(sheets)))
        package.writestr("_rels/.rels", _package_rels())
        package.writestr("docProps/core.xml", _core())
        for number, (title, sheet) in enumerate(sheets, start=1):
            ref = _write_sheet(package, f"xl/worksheets/sheet{number}.xml", title, sheet, cells, chunk_rows)
            filters.append((title, ref))
        package.writestr("xl/workbook.xml", _workbook(filters))
        package.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        package.writestr("xl/styles.xml", cells.styles.xml())


def _write_sheet(package: zipfile.ZipFile, name: str, title: str, sheet: Sheet, cells: _Cells, chunk_rows: int) -> str:
    """Write one sheet's part; returns its autofilter range."""
    preamble = preamble_lines(sheet)
    header_row = len(preamble) + 1
    rows = _Rows(title, list(sheet.columns), cells)
    top = []
    for number, line in enumerate(preamble, start=1):
        parts = "".join(f'<c r="{get_column_letter(i)}{number}"{cells.tail(value, fmt, font)}'
                        for i, (value, font, fmt) in enumerate(line, start=1))
        top.append(f'<row r="{number}">{parts}</row>')
    header = "".join(f'<c r="{letter}{header_row}"{cells.tail(col.title, None, HEADER_FONT, HEADER_FILL)}'
                     for letter, col in zip(rows.letters, rows.columns))
    top.append(f'<row r="{header_row}">{header}</row>')
    chunks = _column_chunks(sheet.rows, [col.key for col in rows.columns], chunk_rows)
    first = next(chunks, None)
    body = rows.render(*first, header_row + 1, keep_samples=True) if first else ""
    following = header_row + 1 + (first[0] if first else 0)
    xml = _SheetXml(rows.letters[-1] if rows.letters else "A", header_row, column_widths(sheet, rows.samples))
    if isinstance(sheet.rows, (Sequence, pd.DataFrame)):  # the dimension is known: straight into the package
        last = header_row + len(sheet.rows)
        with package.open(name, "w") as out:
            out.write((xml.head(last) + "".join(top) + body).encode())
            rows.write(out, chunks, following)
            out.write(xml.tail(last).encode())
    else:  # an iterable of unknown length: rows wait in a temporary file until the count is known
        with tempfile.TemporaryFile() as spool:
            spool.write(body.encode())
            last = rows.write(spool, chunks, following) - 1
            spool.seek(0)
            with package.open(name, "w") as out:
                out.write((xml.head(last) + "".join(top)).encode())
                shutil.copyfileobj(spool, out, 1 << 20)
                out.write(xml.tail(last).encode())
    return xml.filter_ref(last)


class _Rows:
    """Table rows as XML, a chunk at a time, column by column."""

    def __init__(self, title: str, columns: list[Any], cells: _Cells):
        self.title, self.columns, self.cells = title, columns, cells
        self.letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
        self.texts = [col.kind in ("text", "code") for col in columns]
        self.formats = [col.number_format for col in columns]
        self.samples: list[list[Any]] = [[] for _ in columns]  # the first rows' cell values, for column widths

    def render(self, count: int, values: list[Any], start: int, keep_samples: bool = False) -> str:
        """The ``<row>`` elements of ``count`` rows numbered from ``start``; ``values``: one array per column."""
        numbers = range(start, start + count)
        rendered = []
        for index, col in enumerate(self.columns):
            codes, uniques = _factorize(values[index], count, self.texts[index])
            converted = [self._value(col, v, codes, n, start) for n, v in enumerate(uniques)]
            if keep_samples:
                self.samples[index] = [None if c < 0 else converted[c] for c in codes[:SAMPLE_ROWS]]
            fixed = self.formats[index]  # a Figure brings its own format (cell_format)
            tails = [self.cells.tail(v, cell_format(col, raw) if isinstance(raw, Figure) else fixed)
                     for v, raw in zip(converted, uniques)]
            tails.append(_EMPTY)  # code -1 (no value): the last
            letter = self.letters[index]
            rendered.append([f'<c r="{letter}{n}"{tails[c]}' for n, c in zip(numbers, codes.tolist())])
        return "".join(f'<row r="{n}">{"".join(row)}</row>' for n, row in zip(numbers, zip(*rendered)))

    def _value(self, col: Any, value: Any, codes: np.ndarray, code: int, start: int) -> Any:
        try:
            return cell_value(col, value)
        except (ArithmeticError, TypeError, ValueError) as exc:
            row = start + int(np.flatnonzero(codes == code)[0])
            raise value_error(self.title, row, col, value, exc) from exc

    def write(self, out: IO[bytes], chunks: Iterable[tuple[int, list[Any]]], start: int) -> int:
        """Render ``chunks`` into ``out`` from row ``start``; returns the next row number."""
        for count, values in chunks:
            out.write(self.render(count, values, start).encode())
            start += count
        return start


def _content_types(sheets: int) -> str:
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{kind}"/>'
                        for n in range(1, sheets + 1))
    return (f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/'
            f'vnd.openxmlformats-package.core-properties+xml"/>{overrides}</Types>')


def _package_rels() -> str:
    return (f'{_HEAD}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>')


def _core() -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f'{_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>reportlib</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>')


def _workbook(filters: list[tuple[str, str]]) -> str:
    sheets = "".join(f'<sheet name={quoteattr(title)} sheetId="{n}" r:id="rId{n}"/>'
                     for n, (title, _) in enumerate(filters, start=1))
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
        f'{escape(_absolute(title, ref))}</definedName>' for n, (title, ref) in enumerate(filters))
    return (f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets>'
            f'<definedNames>{names}</definedNames><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')


def _absolute(title: str, ref: str) -> str:
    """``'Sheet'!$A$5:$H$10`` for a sheet title and an ``A5:H10`` range."""
    quoted = "'" + title.replace("'", "''") + "'"
    return quoted + "!" + ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in ref.split(":"))


def _workbook_rels(sheets: int) -> str:
    rels = "".join(f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                   for n in range(1, sheets + 1))
    return (f'{_HEAD}<Relationships xmlns="{_PKG_REL}">{rels}'
            f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
