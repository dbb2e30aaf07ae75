"""PDFs made by headless Chromium and LibreOffice, read back with pdftotext, listed in manifests."""

from __future__ import annotations

import json
import subprocess

import pytest

from reportlib.cli import main
from reportlib.delivery.catalogue import entries
from reportlib.delivery.pdf import make_pdfs
from reportlib.families import get_family

pytestmark = pytest.mark.kernel


def pages(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    return text.split("\f")[:-1]


def page_size(pdf) -> tuple[float, float]:
    from lxml import etree

    xhtml = subprocess.run(["pdftotext", "-bbox", "-l", "1", str(pdf), "-"], check=True, capture_output=True,
                           timeout=60).stdout
    page = next(etree.fromstring(xhtml).iter("{http://www.w3.org/1999/xhtml}page"))
    return float(page.get("width")), float(page.get("height"))


def test_statement_pdf_is_the_page_printed_on_a4_with_header_page_numbers_and_sections_on_new_pages(world):
    pdf = world.statements / "p1-alpha-partner.pdf"
    width, height = page_size(pdf)
    # A4 is 595.3 x 841.9 points; Chromium rounds the paper to its own pixel grid (under a point).
    assert width == pytest.approx(595.3, abs=1) and height == pytest.approx(841.9, abs=1)
    text = pages(pdf)
    assert len(text) > 2
    for n, page in enumerate(text, start=1):
        assert "Alpha Partner (P1)" in page and "October 2026" in page  # the header on every page
        assert f"Page {n} of {len(text)}" in page  # the footer
    first = text[0]
    assert "Credit and revenue statement" in first and "301.50" in first  # the closing balance card
    assert "Credit balance over the month" in first  # the chart's own text: drawn as vectors, not a picture
    assert "Total credit by account" not in first  # the next section starts a page of its own
    assert any(page.lstrip().split("\n", 3)[-1].lstrip().startswith("Total credit by account")
               or "Total credit by account" in page for page in text[1:])


def test_deck_pdf_from_libreoffice_holds_the_key_figures(world):
    manifest = json.loads((world.qbr / "a1-alpha-systems.manifest.json").read_text())
    figures = {f["label"]: f["text"] for f in manifest["headline"]["figures"]}
    text = "\n".join(pages(world.qbr / "a1-alpha-systems.pdf"))
    assert "Alpha Systems" in text
    assert f"Health score {figures['Health score']}" in text and "100,000.00" in text


def test_pdfs_are_listed_in_the_manifest_and_skipped_when_unchanged(world):
    manifest = json.loads((world.statements / "p1-alpha-partner.manifest.json").read_text())
    (entry,) = [e for e in manifest["files"] if e["name"].endswith(".pdf")]
    assert entry["made_from"]["name"] == "p1-alpha-partner.html" and len(entry["sha256"]) == 64
    index = json.loads((world.statements / "manifest.json").read_text())
    assert all(any(f["name"].endswith(".pdf") for f in run["files"]) for run in index["runs"])
    before = (world.statements / "p1-alpha-partner.pdf").stat().st_mtime_ns
    again = make_pdfs(get_family("statement"), [world.statements])
    assert (len(again.made), again.unchanged, again.failed) == (0, 2, [])
    # A forced re-run rewrites the manifest without the PDF; the page did not change, so the PDF
    # is listed again as it is, not printed again.
    assert main(["run", "statement", "-p", "partner", "P1", "-p", "month", "2026-10", "--force", "--out",
                 str(world.out), "--db", world.url, "--pdf"]) == 0
    assert (world.statements / "p1-alpha-partner.pdf").stat().st_mtime_ns == before
    manifest = json.loads((world.statements / "p1-alpha-partner.manifest.json").read_text())
    assert "p1-alpha-partner.pdf" in [e["name"] for e in manifest["files"]]
    assert not (world.statements / "versions").exists()  # nothing changed: no version kept


def test_reportlib_pdf_brings_the_catalogue_up_to_date_with_the_pdfs_it_made(world, capsys):
    """A run without --pdf lists no PDF; ``reportlib pdf`` then makes it, lists it in the manifest
    and the catalogue links it at once (not at the next run or send)."""
    assert main(["run", "statement", "-p", "partner", "P1", "-p", "month", "2026-10", "--force", "--out",
                 str(world.out), "--db", world.url]) == 0
    (world.statements / "p1-alpha-partner.pdf").unlink()
    catalogue = world.out / "index.html"
    assert "p1-alpha-partner.pdf" not in catalogue.read_text(encoding="utf-8")
    assert main(["pdf", "statement", "-p", "month", "2026-10", "--out", str(world.out), "--db", world.url]) == 0
    assert f"Catalogue: {catalogue}" in capsys.readouterr().out
    assert "p1-alpha-partner.pdf" in catalogue.read_text(encoding="utf-8")


def test_a_changed_report_keeps_its_earlier_version_and_gets_a_new_pdf(world):
    old_pdf = (world.statements / "p1-alpha-partner.pdf").read_bytes()
    world.change_p1()
    (kept,) = (world.statements / "versions" / "p1-alpha-partner").iterdir()
    assert sorted(p.name for p in kept.iterdir()) == sorted([
        "p1-alpha-partner.html", "p1-alpha-partner.ipynb", "p1-alpha-partner.manifest.json",
        "p1-alpha-partner.pdf", "p1-alpha-partner.xlsx"])
    assert (kept / "p1-alpha-partner.pdf").read_bytes() == old_pdf
    assert "301.50" in pages(kept / "p1-alpha-partner.pdf")[0]
    assert "1,301.50" in pages(world.statements / "p1-alpha-partner.pdf")[0]  # the new PDF, printed anew
    (p1,) = [e for e in entries(world.out, world.url) if e.stem == "p1-alpha-partner"]
    assert len(p1.versions) == 2 and p1.versions[-1].current
    assert [f.name for f in p1.versions[0].files][0] == "p1-alpha-partner.pdf"
    assert p1.headline_text == "Closing balance 1,301.50"


def test_a_qbr_page_carries_its_charts_as_inline_svg_and_stays_small(world):
    page = (world.qbr / "a1-alpha-systems.html").read_text(encoding="utf-8")
    # Static charts: no Vega bundle (0.9 MB a page before), no script at all, every chart drawn.
    assert len(page.encode()) < 150_000
    assert "<script" not in page and "vega" not in page.lower()
    assert page.count("<svg") >= 4
