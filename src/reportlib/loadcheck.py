"""The checking pass of ``reportlib load`` over a folder, and the writing pass that follows it.

:func:`check_folder` reads every file of a domain a chunk at a time and finds every problem;
it keeps only what the checks across rows need, never the rows themselves: the key columns of
each file (for unique keys and as targets of references), the reference columns, the typed
rows of files that the domain's checks across files read, and at most 200 problems per file
and column (with a count of the rest). While no problem is known, it also hands each chunk's
typed rows to the load's writer (:class:`reportlib.loadwrite.Feed`), in the transaction that
the load rolls back if a problem turns up: each file is parsed once (a file whose table takes
its rows in an order of its own is kept whole, then sorted and written).
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from dataclasses import dataclass, field as dc_field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from .domains import Domain, FileSpec
from .errors import LoadError, LoadProblem
from .loadcolumns import NOT_UTF8, WHITESPACE, Chunk, column_rules, read_chunks, typed_column

__all__ = ["CheckedFolder", "check_folder"]

LISTED = 200  # problems listed per file and column; the rest are counted


class _Problems:
    """Every problem of a load: the first LISTED per (file, column) kept, the rest counted."""

    def __init__(self):
        self.kept: list[LoadProblem] = []
        self.per_column: Counter = Counter()
        self.omitted: Counter = Counter()

    def room(self, file: str, column: str | None) -> int:
        return max(LISTED - self.per_column[(file, column)], 0)

    def add(self, file: str, row, column, value, reason) -> None:
        if self.room(file, column):
            self.kept.append(LoadProblem(file, None if row is None else int(row), column, value, reason))
        else:
            self.omitted[(file, column)] += 1
        self.per_column[(file, column)] += 1

    def add_many(self, file: str, column: str, rows: np.ndarray, values, reason) -> None:
        """``values(indices) -> shown values``; ``reason``: one, or one per row."""
        count = len(rows)
        take = min(self.room(file, column), count)
        if take:
            shown = values(np.arange(take))
            for i in range(take):
                self.kept.append(LoadProblem(file, int(rows[i]), column, shown[i],
                                             reason[i] if isinstance(reason, list) else reason))
        if count > take:
            self.omitted[(file, column)] += count - take
        self.per_column[(file, column)] += count


@dataclass
class _FileState:
    """What the checks across rows and files need from one file, gathered chunk by chunk."""

    spec: FileSpec
    keys: list[pa.Table] = dc_field(default_factory=list)  # key columns + __row__ of rows that parsed
    key_table: pa.Table | None = None  # the same, whole, once the file is read
    targets: dict[tuple[str, ...], list[pa.Table]] = dc_field(default_factory=dict)  # referenced columns
    refs: dict[int, list[pa.Table]] = dc_field(default_factory=dict)  # ref index -> columns + __row__
    rows: list[dict] | None = None  # typed rows, for the domain's checks across files
    bad_rows: set[int] = dc_field(default_factory=set)  # rows of problems found after the chunk pass
    stat: tuple[int, int] | None = None


@dataclass
class CheckedFolder:
    """The outcome of the checking pass: problems, or what the writing pass needs."""

    domain: Domain
    folder: Path
    problems: list[LoadProblem]
    omitted: dict[tuple[str, str | None], int]
    digest: str
    stats: dict[str, tuple[int, int]]
    written: dict[str, Any] = dc_field(default_factory=dict)  # file -> its TableWriter, fed while checked

    def rows(self, spec: FileSpec) -> int:
        """The rows written into ``spec``'s table while it was checked."""
        return self.written[spec.file].rows

    def write_derived(self, conn: Connection, derived) -> None:
        """Write the derived tables that ``derived`` counted while the files were written."""
        from .loadwrite import TableWriter

        for table, rows in derived.tables().items():
            # in primary key order: SQLite then appends to the key's index instead of inserting at random
            rows = rows.sort_by([(c.name, "ascending") for c in table.primary_key.columns])
            writer = TableWriter(conn, table, rows.column_names)
            for batch in rows.to_batches(max_chunksize=100_000):
                writer.write(batch.columns)

    def confirm_unchanged(self) -> None:
        """Refuse to commit when a file changed while it was being read."""
        for spec in self.domain.files:
            if _stat(self.folder / spec.file) != self.stats[spec.file]:
                raise LoadError(self.domain.name, [LoadProblem(spec.file, None, None, None,
                                                               "changed while it was being loaded; load it again")])


