"""The editable verify table: correct a verification's Status, Locked, Ext policy and customs.

The manual lets the analyst correct, in the verify step itself, the Status, Locked NEW,
Policy ext NEW and custom fields of the verify rows, without going back to the deck. On a
command line that is a round trip through a spreadsheet:

1. ``reportlib rates verify --export FILE.xlsx`` (or ``FILE.csv``) writes the verify table; each
   row carries its verification's id and its own number (``Verification``, ``Verify row``);
2. the analyst edits the editable columns (:data:`EDITABLE`) in Excel, LibreOffice or a text
   editor;
3. ``reportlib rates verify --edits FILE`` reads the file back. Every row must belong to the
   deck's latest verification, every other column must still say what the verification said
   (an edited rate, date or area is refused: change the deck and verify again), and only rows
   that start a new rate of one plan (New, Increase, Decrease) take edits. All problems are
   reported at once, each naming file, row, column and value; nothing is recorded then.
4. The edits are recorded (``rates_verify_edits``: row, column, old and new value, who, when,
   from which file); ``rates apply`` applies the verification with them, and the next export
   shows them. Verifying again starts a fresh verification without them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import DataError
from ..render.table import Col, cell_value
from . import data as s
from .change_deck import ChangeDeckError, parse_status, protect_formula, status_word, unprotect_formula
from .verify import Change, VerifyResult, utcnow

__all__ = ["EDITABLE", "Edit", "KEY_COLUMNS", "apply_edits", "read_edits", "record_edits", "verification_edits",
           "verify_columns", "verify_table", "write_verify_csv"]

# Change field -> column label; what may be edited in the verify step.
EDITABLE = {"status": "Status", "locked_new": "Locked new", "policy_ext_new": "Ext policy new",
            "custom_1_new": "Custom 1 new", "custom_2_new": "Custom 2 new", "custom_3_new": "Custom 3 new"}
KEY_COLUMNS = (Col("verification", "Verification", "int"), Col("change_no", "Verify row", "int"))
EDITABLE_RESULTS = ("New", "Increase", "Decrease")  # rows that start a new rate: the ones edits apply to
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "locked": True, "false": False, "no": False, "0": False,
               "": False, "unlocked": False}


def verify_columns() -> list[Col]:
    """The verify table's columns: its keys, the editable ones, then every column of a change."""
    from .xlsx import CHANGE_COLUMNS

    editable = [Col("status", "Status"), Col("locked_new", "Locked new", "bool")]
    return [*KEY_COLUMNS, *editable, *CHANGE_COLUMNS]


def verify_table(result: VerifyResult, verification_id: int | None):
    """The verify table as a DataFrame: one row per change, numbered, with its verification's id."""
    frame = result.frame()
    frame.insert(0, "change_no", range(1, len(frame) + 1))
    frame.insert(0, "verification", verification_id)
    return frame


def write_verify_csv(result: VerifyResult, path: str | Path, verification_id: int | None) -> Path:
    """The verify table as CSV (atomically), the same columns as the workbook's Changes sheet."""
    from ..files import atomic_write

    columns = verify_columns()
    with atomic_write(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.title for c in columns])
        for row in verify_table(result, verification_id).to_dict("records"):
            writer.writerow([_csv_text(cell_value(c, row[c.key])) for c in columns])
    return Path(path)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return protect_formula(str(value))


@dataclass(frozen=True)
class Edit:
    """One edited cell of the verify table: the verify row, the field, the value before and after (as text)."""

    change_no: int
    field: str
    old: str
    new: str


def _text(field: str, value: Any) -> str:
    """A field's value as the edits table keeps it."""
    if field == "locked_new":
        return "true" if value else "false"
    return "" if value is None else str(value)


