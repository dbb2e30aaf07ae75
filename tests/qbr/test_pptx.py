"""The QBR deck: written as PresentationML, it is the package python-pptx builds for the same review."""

from __future__ import annotations

import zipfile
from collections import Counter

import pytest
from pptx import Presentation

import reportlib
from reportlib.demo import build_demo
from reportlib.load import write_domain
from reportlib.qbr import partner_review, quarter_metrics
from reportlib.qbr.pptx import SLIDE_TITLES, build_deck
from reportlib.qbr.review import KPIS
from reportlib.render.pptx import FOOTER_BOX, DeckWriter
from reportlib.render.pptx_print import print_copy

from ..conftest import pdf_pages
from ..oracles.pptx_reference import Deck
from ..render.test_pptx import assert_same_package
from .dataset import crowded_rows, qbr_rows


def _active(metrics) -> list[str]:
    rows = metrics.metrics
    return list(rows.loc[rows["status"] == "active", "partner_id"])


@pytest.mark.parametrize("source", ["dataset", "demo"])
def test_every_partners_deck_is_the_package_python_pptx_writes(source, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if source == "dataset":  # the hand-made partners: a tricky name, missing inputs, empty quarters, long texts
        write_domain("qbr", crowded_rows(), url=url, source="test")
    else:
        build_demo(url, scale="small", domains=["qbr"])
    with reportlib.connect(url) as conn:
        metrics = quarter_metrics(conn, "2026Q3")
    partners = _active(metrics)
    assert partners
    for index, partner in enumerate(partners[:25]):
        review = partner_review(metrics, partner, "2026Q3")
        reference = build_deck(review, Deck).save(tmp_path / f"reference-{index}.pptx")
        fast = build_deck(review).save(tmp_path / f"fast-{index}.pptx")
        with zipfile.ZipFile(reference) as theirs, zipfile.ZipFile(fast) as ours:
            assert_same_package(theirs, ours)


def test_the_default_deck_writer_is_presentationml(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("qbr", qbr_rows(), url=url, source="test")
    with reportlib.connect(url) as conn:
        review = partner_review(conn, "A1", "2026Q3")
    deck = build_deck(review)
    assert isinstance(deck, DeckWriter) and len(deck.slides) == len(SLIDE_TITLES)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """The metrics of :func:`crowded_rows` for 2026Q3 (the hand-made partners and two hard to lay out)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('crowded') / 'db.sqlite'}"
    write_domain("qbr", crowded_rows(), url=url, source="test")
    with reportlib.connect(url) as conn:
        return quarter_metrics(conn, "2026Q3")


def _joined(words) -> str:
    """Words as one line; a line may end after a hyphen ("longest-" / "running"), a word never breaks."""
    return " ".join(words).replace("- ", "-")


def _inside(word, left: float, top: float, right: float, bottom: float, slack: float = 1.0) -> bool:
    x, y = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
    return left - slack <= x <= right + slack and top - slack <= y <= bottom + slack


@pytest.mark.office
@pytest.mark.parametrize("partner", ["A1", "C3", "E5"])
def test_every_table_and_text_box_fits_its_slide_as_libreoffice_draws_it(crowded, partner, tmp_path):
    """Rendered to PDF: every table cell's words stand whole in the cell the deck gave them (a row
    LibreOffice had to make higher, or a word it broke, moves or splits them), every table ends
    above the footer, and every text box's words lie inside its box."""
    assert_laid_out_to_fit(build_deck(partner_review(crowded, partner, "2026Q3")).save(tmp_path / f"{partner}.pptx"),
                           tmp_path)


@pytest.mark.office
def test_the_deck_copy_that_libreoffice_prints_draws_every_table_cell_where_the_deck_has_it(crowded, tmp_path):
    """The PDF of a deck is made from its copy for printing (tables drawn cell by cell): every
    cell's words stand whole in the cell of the deck's own table, as in the deck's printout."""
    deck = build_deck(partner_review(crowded, "E5", "2026Q3")).save(tmp_path / "E5.pptx")
    assert_laid_out_to_fit(deck, tmp_path, printed=print_copy(deck, tmp_path / "E5-print.pptx"))


def assert_laid_out_to_fit(path, tmp_path, printed=None) -> None:
    """The checks of the test above, for the deck at ``path`` (as LibreOffice prints ``printed``,
    by default the deck itself)."""
    prs = Presentation(str(path))
    pages = pdf_pages(printed or path, tmp_path)
    assert len(pages) == len(prs.slides)
    for number, (slide, page) in enumerate(zip(prs.slides, pages), 1):
        where = f"slide {number} {slide.shapes.title.text!r}"
        pt = page.width / prs.slide_width  # points per EMU
        assert all(0 <= w.x0 and w.x1 <= page.width and 0 <= w.y0 and w.y1 <= page.height for w in page.words), where
        for shape in slide.shapes:
            if shape.has_table:
                assert shape.top + sum(row.height for row in shape.table.rows) <= FOOTER_BOX.top, where
                top = shape.top
                for r, row in enumerate(shape.table.rows):
                    left = shape.left
                    for c, column in enumerate(shape.table.columns):
                        cell = shape.table.cell(r, c)
                        box = (left * pt, top * pt, (left + column.width) * pt, (top + row.height) * pt)
                        found = sorted((w for w in page.words if _inside(w, *box)), key=lambda w: (round(w.y0), w.x0))
                        assert _joined(w.text for w in found) == _joined(cell.text.split()), \
                            f"{where}, table cell {r},{c}"
                        left += column.width
                    top += row.height
            elif shape.has_text_frame and shape.text_frame.text.strip():
                box = (shape.left * pt, shape.top * pt, (shape.left + shape.width) * pt,
                       (shape.top + shape.height) * pt)
                inside = Counter(w.text for w in page.words if _inside(w, *box))
                expected = Counter(shape.text_frame.text.split())
                assert not expected - inside, f"{where}: {shape.name} {dict(expected - inside)} not inside its box"


def test_the_tier_benchmarks_table_has_every_kpi_on_the_full_width(crowded):
    review = partner_review(crowded, "E5", "2026Q3")
    deck = build_deck(review, Deck)
    slide = _slide(deck.prs, "Tier benchmarks")
    table = next(shape for shape in slide.shapes if shape.has_table)
    assert [row.cells[0].text for row in table.table.rows][1:] == [k.label for k in KPIS]
    assert table.left == deck.body.left and table.width == deck.body.width
    assert table.top + table.height <= deck.body.top + deck.body.height
    titles = [s.shapes.title.text for s in deck.prs.slides]
    assert [t for t in titles if not t.endswith("(continued)")][1:] == list(SLIDE_TITLES[1:])
    assert titles[titles.index("Tier benchmarks") + 1] == "Tier benchmarks: partner vs tier median"


def test_a_table_too_long_for_its_slide_continues_on_the_next_with_its_header(tmp_path):
    deck = DeckWriter(footer="footer")
    slide = deck.slide("Certifications", notes="how certifications are counted")
    rows = [[f"Certification {i} with a long title", "Professional", f"2026-10-{i + 1:02d}"] for i in range(30)]
    last, bottom = deck.paged_table(slide, deck.left_half(), ["Certification", "Level", "Expires"], rows,
                                    title="Certifications", notes="how certifications are counted")
    prs = Presentation(str(deck.save(tmp_path / "long.pptx")))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[0] == "Certifications" and set(titles[1:]) == {"Certifications (continued)"}
    tables = [next(s.table for s in sl.shapes if s.has_table) for sl in prs.slides]
    assert all(t.cell(0, 0).text == "Certification" for t in tables)
    assert [t.cell(r, 0).text for t in tables for r in range(1, len(t.rows))] == [row[0] for row in rows]
    assert all(sl.notes_slide.notes_text_frame.text == "how certifications are counted" for sl in prs.slides)
    frames = [next(s for s in sl.shapes if s.has_table) for sl in prs.slides]
    assert all(f.top + f.height <= deck.body.top + deck.body.height for f in frames)
    assert last is deck.slides[-1] and bottom == frames[-1].top + frames[-1].height


def _slide(prs, title):
    return next(slide for slide in prs.slides if slide.shapes.title.text == title)


def _chart_of(slide, title):
    return next(s.chart for s in slide.shapes if s.has_chart and s.chart.chart_title.text_frame.text == title)


@pytest.mark.parametrize("deck_type", [DeckWriter, Deck])
def test_missing_figures_are_gaps_labelled_n_a_in_the_charts_not_zeros(crowded, deck_type, tmp_path):
    """E5 has no portal rows in five of the eight quarters and no surveys (a left-out health
    component); C3 has no MDF. Each is an empty point (no ``c:pt``), its category says n/a."""
    prs = {}
    for partner in ("E5", "C3"):
        deck = build_deck(partner_review(crowded, partner, "2026Q3"), deck_type)
        prs[partner] = Presentation(str(deck.save(tmp_path / f"{partner}.pptx")))
    slides = {t: _slide(prs["E5"], t) for t in ("Engagement", "Health score breakdown")}
    portal = _chart_of(slides["Engagement"], "Portal logins per month, last 8 quarters")
    assert list(portal.plots[0].categories) == ["2024Q4 (n/a)", "2025Q1", "2025Q2 (n/a)", "2025Q3", "2025Q4 (n/a)",
                                                "2026Q1 (n/a)", "2026Q2", "2026Q3 (n/a)"]
    logins = portal.plots[0].series[0]
    assert list(logins.values) == [None, 3.0, None, 6.0, None, None, 9.0, None]
    assert [int(i) for i in logins._element.xpath("./c:val//c:pt/@idx")] == [1, 3, 6]
    assert portal._chartSpace.xpath("//c:dispBlanksAs/@val") == ["gap"]
    notes = slides["Engagement"].notes_slide.notes_text_frame.text
    assert "2024Q4 n/a, 2025Q1 3.0 / month" in notes and "2026Q3 n/a." in notes

    health = _chart_of(slides["Health score breakdown"], "Points earned vs weight")
    assert list(health.plots[0].categories) == ["Revenue attainment", "Pipeline health", "Engagement",
                                                "Customer satisfaction (n/a)", "Deal efficiency"]
    points, weight = health.plots[0].series
    assert points.values[3] is None and None not in points.values[:3] and list(weight.values)[3] == 15.0
    notes = slides["Health score breakdown"].notes_slide.notes_text_frame.text
    assert "Customer satisfaction n/a, Deal efficiency 5.9." in notes

    mdf = _chart_of(_slide(prs["C3"], "Market development funds (MDF)"), "MDF allocated vs spent")
    assert list(mdf.plots[0].categories) == ["Allocated (n/a)", "Spent (n/a)"]
    assert list(mdf.plots[0].series[0].values) == [None, None]
    mdf_slide = _slide(prs["C3"], "Market development funds (MDF)")
    assert "MDF: Allocated n/a, Spent n/a." in mdf_slide.notes_slide.notes_text_frame.text


def test_a_table_with_no_room_left_below_another_starts_on_a_continuation_slide(tmp_path):
    deck = DeckWriter()
    slide = deck.slide("Engagement", notes="engagement notes")
    left = deck.left_half()
    figures = [[f"Figure {i}", f"{i}.0 %"] for i in range(20)]
    slide, bottom = deck.paged_table(slide, left, ["Figure", "Value"], figures, title="Engagement")
    assert len(deck.slides) == 1 and deck.body.top + deck.body.height - bottom < 600000  # less than 0.66 in left
    deck.paged_table(slide, deck.below(left, bottom), ["Certification", "Level"], [["X", "Expert"], ["Y", "Associate"]],
                     title="Engagement", notes="engagement notes")
    prs = Presentation(str(deck.save(tmp_path / "deck.pptx")))
    assert [s.shapes.title.text for s in prs.slides] == ["Engagement", "Engagement (continued)"]
    frames = [shape for s in prs.slides for shape in s.shapes if shape.has_table]
    assert [f.table.cell(0, 0).text for f in frames] == ["Figure", "Certification"]
    assert all(f.top + f.height <= deck.body.top + deck.body.height for f in frames)
