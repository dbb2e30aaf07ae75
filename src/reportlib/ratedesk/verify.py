"""Verify a change deck: check every row and expand it into the changes apply will make.

Each deck row becomes per-plan rows (rate changes, closures) and per-code rows (code adds
and deletes), with the active and future rate, the new rate, its difference, the date it
takes effect and a result: New, Increase, Decrease, Unchanged, Closed, Renamed, Code added,
Code deleted, Locked, Skipped — or an error naming the deck row. Code replace is expanded
into Code delete and Code add rows.

Dates: a change starts at ``base date + days`` of the plan's date template (increase,
decrease, new or delete; default 7/0/0/7) — or of one ``date_template`` chosen for every plan
(the manual's date template override) — or at one ``specific date`` for every row. Deck-
level changes (areas, codes) serve every plan of the deck: additions take the smallest
``new_days`` of its plans (the code must exist when the first plan prices it), deletions the
largest ``delete_days`` (every plan's notice must have passed). Renames take the base date.

Rules chosen where the seed is silent: an increment-only change counts as an Increase (it
needs notice); a locked rate is left alone (result Locked) while an Area delete over a
locked rate is an error; with ``no_new`` rows that would add areas or rates are Skipped. A
disabled deck row (record Status) is shown as Disabled and neither checked nor applied.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import data as s
from .change_deck import CHANGE_TYPES, ChangeRow, normalise_type, split_codes, split_names

__all__ = ["ALL_CODES_DELETED", "Change", "HANDLERS", "NOT_APPLIED", "VerifyOptions", "VerifyResult", "batch_digest",
           "current_areas", "current_codes", "deck_problems", "utcnow", "verify_deck"]

ALL_CODES_DELETED = ("close-area", "keep-area", "error")
DEFAULT_DAYS = {"increase": 7, "decrease": 0, "new": 0, "delete": 7}
_CODE_CHARS = set("0123456789")


def utcnow() -> datetime:
    """Now, as naive UTC (how the database stores times)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class VerifyOptions:
    """How to verify: plans and groups (union), dates, and the policies of the seed."""

    plans: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    base_date: datetime | None = None  # default: today 00:00 UTC
    specific_date: datetime | None = None  # one date for every change, overriding the templates
    date_template: str | None = None  # this date template for every plan instead of each plan's own
    all_codes_deleted: str = "close-area"
    one_deck: bool = True  # warn when a batch spans several code decks
    no_new: bool = False  # don't add new areas or rates
    now: datetime | None = None  # what "active" and "future" mean; default: the clock

    def resolved(self) -> "VerifyOptions":
        """These options with the base date filled in: today 00:00 UTC (of ``now``) when none was given."""
        if self.base_date is not None:
            return self
        now = self.now or utcnow()
        return replace(self, base_date=datetime(now.year, now.month, now.day))

    def selection(self) -> dict:
        """What identifies the batch besides its rows: the plans, the policies and the dates.

        The same rows on other dates are another batch (a correction), not the same one again.
        """
        dates = {"date": self.specific_date.isoformat()} if self.specific_date else \
            {"base_date": self.resolved().base_date.isoformat()}  # type: ignore[union-attr]
        template = {"date_template": self.date_template} if self.date_template else {}
        return {"plans": sorted(self.plans), "groups": sorted(self.groups),
                "all_codes_deleted": self.all_codes_deleted, "no_new": self.no_new, **dates, **template}