def _stat(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _reporter(problems: _Problems, file: str):
    def report(row, column, value, reason):
        problems.add(file, row, column, value, reason)
    return report


class _bar:
    """A tqdm bar over a file's bytes that shows rows and rows/s (stderr; only when asked)."""

    def __init__(self, enabled: bool, label: str, path: Path, total: int | None = None):
        self.enabled, self.label, self.path, self.total = enabled, label, path, total
        self.rows = 0

    def __enter__(self):
        self.tqdm = None
        if self.enabled:
            from tqdm import tqdm

            total = self.total if self.total is not None else self.path.stat().st_size
            self.tqdm = tqdm(total=total, desc=self.label, unit="B", unit_scale=True, file=sys.stderr,
                             leave=True, dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]")
        return self

    def __call__(self, rows: int, size: int) -> None:
        """``rows`` more rows done, ``size`` bytes of the file done so far."""
        self.rows += rows
        if self.tqdm is not None:
            elapsed = self.tqdm.format_dict["elapsed"] or 1e-9
            self.tqdm.set_postfix_str(f"{self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s", refresh=False)
            self.tqdm.update(size - self.tqdm.n)

    def __exit__(self, *exc):
        if self.tqdm is not None:
            self.tqdm.update(self.tqdm.total - self.tqdm.n)
            elapsed = self.tqdm.format_dict["elapsed"] or 1e-9
            self.tqdm.set_postfix_str(f"{self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s")
            self.tqdm.close()


def _typed(spec: FileSpec, chunk: Chunk, problems: _Problems, rules=None) -> tuple[pa.Table, np.ndarray]:
    """The chunk's typed columns (named as the table's columns) and which rows have no problem."""
    from .load import parse_value

    rules = rules or {f.name: column_rules(spec, f, _id_columns(spec)) for f in spec.fields}
    ok = np.ones(len(chunk.rows), dtype=bool)
    columns = []
    for fld in spec.fields:
        raw = chunk.raw[fld.name]
        already = None
        if fld.name in chunk.not_utf8:
            mask, shown, reason = chunk.not_utf8[fld.name]
            problems.add_many(spec.file, fld.name, chunk.rows[mask], lambda idx, s=shown: [s[i] for i in idx], reason)
            already = (mask, NOT_UTF8)  # reported above, with the cells as they read
        values, found = typed_column(fld, raw, rules[fld.name], parse_value, already)
        for mask, reason in found:
            if reason is NOT_UTF8:
                ok &= ~mask
                continue
            bad_raw = raw.filter(pa.array(mask))
            problems.add_many(spec.file, fld.name, chunk.rows[mask],
                              lambda idx, b=bad_raw: b.take(pa.array(idx, pa.int64())).to_pylist(), reason)
            ok &= ~mask
        columns.append(values)
    return pa.table(columns, names=[f.column_name for f in spec.fields]), ok


def _id_columns(spec: FileSpec) -> set[str]:
    ids = set(spec.key)
    for ref in spec.refs:
        ids.update(ref.columns)
    return ids


def check_folder(domain: Domain, folder: Path, progress: bool = False, feed=None, derived=None) -> CheckedFolder:
    """Check every file of ``domain`` in ``folder``.

    Without ``feed`` nothing is written. With a :class:`reportlib.loadwrite.Feed`, the typed rows
    of each file go to its table and are counted in ``derived`` (the domain's
    ``derive_rows()``) for as long as no problem is known; the caller rolls the writes back if
    the outcome has problems. A file whose table takes its rows in an order of its own
    (``insert_order``) is fed whole once read, in that order.
    """
    written = {}
    problems = _Problems()
    digest = hashlib.sha256()
    states: dict[str, _FileState] = {}
    referenced: dict[str, set[tuple[str, ...]]] = {}
    for spec in domain.files:
        for ref in spec.refs:
            referenced.setdefault(ref.target, set()).add(tuple(ref.target_columns))
    check_files = _files_read_by_checks(domain)
    stats = {}
    for spec in domain.files:
        path = folder / spec.file
        if not path.is_file():
            problems.add(spec.file, None, None, None,
                         f"is missing from {folder.name}/ (every file of the {domain.name!r} domain is required; "
                         "a file with only its header loads an empty table)")
            continue
        stats[spec.file] = _stat(path)
        with path.open("rb") as handle:
            digest.update(spec.file.encode() + b"\0")
            while block := handle.read(1 << 22):
                digest.update(block)
            digest.update(b"\0")
        state = _FileState(spec, rows=[] if spec.file in check_files else None)
        states[spec.file] = state
        writer = None
        if feed is not None and not problems.per_column:
            writer = feed.writer(spec.table, [f.column_name for f in spec.fields])
        writer = _check_file(state, path, problems, referenced.get(spec.file, set()), progress, feed, writer,
                             derived)
        if writer is not None:
            written[spec.file] = writer
            if not problems.per_column:
                feed.done(writer)
    unreliable = {p.file for p in problems.kept} | {file for file, _ in problems.omitted}
    for state in states.values():
        _check_keys(state, problems)
        if state.spec.file not in referenced or tuple(state.spec.key) not in referenced[state.spec.file]:
            state.key_table = None
    unreliable |= {p.file for p in problems.kept} | {file for file, _ in problems.omitted}
    _check_references(domain, states, problems, unreliable)
    for state in states.values():
        state.refs, state.targets, state.key_table = {}, {}, None
    pa.default_memory_pool().release_unused()  # the key columns' memory, before the next pass
    data = {file: [r for r in state.rows if r["__row__"] not in state.bad_rows]
            for file, state in states.items() if state.rows is not None}
    for check in domain.checks:
        for problem in check(data):
            problems.add(problem.file, problem.row, problem.column, problem.value, problem.reason)
    order = {spec.file: i for i, spec in enumerate(domain.files)}
    columns = {spec.file: {f.name: i for i, f in enumerate(spec.fields)} for spec in domain.files}
    problems.kept.sort(key=lambda p: (order.get(p.file, len(order)), p.row or 0,
                                      columns.get(p.file, {}).get(p.column, -1)))
    return CheckedFolder(domain, folder, problems.kept, dict(problems.omitted), digest.hexdigest(), stats, written)


def _files_read_by_checks(domain: Domain) -> set[str]:
    files: set[str] = set()
    for check in domain.checks:
        files.update(getattr(check, "reads", None) or [spec.file for spec in domain.files])
    return files


def _check_file(state: _FileState, path: Path, problems: _Problems, targets: set[tuple[str, ...]],
                progress: bool, feed, writer, derived):
    """Check one file chunk by chunk; while no problem is known, ``feed`` its typed rows to
    ``writer`` (returned; None once a problem is known) and count them in ``derived``."""
    spec = state.spec
    rules = {f.name: column_rules(spec, f, _id_columns(spec)) for f in spec.fields}
    names = {f.name: f.column_name for f in spec.fields}
    whole: list[pa.Table] = []  # the typed rows of a file written in an order of its own
    with _bar(progress, f"load {spec.file}", path) as bar:
        for chunk in read_chunks(spec, path, _reporter(problems, spec.file)):
            typed, parsed = _typed(spec, chunk, problems, rules)
            rows = pa.array(chunk.rows)
            ok = parsed.copy()
            if spec.row_checks and parsed.any():
                ok &= _row_checks(spec, chunk, typed, parsed, problems)
            if spec.key:
                state.keys.append(_select(typed, [names[k] for k in spec.key], rows, parsed))
            for columns in targets:
                if columns != tuple(spec.key):  # the key columns serve as targets as they are
                    state.targets.setdefault(columns, []).append(_select(typed, [names[c] for c in columns], rows, ok))
            for i, ref in enumerate(spec.refs):
                state.refs.setdefault(i, []).append(_select(typed, [names[c] for c in ref.columns], rows, ok))
            if state.rows is not None and ok.any():
                state.rows.extend(_python_rows(spec, chunk, typed, ok))
            if writer is not None:
                if problems.per_column:  # the load is refused: nothing more to write
                    writer, whole = None, []
                elif spec.insert_order is not None:
                    whole.append(typed)
                else:
                    feed.send(writer, typed.columns)
                    if derived is not None:
                        derived.add(spec.file, typed)
            bar(len(chunk.rows), chunk.size)
    if writer is not None and whole:  # a table referring to itself: parents first
        table = pa.concat_tables(whole)
        rows = table.rename_columns([f.name for f in spec.fields]).to_pylist()
        table = table.take(pa.array(sorted(range(len(rows)), key=lambda i: spec.insert_order(rows[i])), pa.int64()))
        feed.send(writer, table.columns)
        if derived is not None:
            derived.add(spec.file, table)
    return writer


def _select(typed: pa.Table, columns: list[str], rows: pa.Array, mask: np.ndarray) -> pa.Table:
    table = pa.table([typed.column(c) for c in columns] + [rows], names=[*columns, "__row__"])
    return table if mask.all() else table.filter(pa.array(mask))


def _python_rows(spec: FileSpec, chunk: Chunk, typed: pa.Table, mask: np.ndarray) -> list[dict]:
    """Rows as ``parse_value`` gives them (decimals as written, e.g. ``Decimal('5.00')``), with ``__row__``."""
    selector = pa.array(mask)
    columns = {}
    for fld in spec.fields:
        if fld.kind == "decimal":
            text = pc.utf8_trim(chunk.raw[fld.name].filter(selector), characters=WHITESPACE).to_pylist()
            columns[fld.name] = [Decimal(t) if t else None for t in text]
        else:
            columns[fld.name] = typed.column(fld.column_name).filter(selector).to_pylist()
    columns["__row__"] = chunk.rows[mask].tolist()
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def _row_checks(spec: FileSpec, chunk: Chunk, typed: pa.Table, parsed: np.ndarray, problems: _Problems) -> np.ndarray:
    ok = np.ones(len(parsed), dtype=bool)
    candidates = parsed.copy()
    flagged = [getattr(check, "flags", None) for check in spec.row_checks]
    if all(flagged):  # every check says which rows it could fail: only those become Python rows
        columns = {f.name: typed.column(f.column_name) for f in spec.fields}
        suspect = np.zeros(len(parsed), dtype=bool)
        for flags in flagged:
            suspect |= np.asarray(pc.fill_null(flags(columns), True).to_numpy(zero_copy_only=False), dtype=bool)
        candidates &= suspect
    if not candidates.any():
        return ok
    positions = np.flatnonzero(candidates)
    for position, row in zip(positions, _python_rows(spec, chunk, typed, candidates)):
        for check in spec.row_checks:
            for column, reason in check(row):
                value = row.get(column)
                problems.add(spec.file, row["__row__"], column, None if value is None else str(value), reason)
                ok[position] = False
    return ok


def _check_keys(state: _FileState, problems: _Problems) -> None:
    """Unique keys over the whole file: sort the key columns once, compare neighbours."""
    spec = state.spec
    if not spec.key or not state.keys:
        return
    names = {f.name: f.column_name for f in spec.fields}
    columns = [names[k] for k in spec.key]
    table = state.key_table = pa.concat_tables(state.keys)
    state.keys = []
    if table.num_rows < 2:
        return
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in [*columns, "__row__"]])
    table = table.take(order)
    same = np.ones(table.num_rows - 1, dtype=bool)
    for c in columns:
        values = table.column(c).combine_chunks()
        a, b = values.slice(1), values.slice(0, len(values) - 1)
        equal = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)
        both_null = (pc.is_null(a).to_numpy(zero_copy_only=False) & pc.is_null(b).to_numpy(zero_copy_only=False))
        same &= equal | both_null
    if not same.any():
        return
    rows = table.column("__row__").to_numpy()
    starts = np.where(np.concatenate([[True], ~same]), np.arange(len(rows)), 0)
    first = rows[np.maximum.accumulate(starts)]
    duplicate = np.flatnonzero(np.concatenate([[False], same]))
    duplicate = duplicate[np.argsort(rows[duplicate], kind="stable")]
    state.bad_rows.update(rows[duplicate].tolist())
    key_values = table.select(columns).take(pa.array(duplicate[:LISTED], pa.int64())).to_pylist()

    def shown(idx):
        return [", ".join(str(v) for v in key_values[i].values()) for i in idx]

    problems.add_many(spec.file, spec.key[0], rows[duplicate], shown,
                      [f"duplicate key ({', '.join(spec.key)}); first seen on row {first[i]}" for i in duplicate[:LISTED]]
                      + [""] * max(len(duplicate) - LISTED, 0))


