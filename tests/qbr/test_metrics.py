"""Every QBR metric and the health score on the hand-checked dataset (see dataset.py)."""

from decimal import Decimal as D

import pandas as pd
import pytest

from reportlib.load import load_folder
from reportlib.periods import Quarter
from reportlib.qbr import health, metrics as m, slices
from reportlib.qbr.review import partner_review, portfolio

from .dataset import write_folder

Q3 = Quarter(2026, 3)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    root = tmp_path_factory.mktemp("qbr-metrics")
    url = f"sqlite:///{root / 'db.sqlite'}"
    load_folder(write_folder(root / "csv"), "qbr", url)
    return url


@pytest.fixture(scope="module")
def everyone(url):
    import reportlib

    with reportlib.connect(url) as conn:
        return slices.quarter_metrics(conn, Q3)


@pytest.fixture(scope="module")
def a1(everyone):
    return everyone.metrics.set_index("partner_id").loc["A1"]


def test_one_row_per_partner_active_or_not(everyone):
    frame = everyone.metrics
    assert list(frame["partner_id"]) == ["A1", "B2", "C3", "D4"]
    assert list(frame["status"]) == ["active", "active", "active", "inactive"]


def test_every_metric_is_found_by_the_name_of_the_function_that_computes_it(url, everyone):
    """A column of the metrics is a metric function's name, or a column of a function's frame (the
    MDF, support, churn, pipeline and funnel frames, the health score's); the labels a reader sees
    are keyed by those names."""
    from reportlib.db import connect
    from reportlib.qbr.data import load_inputs
    from reportlib.qbr.review import FIGURES, KPIS, LABELS

    quarter = everyone.quarter
    with connect(url) as conn:
        inputs = load_inputs(conn, quarter)
    frames = [m.pipeline(inputs.deals, quarter), m.registration_funnel(inputs.registrations, quarter),
              m.mdf_metrics(inputs.mdf_allocations, inputs.mdf_requests, quarter),
              m.tickets_per_customer(inputs.tickets, inputs.customers, quarter), m.churn_pct(inputs.customers, quarter),
              health.health_score(everyone.metrics)]
    named = {n for n in m.__all__ if callable(getattr(m, n))} | {c for f in frames for c in f.columns}
    given = {"partner_id", "quarter", "name", "tier", "segment", "region", "partner_manager", "account_manager",
             "status", "reference_cycle_days"}
    assert set(everyone.metrics.columns) - given - named == set()
    shown = {key for keys in FIGURES.values() for key in keys} | {k.key for k in KPIS} | set(m.BENCHMARKED)
    assert shown <= set(LABELS) and set(LABELS) <= set(everyone.metrics.columns)


def test_revenue_counts_won_deals_closed_in_the_quarter_only(a1):
    assert a1["revenue"] == D("100000.00")          # o3 closes 2026-10-01, o4 in Q2
    assert a1["previous_revenue"] == D("30000.00")
    assert a1["ytd_revenue"] == D("140000.00")
    assert a1["revenue_growth_pct"] == D(70000) * 100 / D(30000)
    assert a1["revenue_target"] == D("80000.00") and a1["revenue_attainment_pct"] == D(125)


def test_pipeline_counts_open_deals_created_by_the_quarters_end(a1):
    assert a1["pipeline_count"] == 2 and a1["pipeline_value"] == D("250000.00")   # o8 created after
    assert a1["pipeline_coverage_pct"] == D("312.5") and a1["average_deal_size"] == D(125000)


def test_velocity_conversion_and_win_rate_by_stage(a1, everyone):
    assert a1["sales_velocity_days"] == D(79)       # (75 + 121 + 90 + 30) / 4; o10 is too old
    assert a1["conversion_rate_pct"] == D(50)            # o1, o2 won; o5, o6 lost
    stages = everyone.win_rate_by_stage
    mine = stages[stages["partner_id"] == "A1"].set_index("stage")
    assert mine["reached"].to_dict() == {"qualify": 6, "develop": 5, "propose": 5, "negotiate": 4, "commit": 4}
    assert mine.loc["develop", "win_rate_pct"] == D(80) and mine.loc["commit", "win_rate_pct"] == D(100)


