"""Charts with Altair that render with no network: inline SVG, or inline Vega for interaction.

In a notebook call :func:`use_offline_charts` once; charts then display as SVG (rendered by
vl-convert in the kernel), so the exported HTML holds the drawing itself. With
``use_offline_charts(interactive=True)`` they display as Vega-Lite instead: the reader's browser
draws them from the inline Vega bundle that :func:`reportlib.render.html.notebook_to_html` puts
once into the page, and the kernel does no drawing at all. For an interactive chart in an HTML
fragment of your own, :func:`interactive_html` embeds Vega, Vega-Lite and vega-embed inline.

A chart drawn for every entity of a batch is best a :class:`ChartTemplate`: its Altair code runs
and is validated once per process, and each entity only fills in its rows.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # imported where a chart is made: a run's HTML export needs the page helpers alone
    import altair as alt

__all__ = ["CHART_MARK", "THEME_COLORS", "ChartTemplate", "VegaLiteChart", "chart_embed_html", "chart_png", "chart_svg",
           "chart_template", "interactive_html", "javascript_bundle", "page_needs_bundle", "static_spec",
           "static_svg", "use_offline_charts", "vega_bundle_html"]

VEGALITE_MIME = "application/vnd.vegalite.v6+json"
# Output metadata of a Vega-Lite chart that the page shows as a static drawing (inline SVG).
STATIC_MARK = {"reportlib": {"draw": "svg"}}
CHART_MARK = 'class="rl-chart"'
BUNDLE_MARK = "window.vegaEmbed="

EMBED_OPTIONS = {"renderer": "svg", "actions": False}

THEME_COLORS = ["#1F3864", "#2E75B6", "#70AD47", "#FFC000", "#C00000", "#7F7F7F", "#5B9BD5", "#ED7D31"]


def _theme() -> dict[str, Any]:
    return {"config": {"range": {"category": THEME_COLORS},
                       "view": {"stroke": None},
                       "axis": {"labelFontSize": 11, "titleFontSize": 12},
                       "title": {"fontSize": 14, "anchor": "start"}}}


def static_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` for a static drawing: axis and legend labels are drawn whole, not truncated.

    Truncating a label to ``labelLimit`` pixels (Vega's default: 200 for axes, 160 for
    legends) makes Vega measure the text again and again, most of an SVG's drawing time; with
    no limit none of that is done, and a printed report shows
    the whole name. A chart that sets its own limit keeps it. Interactive charts are left alone.
    """
    config = dict(spec.get("config") or {})
    for part in ("axis", "legend"):
        config[part] = {"labelLimit": 0, **(config.get(part) or {})}
    return {**spec, "config": config}


def _svg_renderer(spec: dict, **metadata: Any) -> dict[str, str]:
    from altair.utils.mimebundle import spec_to_mimebundle
    from altair.vegalite.v6.display import VEGA_VERSION, VEGAEMBED_VERSION, VEGALITE_VERSION

    return spec_to_mimebundle(static_spec(spec), format="svg", mode="vega-lite", vega_version=VEGA_VERSION,
                              vegaembed_version=VEGAEMBED_VERSION, vegalite_version=VEGALITE_VERSION, **metadata)


def _vega_renderer(spec: dict, **metadata: Any) -> dict[str, Any]:
    return VegaLiteChart(spec)._repr_mimebundle_()


_RENDERERS = {False: ("reportlib-svg", _svg_renderer), True: ("reportlib-vega", _vega_renderer)}


def _use_theme() -> None:
    import altair as alt

    if "reportlib" not in alt.theme.names():
        alt.theme.register("reportlib", enable=False)(_theme)
    if alt.theme.active != "reportlib":
        alt.theme.enable("reportlib")


def use_offline_charts(interactive: bool = False) -> None:
    """Display Altair charts with the reportlib theme and no CDN: as inline SVG drawn in the
    kernel, or (``interactive=True``) as Vega-Lite drawn by the reader's browser from the
    page's inline Vega bundle. Cheap to call again (a warm kernel runs it for every report)."""
    import altair as alt

    name, renderer = _RENDERERS[interactive]
    if alt.renderers.active == name and alt.theme.active == "reportlib":
        return
    alt.data_transformers.disable_max_rows()
    _use_theme()
    if name not in alt.renderers.names():
        alt.renderers.register(name, renderer)
    alt.renderers.enable(name)


