"""A deck's copy for printing: its tables drawn cell by cell, the same to read and to look at."""

from __future__ import annotations

import subprocess
import zipfile

import pytest
from pptx import Presentation
from pptx.util import Emu

from reportlib.render.pptx import NAVY, DeckWriter
from reportlib.render.pptx_print import BANDS, print_copy

from ..conftest import office_pdf

HEADER = ["KPI", "Value", "Target"]
ROWS = [["Revenue attainment", "193.0 %", "≥ 100 %"], ["Revenue growth", "-9.6 %", "≥ 5 %"],
        ["Pipeline coverage — a long name that wraps onto a second line of its cell", "164.7 %", "150–300 %"]]
FILLS = [["", "C6EFCE", None], [None, "FFC7CE", None], [None, None, "FFEB9C"]]


def deck(path):
    writer = DeckWriter(footer="Northwind · QBR 2026Q3")
    slide = writer.slide("Tier benchmarks", subtitle="Against the seed targets")
    writer.table(slide, writer.left_half(), HEADER, ROWS, fills=[[f or None for f in row] for row in FILLS],
                 widths=[3, 1, 1])
    writer.chart(slide, writer.right_half(), "column", ["Q1", "Q2"], {"Revenue": [1, 2]}, title="Revenue")
    return writer.save(path)


def test_print_copy_draws_each_table_cell_as_a_shape_with_its_text_fill_and_place(tmp_path):
    source = deck(tmp_path / "deck.pptx")
    before = source.read_bytes()
    copy = print_copy(source, tmp_path / "copy.pptx")
    assert source.read_bytes() == before  # the deck itself is left as it is

    (table_frame,) = [s for s in Presentation(str(source)).slides[0].shapes if s.has_table]
    table = table_frame.table
    (slide,) = Presentation(str(copy)).slides
    assert not any(s.has_table for s in slide.shapes)
    assert [s.chart.chart_title.text_frame.text for s in slide.shapes if s.has_chart] == ["Revenue"]
    cells = {s.text_frame.text: s for s in slide.shapes if s.name.startswith("Cell ")}
    assert len(cells) == 4 * 3
    top = table_frame.top
    for r, row in enumerate(table.rows):
        left = table_frame.left
        for c, column in enumerate(table.columns):
            shape = cells[table.cell(r, c).text]
            assert (shape.left, shape.top, shape.width, shape.height) == (left, top, column.width, row.height)
            own = FILLS[r - 1][c] if r else NAVY
            assert str(shape.fill.fore_color.rgb) == (own or BANDS[(r - 1) % 2])
            assert shape.line.color.rgb == (255, 255, 255)
            run = shape.text_frame.paragraphs[0].runs[0]
            original = table.cell(r, c).text_frame.paragraphs[0].runs[0]
            assert run.font.bold == (r == 0) and run.font.size == original.font.size
            assert shape.text_frame.margin_left == table.cell(r, c).margin_left == Emu(54864)
            left += column.width
        top += row.height


def test_print_copy_keeps_a_table_it_does_not_redraw(tmp_path):
    source = deck(tmp_path / "deck.pptx")
    merged = tmp_path / "merged.pptx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(merged, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "ppt/slides/slide1.xml":
                data = data.replace(b"<a:tc>", b'<a:tc gridSpan="1">', 1)
            zout.writestr(info, data)
    copy = print_copy(merged, tmp_path / "copy.pptx")
    assert copy.read_bytes() == merged.read_bytes()  # no table redrawn: copied as it is
    assert any(s.has_table for s in Presentation(str(copy)).slides[0].shapes)


def pixels(pdf, tmp_path, name):
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(pdf), str(tmp_path / name)], check=True,
                   timeout=60)
    return Image.open(tmp_path / f"{name}.png").convert("RGB")


@pytest.mark.office
def test_print_copy_prints_like_the_deck(tmp_path):
    from PIL import ImageChops, ImageStat

    source = deck(tmp_path / "deck.pptx")
    copy = print_copy(source, tmp_path / "copy.pptx")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    pdfs = office_pdf(source, tmp_path / "a"), office_pdf(copy, tmp_path / "b")
    texts = [subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True,
                            timeout=60).stdout.split() for pdf in pdfs]
    assert texts[0] == texts[1] and "193.0" in texts[1] and "150–300" in texts[1]
    first, second = pixels(pdfs[0], tmp_path, "deck"), pixels(pdfs[1], tmp_path, "copy")
    assert first.size == second.size
    # The same drawing: fills, lines and text where the table had them (anti-aliasing aside).
    difference = ImageStat.Stat(ImageChops.difference(first, second).convert("L"))
    assert difference.mean[0] < 2.0, difference.mean
