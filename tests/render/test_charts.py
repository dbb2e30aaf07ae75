"""Static charts: Altair through vl-convert to inline SVG, labels drawn whole."""

import copy

import altair as alt
import pandas as pd
import pytest
from IPython.core.formatters import format_display_data

from reportlib.render.charts import chart_svg, static_spec, use_offline_charts

LONG = "Marketing development funds utilisation across every programme of the quarter"


def _chart():
    data = pd.DataFrame({"kpi": [LONG, "Win rate"], "value": [40.0, 55.5]})
    return alt.Chart(data).mark_bar().encode(y=alt.Y("kpi:N", title=None), x=alt.X("value:Q", title="%"))


def test_notebook_display_is_inline_svg_with_whole_labels():
    use_offline_charts()
    bundle, _ = format_display_data(_chart())
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<svg") and f">{LONG}</text>" in svg and "…" not in svg
    assert "text/html" not in bundle  # no script that would need vega from a CDN


def test_a_chart_that_sets_its_own_label_limit_keeps_it():
    use_offline_charts()
    svg = chart_svg(_chart().configure_axis(labelLimit=80))
    assert f">{LONG}</text>" not in svg and "…</text>" in svg  # (the full name stays in the aria-label)


def test_static_spec_adds_no_limit_without_touching_the_rest():
    spec = {"mark": "bar", "config": {"axis": {"labelFontSize": 11}, "view": {"stroke": None}}}
    assert static_spec(spec) == {"mark": "bar", "config": {"axis": {"labelLimit": 0, "labelFontSize": 11},
                                                           "legend": {"labelLimit": 0}, "view": {"stroke": None}}}
    assert spec["config"]["axis"] == {"labelFontSize": 11}  # the chart's own spec is not changed


def test_a_filled_chart_takes_its_title_and_size_from_the_notebook_and_leaves_the_template_alone():
    """``chart.properties(title=...)`` in a notebook changes that chart, as Altair's does."""
    import altair as alt

    from reportlib.render.charts import chart_template

    @chart_template
    def layered():
        line = alt.Chart(alt.NamedData("rows"), title="Template title").mark_line().encode(
            x="x:Q", y="y:Q")
        return alt.layer(line, line.mark_point())

    before = copy.deepcopy(layered.spec)
    chart = layered.fill(rows=[{"x": 1, "y": 2}]).properties(title="Notebook title", width=300)
    assert chart.title == "Notebook title" and chart.spec["width"] == 300
    assert all("title" not in layer for layer in chart.spec["layer"])  # one title, the chart's
    assert layered.spec == before
    with pytest.raises(ValueError, match="not colour"):
        chart.properties(colour="red")
