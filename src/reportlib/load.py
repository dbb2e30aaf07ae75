"""``reportlib load DOMAIN FOLDER``: validate a folder of CSV files, then write it in one go.

Semantics: **a load replaces the domain.** Every file of the domain must be present (a file
with only its header is an empty table); each is validated completely — types, required
values, choices, unique keys, references between the files — and every problem is reported
at once with file, row, column, value and reason. Only when there is no problem are the
domain's tables emptied and refilled, in one transaction. Loading the same folder twice
therefore leaves the same data, and a failed load leaves the database as it was.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is 2.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .db import analyze, init_db, record_data_version
from .domains import Domain, Field, FileSpec, get_domain
from .errors import LoadError, LoadProblem

__all__ = ["LoadSummary", "load_folder", "parse_value", "read_file", "write_domain"]

_INT = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CODE = re.compile(r"^\d+$")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
CHUNK = 5000


@dataclass(frozen=True)
class LoadSummary:
    """What a load wrote: rows per table and the new data fingerprint."""

    domain: str
    rows: dict[str, int]
    fingerprint: str


def parse_value(field: Field, raw: str | None) -> Any:
    """Parse one CSV cell for ``field``; raises ValueError with the reason. Empty -> None."""
    if raw is None or raw.strip() == "":
        if field.required:
            raise ValueError("a value is required")
        return None
    text = raw.strip()
    kind = field.kind
    if kind == "text":
        return raw
    if kind == "code":
        if not _CODE.match(text):
            raise ValueError("a code must be digits only")
        return text
    if kind == "int":
        if not _INT.match(text):
            raise ValueError("not a whole number")
        value = int(text)
    elif kind == "decimal":
        if not _DECIMAL.match(text):
            raise ValueError("not a decimal number (use digits and '.', e.g. 1234.50)")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
        if value.as_tuple().exponent < -field.scale:
            raise ValueError(f"more than {field.scale} decimal places")
    elif kind == "date":
        if not _DATE.match(text):
            raise ValueError("not an ISO date (YYYY-MM-DD)")
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise ValueError("not a valid calendar date") from None
    elif kind == "datetime":
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an ISO date-time (YYYY-MM-DDTHH:MM:SS, optional Z or offset)") from None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
    elif kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("not true/false")
    elif kind == "enum":
        for choice in field.choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"not one of: {', '.join(field.choices)}")
    else:  # pragma: no cover - Field validates kinds
        raise AssertionError(kind)
    if field.min_value is not None and value < field.min_value:
        raise ValueError(f"must be at least {field.min_value}")
    return value


def read_file(spec: FileSpec, path: Path, problems: list[LoadProblem]) -> list[dict]:
    """Parse one CSV file into typed rows, appending every problem found to ``problems``."""
    name = path.name
    rows: list[dict] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        problems.append(LoadProblem(name, None, None, None, f"cannot be read: {exc.strerror}"))
        return rows
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(LoadProblem(name, 1, None, None, f"header cannot be read: {exc}"))
            return rows
        stripped = {h.strip() for h in header if h is not None}
        missing = [f.name for f in spec.fields if f.name not in stripped]
        for column in missing:
            problems.append(LoadProblem(name, 1, column, None, "required column is missing from the header"))
        if missing:
            return rows
        # Tolerate stray spaces around header names; extra columns are ignored.
        header_map = {f.name: next(h for h in header if h is not None and h.strip() == f.name) for f in spec.fields}
        seen: dict[tuple, int] = {}
        try:
            for record in reader:
                line = reader.line_num
                if None in record:
                    problems.append(LoadProblem(name, line, None, None,
                                                f"has {len(header) + len(record[None])} values but the header has {len(header)}"))
                    continue
                parsed: dict[str, Any] = {}
                ok = True
                for fld in spec.fields:
                    raw = record.get(header_map[fld.name])
                    try:
                        parsed[fld.name] = parse_value(fld, raw)
                    except ValueError as exc:
                        problems.append(LoadProblem(name, line, fld.name, raw, str(exc)))
                        ok = False
                if not ok:
                    continue
                for check in spec.row_checks:
                    for column, reason in check(parsed):
                        problems.append(LoadProblem(name, line, column, _display(parsed.get(column)), reason))
                        ok = False
                if spec.key:
                    key = tuple(parsed[k] for k in spec.key)
                    if key in seen:
                        shown = ", ".join(str(v) for v in key)
                        problems.append(LoadProblem(name, line, spec.key[0], shown,
                                                    f"duplicate key ({', '.join(spec.key)}); first seen on row {seen[key]}"))
                        ok = False
                    else:
                        seen[key] = line
                if ok:
                    parsed["__row__"] = line
                    rows.append(parsed)
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(LoadProblem(name, reader.line_num, None, None, f"is not valid CSV: {exc}"))
    return rows


def _display(value: Any) -> str | None:
    return None if value is None else str(value)


def check_references(domain: Domain, data: dict[str, list[dict]], problems: list[LoadProblem],
                     unreliable: set[str] = frozenset()) -> None:
    """Every reference between the domain's files must point at a row that exists.

    References into a file in ``unreliable`` (one whose rows had problems) are not checked:
    a row that failed to parse would otherwise show up again as a false "unknown" reference.
    """
    for spec in domain.files:
        for ref in spec.refs:
            if ref.target in unreliable:
                continue
            targets = {tuple(r[c] for c in ref.target_columns) for r in data.get(ref.target, [])}
            for row in data.get(spec.file, []):
                value = tuple(row[c] for c in ref.columns)
                if any(v is None for v in value) or value in targets:
                    continue
                shown = ", ".join(str(v) for v in value)
                what = ref.what or ref.target.removesuffix(".csv")
                problems.append(LoadProblem(spec.file, row.get("__row__"), ref.columns[0], shown,
                                            f"unknown {what}: not in {ref.target}"))


def load_folder(folder: str | Path, domain_name: str, url: str | None = None) -> LoadSummary:
    """Validate every file of ``domain_name`` in ``folder``, then replace the domain's data."""
    domain = get_domain(domain_name)
    folder = Path(folder)
    problems: list[LoadProblem] = []
    if not folder.is_dir():
        raise LoadError(domain.name, [LoadProblem(str(folder), None, None, None, "is not a folder")])
    data: dict[str, list[dict]] = {}
    digest = hashlib.sha256()
    for spec in domain.files:
        path = folder / spec.file
        if not path.is_file():
            problems.append(LoadProblem(spec.file, None, None, None,
                                        f"is missing from {folder.name}/ (every file of the {domain.name!r} domain is required; "
                                        "a file with only its header loads an empty table)"))
            continue
        digest.update(spec.file.encode() + b"\0" + path.read_bytes() + b"\0")
        data[spec.file] = read_file(spec, path, problems)
    unreliable = {p.file for p in problems}
    check_references(domain, data, problems, unreliable)
    for check in domain.checks:
        problems.extend(check(data))
    if problems:
        raise LoadError(domain.name, problems)
    return write_domain(domain, data, url=url, source=f"load {folder.name}", digest=digest.hexdigest())


