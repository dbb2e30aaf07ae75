"""Amendment file names: one customer × rate plan, one file set."""

from __future__ import annotations

from reportlib.db import connect
from reportlib.load import write_domain
from reportlib.amendments.family import FAMILY, AmendmentParams

from ..ratedesk.dataset import small_data


def test_plans_and_customers_that_slug_alike_get_their_own_stems(db_url):
    data = small_data()
    data["customers.csv"] += [dict(customer_id=c, name="=Cust", account_manager_email=None) for c in ("c1", "C1 ")]
    write_domain("rates", data, url=db_url, source="test")
    entities = [("C1", "P1"), ("C1", "Retail USD"), ("C1", "AZ Gold USD"), ("C1", "retail usd"),
                ("C1", "RETAIL USD"), ("C1", "Retail  USD"), ("C1", "Retail-USD"), ("c1", "P1"), ("C1 ", "P1")]
    with connect(db_url) as conn:
        stems = {e: FAMILY.stem(conn, AmendmentParams.parse({"customer": e[0], "rate_plan": e[1], "batch": 1}))
                 for e in entities}
        again = {e: FAMILY.stem(conn, AmendmentParams.parse({"customer": e[0], "rate_plan": e[1], "batch": 1}))
                 for e in entities}
    assert stems == again
    assert len({stem.casefold() for stem in stems.values()}) == len(entities), stems
    # plans spelt the usual way keep today's names
    assert (stems[("C1", "P1")], stems[("C1", "Retail USD")], stems[("C1", "AZ Gold USD")]) == \
        ("c1-cust-p1", "c1-cust-retail-usd", "c1-cust-az-gold-usd")
