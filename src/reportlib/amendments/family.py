"""The amendment family as the runner sees it: one run per customer × rate plan × period.

The period is the change batch (``batch-<id>``) or a regeneration without changes
(``regenerate-<date>``). A batch run selects every enabled customer × plan the batch touched;
a regeneration selects the enabled setups of chosen plans and/or plan groups (all plans when
none is chosen), optionally only some customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import ParameterError, UnknownEntityError
from ..families import Family
from ..files import entity_stem, plain_id, plain_name
from ..params import ReportParams
from ..ratedesk import data as s
from .metrics import amendment_targets, regeneration_targets
from .records import period_name

__all__ = ["AmendmentBatchParams", "AmendmentParams", "FAMILY"]


@dataclass(frozen=True)
class AmendmentParams(ReportParams):
    """One customer's rate amendment for one rate plan."""

    family = "amendment"
    customer: str = field(metadata={"help": "customer id, e.g. C001"})
    rate_plan: str = field(metadata={"help": "rate plan, e.g. 'Retail USD'"})
    batch: int | None = field(default=None, metadata={"help": "change batch id; none: regenerate without changes"})
    at: date | None = field(default=None, metadata={"help": "regeneration: the sheet as of this date (default now)"})


@dataclass(frozen=True)
class AmendmentBatchParams(ReportParams):
    """Amendments of every enabled customer × plan a change batch touched, or a regeneration."""

    family = "amendment"
    batch: int | None = field(default=None, metadata={"help": "change batch id; none: regenerate without changes"})
    plans: tuple[str, ...] = field(default=(), metadata={"help": "regeneration: these rate plans (comma-separated)"})
    groups: tuple[str, ...] = field(default=(), metadata={"help": "regeneration: these rate plan groups"})
    customers: tuple[str, ...] = field(default=(), metadata={"help": "only these customers"})
    at: date | None = field(default=None, metadata={"help": "regeneration: the sheet as of this date (default now)"})


def _stem(conn: Connection, params: AmendmentParams) -> str:
    row = conn.execute(sa.select(s.customers.c.name).where(s.customers.c.customer_id == params.customer)).first()
    if row is None:
        raise UnknownEntityError("customer", params.customer)
    return entity_stem(params.customer, row.name, params.rate_plan, key=(params.customer, params.rate_plan),
                       plain=plain_id(params.customer) and plain_name(params.rate_plan))


def _entities(conn: Connection, params: AmendmentBatchParams) -> list[dict]:
    if params.batch is not None:
        if params.plans or params.groups or params.at:
            raise ParameterError("amendment", ["plans, groups and at choose a regeneration: give them without batch"])
        targets = amendment_targets(conn, params.batch)
        if params.customers:
            targets = [t for t in targets if t.customer_id in params.customers]
    else:
        targets = regeneration_targets(conn, params.plans, params.groups, params.customers)
    extra = {"batch": params.batch} if params.batch is not None else \
        ({"at": params.at.isoformat()} if params.at else {})
    return [{"customer": t.customer_id, "rate_plan": t.rate_plan, **extra} for t in targets]


FAMILY = Family(
    name="amendment",
    folder="amendments",
    notebook="amendment.ipynb",
    params=AmendmentParams,
    batch_params=AmendmentBatchParams,
    domain="rates",
    period=lambda p: period_name(p.batch, p.at),
    stem=_stem,
    entities=_entities,
    description="Rate amendment per customer × rate plan for a change batch: XLSX, billing CSV (e-mail by "
                "'reportlib amendments send').",
)
