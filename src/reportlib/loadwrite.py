"""Typed columns into a table, fast: the writing half of ``reportlib load``.

A load into a SQLite file runs its whole transaction on a connection of ADBC's SQLite driver
(:func:`write_transaction`): Arrow batches are bound to the insert statement in C, with no
Python object per cell, in the values SQLAlchemy's types would store (``Exact`` decimals as
scaled integers, dates and date-times as ISO text, booleans as 0/1). PostgreSQL gets ``COPY ...
FROM STDIN`` in CSV, written by pyarrow; other SQLite databases (in memory) large ``executemany``
batches of the same values. All of it runs inside one transaction, so a failed or killed load
leaves the database as it was.
"""

from __future__ import annotations

import io
import queue
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .db import sqlite_file

__all__ = ["Feed", "SqliteFileConnection", "TableWriter", "bulk_session", "sqlite_rows", "write_transaction"]


def sqlite_rows(columns: list[pa.Array]) -> Iterator[tuple]:
    """Rows of tuples holding what SQLite stores for each typed column."""
    return zip(*(_sqlite_stored(c).to_pylist() for c in columns))


def _sqlite_stored(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as SQLite stores it through SQLAlchemy's types: text or 64-bit integers."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_decimal(kind):  # Exact on SQLite: the scaled integer
        return column.view(pa.decimal128(kind.precision, 0)).cast(pa.int64())
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        # Arrow's text of timestamp[us] is SQLAlchemy's DateTime on SQLite, 'YYYY-MM-DD HH:MM:SS.ffffff';
        # of date32, its Date: 'YYYY-MM-DD'
        return column.cast(pa.string())
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return column.cast(pa.int64())
    if pa.types.is_dictionary(kind):
        return column.cast(kind.value_type)
    return column


class SqliteFileConnection:
    """One transaction on a SQLite file through ADBC's SQLite driver, for a bulk load.

    Speaks the little of SQLAlchemy's ``Connection`` that a load uses (``dialect``,
    ``execute`` of a statement, ``exec_driver_sql``) and adds :meth:`ingest` for Arrow data.
    Statements are compiled with their values written in (``literal_binds``), as ADBC binds
    parameters from Arrow types that SQLAlchemy's do not name.

    Foreign keys are not enforced on this connection: the load has checked every reference of
    its files before, and :func:`reportlib.load.load_folder` checks the tables' other foreign
    keys with ``PRAGMA foreign_key_check`` before it commits.
    """

    def __init__(self, path: str, dialect: sa.engine.Dialect):
        import adbc_driver_sqlite.dbapi as adbc

        self.dialect = dialect
        self._connection = adbc.connect(path)  # autocommit off: a transaction is open
        self._cursor = self._connection.cursor()
        self._cursor.execute("PRAGMA busy_timeout = 30000")
        self._committed = False

    def in_transaction(self) -> bool:
        return True

    def execute(self, statement: sa.Executable) -> Any:
        compiled = statement.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        return self.exec_driver_sql(str(compiled))

    def exec_driver_sql(self, sql: str, parameters: tuple | None = None) -> Any:
        self._cursor.execute(sql, parameters)
        return self._cursor

    def ingest(self, table: str, data: pa.Table) -> None:
        self._cursor.adbc_ingest(table, data, mode="append")

    def commit(self) -> None:
        self._connection.commit()
        self._committed = True

    def close(self) -> None:
        """Close, rolling back what was not committed."""
        try:
            if not self._committed:
                self._connection.rollback()
        finally:
            try:
                self._cursor.close()
            finally:
                self._connection.close()


def _sqlite_file(engine: Engine) -> str | None:
    """The file of a SQLite engine that ADBC can open as well (not a memory or URI database)."""
    file = sqlite_file(engine.url)
    return None if file is None or engine.url.query else str(file)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection | SqliteFileConnection]:
    """The load's one transaction: committed when the block ends, rolled back on any error."""
    path = _sqlite_file(engine)
    if path is None:
        with engine.begin() as conn:
            yield conn
        return
    conn = SqliteFileConnection(path, engine.dialect)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


