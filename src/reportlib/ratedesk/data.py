"""The ``rates`` domain: code decks, areas, codes, rate plans, rates, customers' RP setup.

CSV contract (header names exactly; extra columns ignored):

| file | columns |
| --- | --- |
| customers.csv | customer_id, name, account_manager_email |
| code_decks.csv | code_deck |
| areas.csv | code_deck, area, active_from, active_till |
| codes.csv | code_deck, area, code, active_from, active_till |
| rate_plans.csv | rate_plan, code_deck, currency, date_template, rate_plan_groups (``;``-separated) |
| date_templates.csv | date_template, increase_days, decrease_days, new_days, delete_days |
| rates.csv | rate_plan, area, rate, increment, active_from, active_till, locked, policy_5g, policy_ext, custom_1, custom_2, custom_3 |
| customer_rp_setup.csv | customer_id, rate_plan, status, amendment_template, email_template, to_emails, cc_emails, bcc_emails, add_account_manager, csv_template, ext_billing_customer, ext_billing_rate_plan, comment |

Codes are text (``0044`` stays ``0044``). Times are naive UTC; a row is in force from
``active_from`` (inclusive) until ``active_till`` (exclusive; empty = open-ended). Rates are
exact decimals with up to 8 places; increments are ``x/y`` or ``x/y/z`` seconds.

Derived state (not loaded from CSV): change batches, the change log and change history
(emptied when the domain is replaced: they describe the replaced data), and the stored
change decks, templates, their verifications, shared-deck locks and access lists, and the
change log's notes (kept: they are users' work).
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any, Mapping

import sqlalchemy as sa

from ..db import Exact, metadata
from ..domains import Domain, Field, FileSpec, Ref
from ..errors import LoadProblem

__all__ = [
    "DOMAIN", "INCREMENT", "RATE_SCALE", "areas", "change_batches", "change_history", "change_log", "change_notes",
    "code_decks", "codes", "customer_rp_setup", "customers", "date_templates", "deck_acl", "deck_locks",
    "deck_rows", "decks", "parse_groups", "rate_plans", "rates", "verifications", "verify_edits",
]

RATE_SCALE = 8
INCREMENT = re.compile(r"^\d+/[1-9]\d*(/[1-9]\d*)?$")
SETUP_STATUSES = ("enabled", "disabled")
ADD_MANAGER = ("none", "to", "cc", "bcc")
POLICY_5G = ("allow", "block")
POLICY_EXT = ("accept", "reject")


def _deck(name: str, *args, **kw) -> sa.Column:
    return sa.Column(name, sa.String(200), *args, **kw)


customers = sa.Table(
    "rates_customers", metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("account_manager_email", sa.String(300)),
)

code_decks = sa.Table(
    "rates_code_decks", metadata,
    _deck("code_deck", primary_key=True),
)

areas = sa.Table(
    "rates_areas", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _deck("code_deck", sa.ForeignKey("rates_code_decks.code_deck"), nullable=False),
    sa.Column("area", sa.String(200), nullable=False),
    sa.Column("active_from", sa.DateTime, nullable=False),
    sa.Column("active_till", sa.DateTime),
    sa.Column("batch_id", sa.Integer),
    sa.Index("ix_rates_areas_deck_area", "code_deck", "area"),
)

codes = sa.Table(
    "rates_codes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _deck("code_deck", sa.ForeignKey("rates_code_decks.code_deck"), nullable=False),
    sa.Column("area", sa.String(200), nullable=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("active_from", sa.DateTime, nullable=False),
    sa.Column("active_till", sa.DateTime),
    sa.Column("batch_id", sa.Integer),
    sa.Index("ix_rates_codes_deck_code", "code_deck", "code"),
    sa.Index("ix_rates_codes_deck_area", "code_deck", "area"),
)

date_templates = sa.Table(
    "rates_date_templates", metadata,
    sa.Column("date_template", sa.String(100), primary_key=True),
    sa.Column("increase_days", sa.Integer, nullable=False),
    sa.Column("decrease_days", sa.Integer, nullable=False),
    sa.Column("new_days", sa.Integer, nullable=False),
    sa.Column("delete_days", sa.Integer, nullable=False),
)

rate_plans = sa.Table(
    "rates_rate_plans", metadata,
    sa.Column("rate_plan", sa.String(200), primary_key=True),
    _deck("code_deck", sa.ForeignKey("rates_code_decks.code_deck"), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("date_template", sa.String(100), sa.ForeignKey("rates_date_templates.date_template")),
    sa.Column("rate_plan_groups", sa.String(1000)),
)

rates = sa.Table(
    "rates_rates", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rate_plan", sa.String(200), sa.ForeignKey("rates_rate_plans.rate_plan"), nullable=False),
    sa.Column("area", sa.String(200), nullable=False),
    sa.Column("rate", Exact(RATE_SCALE), nullable=False),
    sa.Column("increment", sa.String(40), nullable=False),
    sa.Column("active_from", sa.DateTime, nullable=False),
    sa.Column("active_till", sa.DateTime),
    sa.Column("locked", sa.Boolean),  # empty means not locked
    sa.Column("policy_5g", sa.String(16)),
    sa.Column("policy_ext", sa.String(16)),
    sa.Column("custom_1", sa.String(300)),
    sa.Column("custom_2", sa.String(300)),
    sa.Column("custom_3", sa.String(300)),
    sa.Column("batch_id", sa.Integer),
    sa.Column("superseded_by", sa.Integer),  # the batch that replaced this rate before it started
    sa.Index("ix_rates_rates_plan_area", "rate_plan", "area", "active_from"),
)

customer_rp_setup = sa.Table(
    "rates_customer_rp_setup", metadata,
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("rates_customers.customer_id"), primary_key=True),
    sa.Column("rate_plan", sa.String(200), sa.ForeignKey("rates_rate_plans.rate_plan"), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amendment_template", sa.String(100)),
    sa.Column("email_template", sa.String(100)),
    sa.Column("to_emails", sa.String(1000)),
    sa.Column("cc_emails", sa.String(1000)),
    sa.Column("bcc_emails", sa.String(1000)),
    sa.Column("add_account_manager", sa.String(8), nullable=False),
    sa.Column("csv_template", sa.String(100)),
    sa.Column("ext_billing_customer", sa.String(100)),
    sa.Column("ext_billing_rate_plan", sa.String(100)),
    sa.Column("comment", sa.String(1000)),
)

# --- derived state: batches, change log, change history -------------------------------------

change_batches = sa.Table(
    "rates_change_batches", metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
    # The digest of the verified deck and options: the same batch can never be applied twice.
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("deck_name", sa.String(200)),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

change_log = sa.Table(
    "rates_change_log", metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("rates_change_batches.batch_id"), primary_key=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("os_user", sa.String(200)),  # who was logged in, when an admin applied as another user
    sa.Column("change_types", sa.String(400), nullable=False),
    sa.Column("code_decks", sa.String(1000), nullable=False),
    sa.Column("rate_plans", sa.Text, nullable=False),
    sa.Column("plan_count", sa.Integer, nullable=False),
    sa.Column("deck_rows", sa.Integer, nullable=False),
    sa.Column("change_rows", sa.Integer, nullable=False),
    sa.Column("verified_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    # The manual's completion times (GMT) of the steps after the change: set when every
    # amendment of the batch has its XLSX, its CSV, its e-mail accepted, its upload done.
    sa.Column("xlsx_done_at", sa.DateTime),
    sa.Column("csv_done_at", sa.DateTime),
    sa.Column("emails_done_at", sa.DateTime),
    sa.Column("uploads_done_at", sa.DateTime),
)

change_history = sa.Table(
    "rates_change_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("rates_change_batches.batch_id"), nullable=False, index=True),
    sa.Column("deck_row", sa.Integer, nullable=False),
    sa.Column("change_type", sa.String(40), nullable=False),
    sa.Column("result", sa.String(40), nullable=False),
    sa.Column("code_deck", sa.String(200), nullable=False),
    sa.Column("rate_plan", sa.String(200)),
    sa.Column("area", sa.String(200)),
    sa.Column("area_new", sa.String(200)),
    sa.Column("code", sa.String(32)),
    sa.Column("rate_old", Exact(RATE_SCALE)),
    sa.Column("rate_new", Exact(RATE_SCALE)),
    sa.Column("increment_old", sa.String(40)),
    sa.Column("increment_new", sa.String(40)),
    sa.Column("active_from", sa.DateTime),
    sa.Column("old_rate_id", sa.Integer),
    sa.Column("future_rate_id", sa.Integer),
    sa.Column("new_rate_id", sa.Integer),
)

# --- users' work: stored change decks, templates, shared-deck locks and access lists -------

decks = sa.Table(
    "rates_decks", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # deck | template
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

deck_rows = sa.Table(
    "rates_deck_rows", metadata,
    sa.Column("deck", sa.String(200), sa.ForeignKey("rates_decks.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("row_no", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(400)),
    sa.Column("code_deck", sa.String(200)),
    sa.Column("rate_plans", sa.Text),
    sa.Column("rate_plan_groups", sa.Text),
    sa.Column("change_type", sa.String(40)),
    sa.Column("codes", sa.Text),
    sa.Column("area", sa.String(200)),
    sa.Column("area_new", sa.String(200)),
    sa.Column("rate_new", sa.String(60)),  # as typed: verify reports what is wrong with it
    sa.Column("increment_new", sa.String(40)),
    sa.Column("custom_1", sa.String(300)),
    sa.Column("custom_2", sa.String(300)),
    sa.Column("custom_3", sa.String(300)),
    sa.Column("enabled", sa.Boolean),  # the record Status; empty (a deck stored before it existed) is enabled
)

deck_locks = sa.Table(
    "rates_deck_locks", metadata,
    # The primary key is the lock: a second holder's INSERT fails in the database itself.
    sa.Column("deck", sa.String(200), sa.ForeignKey("rates_decks.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
    # Who holds it for real and until when (see reportlib.ratedesk.decks): a command's lock is its
    # process's (host, pid and the process's start time, so a reused pid is not mistaken for it)
    # and its lease is renewed while it works; a session lock (`rates deck lock`) has no process.
    sa.Column("kind", sa.String(8)),  # command | session
    sa.Column("os_user", sa.String(200)),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("process_started", sa.Float),  # seconds since the epoch
    sa.Column("renewed_at", sa.DateTime),
    sa.Column("expires_at", sa.DateTime),
)

change_notes = sa.Table(
    "rates_change_notes", metadata,
    # Notes in the change log besides the batches: an admin acting as another user, a lock
    # taken over from a holder that is gone. Kept when the domain is replaced (users' work).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),  # as-user | lock-taken-over
    sa.Column("deck", sa.String(200)),
    sa.Column("user", sa.String(200), nullable=False),  # who the desk saw acting
    sa.Column("os_user", sa.String(200)),  # who was logged in
    sa.Column("text", sa.Text, nullable=False),
)

verifications = sa.Table(
    "rates_verifications", metadata,
    # What `rates verify` checked, with exactly which options: `rates apply` applies that.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deck", sa.String(200), nullable=False, index=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("verified_at", sa.DateTime, nullable=False),
    sa.Column("rows_digest", sa.String(64), nullable=False),  # the deck's rows as verified
    sa.Column("options", sa.Text, nullable=False),  # JSON: plans, groups, dates as resolved, policies
    sa.Column("changes_digest", sa.String(64), nullable=False),  # the expanded changes the review showed
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Integer, nullable=False),
)

verify_edits = sa.Table(
    "rates_verify_edits", metadata,
    # What the analyst corrected in a verification's table (`rates verify --edits FILE`): apply
    # applies the verification with these edits, and the review shows them.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("verification_id", sa.Integer, sa.ForeignKey("rates_verifications.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("change_no", sa.Integer, nullable=False),  # the verify row (1 = first change)
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("old", sa.String(300)),
    sa.Column("new", sa.String(300)),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("source", sa.String(300)),  # the file the edit came from
)

deck_acl = sa.Table(
    "rates_deck_acl", metadata,
    sa.Column("deck", sa.String(200), sa.ForeignKey("rates_decks.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("user", sa.String(200), primary_key=True),
    sa.Column("role", sa.String(8), primary_key=True),  # viewer | editor
    sa.Column("allowed", sa.Boolean, nullable=False),  # False: on the denied list
)


def parse_groups(text: str | None) -> list[str]:
    """The plan groups of a ``rate_plan_groups`` cell (``;``-separated, blanks dropped)."""
    return [g.strip() for g in (text or "").split(";") if g.strip()]


def _window(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if row["active_till"] is not None and row["active_till"] <= row["active_from"]:
        return [("active_till", f"is not after active_from {row['active_from']}")]
    return []


def _increment(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not INCREMENT.match(row["increment"].strip()):
        return [("increment", "is not a billing increment like 60/60, 1/1 or 0/60/60")]
    return []


def _days(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(k, "must not be negative") for k in ("increase_days", "decrease_days", "new_days", "delete_days")
            if row[k] < 0]


def _overlaps(rows: list[dict], key, file: str, column: str, what: str) -> list[LoadProblem]:
    problems = []
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by_key[key(r)].append(r)
    for items in by_key.values():
        if len(items) < 2:
            continue
        items.sort(key=lambda r: r["active_from"])
        for before, after in zip(items, items[1:]):
            if before["active_till"] is None or before["active_till"] > after["active_from"]:
                problems.append(LoadProblem(file, after.get("__row__"), column, str(after[column]),
                                            f"{what} overlaps the one on row {before.get('__row__')}"))
    return problems


def _cross_checks(data: dict[str, list[dict]]) -> list[LoadProblem]:
    """A code is in one area of a deck at a time; a rate's area is in its plan's deck."""
    problems = _overlaps(data.get("codes.csv", []), lambda r: (r["code_deck"], r["code"]), "codes.csv", "code",
                         "code is in two areas (or twice) at the same time: it")
    problems += _overlaps(data.get("rates.csv", []), lambda r: (r["rate_plan"], r["area"]), "rates.csv",
                          "active_from", "rate period")
    deck_of = {p["rate_plan"]: p["code_deck"] for p in data.get("rate_plans.csv", [])}
    known = {(a["code_deck"], a["area"]) for a in data.get("areas.csv", [])}
    for r in data.get("rates.csv", []):
        deck = deck_of.get(r["rate_plan"])
        if deck is not None and (deck, r["area"]) not in known:
            problems.append(LoadProblem("rates.csv", r.get("__row__"), "area", r["area"],
                                        f"unknown area: not in code deck {deck!r} of rate plan {r['rate_plan']!r}"))
    return problems


_WINDOW = (Field("active_from", "datetime"), Field("active_till", "datetime", required=False))

FILES = (
    FileSpec("customers.csv", customers, (
        Field("customer_id"), Field("name"), Field("account_manager_email", required=False),
    ), key=("customer_id",)),
    FileSpec("code_decks.csv", code_decks, (Field("code_deck"),), key=("code_deck",)),
    FileSpec("date_templates.csv", date_templates, (
        Field("date_template"), Field("increase_days", "int"), Field("decrease_days", "int"),
        Field("new_days", "int"), Field("delete_days", "int"),
    ), key=("date_template",), row_checks=(_days,)),
    FileSpec("areas.csv", areas, (Field("code_deck"), Field("area"), *_WINDOW),
             key=("code_deck", "area", "active_from"),
             refs=(Ref(("code_deck",), "code_decks.csv", ("code_deck",), "code deck"),), row_checks=(_window,)),
    FileSpec("codes.csv", codes, (Field("code_deck"), Field("area"), Field("code", "code"), *_WINDOW),
             key=("code_deck", "code", "active_from"),
             refs=(Ref(("code_deck", "area"), "areas.csv", ("code_deck", "area"), "area of the code deck"),),
             row_checks=(_window,)),
    FileSpec("rate_plans.csv", rate_plans, (
        Field("rate_plan"), Field("code_deck"), Field("currency"), Field("date_template", required=False),
        Field("rate_plan_groups", required=False),
    ), key=("rate_plan",), refs=(Ref(("code_deck",), "code_decks.csv", ("code_deck",), "code deck"),
                                 Ref(("date_template",), "date_templates.csv", ("date_template",), "date template"))),
    FileSpec("rates.csv", rates, (
        Field("rate_plan"), Field("area"), Field("rate", "decimal", scale=RATE_SCALE, min_value=Decimal(0)),
        Field("increment"), *_WINDOW, Field("locked", "bool", required=False),
        Field("policy_5g", "enum", required=False, choices=POLICY_5G),
        Field("policy_ext", "enum", required=False, choices=POLICY_EXT),
        Field("custom_1", required=False), Field("custom_2", required=False), Field("custom_3", required=False),
    ), key=("rate_plan", "area", "active_from"),
        refs=(Ref(("rate_plan",), "rate_plans.csv", ("rate_plan",), "rate plan"),),
        row_checks=(_window, _increment)),
    FileSpec("customer_rp_setup.csv", customer_rp_setup, (
        Field("customer_id"), Field("rate_plan"), Field("status", "enum", choices=SETUP_STATUSES),
        Field("amendment_template", required=False), Field("email_template", required=False),
        Field("to_emails", required=False), Field("cc_emails", required=False), Field("bcc_emails", required=False),
        Field("add_account_manager", "enum", choices=ADD_MANAGER), Field("csv_template", required=False),
        Field("ext_billing_customer", required=False), Field("ext_billing_rate_plan", required=False),
        Field("comment", required=False),
    ), key=("customer_id", "rate_plan"),
        refs=(Ref(("customer_id",), "customers.csv", ("customer_id",), "customer"),
              Ref(("rate_plan",), "rate_plans.csv", ("rate_plan",), "rate plan"))),
)


def _demo(seed: int, scale: str) -> dict[str, list[dict]]:
    from .demo import demo_rates

    return demo_rates(seed, scale)


DOMAIN = Domain(
    "rates", FILES, demo=_demo, checks=(_cross_checks,),
    derived_tables=(change_history, change_log, change_batches),
    description="Code decks, areas, codes, rate plans and groups, rates, date templates, customers' RP setup.")
