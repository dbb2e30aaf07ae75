"""The change deck: rows that say what to change, and every way to fill them.

A row is kept exactly as typed (text), so that verify can say what is wrong with a value
instead of an import refusing it silently. Ways to fill a deck:

- :func:`read_change_csv` — a CSV with the seed's headers (``reportlib rates import``);
- :func:`rows_from_rates` — Area RATE rows from a plan's current rates ("Add to change deck");
- :func:`demo_change_deck` — rows of every change type, optionally with deliberate errors;
- :func:`append_rows` / :func:`merge_rows` — combine with a saved template;
- :func:`modify_rates` — clear / add / multiply / round the NEW rates, in exact decimals.

Stored decks and templates live in ``rates_decks`` / ``rates_deck_rows`` (see
:mod:`reportlib.ratedesk.decks` for who may view and edit them).

Rows are numbered as in the deck's spreadsheet: the header is row 1, so the first change is
row 2, and an imported file keeps its own row numbers (a blank line still counts as a row, a
cell with line breaks does not add rows). Import, verify, show and ``modify --row`` all name
the same row by the same number.

In CSV (:func:`write_change_csv`, :func:`read_change_csv`) text that a spreadsheet could run
as a formula — starting with ``=``, ``+``, ``-``, ``@``, tab, CR or LF, after any leading
single quotes — is written with one more leading ``'``, and the importer removes exactly that
one quote; a number (``-0.5``) is never touched. So a deck exported and imported again is the
same deck, and ``'@Evil Land`` in the file is ``@Evil Land`` in the deck.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import DataError
from ..render.text import FORMULA_TRIGGERS
from . import data as s

__all__ = [
    "CHANGE_TYPES", "CSV_HEADERS", "ChangeDeckError", "ChangeRow", "append_rows", "demo_change_deck",
    "merge_rows", "modify_rates", "parse_status", "protect_formula", "read_change_csv", "renumber", "rows_from_rates", "split_codes",
    "split_names", "status_word", "unprotect_formula", "write_change_csv",
]

CHANGE_TYPES = ("Area RATE", "Area name", "Area add", "Area delete", "Code add", "Code delete", "Code replace")
# The seed's headers, exactly; increm. part 1..3 replace increm. new when given.
CSV_HEADERS = ("code deck", "rate plans", "rate plan groups", "change type", "codes", "area name in code deck",
               "area name new", "rate new", "increm. new", "increm. part 1", "increm. part 2", "increm. part 3")
_COLUMN_OF = {"code deck": "code_deck", "rate plans": "rate_plans", "rate plan groups": "rate_plan_groups",
              "change type": "change_type", "codes": "codes", "area name in code deck": "area",
              "area name new": "area_new", "rate new": "rate_new", "increm. new": "increment_new",
              "custom 1": "custom_1", "custom 2": "custom_2", "custom 3": "custom_3", "status": "enabled"}
OPTIONAL_HEADERS = ("custom 1", "custom 2", "custom 3", "status")
# The record Status as a file or a command spells it.
STATUS_WORDS = {"enabled": True, "enable": True, "on": True, "yes": True, "1": True, "": True,
                "disabled": False, "disable": False, "off": False, "no": False, "0": False}


def parse_status(text: str) -> bool | None:
    """Whether a Status cell enables the row (True), disables it (False), or is not a status (None)."""
    return STATUS_WORDS.get((text or "").strip().lower())


def status_word(enabled: bool) -> str:
    return "enabled" if enabled else "disabled"


class ChangeDeckError(DataError):
    """A change deck (or file) with problems; each names its row. Nothing was written."""

    def __init__(self, what: str, problems: Sequence[str], limit: int = 100):
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:limit])
        more = len(self.problems) - limit
        super().__init__(f"{what}: {len(self.problems)} problem(s); nothing was written.\n{shown}"
                         + (f"\n  ... and {more} more" if more > 0 else ""))


@dataclass(frozen=True)
class ChangeRow:
    """One change deck row, as typed. ``row`` is its spreadsheet row (the header is row 1)."""

    row: int
    change_type: str = "Area RATE"
    code_deck: str = ""
    area: str = ""
    area_new: str = ""
    codes: str = ""
    rate_new: str = ""
    increment_new: str = ""
    rate_plans: str = ""
    rate_plan_groups: str = ""
    custom_1: str = ""
    custom_2: str = ""
    custom_3: str = ""
    status: str = ""  # what the desk last said of the row (its verify result, the batch it went into)
    enabled: bool = True  # the manual's record Status: a disabled row is kept and shown, but not verified or applied

    def label(self) -> str:
        """``row 3 (Area RATE 'Germany Mobile')``: how errors name the row."""
        name = self.area or self.area_new
        return f"row {self.row} ({self.change_type or '?'}" + (f" {name!r})" if name else ")")

    def content(self) -> tuple:
        """The row without its number and status text: what makes two rows duplicates (and, with the
        record status, a batch: disabling a row makes another batch)."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name not in ("row", "status"))

    def record(self, deck: str) -> dict:
        values = asdict(self)
        return {"deck": deck, "row_no": values.pop("row"), **values}