def _value(field: str, text: str) -> Any:
    """A field's value from the edits table."""
    if field == "locked_new":
        return text == "true"
    if field == "status":
        return text
    return text or None


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header and (spreadsheet row, values) of the Changes sheet of a workbook, or of a CSV."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise ChangeDeckError(f"Cannot read the edits in {path.name}",
                                  [f"{path.name}: not a readable workbook ({exc})"]) from None
        try:
            if "Changes" not in book.sheetnames:
                raise ChangeDeckError(f"Cannot read the edits in {path.name}", [
                    f"{path.name}: has no sheet 'Changes' (sheets: {', '.join(book.sheetnames)}); edit the workbook "
                    "that rates verify --export wrote"])
            lines = list(book["Changes"].iter_rows(values_only=True))
        finally:
            book.close()
        header = [str(h).strip() if h is not None else "" for h in (lines[0] if lines else ())]
        return header, [(n, list(v)) for n, v in enumerate(lines[1:], start=2)]
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ChangeDeckError(f"Cannot read the edits in {path.name}", [f"{path.name}: cannot be read: {exc}"]) \
            from None
    header = [h.strip() for h in (lines[0] if lines else ())]
    return header, [(n, [unprotect_formula(v) for v in values]) for n, values in enumerate(lines[1:], start=2)]


def _same(col: Col, expected: Any, given: Any) -> bool:
    """Whether a cell read back still says what the verification said (typed as the column is)."""
    want = cell_value(col, expected)
    if given is None or (isinstance(given, str) and not given.strip()):
        return want is None or want == ""
    if want is None:
        return False
    if isinstance(want, bool):
        got = given if isinstance(given, bool) else _BOOL_WORDS.get(str(given).strip().lower())
        return got is want
    if isinstance(want, (Decimal, int)):
        try:
            return Decimal(str(given).strip()) == Decimal(str(want))
        except InvalidOperation:
            return False
    if isinstance(want, datetime):
        try:
            return (given if isinstance(given, datetime) else datetime.fromisoformat(str(given).strip())) == want
        except ValueError:
            return False
    return str(given).strip() == str(want).strip()


def _new_value(field: str, given: Any) -> tuple[Any, str | None]:
    """The edited value of ``field`` from a cell, or a reason it is not one."""
    text = "" if given is None else str(given).strip()
    if field == "status":
        enabled = parse_status(text)
        return (status_word(enabled), None) if enabled is not None else (None, "is not enabled or disabled")
    if field == "locked_new":
        if isinstance(given, bool):
            return given, None
        locked = _BOOL_WORDS.get(text.lower())
        return (locked, None) if locked is not None else (None, "is not true or false (yes/no, 1/0)")
    if field == "policy_ext_new":  # blank: as the verification has it (a row without a rate has none)
        return (text.lower() or None, None) if text.lower() in (*s.POLICY_EXT, "") else \
            (None, f"is not one of {', '.join(s.POLICY_EXT)}")
    if len(text) > 300:
        return None, "is longer than 300 characters"
    return text or None, None