@dataclass
class Change:
    """One expanded row of the verify result."""

    deck_row: int
    change_type: str
    code_deck: str
    result: str = ""
    error: str = ""
    rate_plan: str | None = None
    area: str | None = None
    area_new: str | None = None
    code: str | None = None
    codes: int | None = None
    active_rate_id: int | None = None
    active_rate: Decimal | None = None
    active_increment: str | None = None
    active_since: datetime | None = None
    active_locked: bool | None = None
    future_rate_id: int | None = None
    future_rate: Decimal | None = None
    future_increment: str | None = None
    future_from: datetime | None = None
    future_locked: bool | None = None
    rate_new: Decimal | None = None
    increment_new: str | None = None
    rate_diff: Decimal | None = None
    diff_pct: Decimal | None = None
    active_from: datetime | None = None
    active_till: datetime | None = None
    policy_5g_current: str | None = None
    policy_5g_future: str | None = None
    policy_5g_new: str | None = None
    policy_ext_current: str | None = None
    policy_ext_future: str | None = None
    policy_ext_new: str | None = None
    custom_1_current: str | None = None
    custom_1_future: str | None = None
    custom_1_new: str | None = None
    custom_2_current: str | None = None
    custom_2_future: str | None = None
    custom_2_new: str | None = None
    custom_3_current: str | None = None
    custom_3_future: str | None = None
    custom_3_new: str | None = None
    locked_new: bool | None = None  # the new rate is locked (an edit of the verify table)
    status: str = "enabled"  # the verify row's Status: a disabled change is shown but not applied

    @property
    def applies(self) -> bool:
        return not self.error and self.status != "disabled" and self.result not in NOT_APPLIED


COLUMNS = [f.name for f in fields(Change)]
NOT_APPLIED = ("Unchanged", "Locked", "Skipped", "Disabled")  # results apply leaves alone


@dataclass
class VerifyResult:
    """The verified deck: expanded changes, errors (row-named), warnings, and the batch digest."""

    rows: list[ChangeRow]
    changes: list[Change]
    errors: list[str]
    warnings: list[str]
    digest: str
    verified_at: datetime
    options: VerifyOptions = field(default_factory=VerifyOptions)

    @property
    def ok(self) -> bool:
        return not self.errors

    def frame(self):
        """The changes as a DataFrame (exact Decimals kept)."""
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.changes], columns=COLUMNS)

    def row_statuses(self) -> dict[int, str]:
        """Each deck row's status after verify: ``error: ...`` or ``ok: Increase 2, Locked 1``."""
        by_row: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        errors: dict[int, str] = {}
        for c in self.changes:
            if c.error:
                errors[c.deck_row] = f"error: {c.error}"
            elif c.result == "Disabled":
                errors[c.deck_row] = "disabled: skipped by verify and apply"
            else:
                by_row[c.deck_row][c.result] += 1
        out = {r.row: "ok: " + ", ".join(f"{k} {v}" for k, v in sorted(by_row[r.row].items()))
               for r in self.rows if r.row in by_row}
        out.update(errors)
        return out

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for c in self.changes:
            out["Error" if c.error else c.result] += 1
        return dict(sorted(out.items()))


def current_areas(conn: Connection, code_deck: str, now: datetime) -> dict[str, int]:
    """Areas of a deck in force now or later: name -> area row id."""
    a = s.areas.c
    rows = conn.execute(sa.select(a.area, a.id).where(a.code_deck == code_deck,
                                                       sa.or_(a.active_till.is_(None), a.active_till > now),
                                                       a.active_till.is_(None) | (a.active_till > a.active_from)))
    return {r.area: r.id for r in rows}


def current_codes(conn: Connection, code_deck: str, now: datetime) -> dict[str, str]:
    """Codes of a deck in force now or later: code -> area."""
    c = s.codes.c
    rows = conn.execute(sa.select(c.code, c.area).where(c.code_deck == code_deck,
                                                         sa.or_(c.active_till.is_(None), c.active_till > now)))
    return {r.code: r.area for r in rows}


