"""The PresentationML deck writer: the same package python-pptx writes for the same calls."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal as D

import openpyxl
import pytest
from lxml import etree
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE

from reportlib.render.pptx import DeckWriter

from ..oracles.pptx_reference import Deck

TRICKY = ["plain", "<b>&amp;</b> 'q' \"d\"", "bell\x07 esc\x1b cr\r tab\t", "two\nparagraphs", "soft\vbreak",
          "", "trailing\n", "€ ✓ ü", "=1+2"]


def draw(deck, *, notes: bool = True) -> None:
    """Every drawing call of a deck, with text that python-pptx escapes, splits or drops."""
    deck.title_slide("Title — " + TRICKY[1], "line one\nline two\v" + TRICKY[2], notes="title notes" if notes else None)
    slide = deck.slide("Figures " + TRICKY[3], notes=TRICKY[2] if notes else None, subtitle="a subtitle")
    deck.chart(slide, deck.left_half(), "line", ["Q1", "Q2 <&>", "Q3"],
               {"Revenue": [D("1.005"), None, 3], "Target": [1, 2, 2.5]}, title="Trend\nsecond line")
    deck.chart(slide, deck.right_half(), "bar", ["a", "b"], {"Count": [3, 4]}, title="Bars", number_format="0.0")
    deck.table(slide, deck.body, ["Name", "Value", "Note"], [[t, None, i] for i, t in enumerate(TRICKY)],
               fills=[["C6EFCE", None, "FFC7CE"] for _ in TRICKY], widths=[3, 1, 1], size=11)
    plain = deck.slide("No notes here")
    deck.chart(plain, deck.body, "column", ["x", "y", "z"], {"A": [1, 2, 3], "B": [None, 1, 0]}, legend=True)
    deck.chart(plain, deck.body, "line", ["only"], {"Single": [7]}, title=None)
    deck.chart(plain, deck.body, "column", [], {"Empty": []}, title="Nothing")
    deck.table(plain, deck.left_half(), ["One column"], [])
    deck.text(plain, deck.body, TRICKY[4], size=18, bold=True, color=RGBColor(0xC0, 0, 0))
    if notes:
        deck.add_notes(plain, "notes added later")
        deck.add_notes(slide, "\n\nmore notes")
    deck.bullets_slide("Bullets", TRICKY, notes="bullet notes" if notes else None)
    deck.bullets_slide("No bullets", [])


def packages(tmp_path, **options) -> tuple[zipfile.ZipFile, zipfile.ZipFile]:
    reference, fast = Deck(footer="footer · text"), DeckWriter(footer="footer · text")
    draw(reference, **options)
    draw(fast, **options)
    return (zipfile.ZipFile(reference.save(tmp_path / "reference.pptx")),
            zipfile.ZipFile(fast.save(tmp_path / "fast.pptx")))


def canonical(blob: bytes) -> bytes:
    return etree.tostring(etree.fromstring(blob, etree.XMLParser(remove_blank_text=True)), method="c14n")


def assert_same_package(reference: zipfile.ZipFile, fast: zipfile.ZipFile) -> None:
    """Every part has the same name and canonical XML; binary parts are the same bytes.

    Content types are compared as a set (their order means nothing); embedded workbooks are
    compared by their cells (python-pptx writes them with XlsxWriter).
    """
    assert sorted(fast.namelist()) == sorted(reference.namelist())
    assert fast.testzip() is None
    for name in reference.namelist():
        ours, theirs = fast.read(name), reference.read(name)
        if name.endswith(".xlsx"):
            assert workbook_cells(ours) == workbook_cells(theirs), name
        elif name == "[Content_Types].xml":
            def entries(blob):
                return sorted(tuple(sorted(e.attrib.items())) for e in etree.fromstring(blob))
            assert entries(ours) == entries(theirs)
        elif name.endswith((".xml", ".rels")):
            assert canonical(ours) == canonical(theirs), name
        else:
            assert ours == theirs, name


def workbook_cells(blob: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(blob)).worksheets[0]
    # Excel stores doubles: XlsxWriter writes 1.0 as "1", which openpyxl reads back as an int.
    return [[(float(c.value), c.number_format) if isinstance(c.value, (int, float)) else (c.value, None)
             for c in row] for row in sheet.iter_rows()]


def test_every_part_is_the_xml_python_pptx_writes_for_the_same_calls(tmp_path):
    reference, fast = packages(tmp_path)
    assert_same_package(reference, fast)
    assert any(n.startswith("ppt/notesMasters/") for n in fast.namelist())


def test_a_deck_without_notes_has_no_notes_master_like_python_pptx(tmp_path):
    reference, fast = packages(tmp_path, notes=False)
    assert_same_package(reference, fast)
    assert not any(n.startswith(("ppt/notesMasters/", "ppt/notesSlides/")) for n in fast.namelist())


def test_deck_reads_back_with_python_pptx(tmp_path):
    deck = DeckWriter()
    draw(deck)
    prs = Presentation(str(deck.save(tmp_path / "deck.pptx")))
    slides = list(prs.slides)
    assert [s.shapes.title.text for s in slides][:3] == ["Title — " + TRICKY[1], "Figures two\nparagraphs",
                                                         "No notes here"]
    assert slides[1].notes_slide.notes_text_frame.text.endswith("\n\nmore notes")
    assert slides[2].notes_slide.notes_text_frame.text == "notes added later"
    charts = [s.chart for s in slides[1].shapes if s.has_chart]
    assert [c.chart_type for c in charts] == [XL_CHART_TYPE.LINE_MARKERS, XL_CHART_TYPE.BAR_CLUSTERED]
    assert list(charts[0].plots[0].series[0].values) == [1.01, None, 3.0]  # 1.005 rounds half up
    assert list(charts[0].plots[0].categories) == ["Q1", "Q2 <&>", "Q3"]
    table = next(s.table for s in slides[1].shapes if s.has_table)
    assert table.cell(1, 0).text == "plain" and table.cell(9, 0).text == "=1+2"
    assert [p.name for p in tmp_path.iterdir()] == ["deck.pptx"]


def test_chart_categories_must_be_text():
    deck = DeckWriter()
    with pytest.raises(TypeError, match="categories are text"):
        deck.chart(deck.slide("x"), deck.body, "line", [2024, 2025], {"A": [1, 2]})
    with pytest.raises(ValueError, match="unknown chart kind 'pie'"):
        deck.chart(deck.slide("y"), deck.body, "pie", ["a"], {"A": [1]})


def test_a_failed_save_leaves_no_file(tmp_path):
    deck = DeckWriter()
    deck.slide("x")
    deck.slides[0].shapes.append(None)  # a broken shape: the package cannot be written
    with pytest.raises(TypeError):
        deck.save(tmp_path / "deck.pptx")
    assert list(tmp_path.iterdir()) == []