def read_edits(path: str | Path, changes: Sequence[Change], verification_id: int) -> list[Edit]:
    """The edits a verify table file makes to ``changes`` of verification ``verification_id``.

    Raises :class:`ChangeDeckError` listing every problem (file, row, column, value); returns
    only the cells whose value differs from the change's.
    """
    path = Path(path)
    if not path.is_file():
        raise ChangeDeckError(f"Cannot read the edits in {path.name}", [f"{path}: no such file"])
    header, lines = _rows(path)
    columns = {c.title.lower(): c for c in verify_columns()}
    problems: list[str] = []
    unknown = [h for h in header if h and h.lower() not in columns]
    if unknown:
        problems.append(f"{path.name}, row 1: unknown column(s) {', '.join(map(repr, unknown))}; keep the columns "
                        "rates verify --export wrote")
    for key in KEY_COLUMNS:
        if key.title.lower() not in [h.lower() for h in header]:
            problems.append(f"{path.name}, row 1: the column {key.title!r} is required (it says which verify row "
                            "a line is)")
    if problems:
        raise ChangeDeckError(f"Cannot read the edits in {path.name}", problems)
    at = {h.lower(): i for i, h in enumerate(header) if h}
    edits: list[Edit] = []
    seen: dict[int, int] = {}
    for line, values in lines:
        if not any(v not in (None, "") for v in values):
            continue
        cell = {name: (values[i] if i < len(values) else None) for name, i in at.items()}
        where = f"{path.name}, row {line}"
        verification, number = cell["verification"], cell["verify row"]
        try:
            verification, number = int(str(verification).strip()), int(str(number).strip())
        except ValueError:
            problems.append(f"{where}: Verification {verification!r} and Verify row {number!r} must be whole numbers")
            continue
        if verification != verification_id:
            problems.append(f"{where}, column Verification: {verification} is not this deck's latest verification "
                            f"({verification_id}); export the verify table again and edit that")
            continue
        if not 1 <= number <= len(changes):
            problems.append(f"{where}, column Verify row: {number} is not a row of verification {verification_id} "
                            f"(1 to {len(changes)})")
            continue
        if number in seen:
            problems.append(f"{where}, column Verify row: {number} is also on row {seen[number]}")
            continue
        seen[number] = line
        change = changes[number - 1]
        for name, col in columns.items():
            if name not in cell or col.key in ("verification", "change_no"):
                continue
            if col.key in EDITABLE:
                new, why = _new_value(col.key, cell[name])
                if why:
                    problems.append(f"{where}, column {col.title}: {cell[name]!r} {why}")
                    continue
                old = getattr(change, col.key)
                if _text(col.key, new) == _text(col.key, old):
                    continue
                if new is None and col.key == "policy_ext_new":
                    problems.append(f"{where}, column {col.title}: blank is not one of {', '.join(s.POLICY_EXT)}")
                    continue
                if change.error or not change.rate_plan or change.result not in EDITABLE_RESULTS:
                    problems.append(f"{where}, column {col.title}: {cell[name]!r} cannot be set on a "
                                    f"{change.result or 'Error'} row; only rows that start a new rate of one plan "
                                    f"({', '.join(EDITABLE_RESULTS)}) take edits (disable a whole deck row with "
                                    "rates status disable)")
                    continue
                edits.append(Edit(number, col.key, _text(col.key, old), _text(col.key, new)))
            elif not _same(col, getattr(change, col.key), cell[name]):
                problems.append(f"{where}, column {col.title}: {cell[name]!r} differs from the verified "
                                f"{cell_value(col, getattr(change, col.key))!r}; only "
                                f"{', '.join(EDITABLE.values())} can be edited in the verify step (change the deck "
                                "and verify again)")
    if problems:
        raise ChangeDeckError(f"Cannot take the edits in {path.name}", problems)
    return edits


def record_edits(engine: Engine, verification_id: int, edits: Sequence[Edit], *, user: str, source: str) -> None:
    """Record ``edits`` of a verification, in one transaction."""
    if not edits:
        return
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(s.verify_edits.insert(), [dict(verification_id=verification_id, change_no=e.change_no,
                                                    field=e.field, old=e.old, new=e.new, user=user, at=now,
                                                    source=source[:300]) for e in edits])


def verification_edits(conn: Connection, verification_id: int) -> dict[int, dict[str, Any]]:
    """A verification's edits, the latest of each cell: verify row -> field -> value."""
    e = s.verify_edits.c
    out: dict[int, dict[str, Any]] = {}
    for row in conn.execute(sa.select(e.change_no, e.field, e.new).where(e.verification_id == verification_id)
                            .order_by(e.id)):
        out.setdefault(row.change_no, {})[row.field] = _value(row.field, row.new or "")
    return out


def apply_edits(changes: Sequence[Change], edits: Mapping[int, Mapping[str, Any]]) -> list[Change]:
    """``changes`` with a verification's edits made (verify row numbers count from 1)."""
    out = list(changes)
    for number, values in edits.items():
        if not 1 <= number <= len(out):
            raise DataError(f"The recorded edits name verify row {number}, which this verification does not have; "
                            "verify the deck again.")
        out[number - 1] = replace(out[number - 1], **values)
    return out