class _Context:
    """What verify reads from the database, loaded once per deck and plan."""

    def __init__(self, conn: Connection, now: datetime, date_template: str | None = None):
        self.conn, self.now, self.date_template = conn, now, date_template
        self.decks = {r[0] for r in conn.execute(sa.select(s.code_decks.c.code_deck))}
        self.templates = {r.date_template: r for r in conn.execute(sa.select(s.date_templates))}
        self.plans = {r.rate_plan: r for r in conn.execute(sa.select(s.rate_plans))}
        self.groups: dict[str, list[str]] = defaultdict(list)
        for plan in self.plans.values():
            for g in s.parse_groups(plan.rate_plan_groups):
                self.groups[g].append(plan.rate_plan)
        self._areas: dict[str, dict[str, int]] = {}
        self._codes: dict[str, dict[str, str]] = {}
        self._by_area: dict[str, dict[str, set[str]]] = {}
        self._rates: dict[str, dict[str, list]] = {}

    def areas(self, deck: str) -> dict[str, int]:
        if deck not in self._areas:
            self._areas[deck] = current_areas(self.conn, deck, self.now)
        return self._areas[deck]

    def codes(self, deck: str) -> dict[str, str]:
        if deck not in self._codes:
            self._codes[deck] = current_codes(self.conn, deck, self.now)
        return self._codes[deck]

    def area_codes(self, deck: str, area: str) -> set[str]:
        if deck not in self._by_area:
            index: dict[str, set[str]] = defaultdict(set)
            for code, owner in self.codes(deck).items():
                index[owner].add(code)
            self._by_area[deck] = index
        return set(self._by_area[deck].get(area, ()))

    def rates(self, plan: str) -> dict[str, list]:
        """Rates of a plan in force now or later (not superseded), by area, oldest first."""
        if plan not in self._rates:
            r = s.rates.c
            rows = self.conn.execute(sa.select(s.rates).where(
                r.rate_plan == plan, r.superseded_by.is_(None),
                sa.or_(r.active_till.is_(None), r.active_till > self.now)).order_by(r.active_from))
            by_area: dict[str, list] = defaultdict(list)
            for row in rows:
                by_area[row.area].append(row)
            self._rates[plan] = by_area
        return self._rates[plan]

    def active_future(self, plan: str, area: str):
        rows = self.rates(plan).get(area, [])
        active = next((x for x in rows if x.active_from <= self.now), None)
        future = next((x for x in reversed(rows) if x.active_from > self.now), None)
        return active, future

    def days(self, plan: str | None, kind: str) -> int:
        if self.date_template in self.templates:  # the verify option overrides every plan's own template
            # (an unknown one is an error of the options, reported by check_options)
            return getattr(self.templates[self.date_template], f"{kind}_days")
        template = self.templates.get(self.plans[plan].date_template) if plan else None
        return getattr(template, f"{kind}_days") if template else DEFAULT_DAYS[kind]

    def deck_plans(self, deck: str) -> list[str]:
        return sorted(p for p, row in self.plans.items() if row.code_deck == deck)

    def deck_days(self, deck: str, kind: str) -> int:
        values = [self.days(p, kind) for p in self.deck_plans(deck)] or [DEFAULT_DAYS[kind]]
        return max(values) if kind == "delete" else min(values)


def _parse_rate(text: str) -> tuple[Decimal | None, str | None]:
    text = (text or "").strip()
    if not text:
        return None, None
    try:
        value = Decimal(text)
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        return None, f"rate new {text!r} is not a number"
    if value < 0:
        return None, f"rate new {text} is negative"
    if value.as_tuple().exponent < -s.RATE_SCALE:
        return None, f"rate new {text} has more than {s.RATE_SCALE} decimal places"
    return value, None


def deck_problems(conn: Connection, rows: Sequence[ChangeRow]) -> list[str]:
    """Every problem of ``rows`` that verify would report, whatever plans verify is later given.

    What ``reportlib rates import`` checks: a row that names no plan is checked for all
    the rest (the plans may come from verify's ``--plan`` / ``--group``).
    """
    return verify_deck(conn, rows, plans_later=True).errors


def verify_deck(conn: Connection, rows: Sequence[ChangeRow], options: VerifyOptions = VerifyOptions(), *,
                plans_later: bool = False) -> VerifyResult:
    """Check ``rows`` against the database and expand them; nothing is written.

    Each row goes through the checks every change type shares (:meth:`_Verify.parse`), then the
    handler of its change type (:data:`HANDLERS`); areas that a batch leaves without codes are
    dealt with last, as ``options.all_codes_deleted`` says. ``plans_later`` leaves rows that select
    no rate plan unexpanded instead of an error (see :func:`deck_problems`).

    The result keeps the options as used (:meth:`VerifyOptions.resolved`: the base date filled in).
    """
    now = options.now or utcnow()
    if options.base_date is None:
        options = replace(options, base_date=datetime(now.year, now.month, now.day))
    run = _Verify(_Context(conn, now, options.date_template), options, plans_later)
    run.check_options()
    for r in rows:
        if not r.enabled:  # kept and shown, never checked or applied
            run.changes.append(Change(r.row, r.change_type, r.code_deck, "Disabled", area=r.area or None,
                                      area_new=r.area_new or None, status="disabled"))
            continue
        row = run.parse(r)
        if row is not None:
            HANDLERS[row.kind](run, row)
    run.close_emptied_areas()
    if len(run.decks_used) > 1:
        message = f"the batch spans {len(run.decks_used)} code decks ({', '.join(sorted(run.decks_used))})"
        run.warnings.append(message + ("; one code deck per batch is recommended" if options.one_deck else ""))
    return VerifyResult(list(rows), run.changes, run.errors, run.warnings, batch_digest(rows, options), now, options)