def split_codes(text: str) -> list[str]:
    """Codes of a ``codes`` cell: comma-, semicolon- or space-separated, as text."""
    return [c for c in re.split(r"[,;\s]+", text or "") if c]


def split_names(text: str) -> list[str]:
    """Names of a ``rate plans`` / ``rate plan groups`` cell (``;`` or ``,`` separated)."""
    return [n.strip() for n in re.split(r"[;,]", text or "") if n.strip()]


def normalise_type(text: str) -> str | None:
    """The change type ``text`` names (case and spaces ignored), or None."""
    key = re.sub(r"\s+", " ", (text or "").strip()).lower()
    return next((t for t in CHANGE_TYPES if t.lower() == key), None)


def renumber(rows: Iterable[ChangeRow]) -> list[ChangeRow]:
    """The rows numbered as a spreadsheet of them would show: 2, 3, ... (the header is row 1)."""
    return [replace(r, row=n) for n, r in enumerate(rows, start=2)]


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def protect_formula(text: str) -> str:
    """A cell for the deck's CSV that no spreadsheet runs as a formula; :func:`unprotect_formula` undoes it.

    Text starting with a formula trigger (after any leading ``'``) gets one more leading
    ``'``; numbers and everything else are written as they are.
    """
    if text.lstrip("'").startswith(FORMULA_TRIGGERS) and not _NUMBER.match(text):
        return "'" + text
    return text


