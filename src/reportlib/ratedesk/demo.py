"""Deterministic demo data for the ``rates`` domain: code decks, plans, rates, customers.

``default`` has two decks (a few hundred areas, some thousands of codes); ``large`` adds an
A–Z deck of about 60,000 codes. Every deck carries the codes that must survive as text:
``4477009001234567`` (a long UK range) and ``0044`` (a national access code).
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

__all__ = ["DEMO_NOW", "demo_rates"]

# The demo's "now": rates before it are active, rates after it are future.
DEMO_NOW = datetime(2026, 11, 20)
_START = datetime(2026, 1, 1)
_OLD_START = datetime(2025, 1, 1)
_FUTURE = datetime(2027, 1, 1)

_COUNTRIES = [
    ("Afghanistan", "93"), ("Albania", "355"), ("Algeria", "213"), ("Argentina", "54"), ("Armenia", "374"),
    ("Australia", "61"), ("Austria", "43"), ("Azerbaijan", "994"), ("Bahrain", "973"), ("Bangladesh", "880"),
    ("Belarus", "375"), ("Belgium", "32"), ("Bolivia", "591"), ("Bosnia", "387"), ("Brazil", "55"),
    ("Bulgaria", "359"), ("Cambodia", "855"), ("Cameroon", "237"), ("Chile", "56"), ("China", "86"),
    ("Colombia", "57"), ("Costa Rica", "506"), ("Croatia", "385"), ("Cuba", "53"), ("Cyprus", "357"),
    ("Czech Republic", "420"), ("Denmark", "45"), ("Ecuador", "593"), ("Egypt", "20"), ("Estonia", "372"),
    ("Ethiopia", "251"), ("Finland", "358"), ("France", "33"), ("Georgia", "995"), ("Germany", "49"),
    ("Ghana", "233"), ("Greece", "30"), ("Guatemala", "502"), ("Hong Kong", "852"), ("Hungary", "36"),
    ("Iceland", "354"), ("India", "91"), ("Indonesia", "62"), ("Iran", "98"), ("Iraq", "964"),
    ("Ireland", "353"), ("Israel", "972"), ("Italy", "39"), ("Japan", "81"), ("Jordan", "962"),
    ("Kazakhstan", "77"), ("Kenya", "254"), ("Kuwait", "965"), ("Latvia", "371"), ("Lebanon", "961"),
    ("Lithuania", "370"), ("Luxembourg", "352"), ("Malaysia", "60"), ("Malta", "356"), ("Mexico", "52"),
    ("Moldova", "373"), ("Morocco", "212"), ("Nepal", "977"), ("Netherlands", "31"), ("New Zealand", "64"),
    ("Nigeria", "234"), ("Norway", "47"), ("Oman", "968"), ("Pakistan", "92"), ("Panama", "507"),
    ("Peru", "51"), ("Philippines", "63"), ("Poland", "48"), ("Portugal", "351"), ("Qatar", "974"),
    ("Romania", "40"), ("Russia", "79"), ("Saudi Arabia", "966"), ("Senegal", "221"), ("Serbia", "381"),
    ("Singapore", "65"), ("Slovakia", "421"), ("Slovenia", "386"), ("South Africa", "27"), ("South Korea", "82"),
    ("Spain", "34"), ("Sri Lanka", "94"), ("Sweden", "46"), ("Switzerland", "41"), ("Taiwan", "886"),
    ("Tanzania", "255"), ("Thailand", "66"), ("Tunisia", "216"), ("Turkey", "90"), ("Uganda", "256"),
    ("Ukraine", "380"), ("United Arab Emirates", "971"), ("United Kingdom", "44"), ("United States", "1"),
    ("Uruguay", "598"), ("Uzbekistan", "998"), ("Venezuela", "58"), ("Vietnam", "84"), ("Yemen", "967"),
    ("Zambia", "260"), ("Zimbabwe", "263"),
]
_OPERATORS = ["Vodafone", "Orange", "T-Mobile", "Telefonica", "MTN", "Airtel", "Etisalat", "Claro", "Digicel",
              "Ooredoo", "Tigo", "Beeline", "Viettel", "Zain", "Telenor", "Turkcell"]
_CITIES = ["Capital", "North", "South", "East", "West", "Coast", "Central", "Highlands"]
_CUSTOMERS = ["Harbor Telecom", "Summit Voice", "Cedar Networks", "Granite Carrier", "Maple Connect",
              "Orion Wholesale", "Pioneer Mobile", "Quartz Comms", "=Formula Telecom", "Riverside VoIP",
              "Sterling Transit", "Beacon Routes", "Zoë & Søn <Carrier>", "Falcon Voice"]

# scale -> (countries, operators per country, city areas, codes per mobile area, codes per fixed area)
_SIZES = {"small": (12, (1, 2), 1, (3, 8), (2, 4)),
          "default": (60, (1, 4), 2, (10, 30), (4, 12)),
          "large": (60, (1, 4), 2, (10, 30), (4, 12))}
_AZ_SIZE = (len(_COUNTRIES), (3, 10), 6, (45, 90), (12, 40))


def demo_rates(seed: int, scale: str) -> dict[str, list[dict]]:
    """Code decks with areas and codes, plans with a group, rates incl. future ones, customers."""
    rng = random.Random(f"rates|{seed}|{scale}")
    data: dict[str, list[dict]] = {k: [] for k in (
        "customers.csv", "code_decks.csv", "areas.csv", "codes.csv", "rate_plans.csv", "date_templates.csv",
        "rates.csv", "customer_rp_setup.csv")}
    data["date_templates.csv"] = [
        dict(date_template="standard", increase_days=7, decrease_days=0, new_days=0, delete_days=7),
        dict(date_template="regulated", increase_days=30, decrease_days=1, new_days=1, delete_days=30),
    ]
    decks = [("Global Voice", _SIZES[scale]), ("Premium Routes", (max(6, _SIZES[scale][0] // 3), (1, 2), 1,
                                                                 (3, 10), (2, 5)))]
    if scale == "large":
        decks.append(("A-Z Wholesale", _AZ_SIZE))
    plans = {
        "Global Voice": [("Retail USD", "USD", "standard", "Standard;Retail"),
                         ("Wholesale EUR", "EUR", "standard", "Standard;Wholesale"),
                         ("Carrier GBP", "GBP", "regulated", "Wholesale")],
        "Premium Routes": [("Premium USD", "USD", "standard", "Premium"),
                           ("Premium EUR", "EUR", "regulated", "Premium")],
        "A-Z Wholesale": [("AZ Gold USD", "USD", "standard", "AZ"), ("AZ Silver USD", "USD", "standard", "AZ"),
                          ("AZ Bronze EUR", "EUR", "standard", "AZ"), ("AZ Carrier GBP", "GBP", "regulated", "AZ")],
    }
    for deck, size in decks:
        data["code_decks.csv"].append(dict(code_deck=deck))
        deck_areas = _deck(rng, deck, size, data)
        for rate_plan, currency, template, groups in plans[deck]:
            data["rate_plans.csv"].append(dict(rate_plan=rate_plan, code_deck=deck, currency=currency,
                                               date_template=template, rate_plan_groups=groups))
            _plan_rates(rng, rate_plan, deck_areas, data["rates.csv"])
    _customers(rng, [p["rate_plan"] for p in data["rate_plans.csv"]], data)
    return data


def _deck(rng: random.Random, deck: str, size, data) -> list[tuple[str, str]]:
    """Areas and codes of one deck; returns (area, kind) pairs."""
    countries, operators, cities, mobile_codes, fixed_codes = size
    chosen = _COUNTRIES if countries >= len(_COUNTRIES) else rng.sample(_COUNTRIES, countries)
    if not any(cc == "44" for _, cc in chosen):
        chosen = [*chosen[:-1], ("United Kingdom", "44")]
    used: set[str] = set()
    result: list[tuple[str, str]] = []

    def area(name: str, kind: str, prefixes: list[str]) -> None:
        fresh = [p for p in dict.fromkeys(prefixes) if p not in used]
        if not fresh:
            return
        used.update(fresh)
        start = _OLD_START if rng.random() < 0.5 else _START
        data["areas.csv"].append(dict(code_deck=deck, area=name, active_from=start, active_till=None))
        data["codes.csv"].extend(dict(code_deck=deck, area=name, code=p, active_from=start, active_till=None)
                                 for p in fresh)
        result.append((name, kind))

    for country, cc in sorted(chosen):
        ops = rng.sample(_OPERATORS, rng.randint(*operators))
        for n, op in enumerate(ops):
            head = f"{cc}{7 + n % 3}{n}"
            count = rng.randint(*mobile_codes)
            area(f"{country} Mobile {op}", "mobile",
                 [head + str(rng.randint(0, 10 ** k - 1)).zfill(k) for k in (2, 3) for _ in range(count // 2)])
        for c in range(cities):
            head = f"{cc}{2 + c % 7}{c}"
            area(f"{country} {_CITIES[c]}", "fixed",
                 [head + str(rng.randint(0, 999)).zfill(3) for _ in range(rng.randint(*fixed_codes))])
        area(f"{country} Fixed", "fixed", [f"{cc}1{d}" for d in range(10)] if len(cc) < 3 else [cc])
        if cc == "44":
            area("United Kingdom Special Services", "special", ["4477009001234567", "447700900", "4487"])
    area("Domestic Access", "special", ["0044", "00", "0"])
    return result


def _plan_rates(rng: random.Random, rate_plan: str, deck_areas, rows: list[dict]) -> None:
    base = {"mobile": (Decimal("0.0150"), Decimal("0.2200")), "fixed": (Decimal("0.0040"), Decimal("0.0900")),
            "special": (Decimal("0.1500"), Decimal("0.9000"))}
    for area, kind in deck_areas:
        low, high = base[kind]
        rate = (low + (high - low) * Decimal(rng.randint(0, 10_000)) / 10_000).quantize(Decimal("0.000001"))
        increment = rng.choice(["60/60", "60/60", "1/1", "30/6", "0/60/60"])
        policy = dict(locked=rng.random() < 0.02, policy_5g="allow", policy_ext="accept",
                      custom_1=None, custom_2=None, custom_3=None)
        start = _START
        if rng.random() < 0.3:  # an older rate, superseded at the start of the year
            old = (rate * Decimal("1.08")).quantize(Decimal("0.000001"))
            rows.append(dict(rate_plan=rate_plan, area=area, rate=old, increment=increment, active_from=_OLD_START,
                             active_till=_START, **policy))
        if rng.random() < 0.06:  # a future change already announced
            future = (rate * Decimal(rng.choice(["1.05", "1.12", "0.95"]))).quantize(Decimal("0.000001"))
            rows.append(dict(rate_plan=rate_plan, area=area, rate=rate, increment=increment, active_from=start,
                             active_till=_FUTURE, **policy))
            rows.append(dict(rate_plan=rate_plan, area=area, rate=future, increment=increment, active_from=_FUTURE,
                             active_till=None, **policy))
        else:
            rows.append(dict(rate_plan=rate_plan, area=area, rate=rate, increment=increment, active_from=start,
                             active_till=None, **policy))


def _customers(rng: random.Random, plan_names: list[str], data) -> None:
    for n, name in enumerate(_CUSTOMERS, start=1):
        cid = f"C{n:03d}"
        manager = f"manager{1 + n % 3}@carrier.example"
        data["customers.csv"].append(dict(customer_id=cid, name=name, account_manager_email=manager))
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:12] or cid.lower()
        for plan in rng.sample(plan_names, rng.randint(1, 2)):
            data["customer_rp_setup.csv"].append(dict(
                customer_id=cid, rate_plan=plan, status="disabled" if rng.random() < 0.15 else "enabled",
                amendment_template=rng.choice(["full-az", "changes-only"]), email_template="standard",
                to_emails=f"rates@{slug}.example", cc_emails=f"noc@{slug}.example" if rng.random() < 0.5 else None,
                bcc_emails=None, add_account_manager=rng.choice(["none", "cc", "bcc"]), csv_template="billing",
                ext_billing_customer=f"EXT-{cid}", ext_billing_rate_plan=f"EXT-{plan.upper().replace(' ', '-')}",
                comment=None))
