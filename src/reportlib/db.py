"""Database access with SQLAlchemy Core: engines, the shared metadata, exact decimals.

Every domain declares its tables on :data:`metadata` with a ``<domain>_`` prefix, so that
``reportlib init`` creates them all and families never collide on a table name.

Money and rates are :class:`Exact` columns: ``NUMERIC`` on PostgreSQL and scaled integers on
SQLite (which has no decimal type and would store binary floats). Either way Python sees
:class:`decimal.Decimal`, and ``SUM`` in SQL stays exact.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .config import HIDDEN, public_db_url, redact_secrets_in_text, resolve_db_url
from .errors import ConfigError

__all__ = [
    "Exact",
    "analyze",
    "connect",
    "data_fingerprint",
    "engine_for",
    "init_db",
    "metadata",
    "query_frame",
    "record_data_version",
    "sqlite_file",
]

metadata = sa.MetaData()


class Exact(sa.types.TypeDecorator):
    """An exact decimal with ``scale`` places: NUMERIC where the database has it, else scaled int."""

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, scale: int = 6, precision: int = 24):
        super().__init__()
        self.scale, self.precision = scale, precision
        self._unit = Decimal(1).scaleb(-scale)
        self._factor = 10**scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value) if not isinstance(value, Decimal) else value
        quantized = value.quantize(self._unit)
        if quantized != value:
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return int(quantized.scaleb(self.scale))
        return quantized

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            # SUM over an empty group is NULL; SUM over ints is an int. Anything else is a bug.
            return (Decimal(int(value)) / self._factor).quantize(self._unit)
        return Decimal(value).quantize(self._unit)

    @property
    def python_type(self):
        return Decimal

    @property
    def largest_scaled(self) -> int:
        """The largest ``value * 10**scale`` every database stores exactly: a 64-bit integer on
        SQLite, ``precision`` digits in NUMERIC; a load refuses larger amounts on every backend,
        so that the same files load the same everywhere."""
        return min(2**63 - 1, 10**self.precision - 1)


data_versions = sa.Table(
    "reportlib_data_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("domain", sa.String(40), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("source", sa.String(400), nullable=False),
    sa.Column("recorded_at", sa.DateTime, nullable=False)  # UTC,
)

_engines: dict[str, Engine] = {}


def engine_for(url: str | None = None) -> Engine:
    """A cached engine for ``url`` (see :func:`reportlib.config.resolve_db_url`)."""
    url = resolve_db_url(url)
    if url not in _engines:
        try:
            parsed = sa.engine.make_url(url)
            port = parsed.port
        except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            raise ConfigError(f"{_shown(url)} is not a database URL ({redact_secrets_in_text(_reason(exc))}). "
                              "Use e.g. sqlite:///data/reportlib.sqlite or postgresql+psycopg://user@host:5432/db."
                              ) from None
        if port is not None and not 0 < port < 65536:
            raise ConfigError(f"{_shown(url)}: port {port} is not a TCP port (1 to 65535).")
        file = sqlite_file(parsed)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(parsed, future=True)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        _engines[url] = engine
    return _engines[url]


def sqlite_file(url: sa.engine.URL) -> Path | None:
    """The file of a SQLite database URL (parsed), or None: another database, in memory, or a
    ``file:`` URI."""
    database = url.database
    if not url.drivername.startswith("sqlite") or database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _shown(url: str) -> str:
    """The URL as an error may show it: without any secret, even when it cannot be parsed."""
    return repr(re.sub(r"(://[^/:@]*:)[^/@]*@", rf"\g<1>{HIDDEN}@", public_db_url(url)))


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValueError) and "int()" in str(exc):
        return "its port is not a number"
    return str(exc)


def _sqlite_pragmas(dbapi_conn, _record):
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the process
    # crashing or being killed; a power cut may lose the last commits, never the database.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def connect(url: str | None = None) -> Iterator[Connection]:
    """A connection to the reportlib database; read-only use (writes go through ``begin``)."""
    with engine_for(url).connect() as conn:
        yield conn


def init_db(url: str | None = None) -> Engine:
    """Create every table of every registered domain that does not exist yet."""
    from .domains import declare_tables

    declare_tables()
    engine = engine_for(url)
    metadata.create_all(engine)
    _sync_columns(engine)
    _sync_indexes(engine)
    return engine


def _sync_columns(engine: Engine) -> None:
    """Give tables that already existed the nullable columns declared since (``create_all`` skips them).

    Only a column that may be empty can be added to rows that exist; any other new column is
    an error that says to rebuild the table.
    """
    have = _existing_columns(engine)
    missing = [column for table in metadata.sorted_tables if table.name in have
               for column in table.columns if column.name not in have[table.name]]
    for column in missing:
        if not column.nullable and column.server_default is None:
            raise ConfigError(f"Table {column.table.name} of this database has no column {column.name!r}, which "
                              "cannot be added to existing rows; reload that table's domain into a new database.")
        quote = engine.dialect.identifier_preparer
        kind = column.type.compile(dialect=engine.dialect)
        guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE {quote.format_table(column.table)} ADD COLUMN {guard}"
                                     f"{quote.quote(column.name)} {kind}")
        except sa.exc.OperationalError as exc:  # another process added it first (SQLite has no IF NOT EXISTS)
            if "duplicate column" not in str(exc).lower():
                raise


def _existing_columns(engine: Engine) -> dict[str, set[str]]:
    """Table -> column names, in one query where the database allows (init_db runs on every report)."""
    queries = {"sqlite": "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
                         "WHERE m.type = 'table'",
               "postgresql": "SELECT c.relname, a.attname FROM pg_attribute AS a JOIN pg_class AS c ON a.attrelid = "
                             "c.oid WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
                             "AND a.attnum > 0 AND NOT a.attisdropped"}
    have: dict[str, set[str]] = {}
    with engine.connect() as conn:
        if engine.dialect.name in queries:
            for table, column in conn.exec_driver_sql(queries[engine.dialect.name]):
                have.setdefault(table, set()).add(column)
        else:
            for (_schema, table), columns in sa.inspect(conn).get_multi_columns().items():
                have[table] = {c["name"] for c in columns}
    return have


def _sync_indexes(engine: Engine) -> None:
    """Give tables that already existed the indexes declared since (``create_all`` skips them).

    Also drops the indexes a schema module lists in ``metadata.info["obsolete_indexes"]``, and
    refreshes the planner's statistics (ANALYZE) of every table that gained an index.
    """
    def present() -> dict[str, set[str]]:
        found = sa.inspect(conn).get_multi_indexes()
        return {table: {ix["name"] for ix in indexes} for (_schema, table), indexes in found.items()}

    with engine.begin() as conn:
        before = present()
        changed = set()
        for name in sorted(metadata.info.get("obsolete_indexes", ())):
            if any(name in names for names in before.values()):
                conn.exec_driver_sql(f"DROP INDEX {conn.dialect.identifier_preparer.quote(name)}")
        for table in metadata.sorted_tables:
            for index in table.indexes:
                if index.name not in before.get(table.name, {index.name}):
                    index.create(conn, checkfirst=True)  # honours an index's ddl_if(dialect=...)
                    changed.add(table)
        if changed:
            after = present()
            for table in changed:
                if after.get(table.name, set()) - before.get(table.name, set()):
                    analyze(conn, table)


def analyze(conn: Connection, table: sa.Table) -> None:
    """Refresh the query planner's statistics of ``table`` (after a bulk load or a new index)."""
    conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.format_table(table)}")