class VegaLiteChart:
    """A finished Vega-Lite spec that displays as a chart the reader's browser draws.

    It displays as the Vega-Lite MIME type alone (JupyterLab draws it): the executed notebook
    holds each spec once. :func:`reportlib.render.html.notebook_to_html` turns such an output into
    a :func:`chart_embed_html` element and adds the Vega bundle once to the page. ``to_dict()``
    gives the spec, so :func:`chart_svg` and :func:`chart_png` draw it too.
    """

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    def to_dict(self, validate: bool = True) -> dict[str, Any]:
        """The spec (a template's spec was validated once, when it was built)."""
        return self.spec

    def properties(self, **changes: Any) -> "VegaLiteChart":
        """A copy with its ``title``, ``width`` or ``height`` changed, as Altair's ``Chart.properties``
        changes a chart's: what a notebook says of a chart it displays. A layered chart's title is
        the whole chart's."""
        unknown = sorted(set(changes) - {"title", "width", "height"})
        if unknown:
            raise ValueError(f"a chart's properties are title, width and height, not {', '.join(unknown)}")
        spec = {**self.spec, **changes}
        if "title" in changes and "layer" in spec:
            spec["layer"] = [{k: v for k, v in layer.items() if k != "title"} for layer in spec["layer"]]
        return VegaLiteChart(spec)

    @property
    def title(self) -> str:
        title = self.spec.get("title")
        return str(title.get("text", "") if isinstance(title, dict) else title or "")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        data = {VEGALITE_MIME: self.spec,
                "text/plain": f"<chart: {self.title or 'untitled'}, drawn in the exported HTML report>"}
        import altair as alt

        if alt.renderers.active == _RENDERERS[False][0]:  # static charts: the page gets an SVG drawing
            return data, {VEGALITE_MIME: STATIC_MARK}
        return data

    def __repr__(self) -> str:
        return f"VegaLiteChart({self.title!r})"


class ChartTemplate:
    """An Altair chart whose code runs once per process; each use fills in its data.

    ``build`` returns the chart with its data named (``alt.NamedData("rows")``) instead of
    given; every encoding names its type (``"amount:Q"``), as there are no rows to infer it
    from. The first :meth:`fill` turns it into a validated Vega-Lite spec with the reportlib
    theme; later ones copy that spec and set the named datasets, so a batch of 10,000 decks
    builds and validates each chart once with Altair, not 10,000 times.
    """

    def __init__(self, build: Callable[[], alt.TopLevelMixin]):
        self.build = build
        functools.update_wrapper(self, build)

    @functools.cached_property
    def spec(self) -> dict[str, Any]:
        _use_theme()
        return self.build().to_dict()

    def fill(self, **datasets: list[dict[str, Any]]) -> VegaLiteChart:
        """The chart with these rows: ``name=[{field: value, ...}, ...]`` per named dataset."""
        return VegaLiteChart({**self.spec, "datasets": {**self.spec.get("datasets", {}), **datasets}})


def chart_template(build: Callable[[], alt.TopLevelMixin]) -> ChartTemplate:
    """Decorator: ``build`` becomes a :class:`ChartTemplate`."""
    return ChartTemplate(build)


def page_needs_bundle(page: str) -> bool:
    """True if ``page`` holds browser-drawn charts but not the Vega bundle they need."""
    return CHART_MARK in page and BUNDLE_MARK not in page


def chart_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (text)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(static_spec(chart.to_dict()))


