"""Typed columns into a table, fast: the writing half of ``reportlib load``.

SQLite gets large ``executemany`` batches of tuples in the values SQLAlchemy's types would
store (``Exact`` decimals as scaled integers, dates and date-times as ISO text, booleans as
0/1); PostgreSQL gets ``COPY ... FROM STDIN`` in CSV, written by pyarrow. Both run inside the
caller's transaction, so a failed or killed load leaves the database as it was.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["TableWriter", "bulk_session", "sqlite_rows"]


def sqlite_rows(columns: list[pa.Array]) -> Iterator[tuple]:
    """Rows of tuples holding what SQLite stores for each typed column."""
    return zip(*(_sqlite_values(c) for c in columns))


def _sqlite_values(column: pa.Array | pa.ChunkedArray) -> list:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_decimal(kind):  # Exact on SQLite: the scaled integer
        column = column.view(pa.decimal128(kind.precision, 0)).cast(pa.int64())
    elif pa.types.is_timestamp(kind):  # SQLAlchemy's DateTime on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff'
        column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_date(kind):
        column = pc.strftime(column, format="%Y-%m-%d")
    return column.to_pylist()


class TableWriter:
    """Appends typed column batches to one table, in the connection's open transaction."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[str]):
        self.conn, self.table, self.columns = conn, table, columns
        dialect = conn.dialect
        quoted = dialect.identifier_preparer
        self.dialect = dialect.name
        names = ", ".join(quoted.quote(c) for c in columns)
        target = quoted.format_table(table)
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
        return len(columns[0]), list(sqlite_rows(columns))

    def send(self, prepared) -> None:
        if prepared is None:
            return
        count, payload = prepared
        driver = self.conn.connection.driver_connection
        if self.dialect == "postgresql":
            with driver.cursor() as cursor, cursor.copy(self.sql) as copy:
                copy.write(payload)
        else:
            driver.executemany(self.sql, payload)
        self.rows += count

    def write(self, columns: list[pa.Array]) -> None:
        self.send(self.prepare(columns))


@contextmanager
def bulk_session(conn: Connection, tables: list[sa.Table]) -> Iterator[None]:
    """Around the fill of ``tables`` in one transaction: on SQLite, their secondary indexes are
    dropped first and built again at the end (sorting once beats inserting row by row into
    several B-trees), with a larger page cache and helper threads for the index sort.

    Dropping and creating indexes is transactional in SQLite: a failed or killed load keeps them.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    if not driver.in_transaction:  # pysqlite would autocommit DDL outside a transaction
        raise RuntimeError("bulk_session needs the load's transaction to be open")
    names = [t.name for t in tables]
    marks = ", ".join("?" * len(names))
    indexes = driver.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                             f"AND tbl_name IN ({marks})", names).fetchall()
    cache = driver.execute("PRAGMA cache_size").fetchone()[0]
    threads = driver.execute("PRAGMA threads").fetchone()[0]
    driver.execute("PRAGMA cache_size = -65536")  # KiB: 64 MB for the fill and the index sorts
    driver.execute("PRAGMA threads = 2")
    try:
        for name, _sql in indexes:
            driver.execute(f'DROP INDEX "{name}"')
        yield
        for _name, sql in indexes:
            driver.execute(sql)
    finally:
        driver.execute(f"PRAGMA cache_size = {int(cache)}")
        driver.execute(f"PRAGMA threads = {int(threads)}")