def test_registrations_outside_the_quarter_are_excluded(a1):
    assert (a1["registrations_submitted"], a1["registrations_approved"], a1["registrations_won"]) == (4, 2, 1)
    assert a1["approval_rate_pct"] == D(50) and a1["registration_win_rate_pct"] == D(25)
    assert a1["time_to_approval_hours"] == D(36)


def test_engagement(a1, everyone):
    assert a1["training_rate_pct"] == D(50)
    assert a1["active_certifications"] == 2 and a1["expiring_certifications"] == 1
    certs = everyone.certifications
    assert sorted(certs[certs["partner_id"] == "A1"]["certification"]) == ["X", "Y"]
    assert a1["logins_per_month"] == D(3) and a1["portal_activity_pct"] == D(75)
    assert a1["events_attended"] == 2 and a1["marketing_collaborations"] == 2


def test_mdf(a1):
    assert a1["mdf_allocated"] == D("10000.00") and a1["mdf_spent"] == D("7500.00")
    assert a1["mdf_utilization_pct"] == D(75) and a1["mdf_requests"] == 3
    assert a1["mdf_approval_pct"] == D(200) / 3 and a1["mdf_roi"] == D("2.8")
    assert a1["mdf_days_to_first_spend"] == D(20)


def test_customer_experience(a1):
    assert a1["csat"] == D(4) and a1["survey_count"] == 4 and a1["nps"] == D(25)
    assert a1["implementation_days"] == D(86)
    assert a1["tickets"] == 4 and a1["active_customers"] == 4 and a1["tickets_per_customer"] == D(1)
    assert a1["fcr_pct"] == D(75) and a1["escalation_pct"] == D(25)
    assert a1["churned"] == 1 and a1["customers_at_start"] == 2 and a1["churn_pct"] == D(50)


def test_health_score_clips_attainment_above_100(a1):
    # 30 (125 % clipped) + 25 (312.5 % and 50 % both clipped) + 20 (0.5 + 0.75) / 2 + 15 x 0.8
    # + 10 x (0.625 + 101/180) / 2 = 85.4305...
    assert a1["revenue_points"] == D(30) and a1["pipeline_points"] == D(25)
    expected = D(30) + D(25) + D("12.5") + D(12) + D(10) * (D("0.625") + D(101) / D(180)) / 2
    assert a1["health_score"] == expected
    assert a1["health_display"] == D("85.4") and a1["health_band"] == "Excellent"
    assert a1["missing_components"] == ""


def test_partner_without_target_or_surveys_is_scored_on_what_it_has(everyone):
    c3 = everyone.metrics.set_index("partner_id").loc["C3"]
    assert c3["revenue_target"] is None and c3["revenue_attainment_pct"] is None and c3["pipeline_coverage_pct"] is None
    assert c3["csat"] is None and c3["nps"] is None and c3["survey_count"] == 0
    assert c3["registration_win_rate_pct"] is None and c3["revenue_growth_pct"] is None  # no Q2 revenue
    # pipeline 1.0 (conversion only), engagement 1.0, efficiency 1 - 30/180 (cycle only), out of 55 points
    expected = (D(25) + D(20) + D(10) * (1 - D(30) / D(180))) / D(55) * 100
    assert c3["health_score"] == expected and c3["health_display"] == D("97.0")
    assert c3["missing_components"] == "Revenue attainment, Customer satisfaction"
    review = partner_review(everyone, "C3")
    assert any("Revenue attainment, Customer satisfaction" in note for note in review.notes)
    assert any("No customer survey in 2026Q3" in note for note in review.notes)


