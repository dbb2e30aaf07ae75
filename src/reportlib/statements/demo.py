"""Deterministic demo data for the ``billing`` domain (partner portal credit and revenue)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from ..periods import Month

__all__ = ["DEMO_MONTH", "demo_billing"]

DEMO_MONTH = Month(2026, 10)
_SIZES = {"small": (4, (2, 4), 4), "default": (36, (2, 10), 13), "large": (400, (4, 20), 13)}
_PARTNER_WORDS = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware", "Wingtip",
                  "Lucerne", "Humongous", "Coho", "Fourth Coffee", "Margie's", "Alpine", "Blue Yonder", "Trey",
                  "Woodgrove", "Graphic Design", "Relecloud", "VanArsdel", "Wide World", "Southridge",
                  "Consolidated", "Lamna", "Bellows", "Datum", "Munson's", "Nod", "School of Fine", "Adventure"]
_PARTNER_SUFFIXES = ["Telecom", "Networks", "Communications", "Connect", "Voice", "Mobile", "Digital", "Systems"]
_CUSTOMER_WORDS = ["Harbor", "Summit", "Cedar", "Granite", "Maple", "Orion", "Pioneer", "Quartz", "Riverside",
                   "Sterling", "Beacon", "Crescent", "Evergreen", "Falcon", "Horizon", "Juniper", "Keystone",
                   "Lighthouse", "Meridian", "Nimbus", "Oakridge", "Pinnacle", "Redwood", "Silverline"]
_CUSTOMER_KINDS = ["Logistics", "Dental", "Hotels", "Legal", "Retail", "Clinics", "Insurance", "Motors",
                   "Foods", "Studios", "Realty", "Academy"]
# Names a portal really receives, which must stay plain text and inside outputs/.
_TRICKY = ["=HYPERLINK(\"http://example.invalid\",\"click\")", "+Plus Mobile GmbH", "@Home Networks",
           "-Dash Digital", "ACME/../../Labs", "Zoë & Søn <Consulting>"]
_USAGE_PRICE = {"voice": (Decimal("0.0120"), 4), "sms": (Decimal("0.0450"), 4), "data": (Decimal("2.5000"), 4),
                "numbers": (Decimal("1.2500"), 4), "support": (Decimal("45.0000"), 4)}
CENT = Decimal("0.01")
MICRO4 = Decimal("0.0001")


def demo_billing(seed: int, scale: str) -> dict[str, list[dict]]:
    """Partners with customers, top-ups, usage by service, accruals, adjustments, discounts, revenue."""
    from .data import SERVICES

    rng = random.Random(f"billing|{seed}|{scale}")
    partner_count, customers_range, month_count = _SIZES[scale]
    last = Month(2026, 11)
    months = [last - i for i in reversed(range(month_count))]
    cutoff = date(2026, 11, 20)  # the demo's "today": November is a month in progress

    accounts, transactions, discounts, revenue = [], [], [], []
    tricky = iter(_TRICKY)
    for p in range(1, partner_count + 1):
        pid = f"P{p:03d}"
        pname = f"{_PARTNER_WORDS[(p - 1) % len(_PARTNER_WORDS)]} {rng.choice(_PARTNER_SUFFIXES)}"
        if p > len(_PARTNER_WORDS):
            pname += f" {p // len(_PARTNER_WORDS) + 1}"
        status = "suspended" if p % 17 == 0 else "active"
        accounts.append(dict(account_id=pid, name=pname, account_type="partner", partner_id=pid, status=status))
        members = [pid]
        for c in range(1, rng.randint(*customers_range) + 1):
            cid = f"{pid}-C{c:02d}"
            name = next(tricky, None) if rng.random() < 0.35 else None
            name = name or f"{rng.choice(_CUSTOMER_WORDS)} {rng.choice(_CUSTOMER_KINDS)}"
            cstatus = rng.choices(["active", "suspended", "closed"], [0.86, 0.07, 0.07])[0]
            accounts.append(dict(account_id=cid, name=name, account_type="customer", partner_id=pid,
                                 status=cstatus))
            members.append(cid)
        for account_id in members:
            services = rng.sample(SERVICES[:4], rng.randint(2, 4)) + (["support"] if rng.random() < 0.3 else [])
            appetite = Decimal(rng.randint(200, 4000))
            for month in months:
                _month_activity(rng, account_id, month, services, appetite, cutoff, transactions, revenue)
            _discounts(rng, account_id, services, months, discounts)
    return {"accounts.csv": accounts, "credit_transactions.csv": transactions,
            "discounts.csv": discounts, "revenue_lines.csv": revenue}


def _stamp(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(rng.randint(6, 21), rng.randint(0, 59), rng.randint(0, 59)))


def _month_activity(rng, account_id, month: Month, services, appetite, cutoff, transactions, revenue) -> None:
    days = [d for d in (month.start + timedelta(n) for n in range((month.end - month.start).days)) if d <= cutoff]
    if not days:
        return
    prefix = f"{account_id}-{month}"
    n = 0

    def add(kind, day, amount, service=None, reference=None):
        nonlocal n
        n += 1
        transactions.append(dict(transaction_id=f"T-{prefix}-{n:03d}", account_id=account_id,
                                 occurred_at=_stamp(rng, day), kind=kind, service=service, amount=amount,
                                 reference=reference))

    for _ in range(rng.randint(1, 3)):
        amount = (appetite * Decimal(rng.uniform(0.4, 0.9))).quantize(Decimal("10"))
        add("topup", rng.choice(days), amount, reference=f"INV-{rng.randint(100000, 999999)}")
    for service in services:
        unit, places = _USAGE_PRICE[service]
        lines = rng.randint(2, 6)
        month_qty = 0
        for _ in range(lines):
            qty = rng.randint(10, 4000) if service in ("voice", "sms") else rng.randint(1, 40)
            month_qty += qty
            add("usage", rng.choice(days), (unit * qty).quantize(MICRO4), service, f"CDR-{service}")
        gross = (unit * Decimal("1.35") * month_qty).quantize(MICRO4)
        rate = Decimal(rng.choice([0, 0, 0, 5, 10, 12.5]))
        discount = (gross * rate / 100).quantize(MICRO4, rounding=ROUND_HALF_UP)
        revenue.append(dict(line_id=f"R-{prefix}-{service}", account_id=account_id, service=service,
                            date=days[-1], quantity=Decimal(month_qty), unit_price=(unit * Decimal("1.35")).quantize(MICRO4),
                            gross=gross, discount=discount, net=gross - discount))
    if rng.random() < 0.5:
        add("accrual", days[-1], Decimal(rng.randint(100, 5000)) / 100, reference="loyalty credit")
    if rng.random() < 0.12:
        sign = -1 if rng.random() < 0.4 else 1
        add("adjustment", rng.choice(days), sign * Decimal(rng.randint(500, 20000)) / 100,
            reference="billing correction")


def _discounts(rng, account_id, services, months, discounts) -> None:
    statuses = ["active", "inactive", "expired", "scheduled"]
    for i in range(rng.randint(0, 3)):
        status = rng.choice(statuses)
        start = (months[0] + rng.randint(0, len(months) - 1)).start
        if status == "scheduled":
            start = date(2026, 12, 1)
        end = None if status in ("active", "scheduled") and rng.random() < 0.6 else start + timedelta(days=rng.choice([90, 180, 365]))
        if status == "expired":
            end = min(end or start + timedelta(days=90), date(2026, 11, 1))
            start = min(start, end - timedelta(days=30))
        kind = rng.choice(["percent", "fixed"])
        value = Decimal(rng.choice([5, 10, 12.5, 15, 20])) if kind == "percent" else Decimal(rng.randint(10, 200))
        discounts.append(dict(discount_id=f"D-{account_id}-{i + 1}", account_id=account_id, service=rng.choice(services),
                              kind=kind, value=value, valid_from=start, valid_to=end, status=status))
