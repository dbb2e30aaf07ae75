"""Chart templates (Altair built once, filled per entity) and browser-drawn charts in an HTML export."""

from __future__ import annotations

import re

import altair as alt
import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reportlib.render.charts import (VEGALITE_MIME, ChartTemplate, StaticDrawings, VegaLiteChart, chart_embed_html,
                                     chart_svg, static_svg, use_offline_charts, vega_bundle_html)
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


def _static_notebook(*charts: VegaLiteChart) -> nbformat.NotebookNode:
    """A notebook whose charts display as static drawings (``use_offline_charts()``), as an executed
    notebook holds them: the spec, marked to be drawn as SVG in the page."""
    before = alt.renderers.active
    use_offline_charts()
    try:
        outputs = [new_output("display_data", data=data, metadata=metadata)
                   for data, metadata in (chart._repr_mimebundle_() for chart in charts)]
    finally:
        alt.renderers.enable(before)
    cells = [new_code_cell("charts", outputs=outputs)]
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


def _offered(drawings: StaticDrawings, nb: nbformat.NotebookNode) -> None:
    """Offer every output of ``nb`` as the runner does while it runs, and wait until all are drawn."""
    for cell in nb.cells:
        for output in cell.outputs:
            drawings.offer(output)
    for drawing in list(drawings._drawings.values()):
        drawing.result(timeout=60)


def test_charts_drawn_while_the_notebook_ran_make_the_page_drawn_at_export():
    """Two charts of one template differ only in their rows: each gets its own drawing (a memo
    keyed by the template's shape would give both the first one's)."""
    template, _ = _counting_template()
    hilton, marriott = (template.fill(rows=[{"name": name, "leads": leads}]) for name, leads in
                        (("Hilton", 3), ("Marriott", 5)))
    nb = _static_notebook(hilton, marriott, hilton)
    drawings = StaticDrawings()
    try:
        _offered(drawings, nb)
        assert len(drawings._drawings) == 2  # the same chart twice is drawn once
        early = notebook_to_html(nb, drawings=drawings)
        assert drawings._drawings == {}  # taken by the export: a long-lived worker keeps none
    finally:
        drawings.close()
    at_export = notebook_to_html(nb)
    assert early == at_export
    shown = re.findall(r'<div class="rl-chart-svg">(<svg.*?</svg>)</div>', early, flags=re.S)
    assert [">Hilton</text>" in svg for svg in shown] == [True, False, True]
    assert [">Marriott</text>" in svg for svg in shown] == [False, True, False]


def test_a_drawing_is_given_only_for_the_spec_it_was_drawn_from():
    template, _ = _counting_template()
    offered, asked = (template.fill(rows=[{"name": "Hilton", "leads": leads}]) for leads in (3, 4))
    drawings = StaticDrawings()
    try:
        _offered(drawings, _static_notebook(offered))
        assert drawings.take(asked.spec) == static_svg(asked.spec) != static_svg(offered.spec)
        assert drawings.take(offered.spec) == static_svg(offered.spec)
    finally:
        drawings.close()


def test_static_drawings_keep_nothing_after_the_run_and_draw_no_browser_chart():
    template, _ = _counting_template()
    chart = template.fill(rows=[{"name": "Hilton", "leads": 3}])
    drawings = StaticDrawings()
    drawings.offer(_notebook(chart).cells[1].outputs[0])  # a chart the reader's browser draws
    assert drawings._drawings == {} and drawings._thread is None
    drawings.offer(_static_notebook(chart).cells[0].outputs[0])
    assert len(drawings._drawings) == 1
    drawings.close()  # the export never took it (the run failed)
    assert drawings._drawings == {} and not drawings._thread.is_alive()
    drawings.offer(_static_notebook(chart).cells[0].outputs[0])
    assert drawings._drawings == {}
