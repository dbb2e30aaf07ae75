"""The one printer of pages (headless Chromium): many pages, several tabs at once, each PDF its own page."""

from __future__ import annotations

import subprocess

import pytest

from reportlib.errors import ConfigError
from reportlib.render.pdf import Printout, print_pages, print_pdf

from ..conftest import need

pytestmark = pytest.mark.browser


def text_of(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout


def page(folder, n: int, *, script: str = ""):
    path = folder / f"page{n}.html"
    body = "".join(f"<p>Line {k} of page {n}</p>" for k in range(40 * (n % 3 + 1)))
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'>{script}</head><body><h1>Page number {n}"
                    f"</h1>{body}</body></html>", encoding="utf-8")
    return path


def test_pages_printed_in_parallel_tabs_each_get_their_own_pdf_header_and_page_numbers(tmp_path):
    from reportlib.render.chromium import chromium_path

    need(bool(chromium_path()), "headless Chromium")
    printouts = [Printout(page(tmp_path, n), tmp_path / "pdf" / f"{n}.pdf", f"Entity {n}", "2026-10")
                 for n in range(9)]
    done = []
    assert print_pages(printouts, tabs=3, progress=done.append) == [None] * 9
    assert sorted(done, key=lambda p: p.pdf.name) == sorted(printouts, key=lambda p: p.pdf.name)
    for n, printout in enumerate(printouts):
        text = text_of(printout.pdf)
        pages = text.split("\f")[:-1]
        assert f"Page number {n}" in text and all(f"of page {n}" in p for p in pages[1:])
        assert not any(f"Page number {m}" in text for m in range(9) if m != n)
        assert all(f"Entity {n}" in p and "2026-10" in p for p in pages)
        assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert sorted(p.name for p in (tmp_path / "pdf").iterdir()) == [f"{n}.pdf" for n in range(9)]  # no leftovers


def test_a_page_that_never_gets_ready_fails_alone_and_leaves_no_pdf(tmp_path):
    from reportlib.render.chromium import chromium_path

    need(bool(chromium_path()), "headless Chromium")
    stuck = page(tmp_path, 1)
    stuck.write_text("<!doctype html><html><body><div class='rl-chart'></div></body></html>", encoding="utf-8")
    printouts = [Printout(stuck, tmp_path / "1.pdf"), Printout(page(tmp_path, 2), tmp_path / "2.pdf")]
    outcomes = print_pages(printouts, tabs=2, page_timeout=5)
    assert outcomes[0] is not None and "never got ready" in outcomes[0] and outcomes[1] is None
    assert not (tmp_path / "1.pdf").exists() and "Page number 2" in text_of(tmp_path / "2.pdf")


def test_without_chromium_printing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORTLIB_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(ConfigError, match="needs headless Chromium, which is not installed here"):
        print_pdf(page(tmp_path, 1), tmp_path / "1.pdf")
    assert not (tmp_path / "1.pdf").exists()
