"""Deterministic demo data for the ``qbr`` domain, generated vectorised with numpy.

Every partner has a hidden "quality" between 0 and 1 that drives its figures, so the demo
shows realistic spreads: some excellent partners, some critical ones, and partners with
missing inputs (no revenue target, no surveys, no training assigned, no MDF). A few partner
names look like spreadsheet formulas or paths, as real partner data sometimes does.

Scales: ``small`` (6 partners, for tests), ``default`` (60 partners, 2024Q4–2026Q4) and
``large`` (10,000 partners, 2025Q1–2026Q4). The demo's "today" is :data:`TODAY`; the demo
quarter (the last complete one) is :data:`DEMO_QUARTER`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterator

import numpy as np

from ..periods import Quarter
from .data import STAGES

__all__ = ["DEMO_QUARTER", "TODAY", "FrameRows", "demo_qbr"]

DEMO_QUARTER = Quarter(2026, 3)
TODAY = date(2026, 11, 20)
_SIZES = {"small": (6, Quarter(2024, 4)), "default": (60, Quarter(2024, 4)), "large": (10_000, Quarter(2025, 1))}
_LAST = Quarter(2026, 4)
_WORDS = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware", "Wingtip", "Lucerne",
          "Coho", "Alpine", "Blue Yonder", "Trey", "Woodgrove", "Relecloud", "VanArsdel", "Wide World",
          "Southridge", "Lamna", "Bellows", "Datum", "Munson", "Nod", "Adventure", "Fourth Coffee", "Humongous"]
_KINDS = ["Solutions", "Systems", "Consulting", "Integration", "Cloud", "Networks", "Digital", "Partners"]
_TRICKY = ['=HYPERLINK("http://example.invalid","click")', "ACME/../../Labs"]
_REGIONS = ["North America", "EMEA", "DACH", "APAC", "LATAM"]
_MANAGERS = ["Avery Chen", "Jordan Patel", "Morgan Rivera", "Sam Okafor", "Riley Novak", "Casey Lindqvist"]
_ACCOUNT_MANAGERS = ["Dana Brooks", "Elliot Park", "Harper Singh", "Quinn Moreau", "Rowan Ito"]
_LOSS = ["price", "competitor", "no decision", "timing", "product fit"]
_REJECT = ["duplicate", "existing customer", "incomplete", "conflict with direct deal"]
_CERTS = ["Platform Fundamentals", "Cloud Architect", "Security Specialist", "Data Engineer", "Sales Professional"]
_LEVELS = ["Associate", "Professional", "Expert"]
_TIER_P = [0.2, 0.35, 0.45]
_TIERS = np.array(["strategic", "select", "registered"], dtype=object)
_DEAL_RATE = np.array([6.5, 4.0, 2.2])        # deals created per quarter, by tier
_DEAL_SIZE = np.array([60_000, 24_000, 9_000])  # typical deal amount, by tier
_REG_RATE = np.array([4.0, 2.5, 1.2])
_CUSTOMERS = np.array([12, 7, 4])
_MDF = np.array([20_000, 8_000, 0])
_DAY0 = np.datetime64("1970-01-01", "D")


class FrameRows:
    """Columns of equal length (numpy arrays) that iterate as row dicts of Python values.

    Rows are converted in chunks, so a 10,000-partner demo never holds a million dicts.
    """

    def __init__(self, columns: dict[str, np.ndarray]):
        self.columns = columns
        self._len = len(next(iter(columns.values()))) if columns else 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = list(self.columns)
        for start in range(0, self._len, 5000):
            chunk = [_python(self.columns[k][start:start + 5000]) for k in keys]
            for values in zip(*chunk):
                yield dict(zip(keys, values))


def _python(values: np.ndarray) -> list:
    if values.dtype.kind == "M":
        return values.astype(object).tolist()  # NaT becomes None
    if values.dtype == object:
        return [None if (v is None or (isinstance(v, float) and v != v)) else v for v in values.tolist()]
    return values.tolist()


def _days(day: np.ndarray) -> np.ndarray:
    """Day numbers (days since 1970-01-01, -1 for none) as dates (NaT for none)."""
    out = _DAY0 + day.astype("int64").astype("timedelta64[D]")
    return np.where(day < 0, np.datetime64("NaT"), out)


def _ids(prefix: str, count: int, width: int = 7) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, count + 1).astype(str), width)).astype(object)


def _num(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def demo_qbr(seed: int, scale: str) -> dict[str, FrameRows]:
    """All fourteen files of the ``qbr`` domain for ``scale`` (deterministic in ``seed``)."""
    n, first = _SIZES[scale]
    rng = np.random.default_rng([seed, list(_SIZES).index(scale), 3])
    quarters = []
    q = first
    while q <= _LAST:
        quarters.append(q)
        q += 1
    nq = len(quarters)
    qstart = np.array([_num(q.start) for q in quarters])
    qlen = np.array([(q.end - q.start).days for q in quarters])
    today = _num(TODAY)
    width = max(3, len(str(n)))

    # Partners: tier, segment, hidden quality and which inputs are missing.
    tier = rng.choice(3, size=n, p=_TIER_P)
    quality = rng.beta(2.2, 2.0, size=n)
    inactive = rng.random(n) < 0.07
    no_target = rng.random(n) < 0.06
    no_surveys = rng.random(n) < 0.06
    no_training = rng.random(n) < 0.04
    fixed = {0: (0, 0.97), 1: (1, 0.06), 2: (1, 0.55), 3: (2, 0.45), 4: (1, 0.8), 5: (2, 0.3)}
    for index, (t, qual) in fixed.items():
        if index < n:
            tier[index], quality[index], inactive[index] = t, qual, False
            no_target[index] = index == 2
            no_surveys[index] = index == 3
            no_training[index] = False
    if n > 6:
        inactive[6] = True
    if n > 8:
        quality[7], quality[8] = 0.92, 0.12  # a second excellent and a second critical partner
    names = np.array([f"{_WORDS[i % len(_WORDS)]} {_KINDS[(i * 7 + i // len(_WORDS)) % len(_KINDS)]}"
                      + (f" {i // len(_WORDS) + 1}" if i >= len(_WORDS) else "") for i in range(n)], dtype=object)
    for k, name in enumerate(_TRICKY):
        if 4 + k < n:
            names[4 + k] = name
    pid = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)
    start_day = rng.integers(_num(date(2018, 1, 1)), _num(date(2024, 6, 30)), size=n)
    end_day = np.where(rng.random(n) < 0.3, -1, _num(date(2027, 1, 1)) + rng.integers(0, 900, size=n))
    files: dict[str, FrameRows] = {}
    files["partners.csv"] = FrameRows({
        "partner_id": pid, "name": names, "tier": _TIERS[tier],
        "segment": np.where(rng.random(n) < 0.4, "focus", "assist").astype(object),
        "region": np.array(_REGIONS, dtype=object)[rng.integers(0, len(_REGIONS), n)],
        "partner_manager": np.array(_MANAGERS, dtype=object)[rng.integers(0, len(_MANAGERS), n)],
        "account_manager": np.array(_ACCOUNT_MANAGERS, dtype=object)[rng.integers(0, len(_ACCOUNT_MANAGERS), n)],
        "start_date": _days(start_day), "contract_end_date": _days(end_day),
        "status": np.where(inactive, "inactive", "active").astype(object),
    })

    def per_quarter(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows drawn per partner and quarter: (partner index, quarter index) of each row."""
        counts = rng.poisson(np.broadcast_to(rate, (n, nq)))
        p_idx = np.repeat(np.repeat(np.arange(n), nq), counts.ravel())
        q_idx = np.repeat(np.tile(np.arange(nq), n), counts.ravel())
        return p_idx, q_idx

    def day_in(q_idx: np.ndarray) -> np.ndarray:
        return qstart[q_idx] + (rng.random(len(q_idx)) * qlen[q_idx]).astype(int)

    # Opportunities: a won deal's revenue falls in the quarter it closes.
    growth = 1 + 0.25 * (quality[:, None] - 0.4) * np.arange(nq)[None, :] / nq
    p, qi = per_quarter(_DEAL_RATE[tier][:, None] * growth * (0.6 + 0.8 * quality[:, None]))
    qual = quality[p]
    created = day_in(qi)
    keep = created <= today
    p, qi, qual, created = p[keep], qi[keep], qual[keep], created[keep]
    m = len(p)
    amount = np.maximum(500, np.round(_DEAL_SIZE[tier[p]] * rng.lognormal(0, 0.45, m), -2)).astype(np.int64)
    # Most deals close within weeks; enterprise deals (more of them at better partners) take
    # months, and are what keeps a quarter's pipeline open at its end.
    cycle = (25 + (1 - qual) * 90 + rng.exponential(15, m)).astype(int)
    cycle = np.where(rng.random(m) < 0.15 + 0.35 * qual, rng.integers(110, 330, m), cycle)
    close = created + cycle
    won = rng.random(m) < 0.15 + 0.6 * qual
    is_open = close > today
    status = np.where(is_open, "open", np.where(won, "won", "lost")).astype(object)
    stage_idx = np.where(status == "won", 4, np.where(
        is_open, rng.integers(0, 4, m), np.minimum(4, rng.integers(0, 5, m))))
    files["opportunities.csv"] = FrameRows({
        "opportunity_id": _ids("O", m), "partner_id": pid[p], "amount": amount,
        "stage": np.array(STAGES, dtype=object)[stage_idx], "created_date": _days(created),
        "close_date": _days(np.where(is_open, -1, close)), "status": status,
        "loss_reason": np.where(status == "lost", np.array(_LOSS, dtype=object)[rng.integers(0, len(_LOSS), m)],
                                None),
    })

    # Targets: what a middling partner of the tier would sell, so the best ones beat it.
    expected = _DEAL_RATE[tier] * _DEAL_SIZE[tier] * 0.55
    tgt = np.round(expected[:, None] * growth * rng.uniform(0.85, 1.2, (n, nq)), -3).astype(np.int64)
    tp, tq = np.nonzero(~no_target[:, None] & np.ones((n, nq), dtype=bool))
    files["targets.csv"] = FrameRows({
        "partner_id": pid[tp], "quarter": np.array([str(q) for q in quarters], dtype=object)[tq],
        "revenue_target": tgt[tp, tq]})

    # Deal registrations: the furthest state reached; undecided ones stay "submitted".
    p, qi = per_quarter(_REG_RATE[tier][:, None] * np.ones((1, nq)))
    qual = quality[p]
    submitted = (qstart[qi] * 86400 + rng.random(len(p)) * qlen[qi] * 86400).astype(np.int64)
    keep = submitted < today * 86400
    p, qi, qual, submitted = p[keep], qi[keep], qual[keep], submitted[keep]
    m = len(p)
    hours = 2 + rng.exponential(8 + 80 * (1 - qual), m)
    decided = submitted + (hours * 3600).astype(np.int64)
    pending = decided > today * 86400
    approved = rng.random(m) < 0.4 + 0.55 * qual
    outcome = rng.random(m)
    status = np.where(pending, "submitted", np.where(~approved, "rejected", np.where(
        outcome < 0.2 + 0.5 * qual, "won", np.where(outcome > 0.85, "lost", "approved")))).astype(object)
    files["deal_registrations.csv"] = FrameRows({
        "registration_id": _ids("R", m), "partner_id": pid[p],
        "submitted_at": submitted.astype("datetime64[s]"),
        "status": status,
        "decided_at": np.where(pending, np.datetime64("NaT"), decided.astype("datetime64[s]")),
        "rejection_reason": np.where(status == "rejected",
                                     np.array(_REJECT, dtype=object)[rng.integers(0, len(_REJECT), m)], None),
        "opportunity_id": np.full(m, None, dtype=object),
    })

    # Training: courses C01.. assigned over the history, completed by the better partners.
    k = np.where(no_training, 0, rng.integers(3, 13, n))
    p = np.repeat(np.arange(n), k)
    course = np.concatenate([np.arange(1, c + 1) for c in k]) if k.sum() else np.zeros(0, dtype=int)
    assigned = rng.integers(qstart[0] - 200, today - 10, len(p))
    done = assigned + rng.integers(5, 90, len(p))
    completed = np.where((rng.random(len(p)) < 0.25 + 0.7 * quality[p]) & (done <= today), done, -1)
    files["training.csv"] = FrameRows({
        "partner_id": pid[p], "course_id": np.char.add("C", np.char.zfill(course.astype(str), 2)).astype(object),
        "assigned_date": _days(assigned), "completed_date": _days(completed)})

    # Certifications: each one at most once per partner, valid two years.
    k = rng.integers(0, 5, n)
    p = np.repeat(np.arange(n), k)
    which = np.concatenate([rng.permutation(len(_CERTS))[:c] for c in k]) if k.sum() else np.zeros(0, dtype=int)
    issued = rng.integers(today - 3 * 365, today - 5, len(p))
    files["certifications.csv"] = FrameRows({
        "partner_id": pid[p], "certification": np.array(_CERTS, dtype=object)[which],
        "level": np.array(_LEVELS, dtype=object)[rng.integers(0, 3, len(p))],
        "issued_date": _days(issued), "expiry_date": _days(issued + 730)})

    # Portal activity: one row per partner and month, logins driven by quality and a trend.
    months = np.arange(np.datetime64(quarters[0].start, "M"), np.datetime64(TODAY, "M") + 1)
    p = np.repeat(np.arange(n), len(months))
    mi = np.tile(np.arange(len(months)), n)
    trend = 1 + (rng.normal(0, 0.3, n)[p]) * mi / len(months)
    logins = rng.poisson(np.maximum(0.1, (0.4 + 7 * quality[p]) * trend))
    files["portal_activity.csv"] = FrameRows({
        "partner_id": pid[p], "date": months[mi].astype("datetime64[D]"), "logins": logins,
        "session_minutes": logins * rng.integers(4, 40, len(p)),
        "content_views": logins * rng.integers(1, 9, len(p))})

    # Events and marketing collaborations.
    p, qi = per_quarter((0.8 + 2.2 * quality)[:, None] * np.ones((1, nq)))
    day = day_in(qi)
    keep = day <= today
    p, day = p[keep], day[keep]
    files["events.csv"] = FrameRows({
        "partner_id": pid[p], "event_id": _ids("E", len(p)),
        "kind": np.array(["event", "webinar", "conference"], dtype=object)[rng.choice(3, len(p), p=[0.3, 0.55, 0.15])],
        "date": _days(day), "attended": rng.random(len(p)) < 0.3 + 0.65 * quality[p]})
    p, qi = per_quarter((0.1 + 1.6 * quality)[:, None] * np.ones((1, nq)))
    day = day_in(qi)
    keep = day <= today
    p, day = p[keep], day[keep]
    files["marketing.csv"] = FrameRows({
        "partner_id": pid[p], "date": _days(day),
        "kind": np.array(["co_marketing", "case_study", "reference"], dtype=object)[rng.integers(0, 3, len(p))]})

    # MDF: strategic and select partners get an allocation; registered partners have none.
    alloc = np.round(_MDF[tier][:, None] * rng.uniform(0.8, 1.2, (n, nq)), -2).astype(np.int64)
    ap, aq = np.nonzero(alloc > 0)
    files["mdf_allocations.csv"] = FrameRows({
        "partner_id": pid[ap], "quarter": np.array([str(q) for q in quarters], dtype=object)[aq],
        "allocated": alloc[ap, aq]})
    p, qi = per_quarter(np.where(_MDF[tier] > 0, 1.6, 0.0)[:, None] * np.ones((1, nq)))
    sub = day_in(qi)
    keep = sub <= today
    p, qi, sub = p[keep], qi[keep], sub[keep]
    m = len(p)
    qual = quality[p]
    requested = np.round(alloc[p, qi] * rng.uniform(0.3, 0.7, m), -2).astype(np.int64)
    pending = sub > today - 10
    approved = ~pending & (rng.random(m) < 0.6 + 0.35 * qual)
    appr_amount = np.where(approved, np.round(requested * rng.uniform(0.7, 1.0, m), -1), -1).astype(np.int64)
    first_spend = sub + rng.integers(5, 20, m) + ((1 - qual) * 50).astype(int)
    spends = approved & (first_spend <= today)
    spent = np.where(spends, np.round(appr_amount * rng.uniform(0.35, 1.0, m) * (0.6 + 0.4 * qual), -1), -1)
    attributed = np.where(spends, np.round(spent * (0.8 + 6 * qual) * rng.lognormal(0, 0.3, m), -1), -1)
    files["mdf_requests.csv"] = FrameRows({
        "request_id": _ids("M", m), "partner_id": pid[p], "submitted_date": _days(sub),
        "status": np.where(pending, "submitted", np.where(approved, "approved", "rejected")).astype(object),
        "requested": requested, "approved_amount": _nullable(appr_amount), "spent": _nullable(spent),
        "first_spend_date": _days(np.where(spends, first_spend, -1)), "attributed_revenue": _nullable(attributed)})

    # Customers, then surveys and tickets about them.
    k = rng.poisson(_CUSTOMERS[tier]) + 1
    p = np.repeat(np.arange(n), k)
    m = len(p)
    qual = quality[p]
    contract = rng.integers(qstart[0] - 500, today - 5, m)
    live = contract + (20 + (1 - qual) * 110 + rng.integers(0, 40, m)).astype(int)
    live = np.where(live <= today, live, -1)
    churn = live + rng.integers(60, 800, m)
    churn = np.where((live >= 0) & (rng.random(m) < 0.04 + 0.3 * (1 - qual)) & (churn <= today), churn, -1)
    files["customers.csv"] = FrameRows({
        "customer_id": _ids("C", m), "partner_id": pid[p], "contract_date": _days(contract),
        "go_live_date": _days(live), "churn_date": _days(churn)})
    first_customer = np.concatenate([[0], np.cumsum(k)[:-1]])
    customer_ids = files["customers.csv"].columns["customer_id"]

    def customer_of(rows_p: np.ndarray) -> np.ndarray:
        return customer_ids[first_customer[rows_p] + (rng.random(len(rows_p)) * k[rows_p]).astype(int)]

    p, qi = per_quarter(np.where(no_surveys, 0.0, 1 + 0.35 * k)[:, None] * np.ones((1, nq)))
    day = day_in(qi)
    keep = day <= today
    p, day = p[keep], day[keep]
    m = len(p)
    qual = quality[p]
    csat = np.clip(np.round(rng.normal(2.4 + 2.5 * qual, 0.6, m)), 1, 5).astype(np.int64)
    nps = np.clip(np.round(rng.normal(3.5 + 6.5 * qual, 1.6, m)), 0, 10).astype(np.int64)
    files["surveys.csv"] = FrameRows({
        "survey_id": _ids("S", m), "partner_id": pid[p], "customer_id": customer_of(p), "date": _days(day),
        "csat": _nullable(np.where(rng.random(m) < 0.06, -1, csat)),
        "nps": _nullable(np.where(rng.random(m) < 0.06, -1, nps))})
    p, qi = per_quarter((0.6 * k)[:, None] * np.ones((1, nq)))
    day = day_in(qi)
    keep = day <= today
    p, day = p[keep], day[keep]
    m = len(p)
    qual = quality[p]
    files["tickets.csv"] = FrameRows({
        "ticket_id": _ids("T", m), "partner_id": pid[p], "customer_id": customer_of(p), "opened_date": _days(day),
        "first_contact_resolved": rng.random(m) < 0.4 + 0.5 * qual,
        "escalated": rng.random(m) < 0.24 - 0.2 * qual})
    return files


def _nullable(values: np.ndarray) -> np.ndarray:
    """Whole numbers with -1 for "none" as an object array of int or None."""
    out = values.astype(np.int64).astype(object)
    out[values < 0] = None
    return out
