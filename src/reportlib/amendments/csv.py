"""The CSV for external billing, one row per code, from a CSV template.

Billing systems take increments as separate numbers, so ``60/60`` becomes ``60`` and ``60``
(and ``0/60/60`` three parts); dates are ISO 8601 UTC (``2026-11-29T00:00:00Z``); the
blocked and discontinued flags are ``1`` or ``0``.

The file is for the billing system, machine to machine: every value is written verbatim
(an id ``=X1`` arrives as ``=X1``, never ``'=X1``). It is not protected against spreadsheet
formulas, so it must not be opened by double-clicking it into a spreadsheet; people read the
XLSX amendment, whose cells are typed text and never formulas.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

from ..errors import DataError
from ..render.csv import write_csv
from .metrics import Amendment
from ..ratedesk.data import INCREMENT
from .templates import CsvTemplate

__all__ = ["billing_rows", "increment_parts", "iso_utc", "write_billing_csv"]


def increment_parts(increment: str | None) -> tuple[int | None, int | None, int | None]:
    """``"60/60"`` -> ``(60, 60, None)``, ``"0/60/60"`` -> ``(0, 60, 60)``; blank -> all None."""
    if increment is None or not str(increment).strip():
        return None, None, None
    text = str(increment).strip()
    if not INCREMENT.match(text):
        raise DataError(f"Billing increment {text!r} is not like 60/60, 1/1 or 0/60/60.")
    parts = [int(p) for p in text.split("/")]
    return tuple(parts + [None] * (3 - len(parts)))  # type: ignore[return-value]


def iso_utc(value: Any) -> str | None:
    """A naive-UTC time (or date) as ISO 8601 with a ``Z``: ``2026-11-29T00:00:00Z``."""
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    return str(value)


def billing_rows(amendment: Amendment) -> Iterator[dict[str, Any]]:
    """One billing row per code of the amendment's sheet (every field of BILLING_FIELDS)."""
    n, setup = amendment.notice, amendment.setup
    for r in amendment.sheet.itertuples(index=False):
        first, second, third = increment_parts(r.increment)
        yield {"ext_billing_customer": setup.get("ext_billing_customer"),
               "ext_billing_rate_plan": setup.get("ext_billing_rate_plan"), "customer_id": n.customer_id,
               "rate_plan": n.rate_plan, "currency": n.currency, "area": r.area, "code": r.code, "rate": r.rate,
               "previous_rate": r.previous_rate, "change": r.change, "increment_1": first, "increment_2": second,
               "increment_3": third, "effective_date": iso_utc(r.effective_date), "end_date": iso_utc(r.end_date),
               "blocked": r.policy_5g == "block" or r.change == "Closed", "discontinued": r.change == "Closed",
               "batch": n.batch}


def write_billing_csv(amendment: Amendment, template: CsvTemplate, path: str | Path) -> int:
    """Write the billing CSV atomically with the template's columns, values verbatim; returns the row count."""
    keys = [key for key, _ in template.columns]
    return write_csv(path, billing_rows(amendment), keys, [header for _, header in template.columns], protect=False)