def write_domain(domain: Domain | str, data: dict[str, list[dict]], *, url: str | Engine | None = None,
                 source: str, digest: str | None = None) -> LoadSummary:
    """Replace the domain's tables with ``data`` (typed rows per file) in one transaction."""
    if isinstance(domain, str):
        domain = get_domain(domain)
    engine = url if isinstance(url, Engine) else init_db(url)
    if digest is None:
        digest = hashlib.sha256(repr(sorted((k, len(v)) for k, v in data.items())).encode()
                                + source.encode()).hexdigest()
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        _replace(conn, domain, data, counts)
        fingerprint = record_data_version(conn, domain.name, source, digest)
    return LoadSummary(domain.name, counts, fingerprint)


def _replace(conn: Connection, domain: Domain, data: dict[str, list[dict]], counts: dict[str, int]) -> None:
    for table in domain.derived_tables:
        conn.execute(table.delete())
    for spec in reversed(domain.files):
        conn.execute(spec.table.delete())
    for spec in domain.files:
        rows = data.get(spec.file, [])
        if hasattr(rows, "columns") and hasattr(rows, "itertuples"):  # a DataFrame: the bulk path
            counts[spec.table.name] = _insert_frame(conn, spec.table, rows.rename(
                columns={f.name: f.column_name for f in spec.fields})[[f.column_name for f in spec.fields]])
            continue
        if spec.insert_order is not None:
            rows = sorted(rows, key=spec.insert_order)
        columns = {f.name: f.column_name for f in spec.fields}
        payload = ({columns[k]: v for k, v in row.items() if k in columns} for row in rows)
        counts[spec.table.name] = _insert_chunked(conn, spec.table, payload)
    if domain.derive is not None:
        domain.derive(conn)
    for table in (*domain.tables, *domain.derived_tables):
        # Fresh statistics, so the very next query plans for millions of rows, not for none
        # (on SQLite they are what lets the planner skip-scan a covering index).
        analyze(conn, table)


def _insert_frame(conn: Connection, table: sa.Table, frame) -> int:
    """Insert a DataFrame of typed values fast: COPY on PostgreSQL, executemany of tuples elsewhere.

    The generic path builds a dict per row and lets SQLAlchemy bind each one, which takes
    minutes for millions of rows; here each column is converted once (with the column type's
    own bind processor, so stored values are exactly what the generic path stores) and rows
    go to the driver as tuples. Used by demo generators that build their data with numpy.
    """
    import pandas as pd

    dialect = conn.dialect
    names = list(frame.columns)
    arrays = []
    for name in names:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            values = series.to_numpy(dtype="datetime64[us]").tolist()  # datetimes; NaT -> None
        else:
            values = [None if (v is None or v is pd.NA or (isinstance(v, float) and v != v)) else v
                      for v in series.tolist()]
        if dialect.paramstyle == "qmark":  # executemany below bypasses SQLAlchemy's binding
            process = table.c[name].type._cached_bind_processor(dialect)
            if process is not None:
                values = [None if v is None else process(v) for v in values]
        arrays.append(values)
    quoted = dialect.identifier_preparer
    columns = ", ".join(quoted.quote(n) for n in names)
    if dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {quoted.format_table(table)} ({columns}) FROM STDIN") as copy:
            for row in zip(*arrays):
                copy.write_row(row)
    elif dialect.paramstyle == "qmark":
        sql = f"INSERT INTO {quoted.format_table(table)} ({columns}) VALUES ({', '.join('?' * len(names))})"
        rows = list(zip(*arrays))
        for start in range(0, len(rows), 100_000):
            conn.exec_driver_sql(sql, rows[start:start + 100_000])
    else:
        _insert_chunked(conn, table, (dict(zip(names, row)) for row in zip(*arrays)))
    return len(frame)


def _insert_chunked(conn: Connection, table: sa.Table, rows: Iterable[dict]) -> int:
    total, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.execute(table.insert(), chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        conn.execute(table.insert(), chunk)
        total += len(chunk)
    return total
