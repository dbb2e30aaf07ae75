"""A change batch to make amendments of, on the demo data: the demo change deck, applied.

The amendment family has no data of its own; it is fed by the rate desk's change batches.
``make amendments`` (``reportlib amendments make --batch latest --demo-if-none``) applies the
demo change deck when no batch exists yet, so a fresh demo database has amendments to show.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..db import init_db
from ..errors import DataError
from ..ratedesk import data as s
from ..ratedesk.apply import apply_deck
from ..ratedesk.change_deck import demo_change_deck
from ..ratedesk.verify import VerifyOptions

__all__ = ["demo_batch"]


def demo_batch(db_url: str | Engine | None, user: str = "demo") -> int:
    """Apply the demo change deck of the first code deck that has plans, to all its plans; returns the batch."""
    engine = db_url if isinstance(db_url, Engine) else init_db(db_url)
    p = s.rate_plans.c
    with engine.connect() as conn:
        plans = conn.execute(sa.select(p.code_deck, p.rate_plan).order_by(p.code_deck, p.rate_plan)).all()
        if not plans:
            raise DataError("No rate plan in the database: load the rates domain first (reportlib demo).")
        deck = plans[0].code_deck
        rows = demo_change_deck(conn, deck)
    chosen = tuple(r.rate_plan for r in plans if r.code_deck == deck)
    return apply_deck(engine, rows, VerifyOptions(plans=chosen), user=user, deck_name=None).batch_id
