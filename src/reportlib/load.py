"""``reportlib load DOMAIN FOLDER``: validate a folder of CSV files, then write it in one go.

Semantics: **a load replaces the domain.** Every file of the domain must be present (a file
with only its header is an empty table); each is validated completely — types, required
values, choices, lengths, ranges, unique keys, references between the files — and every
problem is reported at once with file, row, column, value and reason (the first 200 of each
file and column, and how many more). Only when there is no problem are the domain's tables
emptied and refilled, in one transaction. Loading the same folder twice therefore leaves the
same data, and a failed or killed load leaves the database as it was.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is 2,
and a quoted value with line breaks is one row.

Files are read and checked a chunk at a time (:mod:`reportlib.loadcheck`, columnar, with
pyarrow) and written the same way (:mod:`reportlib.loadwrite`); :func:`parse_value` is the rule
for one cell. :func:`write_domain` writes rows a program already holds (the demo generators).
"""

from __future__ import annotations

import hashlib
import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .config import resolve_db_url
from .db import analyze, engine_for, init_db, metadata, record_data_version, sqlite_file
from .domains import Domain, Field, FileSpec, get_domain
from .errors import LoadError, LoadProblem

__all__ = ["LoadSummary", "load_folder", "parse_value", "write_domain"]

# ASCII digits only: \d would take "１２３" or "١٢٣" for a number.
_INT = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CODE = re.compile(r"^[0-9]+$")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
CHUNK = 5000
ANALYSIS_LIMIT = 10_000  # index entries SQLite's ANALYZE samples per index after a load


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
            if not text.isascii():
                raise ValueError(text)
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an ISO date-time (YYYY-MM-DDTHH:MM:SS, optional Z or offset)") from None
        if value.tzinfo is not None:
            try:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            except OverflowError:
                raise ValueError("is outside the years 1 to 9999 once converted to UTC") from None
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


def load_folder(folder: str | Path, domain_name: str, url: str | None = None, *,
                progress: bool = False) -> LoadSummary:
    """Validate every file of ``domain_name`` in ``folder``, then replace the domain's data.

    One pass streams the files a chunk of rows at a time and checks everything (types, required
    values, choices, lengths, ranges, ids, the domain's row checks, unique keys, references, the
    domain's checks across files), listing every problem; meanwhile a second thread writes the
    typed rows into the emptied tables, in the load's one transaction. Only a folder without
    problems is committed; any problem rolls the transaction back, leaving the database as it
    was. ``progress`` shows a bar per file on stderr.
    """
    domain = get_domain(domain_name)
    folder = Path(folder)
    if not folder.is_dir():
        raise LoadError(domain.name, [LoadProblem(str(folder), None, None, None, "is not a folder")])
    # a database URL that cannot work is said before minutes of checking
    if not isinstance(url, Engine):
        engine_for(url)
    new_file = None if isinstance(url, Engine) else _new_sqlite_file(url)
    try:
        return _load_folder(domain, folder, url, progress=progress)
    except BaseException:
        if new_file is not None:  # a refused load leaves no database it made: a mistyped path stays unmade
            _remove_sqlite_file(url, new_file)
        raise


def _load_folder(domain: Domain, folder: Path, url: str | Engine | None, *, progress: bool) -> LoadSummary:
    from .loadcheck import check_folder
    from .loadwrite import Feed, SqliteFileConnection, write_transaction

    engine = url if isinstance(url, Engine) else init_db(url)
    derived = domain.derive_rows() if domain.derive_rows is not None else None
    counts: dict[str, int] = {}
    with write_transaction(engine) as conn:

        def fill(filled) -> Any:
            feed = Feed(conn, filled=filled)
            try:
                checked = check_folder(domain, folder, progress=progress, feed=feed, derived=derived)
            finally:
                error = feed.close()
            if checked.problems or checked.omitted:  # raised out of the transaction: rolled back
                raise LoadError(domain.name, checked.problems, limit=None, omitted=checked.omitted)
            if error is not None:
                raise error
            for spec in domain.files:
                counts[spec.table.name] = checked.rows(spec)
            if derived is not None:
                checked.write_derived(conn, derived)
            elif domain.derive is not None:
                domain.derive(conn)
            return checked

        checked = _replace(conn, domain, fill, bulk=True)
        if isinstance(conn, SqliteFileConnection):
            _check_foreign_keys(conn, domain)
        checked.confirm_unchanged()
        fingerprint = record_data_version(conn, domain.name, f"load {folder.name}", checked.digest)
    return LoadSummary(domain.name, counts, fingerprint)