class Feed:
    """The checking pass's typed chunks, written into their tables as they come: the load reads
    each file once, and the transaction is rolled back if any problem turns up.

    Writes run in a second thread when the connection is ADBC's or PostgreSQL's, so that the
    database stores one chunk while the next is parsed and checked (pyarrow's compute and the
    drivers' inserts run without holding the GIL); at most ``depth`` chunks wait between the
    two, so memory stays flat. A failed write stops the feed and :meth:`close` returns the
    error: the load raises it, unless the checking pass found the problem behind it (a
    duplicate key, say), which it reports instead.
    """

    def __init__(self, conn: Connection | SqliteFileConnection, depth: int = 2,
                 filled: Callable[[str], None] | None = None):
        self.conn, self.filled = conn, filled  # filled(table name): after a table's last chunk
        self.error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if isinstance(conn, SqliteFileConnection) or conn.dialect.name == "postgresql":
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, name="reportlib-load-write", daemon=True)
            self._thread.start()

    def writer(self, table: sa.Table, columns: list[str]) -> TableWriter:
        return TableWriter(self.conn, table, columns)

    def send(self, writer: TableWriter, columns: list[pa.Array]) -> None:
        """Write ``columns`` into ``writer``'s table (waits while ``depth`` chunks are queued)."""
        if self.error is not None:
            return
        prepared = writer.prepare(columns)
        if self._queue is None:
            self._write(writer, prepared)
        else:
            self._queue.put((writer, prepared))

    def done(self, writer: TableWriter) -> None:
        """``writer``'s table has all its rows: ``filled`` runs after its last chunk is written."""
        if self.filled is None or self.error is not None:
            return
        if self._queue is None:
            self._write(None, writer.table.name)
        else:
            self._queue.put((None, writer.table.name))

    def _write(self, writer: TableWriter | None, prepared) -> None:
        if self.error is None:
            try:
                if writer is None:
                    self.filled(prepared)
                else:
                    writer.send(prepared)
            except Exception as exc:  # noqa: BLE001 - handed to the load by close()
                self.error = exc

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._write(*item)

    def close(self) -> BaseException | None:
        """Wait for the queued chunks to be written; the error that stopped the feed, if any."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        return self.error


class TableWriter:
    """Appends typed column batches to one table, in the connection's open transaction."""

    def __init__(self, conn: Connection | SqliteFileConnection, table: sa.Table, columns: list[str]):
        self.conn, self.table, self.columns = conn, table, columns
        dialect = conn.dialect
        quoted = dialect.identifier_preparer
        self.dialect = dialect.name
        names = ", ".join(quoted.quote(c) for c in columns)
        target = quoted.format_table(table)
        self.arrow = isinstance(conn, SqliteFileConnection)
        if self.dialect == "postgresql":
            self.sql = f"COPY {target} ({names}) FROM STDIN (FORMAT csv)"
        elif dialect.paramstyle == "qmark":
            self.sql = f"INSERT INTO {target} ({names}) VALUES ({', '.join('?' * len(columns))})"
        else:  # pragma: no cover - reportlib supports SQLite and PostgreSQL
            raise NotImplementedError(f"bulk load into {self.dialect}")
        self.rows = 0

    def prepare(self, columns: list[pa.Array]):
        """What :meth:`send` sends for these columns (needs no connection: another thread may
        prepare the next chunk while this one is written)."""
        if not columns or len(columns[0]) == 0:
            return None
        if self.dialect == "postgresql":
            buffer = io.BytesIO()
            pcsv.write_csv(pa.table(columns, names=[f"c{i}" for i in range(len(columns))]), buffer,
                           pcsv.WriteOptions(include_header=False, quoting_style="needed"))
            return len(columns[0]), buffer.getbuffer()
        if self.arrow:
            return len(columns[0]), pa.table([_sqlite_stored(c) for c in columns], names=self.columns)
        return len(columns[0]), list(sqlite_rows(columns))

    def send(self, prepared) -> None:
        if prepared is None:
            return
        count, payload = prepared
        if self.arrow:
            self.conn.ingest(self.table.name, payload)
        elif self.dialect == "postgresql":
            with self.conn.connection.driver_connection.cursor() as cursor, cursor.copy(self.sql) as copy:
                copy.write(payload)
        else:
            self.conn.connection.driver_connection.executemany(self.sql, payload)
        self.rows += count

    def write(self, columns: list[pa.Array]) -> None:
        self.send(self.prepare(columns))


@contextmanager
def bulk_session(conn: Connection | SqliteFileConnection, tables: list[sa.Table]) -> Iterator[Callable[[str], None]]:
    """Around the fill of ``tables`` in one transaction: on SQLite, their secondary indexes are
    dropped first and built again at the end (sorting once beats inserting row by row into
    several B-trees), with a larger page cache and helper threads for the index sort.

    Yields ``filled(table name)``, which builds that table's indexes at once (once its rows are
    all written: the load's writer thread does it while the next file is checked); on
    PostgreSQL it refreshes the table's statistics instead.
    Dropping and creating indexes is transactional in SQLite: a failed or killed load keeps them.
    """
    if conn.dialect.name != "sqlite":
        from .db import analyze

        by_name = {t.name: t for t in tables}

        def analyzed(table: str) -> None:
            # Statistics of the table as this transaction sees it, before the next file's rows
            # reference it. Autovacuum may have analyzed it meanwhile, seeing none of this load's
            # uncommitted rows: the next COPY's foreign-key checks would then be planned for an
            # empty table, a scan of every row for each row checked.
            if table in by_name:
                analyze(conn, by_name[table])

        yield analyzed
        return
    if not conn.in_transaction():  # pysqlite would autocommit DDL outside a transaction
        raise RuntimeError("bulk_session needs the load's transaction to be open")
    run = conn.exec_driver_sql
    names = tuple(t.name for t in tables)
    marks = ", ".join("?" * len(names))
    indexes = run(f"SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                  f"AND tbl_name IN ({marks})", names).fetchall()
    dropped = {}  # table -> its dropped indexes' CREATE statements, until built again

    def filled(table: str) -> None:
        for sql in dropped.pop(table, []):
            run(sql)

    cache = run("PRAGMA cache_size").fetchone()[0]
    threads = run("PRAGMA threads").fetchone()[0]
    run("PRAGMA cache_size = -65536")  # KiB: 64 MB for the fill and the index sorts
    run("PRAGMA threads = 2")
    try:
        for name, sql, table in indexes:
            run(f'DROP INDEX "{name}"')
            dropped.setdefault(table, []).append(sql)
        yield filled
        for table in list(dropped):
            filled(table)
    finally:
        run(f"PRAGMA cache_size = {int(cache)}")
        run(f"PRAGMA threads = {int(threads)}")