def _row(**values):
    base = {"revenue_attainment_pct": None, "pipeline_coverage_pct": None, "conversion_rate_pct": None,
            "training_rate_pct": None, "portal_activity_pct": None, "csat": None, "registration_win_rate_pct": None,
            "cycle_ratio": None}
    base.update({k: None if v is None else D(str(v)) for k, v in values.items()})
    return pd.DataFrame([base])


def test_health_score_worked_example_of_the_spec():
    result = health.health_score(_row(revenue_attainment_pct=80, pipeline_coverage_pct=150, conversion_rate_pct=25,
                                      training_rate_pct=90, portal_activity_pct=50, csat="4.5",
                                      registration_win_rate_pct=20, cycle_ratio="0.8")).iloc[0]
    assert result["health_score"] == D("70.625")
    assert result["health_display"] == D("70.6") and result["health_band"] == "Good"
    assert [result[f"{c.key}_points"] for c in health.COMPONENTS] == [D(24), D("15.625"), D(14), D("13.5"), D("3.5")]


def test_health_terms_never_exceed_their_weight_or_go_below_zero():
    result = health.health_score(_row(revenue_attainment_pct=500, pipeline_coverage_pct=900, conversion_rate_pct=-5,
                                      training_rate_pct=100, portal_activity_pct=100, csat=5,
                                      registration_win_rate_pct=100, cycle_ratio=3)).iloc[0]
    assert result["revenue_points"] == 30 and result["pipeline_points"] == D("12.5")
    assert result["efficiency_points"] == 5 and result["health_score"] == D("82.5")


def test_no_health_input_at_all_gives_no_score():
    result = health.health_score(_row()).iloc[0]
    assert result["health_score"] is None and result["health_band"] == "No data"


@pytest.mark.parametrize("score, band", [
    ("100", "Excellent"), ("85", "Excellent"), ("84.95", "Excellent"), ("84.94", "Good"), ("70", "Good"),
    ("69.9", "At Risk"), ("55", "At Risk"), ("54.949", "Critical"), ("0", "Critical")])
def test_band_boundaries_on_the_score_as_shown(score, band):
    assert health.band_of(D(score))[0] == band
    assert health.band_of(D(score))[1]  # every band has its action text


def test_tier_benchmarks_use_active_partners_of_the_tier(everyone):
    bench = everyone.benchmarks.set_index(["tier", "metric"])
    assert bench.loc[("strategic", "revenue"), "median"] == D("100000.00")
    assert bench.loc[("select", "revenue"), "partners"] == 1       # B2 only: D4 is inactive
    values = [D(1), D(2), D(3), D(4)]
    assert m._quantile(values, D("0.25")) == D("1.75") and m._quantile(values, D("0.5")) == D("2.5")


def test_metrics_are_pure_functions_over_frames():
    deals = pd.DataFrame({"partner_id": ["X", "X", "Y"], "amount": [D("1.10"), D("2.20"), D("5")],
                          "stage": ["commit"] * 3, "created_date": [pd.Timestamp("2026-07-01")] * 3,
                          "close_date": pd.to_datetime(["2026-07-02", "2026-09-30", "2026-10-01"]),
                          "status": ["won", "won", "won"]})
    assert m.revenue(deals, Q3).to_dict() == {"X": D("3.30")}
    assert m.revenue_growth_pct(pd.Series({"X": D(10)}), pd.Series({"X": D(0)})).isna().all()


def test_revenue_trend_covers_eight_quarters(everyone):
    trend = everyone.revenue_trend
    mine = trend[trend["partner_id"] == "A1"]
    assert list(mine["quarter"]) == [str(Q3 - i) for i in reversed(range(8))]
    assert mine.set_index("quarter").loc["2026Q2", "revenue"] == D("30000.00")


