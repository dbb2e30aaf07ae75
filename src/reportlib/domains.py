"""Data domains: the CSV contract of each family's input and the tables it loads into.

A domain is a list of :class:`FileSpec` in load order (referenced files first). Each file
spec names its table, the typed fields of its CSV header, its unique key and its references
to other files of the same domain. :mod:`reportlib.load` validates a folder against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa

from .registry import Registry, declared

__all__ = ["DOMAINS", "Domain", "Field", "FileSpec", "Ref", "RowCheck", "declare_tables", "get_domain", "reads"]

KINDS = ("text", "code", "int", "decimal", "date", "datetime", "bool", "enum")


@dataclass(frozen=True)
class Field:
    """One CSV column: its header name, its kind and its rules.

    Kinds: ``text``; ``code`` (digits kept as text: ``0044`` stays ``0044``); ``int``;
    ``decimal`` (exact, at most ``scale`` places); ``date`` (``YYYY-MM-DD``); ``datetime``
    (ISO 8601, stored as naive UTC); ``bool`` (true/false/1/0/yes/no); ``enum`` (one of
    ``choices``, case-insensitive, stored as written in ``choices``).
    """

    name: str
    kind: str = "text"
    required: bool = True
    choices: tuple[str, ...] = ()
    scale: int = 6
    min_value: Any = None
    column: str | None = None  # table column, when it differs from the CSV header

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")
        if self.kind == "enum" and not self.choices:
            raise ValueError(f"enum field {self.name!r} needs choices")

    @property
    def column_name(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Ref:
    """Values of ``columns`` must exist as ``target_columns`` of ``target`` (a file name)."""

    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    what: str = ""  # e.g. "account", for the message "unknown account"


@dataclass(frozen=True)
class RowCheck:
    """A per-row rule with a vectorised filter, for files of millions of rows.

    ``check(row) -> [(column, reason)]`` is the rule, as a plain row check. ``flags(columns)``
    gets a chunk's typed pyarrow columns by field name and returns a boolean array that is
    true (or null) for every row the rule could refuse; only those rows become Python rows and
    meet ``check``. A row ``flags`` leaves out must pass ``check``.
    """

    check: Callable[[Mapping[str, Any]], list[tuple[str, str]]]
    flags: Callable[[Mapping[str, Any]], Any]

    def __call__(self, row: Mapping[str, Any]) -> list[tuple[str, str]]:
        return self.check(row)


def reads(*files: str):
    """Mark a domain check as reading only ``files``: a load then keeps only their rows for it
    (an unmarked check gets the rows of every file of the domain)."""
    def mark(check):
        check.reads = files
        return check
    return mark


@dataclass(frozen=True)
class FileSpec:
    """One input file of a domain and the table it loads into."""

    file: str
    table: sa.Table
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()
    refs: tuple[Ref, ...] = ()
    # Extra per-row rules: (row as parsed values) -> list of (column, reason); a RowCheck adds a
    # vectorised filter for large files. A row is checked once all its values parsed.
    row_checks: tuple[Callable[[Mapping[str, Any]], list[tuple[str, str]]], ...] = ()
    # Insert order within the file, for tables that reference themselves (parents first); a
    # load holds such a file whole to sort it.
    insert_order: Callable[[Mapping[str, Any]], Any] | None = None

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class Domain:
    """A family's input: its files in load order, and its demo data generator."""

    name: str
    files: tuple[FileSpec, ...]
    # demo(seed, scale) -> {file name: list of rows as typed values}
    demo: Callable[[int, str], dict[str, list[dict]]] | None = None
    description: str = ""
    # Tables of the domain that are derived state (not loaded from CSV) but must be emptied
    # when the domain is replaced, children first.
    derived_tables: tuple[sa.Table, ...] = field(default=())
    # Rules across files, run after types, keys and references: (data) -> problems.
    checks: tuple[Callable[[dict[str, list[dict]]], list[Any]], ...] = field(default=())
    # Rebuilds the derived tables from the loaded ones, in the load's transaction: (conn) -> None.
    derive: Callable[[Any], None] | None = None
    # The same tables counted from the rows while a folder is loaded, instead of ``derive``'s SQL
    # afterwards: () -> an object with ``add(file, rows)`` (each chunk written, a pyarrow Table
    # of typed values named as the table's columns) and ``tables()`` -> {table: pyarrow Table}.
    # Its result must equal ``derive``'s (a test holds each domain's two to the same rows).
    derive_rows: Callable[[], Any] | None = None

    def spec(self, file: str) -> FileSpec:
        return next(s for s in self.files if s.file == file)

    @property
    def tables(self) -> Sequence[sa.Table]:
        return [s.table for s in self.files]


# Declared by the families' entry points (group ``reportlib.domains``).
DOMAINS: Registry[Domain] = Registry("data domain", group="reportlib.domains")
TABLES_GROUP = "reportlib.tables"  # modules that declare tables outside any domain (records, logs)


def get_domain(name: str) -> Domain:
    """The registered domain called ``name``; the error lists the known ones."""
    return DOMAINS.get(name)


def declare_tables() -> None:
    """Import every module that declares tables: each domain's, and those of ``reportlib.tables``."""
    for _ in DOMAINS.items():
        pass
    for point in declared(TABLES_GROUP).values():
        point.load()
