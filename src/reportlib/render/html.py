"""HTML: escaped tables and figures for notebooks, and the offline notebook-to-HTML export."""

from __future__ import annotations

import copy
import re
import threading
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import nbformat

from ..files import atomic_write
from .headline import drop_headlines
from .figures import Figure, is_missing
from .text import escape_html
from .table import Col

if TYPE_CHECKING:
    from .charts import StaticDrawings

__all__ = ["TEMPLATES", "assert_offline", "format_value", "kpi_cards", "notebook_to_html", "table_html",
           "warm_html_export", "write_notebook_html"]

TEMPLATES = Path(__file__).parent / "templates"
_REMOTE = re.compile(r"""<(?:script|link|img|iframe)[^>]+(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def format_value(col: Col, value: Any) -> str:
    """Display text for a value of ``col`` (not escaped); figures read as :mod:`.figures` shows them."""
    if isinstance(value, Figure):
        return value.kind.text(value.value, missing="")
    if is_missing(value):
        return ""
    kind = col.kind
    figure = col.figure
    if figure is not None:
        return figure.text(value, missing="")
    if kind == "date":
        return value.isoformat()[:10] if isinstance(value, (date, datetime)) else str(value)[:10]
    if kind == "datetime":
        return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    if kind == "bool":
        return "yes" if value else "no"
    return str(value)


def table_html(rows: Any, columns: Sequence[Col], caption: str | None = None, limit: int | None = None) -> str:
    """An HTML table of ``rows`` (DataFrame or mappings); every cell is escaped."""
    records = (dict(zip(rows.columns, r)) for r in rows.itertuples(index=False, name=None)) \
        if hasattr(rows, "itertuples") else iter(rows)
    parts = ['<table class="rl-table">']
    if caption:
        parts.append(f"<caption>{escape_html(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{escape_html(c.title)}</th>" for c in columns) + "</tr></thead><tbody>")
    for index, record in enumerate(records):
        if limit is not None and index >= limit:
            break
        cells = []
        for col in columns:
            value = record.get(col.key)
            css = ' class="num"' if col.figure is not None or isinstance(value, Figure) else ""
            cells.append(f"<td{css}>{escape_html(format_value(col, value))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def kpi_cards(cards: Sequence[tuple[str, str, str | None]]) -> str:
    """Headline figures as cards: (label, value text, note or None), all escaped."""
    items = []
    for label, value, note in cards:
        note_html = f'<div class="note">{escape_html(note)}</div>' if note else ""
        items.append(f'<div class="rl-kpi"><div class="label">{escape_html(label)}</div>'
                     f'<div class="value">{escape_html(value)}</div>{note_html}</div>')
    return '<div class="rl-kpis">' + "".join(items) + "</div>"


# Exporters ready to use (templates compiled), each used by one thread at a time: a new one
# compiles its Jinja templates again.
_idle_exporters: list = []
_exporters_lock = threading.Lock()
_warming: threading.Thread | None = None


def _vega_lite_as_html(nb: nbformat.NotebookNode, drawings: StaticDrawings | None = None) -> None:
    """Give every Vega-Lite output without HTML its element in the page.

    Charts keep only their spec in the notebook (JupyterLab draws it); the page gets either a
    :func:`~reportlib.render.charts.chart_embed_html` element that the reader's browser draws
    from the page's Vega bundle, or, for a chart displayed with static charts on
    (``use_offline_charts()``), its drawing as inline SVG: no script and no bundle. A drawing
    started while the notebook ran is taken from ``drawings``.
    """
    from .charts import VEGALITE_MIME, chart_embed_html, is_static_chart, static_svg

    draw = static_svg if drawings is None else drawings.take
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            data = output.get("data")
            if data and VEGALITE_MIME in data and "text/html" not in data:
                if is_static_chart(output):
                    data["text/html"] = f'<div class="rl-chart-svg">{draw(data[VEGALITE_MIME])}</div>'
                else:
                    data["text/html"] = chart_embed_html(data[VEGALITE_MIME])


def notebook_to_html(notebook: nbformat.NotebookNode | str | Path, *, consume: bool = False,
                     notes: bool = False, drawings: StaticDrawings | None = None) -> str:
    """An executed notebook as one self-contained HTML page, code hidden, no CDN scripts.

    A family's report shows what its cells display and its markdown cells tagged ``report``;
    ``notes=True`` keeps every markdown cell and printed text too, as nbconvert's own page does
    (a notebook run as papermill runs it, :mod:`reportlib.notebooks`). ``consume=True`` lets the
    export change ``notebook`` instead of working on a deep copy of it: for a caller that drops
    the notebook afterwards, as a run does. ``drawings``: the static charts drawn while the
    notebook ran (:class:`~reportlib.render.charts.StaticDrawings`); the page is the same with
    or without them.
    """
    if not isinstance(notebook, nbformat.NotebookNode):
        notebook, consume = nbformat.read(str(notebook), as_version=4), True
    if not consume:
        notebook = copy.deepcopy(notebook)
    # The exporter's own deep copies of the notebook are the notebook itself from here on.
    notebook = _Consumed(notebook)
    drop_headlines(notebook)
    _vega_lite_as_html(notebook, drawings)
    warming = _warming
    if warming is not None and warming is not threading.current_thread():
        warming.join()  # it is doing what this export would do first
    exporter = _take_exporter()
    try:
        body, _ = exporter.from_notebook_node(notebook, resources={"reportlib_notes": notes})
    finally:
        with _exporters_lock:
            _idle_exporters.append(exporter)
    return _with_vega_bundle(body)


class _Consumed(nbformat.NotebookNode):
    """A notebook the export may change: nbconvert's deep copy of it is the notebook itself."""

    def __deepcopy__(self, memo):
        return self


def _take_exporter():
    with _exporters_lock:
        if _idle_exporters:
            return _idle_exporters.pop()
    from ..patches import html_exporter_class

    return html_exporter_class()(
        template_name="reportlib",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        optimistic_validation=True,  # validate the notebook once, not after each of its ~8 preprocessors
    )


def warm_html_export(static_charts: bool = False) -> None:
    """Start, in a background thread, what this process's first export would do first.

    That is importing nbconvert and the chart module, compiling the page's templates, reading
    the Vega bundle and, for a notebook that draws static charts (``static_charts``), starting
    vl-convert's JavaScript engine, which its first drawing would start (a page without such
    charts does not pay that CPU). A run calls this before its notebook executes, while this
    process mostly waits for the kernel; the export then finds everything ready. Does nothing
    once an exporter is ready or a warm-up has started.
    """
    global _warming
    with _exporters_lock:
        if _warming is not None or _idle_exporters:
            return
        # Not a daemon: a run that ends early waits for it rather than killing it mid-import.
        _warming = threading.Thread(target=_warm_up, args=(static_charts,), name="reportlib-html-warm-up")
        _warming.start()


def _warm_up(static_charts: bool = False) -> None:
    try:
        from .charts import VEGALITE_MIME

        # A chart's output: the export builds its element and reads the Vega bundle.
        chart = nbformat.v4.new_output("display_data", data={VEGALITE_MIME: {"mark": "bar"}})
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[chart])])
        notebook_to_html(notebook)
        if static_charts:
            from .charts import warm_static_charts

            warm_static_charts()
    except Exception:  # noqa: BLE001 - the real export will meet and report the same problem
        pass