@dataclass
class _Row:
    """A deck row that passed the checks every change type shares, parsed."""

    source: ChangeRow
    kind: str  # the normalised change type
    deck: str
    area: str  # for Area add, the new area's name
    plans: set[str]  # the plans the row selects (its own, else the options')
    rate: Decimal | None
    increment: str
    codes: list[str]
    known_areas: dict[str, int]


class _Verify:
    """One verification: what it has found so far, and which row owns which area, rate and code."""

    def __init__(self, ctx: _Context, options: VerifyOptions, plans_later: bool):
        self.ctx, self.options, self.plans_later = ctx, options, plans_later
        self.changes: list[Change] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.seen: dict[tuple, int] = {}
        self.area_owner: dict[tuple[str, str], int] = {}  # (deck, area) -> row with a structural change
        self.rate_owner: dict[tuple[str, str], int] = {}  # (plan, area) -> row changing the rate
        self.code_owner: dict[tuple[str, str], int] = {}  # (deck, code) -> row changing the code
        self.code_areas: dict[tuple[str, str], int] = {}  # (deck, area) -> first row changing its codes
        self.deleted_codes: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.added_codes: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.delete_dates: dict[tuple[str, str], tuple[datetime, int]] = {}
        self.decks_used: set[str] = set()

    def fail(self, r: ChangeRow, message: str) -> None:
        self.errors.append(f"{r.label()}: {message}")
        self.changes.append(Change(r.row, r.change_type, r.code_deck, result="Error", error=message,
                                   area=r.area or None, area_new=r.area_new or None))

    def when(self, days: int) -> datetime:
        """The date a change takes effect: the specific date, else the base date plus ``days``."""
        return self.options.specific_date or self.options.base_date + timedelta(days=days)

    def check_options(self) -> None:
        ctx, options = self.ctx, self.options
        for name in options.plans:
            if name not in ctx.plans:
                self.errors.append(f"option --plan: unknown rate plan {name!r}")
        for name in options.groups:
            if name not in ctx.groups:
                self.errors.append(f"option --group: unknown rate plan group {name!r}; known: "
                                   f"{', '.join(sorted(ctx.groups))}")
        if options.date_template and options.date_template not in ctx.templates:
            self.errors.append(f"option --date-template: unknown date template {options.date_template!r}; known: "
                               f"{', '.join(sorted(ctx.templates)) or 'none'}")
        if options.all_codes_deleted not in ALL_CODES_DELETED:
            self.errors.append(f"option all codes deleted: {options.all_codes_deleted!r} is not one of "
                               f"{', '.join(ALL_CODES_DELETED)}")

    def parse(self, r: ChangeRow) -> _Row | None:
        """The row, checked as every change type is (type, duplicate, deck, plans, rate, increment,
        codes, area), or None once it failed."""
        ctx = self.ctx
        kind = normalise_type(r.change_type)
        if kind is None:
            self.fail(r, f"change type {r.change_type!r} is not one of {', '.join(CHANGE_TYPES)}")
            return None
        if r.content() in self.seen:
            self.fail(r, f"duplicate of row {self.seen[r.content()]}")
            return None
        self.seen[r.content()] = r.row
        deck = r.code_deck
        if deck not in ctx.decks:
            self.fail(r, f"unknown code deck {deck!r}; known: {', '.join(sorted(ctx.decks)) or 'none'}")
            return None
        self.decks_used.add(deck)
        known_areas = ctx.areas(deck)
        problems: list[str] = []

        # plans: the row's plans and groups if it names any, else the options'; union of both kinds
        named, groups = split_names(r.rate_plans), split_names(r.rate_plan_groups)
        if not named and not groups:
            named, groups = list(self.options.plans), list(self.options.groups)
        plans: set[str] = set()
        for p in named:
            if p not in ctx.plans:
                problems.append(f"unknown rate plan {p!r}")
            elif ctx.plans[p].code_deck != deck:
                problems.append(f"rate plan {p!r} is on code deck {ctx.plans[p].code_deck!r}, not {deck!r}")
            else:
                plans.add(p)
        for g in groups:
            if g not in ctx.groups:
                problems.append(f"unknown rate plan group {g!r}")
            else:
                plans.update(p for p in ctx.groups[g] if ctx.plans[p].code_deck == deck)
        rate, rate_problem = _parse_rate(r.rate_new)
        if rate_problem:
            problems.append(rate_problem)
        increment = r.increment_new.strip()
        if increment and not s.INCREMENT.match(increment):
            problems.append(f"increment new {increment!r} is malformed (use x/y or x/y/z seconds, e.g. 60/60, "
                            "1/1, 0/60/60)")
        code_list = split_codes(r.codes)
        bad = [c for c in code_list if not set(c) <= _CODE_CHARS]
        if bad:
            problems.append(f"code(s) {', '.join(map(repr, bad))} are not digits only")
        area = r.area.strip()
        if kind == "Area add":
            area = (r.area_new or r.area).strip()
            if not area:
                problems.append("area name new is required for Area add")
            elif area in known_areas:
                problems.append(f"area {area!r} already exists in code deck {deck!r}")
        elif not area:
            problems.append("area name in code deck is required")
        elif area not in known_areas:
            problems.append(f"unknown area {area!r} in code deck {deck!r}")
        if problems:
            self.fail(r, "; ".join(problems))
            return None
        return _Row(r, kind, deck, area, plans, rate, increment, code_list, known_areas)

    def rate_row(self, deck: str, area: str) -> int | None:
        """The row changing the area's rate in some plan of the deck, if any."""
        return next((row for (plan, a), row in self.rate_owner.items()
                     if a == area and self.ctx.plans[plan].code_deck == deck), None)

    def area_is_free(self, row: _Row) -> bool:
        """Whether no row before changes the area (its structure, codes or rate); fails the row if one does."""
        owner = self.area_owner.get((row.deck, row.area)) or self.code_areas.get((row.deck, row.area)) \
            or self.rate_row(row.deck, row.area)
        if owner is not None:
            self.fail(row.source, f"area {row.area!r} is already changed by row {owner}")
            return False
        return True

    def locked_plans(self, deck: str, area: str) -> list[str]:
        """The deck's plans with a locked rate for the area."""
        return [p for p in self.ctx.deck_plans(deck) if any(x.locked for x in self.ctx.rates(p).get(area, []))]

    def close_emptied_areas(self) -> None:
        """Areas whose every code the batch deletes: closed, kept or an error, as the options say."""
        for (deck, area), gone in self.deleted_codes.items():
            remaining = (self.ctx.area_codes(deck, area) - gone) | self.added_codes[(deck, area)]
            if remaining or self.area_owner.get((deck, area)):
                continue
            date, row = self.delete_dates[(deck, area)]
            policy = self.options.all_codes_deleted
            if policy == "error":
                self.errors.append(f"row {row} (Code delete {area!r}): every code of area {area!r} would be deleted; "
                                   "keep one, delete the area, or choose another all-codes-deleted policy")
            elif policy == "keep-area":
                self.warnings.append(f"row {row}: area {area!r} keeps no code after this batch (kept, as chosen)")
            else:
                rate_row, locked = self.rate_row(deck, area), self.locked_plans(deck, area)
                if rate_row is not None:
                    self.errors.append(f"row {row} (Code delete {area!r}): every code of the area is deleted, which "
                                       f"closes it, but row {rate_row} changes its rate; drop one of the two rows")
                    continue
                if locked:
                    self.errors.append(f"row {row} (Code delete {area!r}): every code of the area is deleted, which "
                                       f"closes it, but it has a locked rate in {', '.join(map(repr, locked))}")
                    continue
                self.warnings.append(f"row {row}: every code of area {area!r} is deleted, so the area closes on "
                                     f"{date:%Y-%m-%d}")
                self.changes.extend(c for c in _closure(self.ctx, row, "Area delete", deck, area, date)
                                    if c.code is None)


