"""Today's loader before the columnar rewrite (commit fbc0fec), kept as the tests' oracle.

``oracle_rows(folder, domain)`` reads a CSV folder exactly as ``reportlib load`` did, row by row
through ``csv.DictReader`` and ``parse_value``; the tests write its rows with ``write_domain`` and
compare the tables with what the streaming loader writes. Not used by the product.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reportlib.domains import Domain, Field, FileSpec, get_domain
from reportlib.errors import LoadError, LoadProblem

_INT = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CODE = re.compile(r"^\d+$")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


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


def oracle_rows(folder: Path, domain_name: str) -> dict[str, list[dict]]:
    """The typed rows of every file as the old loader parsed them; raises LoadError as it did."""
    domain = get_domain(domain_name)
    problems: list[LoadProblem] = []
    data = {spec.file: read_file(spec, Path(folder) / spec.file, problems) for spec in domain.files}
    check_references(domain, data, problems, {p.file for p in problems})
    for check in domain.checks:
        problems.extend(check(data))
    if problems:
        raise LoadError(domain.name, problems)
    return data
