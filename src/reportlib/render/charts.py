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

import contextlib
import contextvars
import copy
import functools
import hashlib
import json
import os
import queue
import re
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

if TYPE_CHECKING:  # imported where a chart is made: a run's HTML export needs the page helpers alone
    import altair as alt

__all__ = ["CHART_MARK", "ChartTemplate", "StaticDrawings", "THEME_COLORS", "VegaLiteChart", "chart_embed_html",
           "chart_png", "chart_svg", "chart_template", "interactive_html", "is_static_chart", "javascript_bundle",
           "offered_drawings", "page_needs_bundle", "static_spec", "static_svg", "use_offline_charts",
           "vega_bundle_html"]

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


def is_static_chart(output: Mapping[str, Any]) -> bool:
    """Whether a notebook output is a Vega-Lite chart that the page shows as its SVG drawing."""
    data = output.get("data")
    return bool(data) and VEGALITE_MIME in data and "text/html" not in data \
        and (output.get("metadata") or {}).get(VEGALITE_MIME) == STATIC_MARK


class StaticDrawings:
    """The static charts of one run, drawn in a thread of the runner while its kernel goes on.

    The runner offers each output as it comes from the kernel (:meth:`offer`); a static chart
    (:func:`is_static_chart`) is then drawn in a background thread, one at a time, so that
    the page's export (:meth:`take`) finds the drawings of the cells that ran before the last
    one made. The drawings are kept by the exact text of their spec (its JSON, keys in their
    order), and each is drawn from that text, so that a drawing is only ever given for the very
    spec it was drawn from; the export draws any other itself. A drawing leaves the memo when
    the export takes it, and :meth:`close` (at the end of each run) drops the rest: a worker
    that serves run after run keeps none.

    vl-convert holds the interpreter lock while it draws: a message from the kernel waits in
    the runner until the drawing in progress is done, and at the end of a cell the kernel waits
    that long for its next one. Before each drawing the thread sleeps a little, so that the
    runner's thread takes the lock first for what came meanwhile.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drawings: dict[str, Future] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    @staticmethod
    def _text(spec: Any) -> str:
        return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def offer(self, output: Mapping[str, Any]) -> None:
        """Start drawing ``output`` (a notebook output) if it is a static chart not drawn yet."""
        if not is_static_chart(output):
            return
        try:
            text = self._text(output["data"][VEGALITE_MIME])
        except (TypeError, ValueError):  # not JSON: the export draws it (and says what is wrong)
            return
        key = self._key(text)
        with self._lock:
            if self._closed or key in self._drawings:
                return
            drawing = self._drawings[key] = Future()
            self._queue.put((text, drawing))
            if self._thread is None:
                self._thread = threading.Thread(target=self._draw, name="reportlib-static-charts", daemon=True)
                self._thread.start()

    def _draw(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            text, drawing = job
            # Asleep, this thread lets the runner's take the interpreter lock for what the kernel
            # sent meanwhile, e.g. the end of a cell and the start of the next, before it holds
            # the lock for a whole drawing (woken first, it would leave the runner a few
            # milliseconds between drawings, and the kernel would wait for its next cell).
            time.sleep(_YIELD_S)
            if not drawing.set_running_or_notify_cancel():  # the export drew it itself
                continue
            try:
                drawing.set_result(static_svg(json.loads(text)))
            except BaseException as exc:  # noqa: BLE001 - the export draws it again and meets the error
                drawing.set_exception(exc)

    def take(self, spec: dict[str, Any]) -> str:
        """The drawing of ``spec``, :func:`static_svg`'s: the one started early (waiting for it
        if it is being drawn), or drawn now."""
        drawing = None
        if self._drawings:
            try:
                key = self._key(self._text(spec))
            except (TypeError, ValueError):
                key = None
            with self._lock:
                drawing = self._drawings.pop(key, None)
        if drawing is not None and not drawing.cancel():  # being drawn, or drawn: not drawn twice
            try:
                return drawing.result()
            except Exception:  # noqa: BLE001 - drawn again below, where the error belongs to the export
                pass
        return static_svg(spec)

    def close(self) -> None:
        """Drop every drawing not taken and end the drawing thread (after the chart it is
        drawing, if any)."""
        with self._lock:
            self._closed = True
            drawings, self._drawings = list(self._drawings.values()), {}
            thread = self._thread
        for drawing in drawings:
            drawing.cancel()
        if thread is not None:
            self._queue.put(None)
            thread.join()

    @contextlib.contextmanager
    def offered(self) -> Iterator[StaticDrawings]:
        """While inside, the notebook executed in this thread offers its outputs here
        (:func:`offered_drawings`, read where the executing client is made)."""
        token = _OFFERED.set(self)
        try:
            yield self
        finally:
            _OFFERED.reset(token)


_YIELD_S = 0.005
_OFFERED: contextvars.ContextVar[StaticDrawings | None] = contextvars.ContextVar("reportlib_static_drawings",
                                                                                 default=None)


def offered_drawings() -> StaticDrawings | None:
    """The :class:`StaticDrawings` that a notebook executed in this thread offers its outputs
    to (:meth:`StaticDrawings.offered`), if any."""
    return _OFFERED.get()


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
