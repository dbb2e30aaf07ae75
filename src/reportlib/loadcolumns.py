"""CSV text to typed columns, a chunk at a time: the columnar half of ``reportlib load``.

:func:`read_chunks` streams one file through pyarrow's CSV reader and hands over each chunk's
raw cells with their spreadsheet row numbers (the header is row 1; a quoted field with line
breaks is one row, as a spreadsheet shows it). :func:`typed_column` turns one column of a chunk
into typed values and says which cells are wrong and why, with the same rules and reasons as
:func:`reportlib.load.parse_value` applies to one cell (a cell the fast path cannot decide, such
as an unusual ISO date-time, is handed to ``parse_value`` itself).

Typed values: ``text``/``code``/``enum`` as strings, ``int`` as int64, ``decimal`` as
decimal128 with the field's scale, ``date`` as date32, ``datetime`` as timestamp[us] (naive
UTC), ``bool`` as booleans; null where the cell is empty.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import sqlalchemy as sa

from .domains import Field, FileSpec

__all__ = ["Chunk", "ColumnRules", "NOT_UTF8", "WHITESPACE", "column_rules", "read_chunks", "typed_column"]

# Python's str.strip() removes exactly these; the loader trims the same ones.
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
BLOCK_SIZE = 4 << 20  # bytes of CSV parsed at a time
INT64_MAX = 2**63 - 1
_INT_RANGES = {sa.SmallInteger: 2**15 - 1, sa.BigInteger: 2**63 - 1, sa.Integer: 2**31 - 1}
_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]
_INT = r"^[+-]?[0-9]+$"
_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# The ISO forms written by machines; any other form fromisoformat accepts goes to parse_value.
_DATETIME = (r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
             r"(?:[T ](?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?)?"
             r"(?P<z>Z|[+-][0-9]{2}:[0-9]{2})?$")
_DAY_US = 86_400_000_000
MIN_US = -62135596800000000  # 0001-01-01T00:00:00
MAX_US = 253402300799999999  # 9999-12-31T23:59:59.999999
RANGE_REASON = "is outside the years 1 to 9999 once converted to UTC"


@dataclass(frozen=True)
class ColumnRules:
    """What the table column adds to a field's own rules: its length, range and whether it is an id."""

    length: int | None = None  # characters (VARCHAR(n))
    int_max: int | None = None  # whole numbers: the column type's range is -int_max-1 .. int_max
    decimal_max: int | None = None  # decimals: largest scaled integer (value * 10**scale) stored exactly
    is_id: bool = False  # a key or reference column: no leading or trailing spaces


def column_rules(spec: FileSpec, fld: Field, id_columns: set[str]) -> ColumnRules:
    """The limits of the table column that ``fld`` loads into (the same on every database)."""
    from .db import Exact

    column_type = spec.table.c[fld.column_name].type
    length = getattr(column_type, "length", None) if isinstance(column_type, sa.String) else None
    int_max = next((limit for kind, limit in _INT_RANGES.items() if isinstance(column_type, kind)), None)
    decimal_max = None
    if fld.kind == "decimal":
        decimal_max = INT64_MAX
        if isinstance(column_type, Exact):
            decimal_max = column_type.largest_scaled
    return ColumnRules(length=length, int_max=int_max if fld.kind == "int" else None, decimal_max=decimal_max,
                       is_id=fld.name in id_columns and fld.kind in ("text", "code"))


@dataclass
class Chunk:
    """Some consecutive rows of a file: their spreadsheet row numbers and raw text per field."""

    rows: np.ndarray  # int64 spreadsheet row numbers
    raw: dict[str, pa.Array]  # field name -> string array (cells that are not UTF-8 are empty here)
    # field -> (rows whose cell is not UTF-8, those cells as shown, the reason)
    not_utf8: dict[str, tuple[np.ndarray, list[str], str]] = dc_field(default_factory=dict)
    size: int = 0  # bytes of the file read so far


