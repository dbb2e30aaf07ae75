"""The Vega bundle is built once per vl-convert version and read back from the cache afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import vl_convert as vlc

from reportlib.render import charts


def test_bundle_is_built_once_into_the_cache_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORTLIB_CACHE", str(tmp_path / "cache"))
    charts.javascript_bundle.cache_clear()
    try:
        built = charts.javascript_bundle()
        cached = list((tmp_path / "cache").glob("vega-bundle-vl-convert-*.js"))
        assert len(cached) == 1 and cached[0].read_text(encoding="utf-8") == built == vlc.javascript_bundle()
        # A later process reads the file instead of rebuilding: prove it with a marker.
        cached[0].write_text("/* cached */", encoding="utf-8")
        charts.javascript_bundle.cache_clear()
        assert charts.vega_bundle_html() == '<script type="text/javascript">/* cached */</script>'
    finally:
        charts.javascript_bundle.cache_clear()


def test_an_unwritable_cache_only_costs_the_rebuild(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("REPORTLIB_CACHE", str(blocker / "cache"))
    charts.javascript_bundle.cache_clear()
    try:
        assert charts.javascript_bundle() == vlc.javascript_bundle()
    finally:
        charts.javascript_bundle.cache_clear()


def test_a_static_charts_compiled_vega_is_kept_in_the_cache_and_read_back_by_a_later_process(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORTLIB_CACHE", str(tmp_path / "cache"))
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "data": {"name": "rows"},
            "mark": "bar", "encoding": {"x": {"field": "leads", "type": "quantitative"},
                                        "y": {"field": "name", "type": "nominal"}},
            "datasets": {"rows": [{"name": "Hilton", "leads": 3}, {"name": "Marriott", "leads": 5}]}}
    monkeypatch.setattr(charts, "_COMPILED", {})
    drawn = charts.static_svg(spec)
    assert drawn == vlc.vegalite_to_svg(charts.static_spec(spec))
    (kept,) = (tmp_path / "cache" / "vega").glob("*.json")
    # A later process (an empty memory cache) reads the file: prove it with a changed width.
    vega = json.loads(kept.read_text(encoding="utf-8"))
    vega["width"] = 123
    kept.write_text(json.dumps(vega), encoding="utf-8")
    monkeypatch.setattr(charts, "_COMPILED", {})
    assert charts.static_svg(spec) != drawn
    # A broken file is compiled again (and rewritten), never an error.
    kept.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(charts, "_COMPILED", {})
    assert charts.static_svg(spec) == drawn
    assert json.loads(kept.read_text(encoding="utf-8"))["width"] != 123


def test_only_a_notebook_that_turns_static_charts_on_starts_vl_converts_engine_early(tmp_path):
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    assert charts.draws_static_charts(notebooks / "qbr.ipynb") and charts.draws_static_charts(
        notebooks / "statement.ipynb")
    assert not charts.draws_static_charts(notebooks / "dashboard.ipynb")
    browser_drawn = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("use_offline_charts() in prose draws nothing"),
        nbformat.v4.new_code_cell("use_offline_charts(interactive=True)")])
    nbformat.write(browser_drawn, tmp_path / "interactive.ipynb")
    assert not charts.draws_static_charts(tmp_path / "interactive.ipynb")
    assert not charts.draws_static_charts(tmp_path / "missing.ipynb")