def _verify_area_rate(run: _Verify, row: _Row) -> None:
    """Area RATE: the area's new rate in each selected plan (all of them, or the row fails)."""
    r, deck, area = row.source, row.deck, row.area
    if row.rate is None:
        run.fail(r, "rate new is required for Area RATE (a number of at most 8 decimal places, not negative)")
        return
    if not row.plans:
        if not run.plans_later:
            run.fail(r, "no rate plan selected: name plans or groups in the row or with --plan / --group")
        return
    if (deck, area) in run.area_owner:
        run.fail(r, f"area {area!r} is already changed by row {run.area_owner[(deck, area)]}")
        return
    clash = next((run.rate_owner[(p, area)] for p in sorted(row.plans) if (p, area) in run.rate_owner), None)
    if clash is not None:
        run.fail(r, f"the rate of {area!r} is already changed by row {clash}")
        return
    changes = []
    for plan in sorted(row.plans):
        change = _rate_change(run.ctx, r, plan, area, row.rate, row.increment, run.options, run.when)
        if change.error:
            run.fail(r, change.error)
            return
        changes.append(change)
    for plan in row.plans:
        run.rate_owner[(plan, area)] = r.row
    run.changes.extend(changes)


def _verify_area_name(run: _Verify, row: _Row) -> None:
    """Area name: the area renamed, its codes and rates carried over, at the base date."""
    r, deck, area = row.source, row.deck, row.area
    if not run.area_is_free(row):
        return
    new = r.area_new.strip()
    if not new:
        run.fail(r, "area name new is required for Area name")
    elif new == area:
        run.fail(r, "area name new is the same as the current name")
    elif new in row.known_areas:
        run.fail(r, f"area {new!r} already exists in code deck {deck!r}")
    else:
        run.area_owner[(deck, area)] = run.area_owner[(deck, new)] = r.row
        run.changes.append(Change(r.row, row.kind, deck, "Renamed", area=area, area_new=new,
                                  codes=len(run.ctx.area_codes(deck, area)), active_from=run.when(0)))