def test_portal_trend_of_a_quarter_without_portal_rows_is_missing_as_in_the_health_score(everyone):
    """B2 has no portal row at all: its engagement is left out of the score, so no quarter is 0 logins."""
    a1, b2 = (slices.partner_slice(everyone, p) for p in ("A1", "B2"))
    assert list(a1.portal_trend["quarter"]) == [str(Q3 - i) for i in reversed(range(8))]
    assert list(a1.portal_trend["logins_per_month"]) == [None] * 6 + [D(10), D(3)]
    assert list(b2.portal_trend["logins_per_month"]) == [None] * 8
    assert b2.row["logins_per_month"] is None and "Engagement" in b2.row["missing_components"]


def test_portfolio_lists_active_partners_worst_first(everyone):
    book = portfolio(everyone)
    assert list(book["partner_id"]) == ["B2", "A1", "C3"]
    assert list(book["health_score"]) == sorted(book["health_score"])


def test_insights_quote_figures_shown_in_the_deck(everyone):
    review = partner_review(everyone, "A1")
    texts = [i.text for i in review.insights]
    assert texts[0].startswith("Health score 85.4 (Excellent)")
    kpis = review.kpis.set_index("key")
    off = [t for t in texts if "off its target" in t]
    for text in off:
        assert any(v in text for v in kpis["value_text"])
    assert all(i.owner == "Pat Manager" for i in review.insights)
    plan = review.coaching
    assert plan.iloc[0]["area"] == "Health score" and (plan["owner"] == "Pat Manager").all()
    assert partner_review(everyone, "A1").insights == review.insights  # deterministic


def test_deck_of_a_quarter_without_any_data_says_so(url, tmp_path):
    import reportlib
    from pptx import Presentation

    from reportlib.qbr.pptx import SLIDE_TITLES, write_deck

    with reportlib.connect(url) as conn:
        empty = slices.quarter_metrics(conn, "2020Q1")
    review = partner_review(empty, "A1")
    assert review.row["health_band"] == "No data" and review.row["revenue"] == 0
    deck = Presentation(str(write_deck(review, tmp_path / "empty.pptx")))
    assert [s.shapes.title.text for s in deck.slides][1:] == list(SLIDE_TITLES[1:])
    chart_slide = deck.slides[SLIDE_TITLES.index("Tier benchmarks: partner vs tier median")]
    texts = [shape.text_frame.text for shape in chart_slide.shapes if shape.has_text_frame]
    assert "Partner vs tier median (%): no data for this period." in texts


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_rank_in_tier_counts_better_peers_and_ties_share_the_better_rank(higher_is_better):
    from reportlib.qbr.review import _rank

    peers = pd.DataFrame({"health_score": [D("70"), D("55"), None, D("70"), float("nan"), D("81.5"), D("40")]})
    empty = pd.DataFrame()

    def slice_of(value, status="active"):
        return slices.PartnerSlice(quarter=Quarter.parse("2026Q3"), reference_cycle_days=180,
                              row={"health_score": value, "status": status}, previous={}, benchmarks=empty,
                              tier_metrics=peers, revenue_trend=empty, portal_trend=empty, pipeline_by_stage=empty,
                              win_rate_by_stage=empty, certifications=empty, latest={})

    present = [D("70"), D("55"), D("70"), D("81.5"), D("40")]
    for mine in (D("70"), D("55"), D("81.5"), D("40"), D("60"), D("100"), D("0")):
        better = sum(1 for v in present if (v > mine if higher_is_better else v < mine))
        assert _rank(slice_of(mine), "health_score", higher_is_better) == (better + 1, 5)
    assert _rank(slice_of(D("70")), "health_score", higher_is_better) == ((2, 5) if higher_is_better else (3, 5))
    assert _rank(slice_of(None), "health_score", higher_is_better) == (None, 5)
    assert _rank(slice_of(D("70"), status="inactive"), "health_score", higher_is_better) == (None, 5)
    assert _rank(slice_of(D("70")), "no_such_metric", higher_is_better) == (None, 0)
