"""Chart templates (Altair built once, filled per entity) and browser-drawn charts in an HTML export."""

from __future__ import annotations

import re

import altair as alt
import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reportlib.render.charts import (VEGALITE_MIME, ChartTemplate, VegaLiteChart, chart_embed_html, chart_svg,
                                     use_offline_charts, vega_bundle_html)
from reportlib.render.html import assert_offline, notebook_to_html

from ..conftest import browser_dom

HOSTILE = "</script><script>document.title='pwned'</script>"


def _counting_template():
    builds = []

    def build():
        builds.append(1)
        return (alt.Chart(alt.NamedData("rows"), title="Leads by partner").mark_bar()
                .encode(x=alt.X("leads:Q", title="Leads"), y=alt.Y("name:N", title=None), tooltip=["name:N"]))

    return ChartTemplate(build), builds


def test_a_template_builds_and_validates_its_altair_chart_once():
    template, builds = _counting_template()
    first = template.fill(rows=[{"name": "Hilton", "leads": 3}])
    second = template.fill(rows=[{"name": "Marriott", "leads": 5}, {"name": "Hyatt", "leads": 1}])
    assert len(builds) == 1
    # Each fill has its own rows; the template's spec is never changed by a fill.
    assert first.spec["datasets"] == {"rows": [{"name": "Hilton", "leads": 3}]}
    assert [r["name"] for r in second.spec["datasets"]["rows"]] == ["Marriott", "Hyatt"]
    assert "datasets" not in template.spec or "rows" not in template.spec["datasets"]
    assert first.spec["data"] == {"name": "rows"} and first.title == "Leads by partner"


def test_a_template_without_types_fails_when_built_not_per_entity():
    template = ChartTemplate(lambda: alt.Chart(alt.NamedData("rows")).mark_bar().encode(x="leads"))
    with pytest.raises(Exception, match="type"):
        template.fill(rows=[{"leads": 1}])


def test_a_filled_template_draws_the_same_picture_as_the_plain_altair_chart():
    template, _ = _counting_template()
    rows = [{"name": "Hilton", "leads": 3}, {"name": "Marriott", "leads": 5}]
    plain = (alt.Chart(pd.DataFrame(rows), title="Leads by partner").mark_bar()
             .encode(x=alt.X("leads:Q", title="Leads"), y=alt.Y("name:N", title=None), tooltip=["name:N"]))
    use_offline_charts()
    assert chart_svg(template.fill(rows=rows)) == chart_svg(plain)


def test_interactive_mode_displays_altair_charts_as_vega_lite_and_svg_mode_comes_back():
    chart = alt.Chart(pd.DataFrame({"a": [1, 2]})).mark_point().encode(x="a:Q")
    try:
        use_offline_charts(interactive=True)
        bundle = chart._repr_mimebundle_()
        # the spec once; the HTML export makes the element that draws it
        assert set(bundle) == {VEGALITE_MIME, "text/plain"} and bundle[VEGALITE_MIME]["mark"]["type"] == "point"
        page = notebook_to_html(new_notebook(cells=[new_code_cell("c", outputs=[
            new_output("display_data", data=bundle)])], metadata={"language_info": {"name": "python"}}))
        assert page.count('class="rl-chart"') == 1 and page.count("window.vegaEmbed=") == 1
        use_offline_charts(interactive=True)  # again: a warm kernel calls it for every report
        assert alt.renderers.active == "reportlib-vega" and alt.theme.active == "reportlib"
    finally:
        use_offline_charts()
    assert alt.renderers.active == "reportlib-svg"
    assert "<svg" in chart._repr_mimebundle_()["image/svg+xml"]


def test_the_same_chart_gives_the_same_html():
    template, _ = _counting_template()
    rows = [{"name": "Hilton", "leads": 3}]
    assert chart_embed_html(template.fill(rows=rows)) == chart_embed_html(template.fill(rows=rows))


def _notebook(*charts: VegaLiteChart, html: str = "<p>Report</p>") -> nbformat.NotebookNode:
    """A notebook whose charts display as browser-drawn ones (``use_offline_charts(interactive=True)``),
    whichever renderer an earlier test in this process left active."""
    from reportlib.render.charts import use_offline_charts

    cells = [new_code_cell("x", outputs=[new_output("display_data", data={"text/html": html})])]
    before = alt.renderers.active
    use_offline_charts(interactive=True)
    try:
        for chart in charts:
            cells.append(new_code_cell("chart", outputs=[new_output("display_data", data=chart._repr_mimebundle_())]))
    finally:
        alt.renderers.enable(before)
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


def test_the_export_puts_the_bundle_once_into_a_page_with_browser_drawn_charts(tmp_path):
    template, _ = _counting_template()
    page = notebook_to_html(_notebook(template.fill(rows=[{"name": HOSTILE, "leads": 3}]),
                                      template.fill(rows=[{"name": "Marriott", "leads": 5}])))
    assert_offline(page)
    assert page.count("window.vegaEmbed=") == 1 and page.index("window.vegaEmbed=") < page.index('<div class="rl-chart"')
    assert page.count('class="rl-chart"') == 2 and HOSTILE not in page
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    dom = browser_dom(path, tmp_path)
    assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == 2
    assert ">Marriott</text>" in dom and "pwned" not in dom.split("<body")[0]


def test_the_export_adds_no_bundle_without_charts_or_when_the_page_has_one():
    assert "window.vegaEmbed=" not in notebook_to_html(_notebook())
    template, _ = _counting_template()
    page = notebook_to_html(_notebook(template.fill(rows=[{"name": "Hilton", "leads": 3}]), html=vega_bundle_html()))
    assert page.count("window.vegaEmbed=") == 1
