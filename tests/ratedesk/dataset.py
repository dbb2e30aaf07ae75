"""A small code deck every rates test can reason about by hand (deck T, plans P1 and P2)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

NOW = datetime(2026, 11, 20, 12, 0)
BASE = datetime(2026, 11, 21)
START = datetime(2026, 1, 1)
FUTURE = datetime(2026, 12, 15)

# area -> codes
AREAS = {
    "Alpha": ["4910", "4911"],
    "Beta": ["4920"],
    "Gamma": ["4930", "4931"],
    "Delta": ["4940"],
    "Zero": ["0044"],
    "Long": ["4477009001234567"],
}


def small_data() -> dict[str, list[dict]]:
    """Deck T: six areas; plans P1 (std 7/0/0/7) and P2 (group G, locked Alpha); a future Beta rate."""
    deck = "T"
    rate = dict(locked=False, policy_5g="allow", policy_ext="accept", custom_1=None, custom_2=None, custom_3=None,
                active_till=None)
    rates = [dict(rate_plan="P1", area=a, rate=r, increment="60/60", active_from=START, **rate)
             for a, r in [("Alpha", "0.10"), ("Gamma", "0.05"), ("Delta", "0.30"), ("Zero", "0.01"),
                          ("Long", "0.5")]]
    rates.append(dict(rate_plan="P1", area="Beta", rate=Decimal("0.20"), increment="60/60", active_from=START,
                      **{**rate, "active_till": FUTURE}))
    rates.append(dict(rate_plan="P1", area="Beta", rate=Decimal("0.25"), increment="60/60", active_from=FUTURE,
                      **rate))
    rates.append(dict(rate_plan="P2", area="Alpha", rate=Decimal("0.11"), increment="1/1", active_from=START,
                      **{**rate, "locked": True}))
    rates.append(dict(rate_plan="P2", area="Gamma", rate=Decimal("0.06"), increment="1/1", active_from=START, **rate))
    for r in rates:
        r["rate"] = Decimal(r["rate"])
    return {
        "customers.csv": [dict(customer_id="C1", name="=Cust", account_manager_email="am@example.com")],
        "code_decks.csv": [dict(code_deck=deck)],
        "date_templates.csv": [dict(date_template="std", increase_days=7, decrease_days=0, new_days=0,
                                    delete_days=7)],
        "areas.csv": [dict(code_deck=deck, area=a, active_from=START, active_till=None) for a in AREAS],
        "codes.csv": [dict(code_deck=deck, area=a, code=c, active_from=START, active_till=None)
                      for a, cs in AREAS.items() for c in cs],
        "rate_plans.csv": [dict(rate_plan="P1", code_deck=deck, currency="USD", date_template="std",
                                rate_plan_groups="G"),
                           dict(rate_plan="P2", code_deck=deck, currency="EUR", date_template="std",
                                rate_plan_groups="G;H")],
        "rates.csv": rates,
        "customer_rp_setup.csv": [dict(customer_id="C1", rate_plan="P1", status="enabled", amendment_template="full-az",
                                       email_template="standard", to_emails="x@example.com", cc_emails=None,
                                       bcc_emails=None, add_account_manager="cc", csv_template="billing",
                                       ext_billing_customer="E1", ext_billing_rate_plan="EP1", comment=None)],
    }


def load_small(url: str) -> None:
    from reportlib.load import write_domain

    write_domain("rates", small_data(), url=url, source="tests small deck")


