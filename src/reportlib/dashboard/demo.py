"""Deterministic demo data for the ``leads`` domain, generated column-wise with numpy.

Sizes (enterprises, leads in each history month, leads in the report month 2026-10):
``small`` 12 / 150 / 150 for tests, ``default`` 60 / 10,000 / 12,000, ``large`` 300 / 40,000 /
1,000,000. History runs from 2025-09 to 2026-09, plus 2026-11 up to the 20th (a month in
progress). The history is kept lighter than the large report month on purpose: the large
scale exists to measure one month of 1,000,000 leads, and 13 more such months would only make
``reportlib demo --scale large`` slow.

The data is returned as DataFrames, which :func:`reportlib.load.write_domain` inserts through
its bulk path (COPY on PostgreSQL, executemany of tuples on SQLite) — a dict per row would
take minutes at a million leads.

Advertiser and publisher names are messy as users type them: case, stray spaces, geo and
legal suffixes (merged by normalisation) and typos (only proposed by fuzzy matching).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import Month

__all__ = ["ADVERTISERS", "DEMO_MONTH", "JOBS", "PUBLISHERS", "demo_leads", "name_variants"]

DEMO_MONTH = Month(2026, 10)
FIRST_MONTH = Month(2025, 9)
CUTOFF_DAY = 20  # 2026-11 is in progress: leads up to the 20th
_SIZES = {"small": (12, 150, 150), "default": (60, 10_000, 12_000), "large": (300, 40_000, 1_000_000)}

ADVERTISERS = ["Hilton", "Marriott", "Salesforce", "HubSpot", "Adobe", "Oracle", "SAP", "Cisco", "Dell Technologies",
               "HP", "IBM", "Microsoft", "Zoom", "Atlassian", "Workday", "ServiceNow", "Snowflake", "Datadog",
               "Twilio", "Shopify", "Stripe", "DocuSign", "Dropbox", "Okta", "Zendesk", "Intuit", "Autodesk",
               "Siemens", "Philips", "Accenture", "Deloitte", "KPMG", "Expedia", "Hyatt", "Accor", "Emirates",
               "Lufthansa", "Pfizer", "Medtronic", "Unilever"]
PUBLISHERS = ["TechTarget", "Bombora", "Madison Logic", "NetLine", "Integrate", "Demandbase", "Foundry",
              "Ziff Davis", "Anteriad", "DemandScience", "INFUSEmedia", "Pipeline360", "Leadspace", "ZoomInfo",
              "Cognism", "Lusha", "G2", "TrustRadius", "Spiceworks", "Informa"]
VERTICALS = {
    "Technology": ["Software", "Hardware", "IT Services"],
    "Healthcare": ["Hospitals", "Pharma", "Medical Devices"],
    "Financial Services": ["Banking", "Insurance", "Fintech"],
    "Manufacturing": ["Automotive", "Industrial", "Chemicals"],
    "Education": ["Higher Education", "K-12", "EdTech"],
    "Retail": ["E-commerce", "Consumer Goods", "Grocery"],
    "Travel & Hospitality": ["Hotels", "Airlines", "Travel Services"],
    "Telecom": ["Carriers", "Networking", "Media"],
}
CHANNEL_MIX = {"LI connected app": 0.34, "E2E": 0.22, "upload": 0.26, "API": 0.18}
COUNTRIES = {"US": 0.38, "GB": 0.12, "DE": 0.09, "FR": 0.07, "CA": 0.07, "AU": 0.05, "IN": 0.08, "NL": 0.04,
             "ES": 0.04, "BR": 0.06}
JOBS = ["email_syntax", "phone_check", "duplicate_check", "company_match", "consent_check", "geo_ip"]
# Failure probability per (enterprise type, job): agency leads fail on duplicates, consent
# and company matching — the seed's "agency leads fail because of jobs A, B and C".
_FAIL = {
    "agency": [0.03, 0.05, 0.16, 0.12, 0.14, 0.03],
    "publisher": [0.04, 0.08, 0.06, 0.05, 0.04, 0.09],
    "brand": [0.02, 0.03, 0.03, 0.04, 0.02, 0.02],
}
_ENTERPRISE_WORDS = ["Apex", "Bluewater", "Crimson", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Ivory",
                     "Juniper", "Kestrel", "Lumen", "Meridian", "Northstar", "Orbit", "Pinnacle", "Quill", "Redwood",
                     "Summit", "Tidal", "Umbra", "Vertex", "Willow", "Xenon", "Yonder", "Zephyr"]
_TYPE_SUFFIX = {"agency": ["Media Agency", "Growth Partners", "Demand Agency"],
                "publisher": ["Publishing", "Media Network", "Content Group"],
                "brand": ["Software", "Health", "Industries"]}
# Names a platform really receives, which must stay plain text in every output.
_TRICKY = [("=HYPERLINK(\"http://example.invalid\",\"click\")", "agency"), ("@Home Leads", "publisher"),
           ("<script>alert(1)</script> Digital", "brand"), ("+Plus Demand & Co", "agency")]
_GEO = [" UK", " - EMEA", " (US)", " APAC", " Germany", " LATAM"]
_LEGAL = [", Inc.", " Ltd", " GmbH", " LLC", " Corp.", " plc"]


def _typo(name: str, k: int) -> str:
    """A typing slip: a dropped or doubled letter, or two letters swapped."""
    inner = [i for i in range(1, len(name) - 1) if name[i].isalpha()] or [0]
    i = inner[k % len(inner)]
    if k % 3 == 0:
        return name[:i] + name[i + 1:]
    if k % 3 == 1:
        return name[:i] + name[i] + name[i:]
    return name[:i] + name[i + 1] + name[i] + name[i + 2:] if i + 2 <= len(name) else name + name[-1]


def name_variants(name: str, k: int) -> list[str]:
    """Six ways users write ``name``; the first is clean, the last is a typo (with a region)."""
    return [name, name.lower() + " ", "  " + name.upper() if k % 2 else name.replace(" ", "  ") + "  ",
            name + _GEO[k % len(_GEO)], name + _LEGAL[k % len(_LEGAL)], _typo(name, k) + _GEO[(k + 1) % len(_GEO)]]


def _zipf(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _pick(rng: np.random.Generator, probabilities: dict[str, float] | np.ndarray, size: int) -> np.ndarray:
    p = np.fromiter(probabilities.values(), float) if isinstance(probabilities, dict) else probabilities
    return rng.choice(len(p), size=size, p=p / p.sum())


def _enterprises(rng: np.random.Generator, count: int) -> pd.DataFrame:
    types = np.array(["agency", "publisher", "brand"])[_pick(rng, np.array([0.45, 0.3, 0.25]), count)]
    names = []
    for i, kind in enumerate(types):
        word = _ENTERPRISE_WORDS[i % len(_ENTERPRISE_WORDS)]
        suffix = _TYPE_SUFFIX[kind][(i // len(_ENTERPRISE_WORDS)) % 3]
        names.append(f"{word} {suffix}" + (f" {i // (3 * len(_ENTERPRISE_WORDS)) + 1}" if i >= 3 * len(_ENTERPRISE_WORDS) else ""))
    # The tricky names sit among the biggest accounts so that every report shows them.
    for slot, (name, kind) in zip((1, 3, 5, 7), _TRICKY):
        if slot < count:
            names[slot], types[slot] = name, kind
    return pd.DataFrame({"enterprise_id": [f"E{i + 1:04d}" for i in range(count)], "name": names,
                         "enterprise_type": types})


def demo_leads(seed: int, scale: str) -> dict[str, pd.DataFrame]:
    """Enterprises, leads over 14 months and a part month, and the validation jobs of each lead."""
    rng = np.random.default_rng([seed, 6, list(_SIZES).index(scale)])
    enterprise_count, history, report = _SIZES[scale]
    enterprises = _enterprises(rng, enterprise_count)

    months = [FIRST_MONTH + i for i in range(15)]  # 2025-09 .. 2026-11
    report_index = months.index(DEMO_MONTH)
    sizes, starts, spans = [], [], []
    for index, month in enumerate(months):
        n = report if month == DEMO_MONTH else int(history * (1 + 0.015 * index))
        span = (month.end - month.start).days * 86400
        if month == Month(2026, 11):
            span = CUTOFF_DAY * 86400
            n = n * CUTOFF_DAY // 30
        sizes.append(n)
        starts.append(np.datetime64(month.start, "s"))
        spans.append(span)
    month_index = np.repeat(np.arange(len(months)), sizes)
    n = len(month_index)
    offsets = (rng.random(n) * np.asarray(spans)[month_index]).astype("int64")
    created = np.asarray(starts)[month_index] + offsets.astype("timedelta64[s]")
    order = np.argsort(created, kind="stable")
    created, month_index = created[order], month_index[order]

    enterprise = _pick(rng, _zipf(enterprise_count, 0.9), n)
    kinds = enterprises["enterprise_type"].to_numpy()
    type_index = np.searchsorted(np.array(["agency", "brand", "publisher"]), kinds)[enterprise]
    advertisers = np.array([v for k, name in enumerate(ADVERTISERS) for v in name_variants(name, k)], dtype=object)
    publishers = np.array([v for k, name in enumerate(PUBLISHERS) for v in name_variants(name, k + 3)], dtype=object)
    variant_p = np.array([0.7, 0.08, 0.05, 0.07, 0.06, 0.04])
    advertiser = _pick(rng, _zipf(len(ADVERTISERS), 1.0), n) * 6 + _pick(rng, variant_p, n)
    publisher = _pick(rng, _zipf(len(PUBLISHERS), 0.8), n) * 6 + _pick(rng, variant_p, n)
    vertical = _pick(rng, np.array([0.3, 0.14, 0.14, 0.1, 0.08, 0.1, 0.08, 0.06]), n)
    industry_names = np.array([i for v in VERTICALS.values() for i in v], dtype=object)
    industry = vertical * 3 + rng.integers(0, 3, n)
    channel = _pick(rng, CHANNEL_MIX, n)
    country = _pick(rng, COUNTRIES, n)
    processed = rng.random(n) < 0.93

    # Validation jobs: 1 to 3 distinct jobs per processed lead.
    job_count = np.where(processed, 1 + (rng.random(n) < 0.6) + (rng.random(n) < 0.3), 0)
    first_job = rng.integers(0, len(JOBS), n)
    step = np.where(rng.random(n) < 0.5, 1, 5)  # coprime with 6: three slots never repeat a job
    fail = np.array([_FAIL[t] for t in ("agency", "brand", "publisher")])
    # Each account drifts; a few jump in the report month, so that "biggest movers" has news.
    drift = np.exp(rng.normal(0, 0.35, enterprise_count))
    jump = np.where(rng.random(enterprise_count) < 0.2, rng.choice([0.4, 2.2], enterprise_count), 1.0)
    month_factor = np.where(month_index == report_index, jump[enterprise], 1.0) * drift[enterprise]
    job_lead, job_index, job_failed = [], [], []
    failures = np.zeros(n, dtype=np.int64)
    for slot in range(3):
        has = job_count > slot
        lead_ids = np.nonzero(has)[0]
        jobs = (first_job[has] + slot * step[has]) % len(JOBS)
        p = np.clip(fail[type_index[has], jobs] * month_factor[has], 0, 0.9)
        failed = rng.random(len(lead_ids)) < p
        failures[lead_ids] += failed
        job_lead.append(lead_ids)
        job_index.append(jobs)
        job_failed.append(failed)

    u = rng.random(n)
    status = np.where(processed, np.where(failures > 0, 1, np.where(u < 0.07, 2, 0)),
                      np.where(u < 0.75, 0, np.where(u < 0.87, 1, 2)))
    deleted = rng.random(n) < np.where(status == 1, 0.08, 0.025)
    billable = (status == 0) & ~deleted & processed & (rng.random(n) < 0.97)

    ids = np.array([f"L{i:08d}" for i in range(1, n + 1)], dtype=object)
    leads = pd.DataFrame({
        "lead_id": ids,
        "created_at": created.astype("datetime64[us]"),
        "enterprise_id": enterprises["enterprise_id"].to_numpy()[enterprise],
        "advertiser": advertisers[advertiser],
        "publisher": publishers[publisher],
        "channel": np.array(list(CHANNEL_MIX), dtype=object)[channel],
        "vertical": np.array(list(VERTICALS), dtype=object)[vertical],
        "industry": industry_names[industry],
        "country": np.array(list(COUNTRIES), dtype=object)[country],
        "status": np.array(["valid", "invalid", "caution"], dtype=object)[status],
        "deleted": deleted,
        "billable": billable,
        "processed": processed,
    })
    lead_index = np.concatenate(job_lead)
    order = np.lexsort((np.concatenate(job_index), lead_index))
    jobs = pd.DataFrame({
        "lead_id": ids[lead_index[order]],
        "job": np.array(JOBS, dtype=object)[np.concatenate(job_index)[order]],
        "outcome": np.where(np.concatenate(job_failed)[order], "fail", "pass").astype(object),
    })
    return {"enterprises.csv": enterprises, "leads.csv": leads, "lead_jobs.csv": jobs}
