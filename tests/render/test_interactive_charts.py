"""Interactive charts: one inline Vega bundle per page, any number of charts, script-safe data."""

from __future__ import annotations

import re

import altair as alt
import pandas as pd

from reportlib.render.charts import chart_embed_html, interactive_html, vega_bundle_html
from reportlib.render.html import assert_offline

from ..conftest import browser_dom

HOSTILE = "</script><script>document.title='pwned'</script>"


def _chart(names):
    return alt.Chart(pd.DataFrame({"name": names, "leads": range(1, len(names) + 1)})).mark_bar().encode(
        x="leads:Q", y="name:N")


def test_several_charts_share_one_bundle_and_all_render_as_svg_offline(tmp_path):
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>ok</title></head><body>" + vega_bundle_html()
            + chart_embed_html(_chart(["Hilton", HOSTILE])) + chart_embed_html(_chart(["Marriott"]))
            + "</body></html>")
    assert_offline(page)
    assert page.count("window.vegaEmbed=") == 1
    assert HOSTILE not in page
    html = tmp_path / "charts.html"
    html.write_text(page, encoding="utf-8")
    dom = browser_dom(html, tmp_path)
    assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == 2
    assert "<title>ok</title>" in dom and "pwned" not in dom.split("<body")[0]


def test_interactive_html_is_a_self_contained_fragment():
    fragment = interactive_html(_chart(["Hilton"]))
    assert fragment.startswith("<script") and fragment.count('class="rl-chart"') == 1
    assert "<!DOCTYPE" not in fragment and fragment.endswith("</script>")  # a fragment, not a page