def _verify_area_delete(run: _Verify, row: _Row) -> None:
    """Area delete: the area, its codes and its rate in every plan of the deck closed (never over a locked rate)."""
    r, deck, area = row.source, row.deck, row.area
    if not run.area_is_free(row):
        return
    locked = run.locked_plans(deck, area)
    if locked:
        run.fail(r, f"area {area!r} has a locked rate in {', '.join(map(repr, locked))}; unlock it first")
        return
    run.area_owner[(deck, area)] = r.row
    run.changes.extend(_closure(run.ctx, r.row, row.kind, deck, area, run.when(run.ctx.deck_days(deck, "delete"))))


def _verify_area_add(run: _Verify, row: _Row) -> None:
    """Area add: a new area with its codes, and its rate in the selected plans when the row gives one."""
    r, deck, area, ctx = row.source, row.deck, row.area, run.ctx
    if not run.area_is_free(row):
        return
    if run.options.no_new:
        run.changes.append(Change(r.row, row.kind, deck, "Skipped", area=area, error=""))
        return
    if row.rate is not None and not row.increment:
        run.fail(r, "increment new is required when Area add gives a rate")
        return
    if row.rate is not None and not row.plans and not run.plans_later:
        run.fail(r, "no rate plan selected for the new area's rate: name plans or groups")
        return
    problems = _check_new_codes(ctx, deck, area, row.codes, run.code_owner, r.row)
    if problems:
        run.fail(r, "; ".join(problems))
        return
    run.area_owner[(deck, area)] = r.row
    date = run.when(ctx.deck_days(deck, "new"))
    run.changes.append(Change(r.row, row.kind, deck, "New", area=area, codes=len(row.codes), active_from=date))
    for code in row.codes:
        run.code_owner[(deck, code)] = r.row
        run.changes.append(Change(r.row, row.kind, deck, "Code added", area=area, code=code, active_from=date))
    if row.rate is not None:
        for plan in sorted(row.plans):
            run.rate_owner[(plan, area)] = r.row
            run.changes.append(Change(r.row, row.kind, deck, "New", rate_plan=plan, area=area, codes=len(row.codes),
                                      rate_new=row.rate, increment_new=row.increment,
                                      active_from=run.when(ctx.days(plan, "new")), policy_5g_new="allow",
                                      policy_ext_new="accept", custom_1_new=r.custom_1 or None,
                                      custom_2_new=r.custom_2 or None, custom_3_new=r.custom_3 or None))