def _new_sqlite_file(url: str | None) -> Path | None:
    """The file of a SQLite ``url`` that does not exist yet (a load would make it), else None."""
    path = sqlite_file(sa.engine.make_url(resolve_db_url(url)))
    return None if path is None or path.exists() else path


def _remove_sqlite_file(url: str | None, path: Path) -> None:
    """Remove the SQLite database a failed load made (its engine's connections closed first)."""
    engine_for(url).dispose()
    for made in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        made.unlink(missing_ok=True)


def _check_foreign_keys(conn, domain: Domain) -> None:
    """The foreign keys of the domain's tables that its references do not cover, checked by
    SQLite at the end of a load that wrote without enforcing them (see :mod:`reportlib.loadwrite`)."""
    tables = {t.name for t in (*domain.tables, *domain.derived_tables)}
    covered = set()
    for spec in domain.files:
        for ref in spec.refs:
            target = domain.spec(ref.target)
            covered.add((spec.table.name, tuple(spec.field(c).column_name for c in ref.columns),
                         target.table.name, tuple(target.field(c).column_name for c in ref.target_columns)))
    problems = []
    schemas = {metadata, *(t.metadata for t in domain.tables)}  # a domain may declare its tables apart
    for table in sorted({t for schema in schemas for t in schema.sorted_tables}, key=lambda t: t.name):
        keys = [(table.name, tuple(fk.column_keys), fk.referred_table.name, tuple(e.column.name for e in fk.elements))
                for fk in table.foreign_key_constraints
                if table.name in tables or fk.referred_table.name in tables]
        if any(key not in covered for key in keys):
            quoted = conn.dialect.identifier_preparer.format_table(table)
            for _table, rowid, parent, _fk in conn.exec_driver_sql(f"PRAGMA foreign_key_check({quoted})").fetchall():
                problems.append(LoadProblem(table.name, None, None, str(rowid),
                                            f"row {rowid} refers to a row of {parent} that is not there"))
                if len(problems) >= 200:
                    break
    if problems:
        raise LoadError(domain.name, problems)


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
    def fill(_filled) -> None:
        for spec in domain.files:
            counts[spec.table.name] = _fill_rows(conn, spec, data.get(spec.file, []))
        if domain.derive is not None:
            domain.derive(conn)

    with engine.begin() as conn:
        _replace(conn, domain, fill)
        fingerprint = record_data_version(conn, domain.name, source, digest)
    return LoadSummary(domain.name, counts, fingerprint)


def _replace(conn: Connection, domain: Domain, fill, bulk: bool = False) -> Any:
    """Empty the domain's tables, ``fill(filled)`` them and the derived tables (returned: what it
    returns; ``filled(table name)`` may build a table's indexes as soon as its rows are in),
    then refresh the planner's statistics."""
    from .loadwrite import bulk_session

    for table in domain.derived_tables:
        conn.execute(table.delete())
    for spec in reversed(domain.files):
        conn.execute(spec.table.delete())
    with bulk_session(conn, [*domain.tables, *domain.derived_tables]) if bulk else nullcontext(None) as built:
        filled = fill(built or (lambda _table: None))
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # Statistics from a sample of each index (SQLite's analysis_limit): the planner's choices
        # need the rough shape of the data, not an exact count read from every row of every index.
        limit = conn.exec_driver_sql("PRAGMA analysis_limit").fetchone()[0]
        conn.exec_driver_sql(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
    for table in (*domain.tables, *domain.derived_tables):
        # Fresh statistics, so the very next query plans for millions of rows, not for none
        # (on SQLite they are what lets the planner skip-scan a covering index).
        analyze(conn, table)
    if sqlite:
        conn.exec_driver_sql(f"PRAGMA analysis_limit = {int(limit)}")
    return filled


def _fill_rows(conn: Connection, spec: FileSpec, rows) -> int:
    """Insert one file's in-memory rows (typed dicts, or a DataFrame: the bulk path)."""
    if hasattr(rows, "columns") and hasattr(rows, "itertuples"):
        return _insert_frame(conn, spec.table, rows.rename(
            columns={f.name: f.column_name for f in spec.fields})[[f.column_name for f in spec.fields]])
    if spec.insert_order is not None:
        rows = sorted(rows, key=spec.insert_order)
    columns = {f.name: f.column_name for f in spec.fields}
    payload = ({columns[k]: v for k, v in row.items() if k in columns} for row in rows)
    return _insert_chunked(conn, spec.table, payload)


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