def read_chunks(spec: FileSpec, path: Path, report: Callable[[int | None, str | None, str | None, str], None],
                block_size: int = BLOCK_SIZE) -> Iterator[Chunk]:
    """Stream ``path`` in chunks of parsed rows; file-level and row-shape problems go to ``report``.

    ``report(row, column, value, reason)``. Nothing is yielded when the header lacks a column of
    ``spec`` or names one twice. Rows with every cell empty are skipped (a spreadsheet's blank
    rows); rows with more or fewer values than the header are reported and skipped.
    """
    header = _header(path, report)
    if header is None:
        return
    names = [h.strip() for h in header]
    wanted = [f.name for f in spec.fields]
    missing = [n for n in wanted if n not in names]
    for column in missing:
        report(1, column, None, "required column is missing from the header")
    repeated = [n for n in wanted if names.count(n) > 1]
    for column in repeated:
        from openpyxl.utils import get_column_letter  # as a spreadsheet names the columns

        places = ", ".join(get_column_letter(i + 1) for i, n in enumerate(names) if n == column)
        report(1, column, None, f"appears {names.count(column)} times in the header (columns {places}); "
                                "keep one, so that it is clear which values to load")
    if missing or repeated:
        return
    position = {n: names.index(n) for n in wanted}
    width = len(header)
    skipped: list[int] = []

    def invalid_row(row) -> str:
        if row.number == 1:
            report(1, None, None, f"header cannot be read: its {row.actual_columns} values do not parse "
                                  f"as the {width} names Python's csv reader sees")
        else:
            report(row.number, None, None, f"has {row.actual_columns} values but the header has {width}")
        skipped.append(row.number if row.number is not None else -1)
        return "skip"

    generated = [f"c{i}" for i in range(width)]
    source = pa.OSFile(str(path), "rb")
    try:
        reader = pcsv.open_csv(
            source,
            read_options=pcsv.ReadOptions(use_threads=False, block_size=block_size, column_names=generated),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                            invalid_row_handler=invalid_row),
            convert_options=pcsv.ConvertOptions(column_types={g: pa.binary() for g in generated},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        source.close()
        report(None, None, None, f"is not valid CSV: {exc}")
        return
    next_row, seen_skips, pending = 1, 0, []
    with source:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                report(next_row, None, None, f"is not valid CSV from here on: {exc}")
                break
            count = batch.num_rows
            if count == 0:
                continue
            # rows the reader skipped (reported as it parsed them, maybe ahead of this batch)
            pending = sorted(pending + skipped[seen_skips:])
            seen_skips = len(skipped)
            rows = _row_numbers(next_row, count, pending)
            next_row = int(rows[-1]) + 1
            pending = [n for n in pending if n >= next_row]
            columns = batch.columns
            keep = np.ones(count, dtype=bool)
            if rows[0] == 1:
                keep[0] = False  # the header itself
            blank = np.ones(count, dtype=bool)
            for column in columns:
                blank &= pc.equal(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
            keep &= ~blank
            if not keep.all():
                mask = pa.array(keep)
                columns = [c.filter(mask) for c in columns]
                rows = rows[keep]
            if len(rows) == 0:
                continue
            chunk = Chunk(rows=rows, raw={}, size=source.tell())
            for name in wanted:
                chunk.raw[name] = _as_text(columns[position[name]], name, chunk)
            yield chunk


def _row_numbers(first: int, count: int, skipped: list[int]) -> np.ndarray:
    """The ``count`` row numbers from ``first`` on, leaving out rows the reader skipped."""
    skipped = [n for n in skipped if n >= first]
    if not skipped or skipped[0] >= first + count:
        return np.arange(first, first + count, dtype=np.int64)
    numbers, row, skip = [], first, set(skipped)
    while len(numbers) < count:
        if row not in skip:
            numbers.append(row)
        row += 1
    return np.array(numbers, dtype=np.int64)


def _header(path: Path, report) -> list[str] | None:
    """The header's names, read with Python's csv module from the start of the file."""
    try:
        with path.open("rb") as handle:
            start = handle.read(1 << 20)
    except OSError as exc:
        report(None, None, None, f"cannot be read: {exc.strerror}")
        return None
    text = start.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:
        report(1, None, None, f"header cannot be read: {exc}")
        return None
    for name in header:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = name.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
            report(1, None, shown, "header cannot be read: it is not UTF-8 text; save the file as UTF-8")
            return None
    return header


NOT_UTF8 = "is not UTF-8 text"


def _as_text(column: pa.Array, name: str, chunk: Chunk) -> pa.Array:
    """The column as UTF-8 strings; cells that are not UTF-8 are noted in the chunk and left empty."""
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        values = column.to_pylist()
        bad = np.zeros(len(values), dtype=bool)
        shown: list[str] = []
        for i, value in enumerate(values):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad[i] = True
                shown.append(value.decode("utf-8", errors="replace"))
                values[i] = b""
                if len(shown) == 1:
                    first_reason = exc
        chunk.not_utf8[name] = (bad, shown, f"{NOT_UTF8} ({first_reason.reason}); save the file as UTF-8")
        return pa.array(values, pa.binary()).cast(pa.string())


# --- typed values ---------------------------------------------------------------------------

Problem = tuple[np.ndarray, "str | list[str]"]  # (rows with it, the reason: one, or one per such row)


def typed_column(fld: Field, raw: pa.Array, rules: ColumnRules, parse_one: Callable[[Field, str], Any],
                 already: Problem | None = None) -> tuple[pa.Array, list[Problem]]:
    """Typed values of one column and its problems, at most one per cell, in the order of the rules.

    ``parse_one(field, text)`` is the per-cell parser, used where the fast path cannot decide;
    ``already`` is a problem found before (cells that are not UTF-8).
    """
    text = pc.utf8_trim(raw, characters=WHITESPACE)
    empty = _np(pc.equal(text, ""))
    problems = _Problems(len(raw))
    if already is not None:
        problems.add(*already)
    if fld.required:
        problems.add(empty, "a value is required")
    present = ~empty
    kind = fld.kind
    if kind in ("text", "code"):
        problems.add(present & _np(pc.match_substring(raw, "\x00")),
                     "contains a NUL character (\\x00), which a database cannot store in text")
        if rules.is_id:
            problems.add(present & _np(pc.not_equal(raw, text)),
                         "an id must not begin or end with spaces; remove them (ids are compared exactly)")
        if kind == "code":
            problems.add(present & ~_np(pc.match_substring_regex(text, r"^[0-9]+$")), "a code must be digits only")
        values = raw if kind == "text" else text
        if rules.length is not None:
            problems.add(present & _np(pc.greater(pc.utf8_length(values), rules.length)),
                         f"is longer than the {rules.length} characters the database column holds")
        typed = _null_where(values, ~present)
    elif kind == "int":
        typed = _ints(text, present, problems, rules)
    elif kind == "decimal":
        typed = _decimals(fld, text, present, problems, rules)
    elif kind == "date":
        typed = _dates(text, present, problems)
    elif kind == "datetime":
        typed = _datetimes(fld, raw, text, present, problems, parse_one)
    elif kind == "bool":
        lowered = pc.utf8_lower(text)
        true = _np(pc.is_in(lowered, value_set=pa.array(_TRUE)))
        false = _np(pc.is_in(lowered, value_set=pa.array(_FALSE)))
        problems.add(present & ~true & ~false, "not true/false")
        typed = _null_where(pa.array(true), ~present)
    elif kind == "enum":
        choices = pa.array(list(fld.choices))
        index = pc.index_in(pc.utf8_lower(text), value_set=pc.utf8_lower(choices))
        problems.add(present & _np(pc.is_null(index)), f"not one of: {', '.join(fld.choices)}")
        typed = _null_where(pc.take(choices, index), ~present)
    else:  # pragma: no cover - Field validates kinds
        raise AssertionError(kind)
    if fld.min_value is not None and kind in ("int", "decimal", "date"):
        minimum = pa.scalar(fld.min_value, typed.type) if kind != "decimal" else \
            pa.scalar(fld.min_value).cast(typed.type)
        below = pc.fill_null(pc.less(typed, minimum), False)
        problems.add(_np(below), f"must be at least {fld.min_value}")
    typed = _null_where(typed, problems.any | ~present)
    return typed, problems.found


class _Problems:
    """Problems of one column: at most one per cell, the first rule that fails."""

    def __init__(self, size: int):
        self.any = np.zeros(size, dtype=bool)
        self.found: list[Problem] = []

    def add(self, mask: np.ndarray, reason) -> None:
        new = mask & ~self.any
        if new.any():
            if isinstance(reason, list):  # one reason per row of mask
                reason = [r for r, keep in zip(reason, new[mask]) if keep]
            self.found.append((new, reason))
            self.any |= new


def _np(array) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.to_numpy(zero_copy_only=False).astype(bool, copy=False) if array.null_count == 0 else \
        pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.nulls(len(values), values.type), values)


def _ints(text: pa.Array, present: np.ndarray, problems: _Problems, rules: ColumnRules) -> pa.Array:
    shaped = _np(pc.match_substring_regex(text, _INT))
    problems.add(present & ~shaped, "not a whole number")
    ok = present & shaped
    unsigned = pc.utf8_ltrim(text, "+-")
    digits = pc.utf8_length(pc.utf8_ltrim(unsigned, "0")).to_numpy(zero_copy_only=False)
    small = ok & (digits <= 18)
    source = pc.if_else(pa.array(small), pc.utf8_ltrim(text, "+"), "0")
    values = pc.cast(source, pa.int64()).to_numpy(zero_copy_only=False).copy()
    limit = rules.int_max if rules.int_max is not None else INT64_MAX
    too_big = small & ((values > limit) | (values < -limit - 1))
    for i in np.flatnonzero(ok & ~small):  # 19 digits or more: exact check in Python
        value = int(text[i].as_py())
        if -limit - 1 <= value <= limit:
            values[i] = value
        else:
            too_big[i] = True
    problems.add(too_big, f"is beyond the range of whole numbers the database column holds "
                          f"(-{limit + 1:,} to {limit:,})")
    values[~ok | too_big] = 0
    return pa.array(values, pa.int64())


def _decimals(fld: Field, text: pa.Array, present: np.ndarray, problems: _Problems,
              rules: ColumnRules) -> pa.Array:
    scale = fld.scale
    shaped = _np(pc.match_substring_regex(text, _DECIMAL))
    problems.add(present & ~shaped, "not a decimal number (use digits and '.', e.g. 1234.50)")
    ok = present & shaped
    negative = _np(pc.starts_with(text, "-"))
    parts = pc.extract_regex(pc.if_else(pa.array(ok), pc.utf8_ltrim(text, "+-"), ""),
                             pattern=r"^(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?$")
    whole = pc.fill_null(pc.struct_field(parts, "whole"), "")
    fraction = pc.fill_null(pc.struct_field(parts, "fraction"), "")
    places = pc.utf8_length(fraction).to_numpy(zero_copy_only=False)
    problems.add(ok & (places > scale), f"more than {scale} decimal places")
    ok &= places <= scale
    whole = pc.utf8_ltrim(whole, "0")
    whole_digits = pc.utf8_length(whole).to_numpy(zero_copy_only=False)
    limit = rules.decimal_max if rules.decimal_max is not None else INT64_MAX
    safe = ok & (whole_digits + scale <= 18)
    whole_values = pc.cast(pc.if_else(pa.array(safe & (whole_digits > 0)), whole, "0"), pa.int64()) \
        .to_numpy(zero_copy_only=False)
    fraction_values = pc.cast(pc.if_else(pa.array(safe & (places > 0)), pc.utf8_rpad(fraction, scale, "0"), "0"),
                              pa.int64()).to_numpy(zero_copy_only=False)
    scaled = whole_values * 10**scale + fraction_values
    scaled = np.where(negative, -scaled, scaled)
    out = ok & ~safe
    for i in np.flatnonzero(out):  # 19 digits or more: exact check in Python
        value = int(whole[i].as_py() or "0") * 10**scale + int((fraction[i].as_py() or "").ljust(scale, "0") or "0")
        if value <= limit:
            out[i] = False
            scaled[i] = -value if negative[i] else value
    out |= safe & (np.abs(scaled) > limit)
    largest = f"{limit // 10**scale:,}.{limit % 10**scale:0{scale}d}" if scale else f"{limit:,}"
    problems.add(out, f"is beyond the range the database stores exactly (at most ±{largest})")
    scaled[~ok | out] = 0
    return pc.cast(pa.array(scaled, pa.int64()), pa.decimal128(24, 0)).view(pa.decimal128(24, scale))


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _valid_day(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    month_ok = (m >= 1) & (m <= 12)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = _MONTH_DAYS[np.where(month_ok, m, 0)] + (leap & (m == 2))
    return (y >= 1) & month_ok & (d >= 1) & (d <= days)


def _component(values: pa.Array, start: int, stop: int) -> np.ndarray:
    part = pc.utf8_slice_codeunits(values, start, stop)
    return pc.cast(pc.if_else(pc.equal(part, ""), "0", part), pa.int64()).to_numpy(zero_copy_only=False)


def _dates(text: pa.Array, present: np.ndarray, problems: _Problems) -> pa.Array:
    shaped = present & _np(pc.match_substring_regex(text, _DATE))
    problems.add(present & ~shaped, "not an ISO date (YYYY-MM-DD)")
    safe = pc.if_else(pa.array(shaped), text, "1970-01-01")
    y, m, d = _component(safe, 0, 4), _component(safe, 5, 7), _component(safe, 8, 10)
    valid = _valid_day(y, m, d)
    problems.add(shaped & ~valid, "not a valid calendar date")
    days = np.where(valid, _days_from_civil(y, m, d), 0)
    return pa.array(days.astype(np.int32), pa.date32())


def _uniform_datetimes(text: pa.Array, present: np.ndarray) -> pa.Array | None:
    """The column's values when every cell is a valid 'YYYY-MM-DDTHH:MM:SS' (or with a space),
    read straight from the bytes; None otherwise, and the general rule decides.

    Exports write one form for a whole column: this is the common case, and it needs no regular
    expression and no text slices (the general path matches a pattern with eight groups).
    """
    if not present.all() or text.null_count or len(text) == 0 or not pa.types.is_string(text.type):
        return None
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
    if not (np.diff(offsets) == 19).all():
        return None
    cells = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 19)
    digits = cells[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]]
    if not (((digits >= ord("0")) & (digits <= ord("9"))).all()
            and all((cells[:, i] == ord(c)).all() for i, c in ((4, "-"), (7, "-"), (13, ":"), (16, ":")))
            and ((cells[:, 10] == ord("T")) | (cells[:, 10] == ord(" "))).all()):
        return None

    def number(start: int, stop: int) -> np.ndarray:
        value = np.zeros(len(cells), dtype=np.int64)
        for i in range(start, stop):
            value = value * 10 + (cells[:, i].astype(np.int64) - ord("0"))
        return value

    y, m, d, hh, mm, ss = number(0, 4), number(5, 7), number(8, 10), number(11, 13), number(14, 16), number(17, 19)
    if not (_valid_day(y, m, d) & (hh < 24) & (mm < 60) & (ss < 60)).all():
        return None
    return pa.array(_days_from_civil(y, m, d) * _DAY_US + ((hh * 60 + mm) * 60 + ss) * 1_000_000, pa.timestamp("us"))


