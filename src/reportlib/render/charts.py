"""Charts with Altair that render with no network: inline SVG, or inline Vega for interaction.

In a notebook call :func:`use_offline_charts` once; charts then display as SVG (rendered by
vl-convert in the kernel), so the exported HTML holds the drawing itself. For an interactive
chart, :func:`interactive_html` embeds Vega, Vega-Lite and vega-embed inline.
"""

from __future__ import annotations

from typing import Any

import altair as alt

__all__ = ["THEME_COLORS", "chart_png", "chart_svg", "interactive_html", "use_offline_charts"]

THEME_COLORS = ["#1F3864", "#2E75B6", "#70AD47", "#FFC000", "#C00000", "#7F7F7F", "#5B9BD5", "#ED7D31"]


def _theme() -> dict[str, Any]:
    return {"config": {"range": {"category": THEME_COLORS},
                       "view": {"stroke": None},
                       "axis": {"labelFontSize": 11, "titleFontSize": 12},
                       "title": {"fontSize": 14, "anchor": "start"}}}


def use_offline_charts() -> None:
    """Display Altair charts as inline SVG with the reportlib theme (no CDN needed)."""
    alt.data_transformers.disable_max_rows()
    if "reportlib" not in alt.theme.names():
        alt.theme.register("reportlib", enable=False)(_theme)
    alt.theme.enable("reportlib")
    alt.renderers.enable("svg")


def chart_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (text)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict())


def chart_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (e.g. for a slide or a workbook)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(chart.to_dict(), scale=scale)


def interactive_html(chart: alt.TopLevelMixin) -> str:
    """An HTML fragment that renders the chart interactively with inline Vega (no network)."""
    return chart.to_html(inline=True, fullhtml=False)