def static_svg(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec drawn as SVG (text), the same drawing as :func:`chart_svg`.

    Each chart of a :class:`ChartTemplate` differs from the others of its template only in
    its datasets: the Vega-Lite to Vega compilation is done once per template and process,
    and each chart fills its rows into the compiled Vega spec, which vl-convert draws.
    """
    import vl_convert as vlc

    spec = static_spec(spec)
    datasets = spec.get("datasets") or {}
    vega = copy.deepcopy(_compiled({**spec, "datasets": {name: [] for name in datasets}}))
    for entry in vega.get("data", ()):
        if entry.get("name") in datasets:
            entry["values"] = datasets[entry["name"]]
    return vlc.vega_to_svg(vega)


_STATIC_ON = re.compile(r"\buse_offline_charts\(\s*\)")


def draws_static_charts(notebook: str | os.PathLike) -> bool:
    """Whether ``notebook`` (an .ipynb) turns static charts on, ``use_offline_charts()``: its
    page's charts are drawn by vl-convert, worth starting before the notebook ends."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return False
    return any(cell.get("cell_type") == "code" and _STATIC_ON.search("".join(cell.get("source", "")))
               for cell in cells if isinstance(cell, dict))


def warm_static_charts() -> None:
    """Start vl-convert's JavaScript engine (its first drawing starts it), so that the first
    :func:`static_svg` of this process finds it running."""
    import vl_convert as vlc

    vlc.vega_to_svg({"$schema": "https://vega.github.io/schema/vega/v5.json", "width": 1, "height": 1, "marks": []})


def _compiled(shape: dict[str, Any]) -> dict[str, Any]:
    """The Vega spec of a Vega-Lite ``shape`` (a chart without its rows): compiled once per
    process, and kept on disk (:func:`reportlib.config.cache_dir`, per vl-convert version) so
    that a new process, a ``reportlib run`` or a batch worker, reads it instead of compiling."""
    import vl_convert as vlc

    key = hashlib.sha256(json.dumps([vlc.__version__, shape], sort_keys=True, default=str).encode()).hexdigest()
    found = _COMPILED.get(key)
    if found is None:
        if len(_COMPILED) >= 256:  # charts of many shapes (not templates): keep the cache bounded
            _COMPILED.clear()
        found = _COMPILED[key] = _compiled_on_disk(key, shape)
    return found


def _compiled_on_disk(key: str, shape: dict[str, Any]) -> dict[str, Any]:
    from ..config import cache_dir
    from ..files import atomic_write

    path = cache_dir() / "vega" / f"{key}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not compiled yet (or a broken file): compile it again
        pass
    import vl_convert as vlc

    vega = vlc.vegalite_to_vega(shape)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, fsync=False) as out:
            json.dump(vega, out)
    except OSError:  # an unwritable cache only costs compiling again
        pass
    return vega


_COMPILED: dict[str, dict[str, Any]] = {}


def chart_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (e.g. for a slide or a workbook)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(static_spec(chart.to_dict()), scale=scale)


def vega_bundle_html() -> str:
    """Vega, Vega-Lite and vega-embed inline (about 0.9 MB): include once per page, before charts."""
    return f'<script type="text/javascript">{javascript_bundle()}</script>'


@functools.lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """vl-convert's Vega + Vega-Lite + vega-embed bundle, cached on disk per vl-convert version.

    vl-convert builds the bundle on every call, which takes seconds; it depends only on the
    installed vl-convert, so it is built once into :func:`reportlib.config.cache_dir` and read
    back afterwards (an unwritable cache only costs the rebuild).
    """
    from importlib.metadata import version

    from ..config import cache_dir
    from ..files import atomic_write, slugify

    path = cache_dir() / f"vega-bundle-vl-convert-{slugify(version('vl-convert-python'))}.js"
    try:
        cached = path.read_text(encoding="utf-8")
        if cached:
            return cached
    except OSError:
        pass
    import vl_convert as vlc

    bundle = vlc.javascript_bundle()
    try:
        with atomic_write(path) as out:
            out.write(bundle)
    except OSError:
        pass
    return bundle


def chart_embed_html(chart: alt.TopLevelMixin | VegaLiteChart | dict, embed_options: dict | None = None) -> str:
    """One interactive chart for a page that already holds :func:`vega_bundle_html`.

    The script draws into the element just before it (``document.currentScript``), so any
    number of charts can share a page and the same chart gives the same HTML every time; the
    spec is JSON with ``<``, ``>`` and ``&`` escaped, so a name from the data such as
    ``</script>`` can never end the script. Vega draws SVG by default (a browser test, a
    printout and a screen reader all see real elements).
    """
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    options = dict(EMBED_OPTIONS, **(embed_options or {}))

    def safe(value: Any) -> str:
        return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    return (f'<div {CHART_MARK}></div>'
            '<script type="text/javascript">(function (el) { if (!window.vegaEmbed) { el.textContent = '
            '"This chart is drawn in the exported HTML report."; return; } '
            f'vegaEmbed(el, {safe(spec)}, {safe(options)})'
            '.catch(function (e) { el.textContent = "Chart error: " + e; }); })(document.currentScript.previousElementSibling);'
            "</script>")


def interactive_html(chart: alt.TopLevelMixin, embed_options: dict | None = None) -> str:
    """An HTML fragment that renders the chart interactively with inline Vega (no network).

    For several charts on one page, include :func:`vega_bundle_html` once and
    :func:`chart_embed_html` per chart instead of repeating the 0.9 MB bundle.
    """
    return vega_bundle_html() + chart_embed_html(chart, embed_options)
