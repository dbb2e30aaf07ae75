"""The QBR's HTML charts: Vega-Lite specs filled per partner, drawn here with vl-convert as the browser would."""

from __future__ import annotations

import re

import pytest

import reportlib
from reportlib.load import write_domain
from reportlib.qbr import html, partner_review, quarter_metrics
from reportlib.render.charts import chart_svg

from .dataset import crowded_rows


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'db.sqlite'}"
    write_domain("qbr", crowded_rows(), url=url, source="test")
    with reportlib.connect(url) as conn:
        metrics = quarter_metrics(conn, "2026Q3")
    return {partner: partner_review(metrics, partner, "2026Q3") for partner in ("A1", "E5")}


def _drawn(svg: str, kind: str) -> list[str]:
    """The aria labels of the marks of one kind ("point", "bar") in a Vega SVG."""
    return re.findall(rf'aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="{kind}"', svg)


def test_a_quarter_without_portal_rows_is_a_gap_in_the_html_portal_trend_not_zero_logins(reviews):
    chart = html.portal_chart(reviews["E5"])
    rows = chart.spec["datasets"]["portal"]
    assert [r["quarter"] for r in rows] == ["2024Q4 (n/a)", "2025Q1", "2025Q2 (n/a)", "2025Q3", "2025Q4 (n/a)",
                                            "2026Q1 (n/a)", "2026Q2", "2026Q3 (n/a)"]
    assert [r["logins"] for r in rows] == [None, 3.0, None, 6.0, None, None, 9.0, None]
    svg = chart_svg(chart)
    assert [label.split(";")[0] for label in _drawn(svg, "point")] == ["quarter: 2025Q1", "quarter: 2025Q3",
                                                                       "quarter: 2026Q2"]
    line = re.search(r'aria-roledescription="line mark" d="([^"]*)"', svg).group(1)
    assert line.count("M") == 3 and "L" not in line  # three lone points: the line breaks at every gap
    assert "2026Q3 (n/a)" in svg  # the quarter keeps its place on the axis, labelled n/a


def test_a_left_out_health_component_has_no_points_bar_and_says_n_a(reviews):
    chart = html.health_chart(reviews["E5"])
    rows = chart.spec["datasets"]["health"]
    points = {r["component"]: r["value"] for r in rows if r["what"] == "Points"}
    assert points["Customer satisfaction (n/a)"] is None
    assert all(v is not None for c, v in points.items() if not c.endswith("(n/a)"))
    bars = _drawn(chart_svg(chart), "bar")
    assert len(bars) == 9  # five weights, four points
    assert not any("Customer satisfaction" in b and "what: Points" in b for b in bars)
    assert any("Customer satisfaction (n/a)" in b and "what: Weight" in b for b in bars)


def test_a_partner_with_every_figure_draws_every_point(reviews):
    """A1 has portal rows in two quarters only (the others are n/a); every component has points."""
    health = html.health_chart(reviews["A1"])
    assert len(_drawn(chart_svg(health), "bar")) == 10
    portal = html.portal_chart(reviews["A1"])
    assert [r["logins"] for r in portal.spec["datasets"]["portal"]][-2:] == [10.0, 3.0]