def _with_vega_bundle(page: str) -> str:
    """``page`` with the inline Vega bundle in its head if its charts are drawn by the browser.

    Charts displayed as Vega-Lite (``use_offline_charts(interactive=True)``) leave the bundle
    out of the notebook, so 10,000 executed notebooks do not each carry 0.9 MB of JavaScript;
    the page gets it here, once, before any chart's script runs.
    """
    from .charts import page_needs_bundle, vega_bundle_html

    if not page_needs_bundle(page):
        return page
    head_end = page.find("</head>")
    if head_end < 0:
        raise ValueError("HTML export has no </head> to put the Vega bundle in")
    return page[:head_end] + vega_bundle_html() + page[head_end:]


def assert_offline(html_text: str) -> None:
    """Raise ValueError if the page loads a script, style, image or frame from the network."""
    match = _REMOTE.search(html_text)
    if match:
        raise ValueError(f"HTML report would load from the network: {match.group(0)[:120]!r}")


def write_notebook_html(notebook: nbformat.NotebookNode | str | Path, html_path: str | Path, *,
                        consume: bool = False, notes: bool = False, drawings: StaticDrawings | None = None) -> Path:
    """Export an executed notebook (or its file) to ``html_path`` atomically, refusing network
    dependencies (``consume``, ``notes``, ``drawings``: see :func:`notebook_to_html`)."""
    text = notebook_to_html(notebook, consume=consume, notes=notes, drawings=drawings)
    assert_offline(text)
    # No fsync: the run's manifest records the page's SHA-256, so a re-run remakes a spoiled page.
    with atomic_write(html_path, fsync=False) as handle:
        handle.write(text)
    return Path(html_path)