def _check_references(domain: Domain, states: dict[str, _FileState], problems: _Problems,
                      unreliable: set[str]) -> None:
    """Every reference must point at a row of its target file (rows with an empty reference pass).

    References into a file that had problems are not checked: a row that failed to parse would
    otherwise show up again as a false "unknown" reference.
    """
    for spec in domain.files:
        state = states.get(spec.file)
        if state is None:
            continue
        names = {f.name: f.column_name for f in spec.fields}
        for i, ref in enumerate(spec.refs):
            target = states.get(ref.target)
            if ref.target in unreliable or target is None or not state.refs.get(i):
                continue
            target_names = {f.name: f.column_name for f in target.spec.fields}
            sources = pa.concat_tables(state.refs[i])
            columns = [names[c] for c in ref.columns]
            for c in columns:
                sources = sources.filter(pc.is_valid(sources.column(c)))
            if state.bad_rows:
                sources = sources.filter(pc.invert(pc.is_in(sources.column("__row__"),
                                                            value_set=pa.array(sorted(state.bad_rows), pa.int64()))))
            parts = target.targets.get(tuple(ref.target_columns), [])
            unique = tuple(ref.target_columns) == tuple(target.spec.key)
            if unique and target.key_table is not None:
                parts = [target.key_table]  # rows that parsed: the same as the file's good rows, as it has no problem
            known_columns = [target_names[c] for c in ref.target_columns]
            if parts:
                known = pa.concat_tables(parts).select(known_columns).rename_columns(columns)
                if not unique:
                    known = known.group_by(columns).aggregate([])
                missing = sources.join(known, keys=columns, join_type="left anti")
            else:
                missing = sources
            if missing.num_rows == 0:
                continue
            missing = missing.sort_by("__row__")
            rows = missing.column("__row__").to_numpy()
            what = ref.what or ref.target.removesuffix(".csv")
            listed = missing.select(columns).slice(0, LISTED).to_pylist()
            problems.add_many(spec.file, ref.columns[0], rows,
                              lambda idx: [", ".join(str(v) for v in listed[i].values()) for i in idx],
                              f"unknown {what}: not in {ref.target}")
