"""The Vega bundle is built once per vl-convert version and read back from the cache afterwards."""

from __future__ import annotations

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