def _verify_codes(run: _Verify, row: _Row) -> None:
    """Code add, Code delete, Code replace (the area's codes become the row's: the missing ones are
    added, the others deleted): one row per code added or deleted."""
    r, deck, area, ctx = row.source, row.deck, row.area, run.ctx
    if (deck, area) in run.area_owner:
        run.fail(r, f"area {area!r} is already changed by row {run.area_owner[(deck, area)]}")
        return
    if not row.codes:
        run.fail(r, f"codes are required for {row.kind}")
        return
    current = ctx.area_codes(deck, area)
    if row.kind == "Code add":
        adds, deletes = row.codes, []
    elif row.kind == "Code delete":
        adds, deletes = [], row.codes
    else:
        wanted = list(dict.fromkeys(row.codes))
        adds = [c for c in wanted if c not in current]
        deletes = sorted(current - set(wanted))
    problems = _check_new_codes(ctx, deck, area, adds, run.code_owner, r.row)
    for code in deletes:
        owner_area = ctx.codes(deck).get(code)
        if (deck, code) in run.code_owner:
            problems.append(f"code {code} is already changed by row {run.code_owner[(deck, code)]}")
        elif owner_area is None:
            problems.append(f"code {code} does not exist in code deck {deck!r}, so it cannot be deleted")
        elif owner_area != area:
            problems.append(f"code {code} is in area {owner_area!r}, not {area!r}")
    if problems:
        run.fail(r, "; ".join(problems))
        return
    run.code_areas.setdefault((deck, area), r.row)
    add_date, delete_date = run.when(ctx.deck_days(deck, "new")), run.when(ctx.deck_days(deck, "delete"))
    for code in adds:
        run.code_owner[(deck, code)] = r.row
        run.added_codes[(deck, area)].add(code)
        run.changes.append(Change(r.row, row.kind, deck, "Code added", area=area, code=code, active_from=add_date))
    for code in deletes:
        run.code_owner[(deck, code)] = r.row
        run.deleted_codes[(deck, area)].add(code)
        run.delete_dates[(deck, area)] = (delete_date, r.row)
        run.changes.append(Change(r.row, row.kind, deck, "Code deleted", area=area, code=code,
                                  active_from=delete_date, active_till=delete_date, policy_5g_new="block",
                                  policy_ext_new="reject"))
    if not adds and not deletes:
        run.changes.append(Change(r.row, row.kind, deck, "Unchanged", area=area, codes=len(current)))


# One handler per change type.
HANDLERS: dict[str, Callable[[_Verify, _Row], None]] = {
    "Area RATE": _verify_area_rate,
    "Area name": _verify_area_name,
    "Area delete": _verify_area_delete,
    "Area add": _verify_area_add,
    "Code add": _verify_codes,
    "Code delete": _verify_codes,
    "Code replace": _verify_codes,
}


def batch_digest(rows: Sequence[ChangeRow], options: VerifyOptions) -> str:
    """What identifies a change batch: its rows' content and the plan selection (hex SHA-256)."""
    return hashlib.sha256(json.dumps({"rows": [r.content() for r in rows], "options": options.selection()},
                                     sort_keys=True).encode()).hexdigest()


