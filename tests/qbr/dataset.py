"""A small hand-checked QBR dataset for 2026Q3; the expected figures are worked out in comments.

Partners: A1 (strategic, every input), B2 (a name that is a formula and a path), C3 (no
target, no surveys, no registrations), D4 (inactive).
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

from reportlib.demo import export_csv
from reportlib.domains import get_domain

TRICKY = '=HYPERLINK("http://x.invalid","x")/../../escape'


def _p(pid, name, tier, status="active"):
    return dict(partner_id=pid, name=name, tier=tier, segment="focus", region="EMEA", partner_manager="Pat Manager",
                account_manager="Alex Account", start_date=date(2020, 1, 1), contract_end_date=None, status=status)


def _o(oid, pid, amount, stage, created, status, close=None):
    return dict(opportunity_id=oid, partner_id=pid, amount=D(amount), stage=stage, created_date=created,
                close_date=close, status=status, loss_reason="price" if status == "lost" else None)


def _r(rid, pid, submitted, status, decided=None):
    return dict(registration_id=rid, partner_id=pid, submitted_at=submitted, status=status, decided_at=decided,
                rejection_reason="duplicate" if status == "rejected" else None, opportunity_id=None)


def qbr_rows() -> dict[str, list[dict]]:
    partners = [_p("A1", "Alpha Systems", "strategic"), _p("B2", TRICKY, "select"),
                _p("C3", "Gamma Consulting", "registered"), _p("D4", "Delta Dormant", "select", "inactive")]
    opportunities = [
        # A1 revenue 2026Q3 = o1 + o2 = 100,000.00 (o2 closes on the quarter's last day);
        # o3 closes on 2026-10-01 (next quarter, excluded); o4 is 2026Q2's 30,000.00.
        _o("o1", "A1", "60000.00", "commit", date(2026, 5, 1), "won", date(2026, 7, 15)),    # 75 days
        _o("o2", "A1", "40000.00", "commit", date(2026, 6, 1), "won", date(2026, 9, 30)),    # 121 days
        _o("o3", "A1", "25000.00", "commit", date(2026, 8, 1), "won", date(2026, 10, 1)),
        _o("o4", "A1", "30000.00", "commit", date(2026, 4, 1), "won", date(2026, 6, 30)),    # 90 days
        _o("o5", "A1", "10000.00", "propose", date(2026, 7, 1), "lost", date(2026, 8, 1)),
        _o("o6", "A1", "5000.00", "qualify", date(2026, 7, 10), "lost", date(2026, 9, 1)),
        # Pipeline at 2026-09-30: o7 + o9 = 250,000.00 in 2 deals; o8 was created after the quarter.
        _o("o7", "A1", "150000.00", "negotiate", date(2026, 8, 15), "open"),
        _o("o8", "A1", "50000.00", "qualify", date(2026, 10, 5), "open"),
        _o("o9", "A1", "100000.00", "develop", date(2026, 3, 1), "open"),
        # o10 closed before the trailing four quarters (2025-10-01 on); o11 is in them (30 days, YTD).
        _o("o10", "A1", "20000.00", "commit", date(2025, 8, 1), "won", date(2025, 9, 15)),
        _o("o11", "A1", "10000.00", "commit", date(2026, 1, 10), "won", date(2026, 2, 9)),
        _o("o20", "B2", "10000.00", "commit", date(2026, 7, 1), "won", date(2026, 7, 31)),   # 30 days
        _o("o30", "C3", "20000.00", "commit", date(2026, 6, 1), "won", date(2026, 7, 1)),    # 30 days
        _o("o31", "C3", "8000.00", "propose", date(2026, 7, 2), "lost", date(2026, 8, 2)),
    ]
    targets = [dict(partner_id="A1", quarter="2026Q3", revenue_target=D("80000.00")),
               dict(partner_id="A1", quarter="2026Q2", revenue_target=D("60000.00")),
               dict(partner_id="B2", quarter="2026Q3", revenue_target=D("50000.00"))]
    registrations = [
        # A1 in 2026Q3: 4 submitted, 2 approved (r1, r2), 1 won; approvals took 24 h and 48 h.
        _r("r1", "A1", datetime(2026, 7, 1, 9), "approved", datetime(2026, 7, 2, 9)),
        _r("r2", "A1", datetime(2026, 7, 10, 10), "won", datetime(2026, 7, 12, 10)),
        _r("r3", "A1", datetime(2026, 8, 1, 8), "rejected", datetime(2026, 8, 1, 20)),
        _r("r4", "A1", datetime(2026, 9, 30, 23), "submitted"),
        _r("r5", "A1", datetime(2026, 6, 30, 23, 59), "approved", datetime(2026, 7, 1, 1)),  # 2026Q2
        _r("r6", "A1", datetime(2026, 10, 1, 0), "won", datetime(2026, 10, 2)),              # 2026Q4
    ]
    training = [
        # A1: 4 courses assigned by 2026-09-30 (c4 came later), 2 completed by then -> 50 %.
        dict(partner_id="A1", course_id="c1", assigned_date=date(2026, 1, 10), completed_date=date(2026, 2, 1)),
        dict(partner_id="A1", course_id="c2", assigned_date=date(2026, 3, 1), completed_date=date(2026, 9, 30)),
        dict(partner_id="A1", course_id="c3", assigned_date=date(2026, 6, 1), completed_date=date(2026, 10, 5)),
        dict(partner_id="A1", course_id="c4", assigned_date=date(2026, 10, 2), completed_date=None),
        dict(partner_id="A1", course_id="c5", assigned_date=date(2026, 5, 1), completed_date=None),
        dict(partner_id="C3", course_id="c1", assigned_date=date(2026, 1, 1), completed_date=date(2026, 2, 1)),
    ]
    certifications = [
        # A1: X and Y active at 2026-09-30, Y expires within 90 days; Z expired that day; W came later.
        dict(partner_id="A1", certification="X", level="Expert", issued_date=date(2025, 1, 1),
             expiry_date=date(2027, 1, 1)),
        dict(partner_id="A1", certification="Y", level="Associate", issued_date=date(2024, 11, 1),
             expiry_date=date(2026, 11, 1)),
        dict(partner_id="A1", certification="Z", level="Associate", issued_date=date(2023, 1, 1),
             expiry_date=date(2026, 9, 30)),
        dict(partner_id="A1", certification="W", level="Associate", issued_date=date(2026, 10, 1),
             expiry_date=date(2028, 10, 1)),
    ]

    def portal(pid, day, logins):
        return dict(partner_id=pid, date=day, logins=logins, session_minutes=logins * 10, content_views=logins * 2)

    # A1: 3 + 6 + 0 logins in 2026Q3 = 3 a month -> 75 %; C3: 12 in July = 4 a month -> 100 %.
    portal_activity = [portal("A1", date(2026, 6, 1), 30), portal("A1", date(2026, 7, 1), 3),
                       portal("A1", date(2026, 8, 1), 6), portal("A1", date(2026, 9, 1), 0),
                       portal("C3", date(2026, 7, 1), 12)]
    events = [dict(partner_id="A1", event_id="e1", kind="webinar", date=date(2026, 7, 5), attended=True),
              dict(partner_id="A1", event_id="e2", kind="event", date=date(2026, 8, 5), attended=True),
              dict(partner_id="A1", event_id="e3", kind="event", date=date(2026, 9, 1), attended=False),
              dict(partner_id="A1", event_id="e4", kind="conference", date=date(2026, 10, 1), attended=True)]
    marketing = [dict(partner_id="A1", date=date(2026, 7, 20), kind="co_marketing"),
                 dict(partner_id="A1", date=date(2026, 9, 30), kind="case_study"),
                 dict(partner_id="A1", date=date(2026, 6, 30), kind="reference")]
    mdf_allocations = [dict(partner_id="A1", quarter="2026Q3", allocated=D("10000.00"))]

    def mdf(rid, day, status, requested, approved=None, spent=None, first=None, attributed=None):
        return dict(request_id=rid, partner_id="A1", submitted_date=day, status=status, requested=D(requested),
                    approved_amount=approved and D(approved), spent=spent and D(spent), first_spend_date=first,
                    attributed_revenue=attributed and D(attributed))

    # A1 2026Q3: spent 3,000 + 4,500 = 7,500 of 10,000 (75 %); 2 of 3 approved; ROI 21,000 / 7,500 = 2.8;
    # first spend 2026-07-21, 20 days after the quarter began.
    mdf_requests = [mdf("m1", date(2026, 7, 5), "approved", "5000", "4000", "3000", date(2026, 7, 21), "12000"),
                    mdf("m2", date(2026, 8, 10), "rejected", "2000"),
                    mdf("m3", date(2026, 9, 1), "approved", "5000", "5000", "4500", date(2026, 9, 15), "9000"),
                    mdf("m4", date(2026, 6, 20), "approved", "1000", "1000", "1000", date(2026, 6, 25), "5000")]
    # A1 customers: cu3 and cu4 went live in 2026Q3 after 71 and 101 days (mean 86); cu1-cu4 were under
    # contract in the quarter; of cu1 and cu2 (customers on 2025-10-01) cu2 churned -> 50 %.
    customers = [dict(customer_id="cu1", partner_id="A1", contract_date=date(2025, 1, 1),
                      go_live_date=date(2025, 3, 1), churn_date=None),
                 dict(customer_id="cu2", partner_id="A1", contract_date=date(2025, 6, 1),
                      go_live_date=date(2025, 8, 1), churn_date=date(2026, 8, 1)),
                 dict(customer_id="cu3", partner_id="A1", contract_date=date(2026, 5, 1),
                      go_live_date=date(2026, 7, 11), churn_date=None),
                 dict(customer_id="cu4", partner_id="A1", contract_date=date(2026, 6, 1),
                      go_live_date=date(2026, 9, 10), churn_date=None)]

    def survey(sid, day, csat, nps):
        return dict(survey_id=sid, partner_id="A1", customer_id="cu1", date=day, csat=csat, nps=nps)

    # A1 2026Q3: CSAT (5 + 4 + 3) / 3 = 4.0; NPS answers 10, 9, 5, 7 -> 50 % - 25 % = +25.
    surveys = [survey("s1", date(2026, 7, 2), 5, 10), survey("s2", date(2026, 8, 2), 4, 9),
               survey("s3", date(2026, 9, 2), 3, 5), survey("s4", date(2026, 9, 3), None, 7),
               survey("s5", date(2026, 6, 15), 1, 0)]

    def ticket(tid, day, fcr, escalated):
        return dict(ticket_id=tid, partner_id="A1", customer_id="cu3", opened_date=day, first_contact_resolved=fcr,
                    escalated=escalated)

    # A1 2026Q3: 4 tickets / 4 customers = 1.0; FCR 3 of 4 = 75 %; escalated 1 of 4 = 25 %.
    tickets = [ticket("t1", date(2026, 7, 1), True, False), ticket("t2", date(2026, 8, 1), True, False),
               ticket("t3", date(2026, 8, 2), False, True), ticket("t4", date(2026, 9, 30), True, False),
               ticket("t5", date(2026, 10, 1), False, True)]
    return {"partners.csv": partners, "opportunities.csv": opportunities, "targets.csv": targets,
            "deal_registrations.csv": registrations, "training.csv": training, "certifications.csv": certifications,
            "portal_activity.csv": portal_activity, "events.csv": events, "marketing.csv": marketing,
            "mdf_allocations.csv": mdf_allocations, "mdf_requests.csv": mdf_requests, "customers.csv": customers,
            "surveys.csv": surveys, "tickets.csv": tickets}


def write_folder(folder: Path) -> Path:
    """The dataset as the fourteen CSV files ``reportlib load qbr`` reads."""
    export_csv(get_domain("qbr"), qbr_rows(), folder)
    return folder


def rewrite_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file (row numbered as a spreadsheet shows it: header is 1)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


LONG_NAME = "Northwind Traders International Holdings & Cloud Infrastructure Services Group (EMEA) plc"


def crowded_rows() -> dict[str, list[dict]]:
    """:func:`qbr_rows` and two more strategic partners whose decks are hard to lay out.

    E5 has long names, 14 certifications with long titles, wide figures (velocity in the
    hundreds of days, approvals in the thousands of hours, attainment over 10,000 %), no
    portal rows in 2026Q3 and in some earlier quarters (gaps in the trend), no surveys and no
    MDF (missing figures and health components) and stale inputs (many data notes). F6 is an
    ordinary peer, so that E5's tier quartiles are three different numbers.
    """
    rows = qbr_rows()
    rows["partners.csv"] += [
        dict(partner_id="E5", name=LONG_NAME, tier="strategic", segment="assist",
             region="Europe, Middle East & Africa — Central and Eastern Europe",
             partner_manager="Maximiliane Alexandra von Hohenzollern-Sigmaringen",
             account_manager="Bartholomew Fitzgerald-Montgomery", start_date=date(2019, 3, 1),
             contract_end_date=date(2027, 12, 31), status="active"),
        _p("F6", "Foxtrot Partners", "strategic")]
    rows["opportunities.csv"] += [
        _o("e1", "E5", "1234567.89", "commit", date(2024, 1, 2), "won", date(2026, 8, 1)),
        _o("e2", "E5", "950000.00", "commit", date(2024, 6, 1), "won", date(2026, 9, 1)),
        _o("e3", "E5", "10000.00", "propose", date(2026, 7, 1), "lost", date(2026, 7, 20)),
        _o("e4", "E5", "2500000.00", "negotiate", date(2026, 2, 1), "open"),
        _o("e5", "E5", "7000000.00", "develop", date(2025, 12, 1), "open"),
        _o("f1", "F6", "40000.00", "commit", date(2026, 5, 1), "won", date(2026, 8, 15)),
        _o("f2", "F6", "20000.00", "propose", date(2026, 6, 1), "lost", date(2026, 8, 20)),
        _o("f3", "F6", "90000.00", "qualify", date(2026, 8, 1), "open")]
    rows["targets.csv"] += [dict(partner_id="E5", quarter="2026Q3", revenue_target=D("15000.00")),
                            dict(partner_id="F6", quarter="2026Q3", revenue_target=D("50000.00"))]
    rows["deal_registrations.csv"] += [
        _r("er1", "E5", datetime(2026, 7, 1, 9), "won", datetime(2026, 9, 20, 17)),
        _r("er2", "E5", datetime(2026, 7, 2, 9), "rejected", datetime(2026, 9, 28, 9)),
        _r("fr1", "F6", datetime(2026, 7, 3, 9), "approved", datetime(2026, 7, 6, 9))]
    rows["training.csv"] += [
        dict(partner_id="E5", course_id=f"e{i}", assigned_date=date(2026, 1, 1),
             completed_date=date(2026, 3, 1) if i < 3 else None) for i in range(9)]
    rows["certifications.csv"] += [
        dict(partner_id="E5", certification=f"Cloud Infrastructure Solutions Architect {topic}",
             level="Professional Level 2", issued_date=date(2025, 1, 1), expiry_date=date(2026, 10, 1 + i))
        for i, topic in enumerate(["Networking", "Security Operations", "Identity and Access Management",
                                   "Data Platform", "Hybrid Workloads", "Disaster Recovery", "Observability",
                                   "Cost Management", "Migration", "Kubernetes Operations", "Edge Computing",
                                   "Compliance and Governance", "Storage", "Virtual Desktop"])]

    def portal(pid, day, logins):
        return dict(partner_id=pid, date=day, logins=logins, session_minutes=logins * 10, content_views=logins * 2)

    # E5: rows in 2025Q1, 2025Q3 and 2026Q2 only (2024Q4, 2025Q2, 2025Q4, 2026Q1 and 2026Q3 are n/a).
    rows["portal_activity.csv"] += [portal("E5", date(2025, 2, 1), 9), portal("E5", date(2025, 8, 1), 18),
                                    portal("E5", date(2026, 5, 1), 27), portal("F6", date(2026, 8, 1), 15)]
    rows["mdf_allocations.csv"] += [dict(partner_id="F6", quarter="2026Q3", allocated=D("5000.00"))]
    return rows
EDGE_PARTNER = "E5"


def edge_qbr_rows() -> dict[str, list[dict]]:
    """:func:`qbr_rows` plus partner E5 (select tier), whose 2026Q3 figures sit on rounding edges.

    Shown half up (README "Figures") they read: revenue 15,800.00 against 80,000.00 in 2026Q2,
    growth -80.25 % -> -80.3 %; target 252,800.00, attainment 6.25 % -> 6.3 %; open pipeline
    5,814.40 (coverage 2.3 %); four deals won in 9 days each (cycle ratio 0.05); 16 registrations,
    one won after 36.25 hours: approval and win rate 6.25 % -> 6.3 %, time to approval 36.3 h; 16
    courses, one completed: 6.3 %; 16 surveys, CSAT 66 / 16 = 4.125 -> 4.13, NPS (5 - 4) / 16 =
    +6.25 -> +6.3; MDF 6,225.00 of 10,000.00 spent, 62.25 % -> 62.3 %, ROI 14,006.25 / 6,225.00 =
    2.25 -> 2.3:1; four customers live after 560, 560, 560 and 561 days: 560.25 -> 560.3 days; 16
    customers at the churn window's start, one lost: 6.25 % -> 6.3 %; 2 tickets over 16 active
    customers, 0.125 -> 0.13. The health score is exactly 1.875 + 12.64375 + 10.625 + 12.375 +
    5.53125 = 43.05 -> 43.1, Critical. (Half to even would show -80.2 %, 6.2 %, 36.2 h, 4.12, +6.2,
    62.2 %, 2.2:1, 560.2 days, 0.12 and 43.0.)
    """
    data = qbr_rows()
    pid = EDGE_PARTNER
    data["partners.csv"].append(_p(pid, "Edge & Sons", "select"))

    def won(oid, amount, created, days):
        return _o(oid, pid, amount, "commit", created, "won", date.fromordinal(created.toordinal() + days))

    data["opportunities.csv"] += [
        won("e1", "7900.00", date(2026, 7, 1), 9), won("e2", "7900.00", date(2026, 8, 1), 9),
        won("e3", "40000.00", date(2026, 4, 1), 9), won("e4", "40000.00", date(2026, 5, 1), 9),
        _o("e5", pid, "5000.00", "develop", date(2026, 7, 5), "open"),
        _o("e6", pid, "814.40", "qualify", date(2026, 7, 6), "open"),
    ]
    data["targets.csv"] += [dict(partner_id=pid, quarter="2026Q3", revenue_target=D("252800.00")),
                            dict(partner_id=pid, quarter="2026Q2", revenue_target=D("80000.00"))]
    data["deal_registrations.csv"].append(_r("er0", pid, datetime(2026, 7, 1, 9), "won", datetime(2026, 7, 2, 21, 15)))
    data["deal_registrations.csv"] += [_r(f"er{n}", pid, datetime(2026, 7, 1 + n, 9), "submitted") for n in range(1, 16)]
    data["training.csv"] += [dict(partner_id=pid, course_id=f"k{n}", assigned_date=date(2026, 1, 1),
                                  completed_date=date(2026, 2, 1) if n == 0 else None) for n in range(16)]
    data["portal_activity.csv"].append(dict(partner_id=pid, date=date(2026, 7, 1), logins=12, session_minutes=60,
                                            content_views=10))
    data["events.csv"] += [dict(partner_id=pid, event_id=f"ee{n}", kind="webinar", date=date(2026, 8, n + 1),
                                attended=True) for n in range(2)]
    data["mdf_allocations.csv"].append(dict(partner_id=pid, quarter="2026Q3", allocated=D("10000.00")))
    data["mdf_requests.csv"].append(dict(request_id="em1", partner_id=pid, submitted_date=date(2026, 7, 2),
                                         status="approved", requested=D("7000.00"), approved_amount=D("7000.00"),
                                         spent=D("6225.00"), first_spend_date=date(2026, 7, 16),
                                         attributed_revenue=D("14006.25")))
    live = {1: date(2026, 7, 15), 2: date(2026, 7, 15), 3: date(2026, 7, 15), 4: date(2026, 7, 16)}
    customers = [dict(customer_id=f"ec{n}", partner_id=pid, contract_date=date(2025, 1, 1),
                      go_live_date=live.get(n, date(2025, 2, 1)), churn_date=date(2026, 3, 1) if n == 0 else None)
                 for n in range(16)]
    customers.append(dict(customer_id="ec16", partner_id=pid, contract_date=date(2026, 6, 1),
                          go_live_date=date(2026, 10, 11), churn_date=None))
    data["customers.csv"] += customers
    # CSAT: 6 fives, 6 fours, 4 threes = 66; NPS: 5 promoters, 4 detractors, 7 passives.
    csats = [5] * 6 + [4] * 6 + [3] * 4
    npss = [10] * 5 + [3] * 4 + [8] * 7
    data["surveys.csv"] += [dict(survey_id=f"es{n}", partner_id=pid, customer_id="ec1", date=date(2026, 7, 1 + n),
                                 csat=c, nps=p) for n, (c, p) in enumerate(zip(csats, npss))]
    data["tickets.csv"] += [dict(ticket_id=f"et{n}", partner_id=pid, customer_id="ec1", opened_date=date(2026, 8, 1 + n),
                                 first_contact_resolved=True, escalated=False) for n in range(2)]
    return data