def record_data_version(conn: Connection, domain: str, source: str, content_digest: str) -> str:
    """Record that ``domain``'s data changed; returns the new fingerprint."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    # The same content gives the same fingerprint, so re-loading unchanged data re-runs nothing.
    fingerprint = hashlib.sha256(f"{domain}|{content_digest}".encode()).hexdigest()
    conn.execute(data_versions.insert().values(domain=domain, fingerprint=fingerprint,
                                               source=source[:400], recorded_at=now))
    return fingerprint


def data_fingerprint(conn: Connection, domain: str) -> str | None:
    """The fingerprint of ``domain``'s current data: changes on every load, demo or apply."""
    row = conn.execute(
        sa.select(data_versions.c.fingerprint)
        .where(data_versions.c.domain == domain)
        .order_by(data_versions.c.id.desc())
        .limit(1)
    ).first()
    return row[0] if row else None


def query_frame(conn: Connection, statement, columns: list[str] | None = None):
    """Run ``statement`` and return a DataFrame, keeping exact Decimals (no float coercion)."""
    import pandas as pd

    result = conn.execute(statement)
    keys = list(result.keys())
    # As tuples: pandas takes a list of SQLAlchemy Rows for named tuples and builds the same
    # frame through a much slower path (README, "make bench").
    frame = pd.DataFrame([tuple(row) for row in result], columns=keys)
    if frame.empty:
        frame = pd.DataFrame({k: pd.Series(dtype=object) for k in keys})
    return frame[columns] if columns else frame