def unprotect_formula(text: str) -> str:
    """A cell of the deck's CSV as it was before :func:`protect_formula`: exactly one ``'`` fewer, if it had one."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def read_change_csv(path: str | Path, code_deck: str, conn: Connection | None = None) -> list[ChangeRow]:
    """Read a change deck CSV with the seed's headers; with ``conn``, check it as verify would.

    A file with ``rate new`` and no ``change type`` column is all Area RATE rows. Rows keep
    their spreadsheet row numbers (the header is row 1). With ``conn`` every row is also checked
    against the database the way :func:`reportlib.ratedesk.verify.verify_deck` checks it (code
    deck and areas exist, rates and increments are well formed, codes to add are new and codes
    to delete exist, no duplicate or conflicting rows); the plans may still come from verify's
    options. Every problem of the file is reported at once, each naming the file and row.
    """
    path = Path(path)
    problems: list[str] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ChangeDeckError(f"Cannot import {path.name}", [f"{path.name}: cannot be read: {exc.strerror}"]) from None
    rows: list[ChangeRow] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ChangeDeckError(f"Cannot import {path.name}", [f"{path.name}, row 1: {exc}"]) from None
        known = set(CSV_HEADERS) | set(OPTIONAL_HEADERS)
        unknown = [h for h in header if h and h not in known]
        if unknown:
            problems.append(f"{path.name}, row 1: unknown column(s) {', '.join(map(repr, unknown))}; "
                            f"the columns are: {', '.join(CSV_HEADERS)}")
        repeated = sorted({h for h in header if h and header.count(h) > 1})
        if repeated:
            problems.append(f"{path.name}, row 1: column(s) {', '.join(map(repr, repeated))} given twice")
        if "area name in code deck" not in header and "area name new" not in header:
            problems.append(f"{path.name}, row 1: the column 'area name in code deck' is required")
        if "change type" not in header and "rate new" not in header:
            problems.append(f"{path.name}, row 1: give a 'change type' column, or 'rate new' for Area RATE rows")
        if problems:
            raise ChangeDeckError(f"Cannot import {path.name}", problems)
        line = 1
        while True:
            line += 1  # the spreadsheet row: one per record, whatever line breaks its cells hold
            try:
                values = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                problems.append(f"{path.name}, row {line}: {exc}")
                break
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                problems.append(f"{path.name}, row {line}: has {len(values)} values but the header has {len(header)}")
                continue
            cell = {h: unprotect_formula(v.strip()) for h, v in zip(header, values)}
            parts = [cell.get(f"increm. part {i}", "") for i in (1, 2, 3)]
            increment = cell.get("increm. new", "")
            if any(parts):
                if not all(p.isdigit() for p in parts[:2]) or (parts[2] and not parts[2].isdigit()):
                    problems.append(f"{path.name}, row {line}, increm. part 1..3: {'/'.join(parts)!r} is not a "
                                    "billing increment (whole seconds in part 1 and 2, optional part 3)")
                    continue
                increment = "/".join(p for p in parts if p)
            change_type = cell.get("change type", "") or "Area RATE"
            if normalise_type(change_type) is None:
                problems.append(f"{path.name}, row {line}, change type: {change_type!r} is not one of "
                                f"{', '.join(CHANGE_TYPES)}")
                continue
            values_of = {_COLUMN_OF[h]: v for h, v in cell.items() if h in _COLUMN_OF}
            values_of["change_type"] = normalise_type(change_type)
            values_of["code_deck"] = values_of.get("code_deck") or code_deck
            values_of["increment_new"] = increment
            enabled = parse_status(values_of.get("enabled", ""))
            if enabled is None:
                problems.append(f"{path.name}, row {line}, status: {values_of['enabled']!r} is not enabled or "
                                "disabled (blank means enabled)")
                continue
            values_of["enabled"] = enabled
            rows.append(ChangeRow(row=line, **values_of))
    if conn is not None and rows:
        from .verify import deck_problems

        problems += [f"{path.name}, {problem}" for problem in deck_problems(conn, rows)]
    if problems:
        problems.sort(key=_row_of)
        raise ChangeDeckError(f"Cannot import {path.name}", problems)
    if not rows:
        raise ChangeDeckError(f"Cannot import {path.name}", [f"{path.name}: has no change rows"])
    return rows


def _row_of(problem: str) -> int:
    """The row a problem names (``deck.csv, row 7...``), to list them in file order."""
    found = re.search(r"\brow (\d+)", problem)
    return int(found.group(1)) if found else 0


def write_change_csv(path: str | Path, rows: Sequence[ChangeRow]) -> Path:
    """Write a deck as a CSV with the seed's headers (plus custom 1..3 and the record status), atomically.

    Each row lands on its own spreadsheet row (empty rows fill the gaps an import left), and
    formula-looking text is protected as :func:`read_change_csv` expects (see the module).
    """
    from ..files import atomic_write

    headers = ["code deck", "rate plans", "rate plan groups", "change type", "codes", "area name in code deck",
               "area name new", "rate new", "increm. new", "custom 1", "custom 2", "custom 3", "status"]
    with atomic_write(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        line = 1
        for r in rows:
            while line + 1 < r.row:
                writer.writerow([])
                line += 1
            writer.writerow([protect_formula(getattr(r, _COLUMN_OF[h]) or "") for h in headers[:-1]]
                            + [status_word(r.enabled)])
            line += 1
    return Path(path)


def rows_from_rates(conn: Connection, rate_plan: str, *, areas: Sequence[str] = (), contains: str | None = None,
                    at: datetime | None = None) -> list[ChangeRow]:
    """Area RATE rows holding a plan's rates in force at ``at`` (all, or the chosen areas).

    ``contains`` keeps areas whose name contains it (case-insensitive). The rows carry the
    current rate and increment, ready for :func:`modify_rates`.
    """
    from ..errors import UnknownEntityError

    at = at or _utcnow()
    plan = conn.execute(sa.select(s.rate_plans).where(s.rate_plans.c.rate_plan == rate_plan)).first()
    if plan is None:
        raise UnknownEntityError("rate plan", rate_plan)
    r = s.rates.c
    query = (sa.select(r.area, r.rate, r.increment, r.custom_1, r.custom_2, r.custom_3)
             .where(r.rate_plan == rate_plan, r.active_from <= at,
                    sa.or_(r.active_till.is_(None), r.active_till > at))
             .order_by(r.area))
    if areas:
        query = query.where(r.area.in_(list(areas)))
    found = conn.execute(query).all()
    if areas:
        missing = sorted(set(areas) - {f.area for f in found})
        if missing:
            raise UnknownEntityError("rate in force for area", ", ".join(missing),
                                     f"Rate plan {rate_plan!r} has no rate in force for these areas at {at}.")
    if contains:
        found = [f for f in found if contains.lower() in f.area.lower()]
    return renumber(ChangeRow(row=0, change_type="Area RATE", code_deck=plan.code_deck, area=f.area,
                              rate_new=format(f.rate.normalize(), "f") if f.rate else "0",
                              increment_new=f.increment, rate_plans=rate_plan, custom_1=f.custom_1 or "",
                              custom_2=f.custom_2 or "", custom_3=f.custom_3 or "") for f in found)


def append_rows(base: Sequence[ChangeRow], more: Sequence[ChangeRow]) -> list[ChangeRow]:
    """``base`` followed by ``more``, renumbered."""
    return renumber([*base, *more])


def merge_rows(base: Sequence[ChangeRow], more: Sequence[ChangeRow]) -> list[ChangeRow]:
    """``base`` with rows of ``more`` replacing those for the same deck, type, area and plans.

    Rows of ``more`` that match nothing are appended; the result is renumbered.
    """
    def key(r: ChangeRow) -> tuple:
        return (r.code_deck, r.change_type, r.area, r.rate_plans, r.rate_plan_groups)

    incoming = {key(r): r for r in more}
    merged = [incoming.pop(key(r), r) for r in base]
    return renumber([*merged, *(r for r in more if key(r) in incoming)])


_ROUNDING = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "half-up": ROUND_HALF_UP}


def modify_rates(rows: Sequence[ChangeRow], operation: str, value: str | Decimal | None = None, *,
                 digits: int | None = None, mode: str = "half-up",
                 where: Callable[[ChangeRow], bool] | None = None) -> list[ChangeRow]:
    """Modify the NEW rates of ``rows`` (all, or those ``where`` accepts), in exact decimals.

    Operations: ``clear`` (blank), ``add`` (a fixed value, may be negative; a result below 0
    becomes 0), ``multiply`` (by a factor), ``round`` (to ``digits`` 1–8 places, ``mode`` up /
    down / half-up). A blank rate stays blank under add, multiply and round. Results keep at
    most 8 decimal places (rounded half-up after add/multiply).
    """
    from ..errors import ParameterError

    problems = []
    if operation not in ("clear", "add", "multiply", "round"):
        problems.append(f"operation {operation!r} is not one of clear, add, multiply, round")
    amount = None
    if operation in ("add", "multiply"):
        try:
            amount = Decimal(str(value).strip())
            if not amount.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(f"value {value!r} is not a decimal number")
    if operation == "round":
        if digits is None or not 1 <= int(digits) <= 8:
            problems.append(f"digits must be 1 to 8, not {digits!r}")
        if mode not in _ROUNDING:
            problems.append(f"rounding mode {mode!r} is not one of up, down, half-up")
    if problems:
        raise ParameterError("rates modify", problems)
    limit = Decimal(1).scaleb(-s.RATE_SCALE)
    out = []
    for r in rows:
        if (where is not None and not where(r)) or (operation != "clear" and not r.rate_new.strip()):
            out.append(r)
            continue
        if operation == "clear":
            out.append(replace(r, rate_new=""))
            continue
        try:
            rate = Decimal(r.rate_new.strip())
            if not rate.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise ChangeDeckError("Cannot modify rates", [f"{r.label()}: rate new {r.rate_new!r} is not a number"]) \
                from None
        if operation == "add":
            rate = max(rate + amount, Decimal(0))
        elif operation == "multiply":
            rate = max(rate * amount, Decimal(0))
        if operation == "round":
            rate = rate.quantize(Decimal(1).scaleb(-int(digits)), rounding=_ROUNDING[mode])
        elif rate.as_tuple().exponent < -s.RATE_SCALE:
            rate = rate.quantize(limit, rounding=ROUND_HALF_UP)
        out.append(replace(r, rate_new=format(rate, "f")))
    return out


def demo_change_deck(conn: Connection, code_deck: str, *, seed: int = 1, errors: bool = False,
                     at: datetime | None = None) -> list[ChangeRow]:
    """Rows of every change type for ``code_deck``; with ``errors``, also rows verify rejects.

    The deliberate errors: an unknown area, a non-numeric rate, a negative rate, a malformed
    increment, adding a code that exists, deleting one that does not, a duplicate row.
    """
    from ..errors import UnknownEntityError
    from .verify import current_areas, current_codes

    at = at or _utcnow()
    if conn.execute(sa.select(s.code_decks).where(s.code_decks.c.code_deck == code_deck)).first() is None:
        raise UnknownEntityError("code deck", code_deck)
    rng = random.Random(f"demo-deck|{code_deck}|{seed}")
    names = sorted(current_areas(conn, code_deck, at))
    by_area: dict[str, list[str]] = {}
    for code, area in current_codes(conn, code_deck, at).items():
        by_area.setdefault(area, []).append(code)
    usable = [a for a in names if len(by_area.get(a, [])) >= 3]
    if len(usable) < 6:
        raise UnknownEntityError("code deck with 6 areas of 3+ codes", code_deck)
    picks = rng.sample(usable, 6)
    taken = set(current_codes(conn, code_deck, at))
    fresh = _fresh_codes(rng, taken, by_area[picks[3]][0], 2)
    row = dict(code_deck=code_deck)
    rows = [
        ChangeRow(0, "Area RATE", area=picks[0], rate_new="0.0345", increment_new="60/60", **row),
        ChangeRow(0, "Area RATE", area=picks[1], rate_new="0.0012", **row),
        ChangeRow(0, "Area name", area=picks[2], area_new=f"{picks[2]} (renamed)", **row),
        ChangeRow(0, "Code add", area=picks[3], codes=",".join(fresh), **row),
        ChangeRow(0, "Code delete", area=picks[4], codes=sorted(by_area[picks[4]])[0], **row),
        ChangeRow(0, "Code replace", area=picks[5], codes=",".join(sorted(by_area[picks[5]])[1:]
                                                                    + _fresh_codes(rng, taken | set(fresh),
                                                                                   by_area[picks[5]][0], 1)), **row),
        ChangeRow(0, "Area add", area_new=f"Demo New Area {seed}", codes=",".join(
            _fresh_codes(rng, taken | set(fresh), "999", 2)), rate_new="0.1500", increment_new="1/1", **row),
        ChangeRow(0, "Area delete", area=[a for a in usable if a not in picks][0], **row),
    ]
    if errors:
        other = sorted(by_area[picks[0]])[0]
        rows += [
            ChangeRow(0, "Area RATE", area="No Such Area", rate_new="0.01", **row),
            ChangeRow(0, "Area RATE", area=picks[1], rate_new="abc", **row),
            ChangeRow(0, "Area RATE", area=picks[1], rate_new="-0.5", **row),
            ChangeRow(0, "Area RATE", area=picks[0], rate_new="0.02", increment_new="60-60", **row),
            ChangeRow(0, "Code add", area=picks[3], codes=other, **row),
            ChangeRow(0, "Code delete", area=picks[4], codes="99999999999", **row),
            rows[0],
        ]
    return renumber(rows)


def _fresh_codes(rng: random.Random, taken: set[str], stem: str, count: int) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        code = stem + str(rng.randint(0, 9999)).zfill(4)
        if code not in taken and code not in out:
            out.append(code)
    return out


def _utcnow() -> datetime:
    from .verify import utcnow

    return utcnow()