def _datetimes(fld: Field, raw: pa.Array, text: pa.Array, present: np.ndarray, problems: _Problems,
               parse_one) -> pa.Array:
    uniform = _uniform_datetimes(text, present)
    if uniform is not None:  # years 1 to 9999 without a zone: within range
        return uniform
    parts = pc.extract_regex(text, pattern=_DATETIME)
    matched = present & ~_np(pc.is_null(parts))
    size = len(text)
    field_values = {}
    for name in ("y", "m", "d", "H", "M", "S", "f", "z"):
        values = pc.struct_field(parts, name)
        field_values[name] = pc.fill_null(values, "")
    number = {k: _component(pc.if_else(pa.array(matched), field_values[k], ""), 0, 4)
              for k in ("y", "m", "d", "H", "M", "S")}
    fraction = pc.utf8_rpad(pc.if_else(pa.array(matched), field_values["f"], ""), 6, "0")
    micro = pc.cast(fraction, pa.int64()).to_numpy(zero_copy_only=False)
    zone = pc.if_else(pa.array(matched), field_values["z"], "")
    zone_sign = np.where(_np(pc.starts_with(zone, "-")), -1, 1)
    zone_h, zone_m = _component(zone, 1, 3), _component(zone, 4, 6)
    y, m, d, hh, mm, ss = (number[k] for k in ("y", "m", "d", "H", "M", "S"))
    fast = matched & _valid_day(y, m, d) & (hh < 24) & (mm < 60) & (ss < 60) & (zone_h < 24) & (zone_m < 60)
    offset_us = zone_sign * (zone_h * 60 + zone_m) * 60_000_000
    us = _days_from_civil(y, m, d) * _DAY_US + ((hh * 60 + mm) * 60 + ss) * 1_000_000 + micro - offset_us
    out_of_range = fast & ((us < MIN_US) | (us > MAX_US))
    problems.add(out_of_range, RANGE_REASON)
    values = np.where(fast & ~out_of_range, us, 0)
    slow = present & ~fast
    if slow.any():  # other ISO forms (week dates, basic format, odd separators) and invalid values
        reasons, bad = [], np.zeros(size, dtype=bool)
        for i in np.flatnonzero(slow):
            try:
                parsed = parse_one(fld, raw[i].as_py())
            except ValueError as exc:
                bad[i] = True
                reasons.append(str(exc))
                continue
            delta = parsed - _EPOCH
            values[i] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        problems.add(bad, reasons)
    return pa.array(values, pa.timestamp("us"))


from datetime import datetime as _datetime  # noqa: E402

_EPOCH = _datetime(1970, 1, 1)