def _check_new_codes(ctx: _Context, deck: str, area: str, code_list, code_owner, row: int) -> list[str]:
    problems = []
    seen = set()
    for code in code_list:
        owner_area = ctx.codes(deck).get(code)
        if code in seen:
            problems.append(f"code {code} is listed twice")
        elif (deck, code) in code_owner:
            problems.append(f"code {code} is already changed by row {code_owner[(deck, code)]}")
        elif owner_area == area:
            problems.append(f"code {code} already exists in area {area!r}")
        elif owner_area is not None:
            problems.append(f"code {code} is already in another area ({owner_area!r})")
        seen.add(code)
    return problems


def _rate_change(ctx: _Context, r: ChangeRow, plan: str, area: str, rate: Decimal, increment: str,
                 options: VerifyOptions, when) -> Change:
    active, future = ctx.active_future(plan, area)
    ref = active or future
    change = Change(r.row, "Area RATE", r.code_deck, rate_plan=plan, area=area, rate_new=rate,
                    codes=len(ctx.area_codes(r.code_deck, area)))
    if active is not None:
        change.active_rate_id, change.active_rate, change.active_increment = active.id, active.rate, active.increment
        change.active_since, change.active_locked = active.active_from, bool(active.locked)
        change.policy_5g_current, change.policy_ext_current = active.policy_5g, active.policy_ext
    if future is not None:
        change.future_rate_id, change.future_rate, change.future_increment = future.id, future.rate, future.increment
        change.future_from, change.future_locked = future.active_from, bool(future.locked)
        change.policy_5g_future, change.policy_ext_future = future.policy_5g, future.policy_ext
    change.increment_new = increment or (ref.increment if ref is not None else None)
    if not change.increment_new:
        change.error = f"increment new is required: {area!r} has no rate in {plan!r} to take it from"
        return change
    change.policy_5g_new = (ref.policy_5g if ref is not None else None) or "allow"
    change.policy_ext_new = (ref.policy_ext if ref is not None else None) or "accept"
    for n in (1, 2, 3):
        if active is not None:
            setattr(change, f"custom_{n}_current", getattr(active, f"custom_{n}"))
        if future is not None:
            setattr(change, f"custom_{n}_future", getattr(future, f"custom_{n}"))
        typed = getattr(r, f"custom_{n}")
        setattr(change, f"custom_{n}_new", typed or (getattr(ref, f"custom_{n}") if ref is not None else None))
    if any(x is not None and x.locked for x in (active, future)):
        change.result = "Locked"
        return change
    if ref is None:
        change.result = "Skipped" if options.no_new else "New"
        if not options.no_new:
            change.active_from = when(ctx.days(plan, "new"))
        return change
    change.rate_diff = rate - ref.rate
    if ref.rate:
        change.diff_pct = (change.rate_diff * 100 / ref.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if change.rate_diff > 0 or (change.rate_diff == 0 and change.increment_new != ref.increment):
        change.result = "Increase"
        change.active_from = when(ctx.days(plan, "increase"))
    elif change.rate_diff < 0:
        change.result = "Decrease"
        change.active_from = when(ctx.days(plan, "decrease"))
    else:
        change.result = "Unchanged"
    return change


def _closure(ctx: _Context, row: int, kind: str, deck: str, area: str, date: datetime) -> list[Change]:
    """Rows closing an area on ``date``: its rate in every plan of the deck, and every code."""
    out = [Change(row, kind, deck, "Closed", area=area, active_from=date, active_till=date,
                  codes=len(ctx.area_codes(deck, area)))]
    for plan in ctx.deck_plans(deck):
        active, future = ctx.active_future(plan, area)
        if active is None and future is None:
            continue
        ref = active or future
        out.append(Change(row, kind, deck, "Closed", rate_plan=plan, area=area,
                          active_rate_id=active.id if active else None, active_rate=active.rate if active else None,
                          active_increment=active.increment if active else None,
                          future_rate_id=future.id if future else None, future_rate=future.rate if future else None,
                          future_from=future.active_from if future else None, active_from=date, active_till=date,
                          policy_5g_current=ref.policy_5g, policy_ext_current=ref.policy_ext,
                          policy_5g_new="block", policy_ext_new="reject"))
    for code in sorted(ctx.area_codes(deck, area)):
        out.append(Change(row, kind, deck, "Code deleted", area=area, code=code, active_from=date, active_till=date,
                          policy_5g_new="block", policy_ext_new="reject"))
    return out
