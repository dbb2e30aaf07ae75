"""The shared PPTX renderer: titled slides, native charts, tables, notes, atomic saves."""

from decimal import Decimal as D

from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE

from reportlib.render.pptx import chart_number

from .pptx_reference import Deck


def test_deck_has_titles_native_charts_tables_and_notes(tmp_path):
    deck = Deck(footer="footer text")
    deck.title_slide("Title", "Subtitle", notes="title notes")
    slide = deck.slide("Figures", notes="how the figures are defined", subtitle="a subtitle")
    deck.chart(slide, deck.left_half(), "line", ["Q1", "Q2"], {"Revenue": [D("1.005"), None], "Target": [1, 2]},
               title="Trend")
    deck.chart(slide, deck.right_half(), "bar", ["a", "b"], {"Count": [3, 4]}, title="Bars")
    deck.table(slide, deck.body, ["Name", "Value"], [["=cmd", "1"]], fills=[[None, "C6EFCE"]])
    path = deck.save(tmp_path / "deck.pptx")
    prs = Presentation(str(path))
    assert [s.shapes.title.text for s in prs.slides] == ["Title", "Figures"]
    assert prs.slides[1].notes_slide.notes_text_frame.text == "how the figures are defined"
    charts = [s.chart for s in prs.slides[1].shapes if s.has_chart]
    assert [c.chart_type for c in charts] == [XL_CHART_TYPE.LINE_MARKERS, XL_CHART_TYPE.BAR_CLUSTERED]
    assert list(charts[0].plots[0].series[0].values) == [1.01, None]  # 1.005 rounds half up, as every figure
    tables = [s.table for s in prs.slides[1].shapes if s.has_table]
    assert tables[0].cell(1, 0).text == "=cmd"
    assert [p.name for p in tmp_path.iterdir()] == ["deck.pptx"]


def test_chart_number_rounds_half_up_on_the_exact_value_and_keeps_gaps():
    assert chart_number(D("2.345")) == 2.35 and chart_number(D("-2.345")) == -2.35
    assert chart_number(2.675) == 2.68  # the float's shortest text, not its binary 2.67499999...
    assert chart_number(None) is None and chart_number(float("nan")) is None


def test_table_cells_are_the_xml_python_pptx_cell_api_makes(tmp_path):
    """Tables are written as one XML fragment for speed; it must equal the cell-by-cell API's."""
    from lxml import etree
    from pptx.util import Inches

    from reportlib.render.charts import THEME_COLORS
    from .pptx_reference import WHITE

    header = ["KPI", "Value", "Status"]
    rows = [["Revenue", "$1,200", "on"], ["Two\nlines", None, ""], ["<b>&amp;</b> 'q' \"d\"", "€ ✓", "x"],
            ["bell\x07 and tab\t", "a\n\nb", "end\n"]]
    fills = [["C6EFCE", None, "FFC7CE"], [None, None, None], [None, "EDEDED", None], ["FFEB9C", None, None]]
    deck = Deck()
    fast = deck.table(deck.slide("fast"), deck.body, header, rows, fills=fills, size=11)

    reference = deck.slide("reference").shapes.add_table(len(rows) + 1, len(header), fast.left, fast.top,
                                                         fast.width, fast.height).table
    for reference_row, fast_row in zip(reference.rows, fast.table.rows):  # rows are as high as their text
        reference_row.height = fast_row.height
    for c, title in enumerate(header):
        Deck._cell(reference.cell(0, c), title, 11, bold=True, color=WHITE, fill=THEME_COLORS[0].lstrip("#"))
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            Deck._cell(reference.cell(r, c), "" if value is None else str(value), 11, fill=fills[r - 1][c])
    for fast_row, reference_row in zip(fast.table._tbl.tr_lst, reference._tbl.tr_lst):
        assert etree.tostring(fast_row, method="c14n") == etree.tostring(reference_row, method="c14n")
    path = deck.save(tmp_path / "tables.pptx")
    table = next(s for s in Presentation(str(path)).slides[0].shapes if s.has_table).table
    assert [[cell.text for cell in row.cells] for row in table.rows][1:3] == [
        ["Revenue", "$1,200", "on"], ["Two\nlines", "", ""]]
