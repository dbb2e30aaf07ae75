"""The shared PPTX renderer: titled slides, native charts, tables, notes, atomic saves."""

from decimal import Decimal as D

from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE

from reportlib.render.pptx import Deck, chart_number


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
    assert list(charts[0].plots[0].series[0].values) == [1.0, None]  # 1.005 rounds half even to 1.00
    tables = [s.table for s in prs.slides[1].shapes if s.has_table]
    assert tables[0].cell(1, 0).text == "=cmd"
    assert [p.name for p in tmp_path.iterdir()] == ["deck.pptx"]


def test_chart_number_rounds_and_keeps_gaps():
    assert chart_number(D("2.345")) == 2.34 and chart_number(None) is None and chart_number(float("nan")) is None
