"""PPTX decks with python-pptx: one theme, native (editable) charts, tables, speaker notes.

A :class:`Deck` adds slides in the reportlib theme (16:9, navy title bar, the chart colours of
:data:`reportlib.render.charts.THEME_COLORS`); every slide has a real title placeholder (so
outline views and screen readers see it) and optional speaker notes. Charts are PowerPoint
chart objects with their data embedded, so they stay editable. :meth:`Deck.save` writes
atomically.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape
from pathlib import Path
from typing import Any, Sequence

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.oxml import parse_xml
from pptx.util import Emu, Inches, Pt

from reportlib.files import atomic_path
from reportlib.render.charts import THEME_COLORS
from reportlib.render.fit import CELL_MARGIN_X, CELL_MARGIN_Y
from reportlib.render.pptx import (FOOTER_BOX, HEIGHT, MARGIN, SUBTITLE_BOX, SUBTITLE_LINE, TITLE_BOX, WIDTH, Box, Layout,
                          TableFit, chart_number)

__all__ = ["Box", "CHART_KINDS", "Deck", "chart_number"]

NAVY = RGBColor.from_string(THEME_COLORS[0].lstrip("#"))
GREY = RGBColor(0x59, 0x59, 0x59)
WHITE = RGBColor(0xFF, 0xFF, 0xFF)
CHART_KINDS = {
    "line": XL_CHART_TYPE.LINE_MARKERS,
    "column": XL_CHART_TYPE.COLUMN_CLUSTERED,
    "bar": XL_CHART_TYPE.BAR_CLUSTERED,
}
FONT = "Calibri"


class Deck(Layout):
    """A presentation in the reportlib theme."""

    def __init__(self, footer: str = ""):
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = WIDTH, HEIGHT
        self.footer = footer

    # ----------------------------------------------------------------- slides
    def title_slide(self, title: str, subtitle: str, notes: str | None = None):
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[0])
        background = slide.background.fill
        background.solid()
        background.fore_color.rgb = NAVY
        for shape, box, text, size, min_size, bold in ((slide.shapes.title, TITLE_BOX, title, 40, 24, True),
                                                        (slide.placeholders[1], SUBTITLE_BOX, subtitle, 20, 12, False)):
            shape.left, shape.top, shape.width, shape.height = box.left, box.top, box.width, box.height
            shape.text = text
            self._style(shape.text_frame, self._text_size(box, text, size, min_size, bold), WHITE, bold=bold)
        self._notes(slide, notes)
        return slide

    def slide(self, title: str, notes: str | None = None, subtitle: str | None = None):
        """A content slide: a title bar, an optional subtitle line, the footer."""
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[5])
        bar = slide.shapes.add_shape(1, 0, 0, WIDTH, Inches(1.0))
        bar.fill.solid()
        bar.fill.fore_color.rgb = NAVY
        bar.line.fill.background()
        title_shape = slide.shapes.title
        title_shape.left, title_shape.top, title_shape.width, title_shape.height = (
            MARGIN, Inches(0.1), WIDTH - 2 * MARGIN, Inches(0.8))
        title_shape.text = title
        self._style(title_shape.text_frame, 28, WHITE, bold=True, align=PP_ALIGN.LEFT)
        # The title placeholder is drawn above the bar.
        spTree = slide.shapes._spTree
        spTree.remove(title_shape._element)
        spTree.append(title_shape._element)
        if subtitle:
            self.text(slide, SUBTITLE_LINE, subtitle, size=13, min_size=10, color=GREY)
        if self.footer:
            self.text(slide, FOOTER_BOX, self.footer, size=10, min_size=7, color=GREY)
        self._notes(slide, notes)
        return slide

    def add_notes(self, slide, text: str) -> None:
        """Append ``text`` to the slide's speaker notes."""
        frame = slide.notes_slide.notes_text_frame
        frame.text = frame.text + text

    # ----------------------------------------------------------------- content
    def text(self, slide, box: Box, text: str, *, size: int = 14, min_size: int | None = None,
             color: RGBColor | None = None, bold: bool = False, align=PP_ALIGN.LEFT):
        """A text box; with ``min_size`` the text shrinks (down to it) to fit the box."""
        size = self._text_size(box, text, size, min_size, bold)
        shape = slide.shapes.add_textbox(box.left, box.top, box.width, box.height)
        frame = shape.text_frame
        frame.word_wrap = True
        frame.text = text
        self._style(frame, size, color or RGBColor(0, 0, 0), bold=bold, align=align)
        return shape

    def bullets(self, slide, box: Box, items: Sequence[str], size: int = 16, min_size: int | None = None):
        """A text box of bullets; with ``min_size`` they shrink (down to it) to fit the box."""
        size = self._bullets_size(box, items, size, min_size)
        shape = slide.shapes.add_textbox(box.left, box.top, box.width, box.height)
        frame = shape.text_frame
        frame.word_wrap = True
        for index, item in enumerate(items):
            paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            paragraph.text = f"• {item}"
            paragraph.space_after = Pt(8)
            for run in paragraph.runs:
                run.font.size, run.font.name = Pt(size), FONT
        return shape

    def table(self, slide, box: Box, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
              widths: Sequence[float] | None = None, fills: Sequence[Sequence[str | None]] | None = None,
              size: int = 12, min_size: int | None = None, fit: TableFit | None = None):
        """A table of text cells laid out by :meth:`fit_table` (or ``fit``, its answer for these rows);
        ``widths`` weighs the columns, ``fills`` gives an optional hex background per body cell."""
        fit = fit or self.fit_table(box, header, rows, widths=widths, size=size, min_size=min_size)
        size = fit.size
        shape = slide.shapes.add_table(len(rows) + 1, len(header), box.left, box.top, fit.width, fit.height)
        table = shape.table
        for column, width in zip(table.columns, fit.columns):
            column.width = Emu(width)
        for row, height in zip(table.rows, fit.heights):
            row.height = Emu(height)
        cells = [[(title, True, WHITE, THEME_COLORS[0].lstrip("#")) for title in header]]
        cells += [[("" if value is None else str(value), False, None, fills[r][c] if fills else None)
                   for c, value in enumerate(row)] for r, row in enumerate(rows)]
        _fill_table(table, cells, size)
        return shape

    def chart(self, slide, box: Box, kind: str, categories: Sequence[str], series: dict[str, Sequence[Any]], *,
              title: str | None = None, number_format: str = "#,##0", legend: bool = True):
        """A native chart: ``kind`` is line, column or bar; series values are rounded numbers.

        With no category at all there is nothing to draw: the box says so instead.
        """
        if not categories:
            return self.text(slide, box, f"{title or 'Chart'}: no data for this period.", size=14, color=GREY)
        data = CategoryChartData(number_format=number_format)
        data.categories = list(categories)
        for name, values in series.items():
            data.add_series(name, [chart_number(v) for v in values])
        frame = slide.shapes.add_chart(CHART_KINDS[kind], box.left, box.top, box.width, box.height, data)
        chart = frame.chart
        chart.font.size, chart.font.name = Pt(11), FONT
        if title:
            chart.has_title = True
            chart.chart_title.text_frame.text = title
            self._style(chart.chart_title.text_frame, 14, NAVY, bold=True)
        else:
            chart.has_title = False
        chart.has_legend = legend and len(series) > 1
        if chart.has_legend:
            chart.legend.position = XL_LEGEND_POSITION.BOTTOM
            chart.legend.include_in_layout = False
        for index, plot_series in enumerate(chart.plots[0].series):
            color = RGBColor.from_string(THEME_COLORS[index % len(THEME_COLORS)].lstrip("#"))
            if kind == "line":
                plot_series.format.line.color.rgb = color
                plot_series.smooth = False
            else:
                plot_series.format.fill.solid()
                plot_series.format.fill.fore_color.rgb = color
        return frame

    def save(self, path: str | Path) -> Path:
        """Write the deck atomically (a temporary file renamed over ``path``)."""
        with atomic_path(path) as tmp:
            self.prs.save(str(tmp))
        return Path(path)

    # ----------------------------------------------------------------- internals
    @staticmethod
    def _notes(slide, notes: str | None) -> None:
        if notes:
            slide.notes_slide.notes_text_frame.text = notes

    @staticmethod
    def _style(frame, size: int, color: RGBColor, *, bold: bool = False, align=None) -> None:
        for paragraph in frame.paragraphs:
            if align is not None:
                paragraph.alignment = align
            for run in paragraph.runs:
                run.font.size, run.font.name, run.font.bold = Pt(size), FONT, bold
                run.font.color.rgb = color

    @staticmethod
    def _cell(cell, text: str, size: int, *, bold: bool = False, color: RGBColor | None = None,
              fill: str | None = None) -> None:
        cell.text = text
        cell.margin_left = cell.margin_right = Emu(CELL_MARGIN_X)
        cell.margin_top = cell.margin_bottom = Emu(CELL_MARGIN_Y)
        for paragraph in cell.text_frame.paragraphs:
            for run in paragraph.runs:
                run.font.size, run.font.name, run.font.bold = Pt(size), FONT, bold
                if color is not None:
                    run.font.color.rgb = color
        if fill:
            cell.fill.solid()
            cell.fill.fore_color.rgb = RGBColor.from_string(fill)


# A table's cells as one XML fragment: what ``Deck._cell`` makes through python-pptx's cell API,
# which makes tables the slowest part of a deck, cell by cell (a test holds the two
# to the same XML). Text with control characters other than a newline takes the API instead.
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_SPECIAL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _fill_table(table, cells: list[list[tuple[str, bool, RGBColor | None, str | None]]], size: int) -> None:
    margins = f'marL="{CELL_MARGIN_X}" marR="{CELL_MARGIN_X}" marT="{CELL_MARGIN_Y}" marB="{CELL_MARGIN_Y}"'
    slow = []
    rows_xml = []
    for r, (row, tr) in enumerate(zip(cells, table._tbl.tr_lst)):
        tcs = []
        for c, (text, bold, color, fill) in enumerate(row):
            if _SPECIAL.search(text):
                slow.append((r, c, text, bold, color, fill))
                text = ""
            colour = f'<a:solidFill><a:srgbClr val="{color}"/></a:solidFill>' if color is not None else ""
            run = f'<a:rPr sz="{size * 100}" b="{1 if bold else 0}">{colour}<a:latin typeface="{FONT}"/></a:rPr>'
            paragraphs = "".join(f"<a:p><a:r>{run}<a:t>{escape(line)}</a:t></a:r></a:p>" if line else "<a:p/>"
                                 for line in text.split("\n"))
            background = f'<a:solidFill><a:srgbClr val="{fill}"/></a:solidFill>' if fill else ""
            tcs.append(f"<a:tc><a:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}</a:txBody>"
                       f"<a:tcPr {margins}>{background}</a:tcPr></a:tc>" if background else
                       f"<a:tc><a:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}</a:txBody><a:tcPr {margins}/></a:tc>")
        rows_xml.append(f'<a:tr h="{tr.h}">{"".join(tcs)}</a:tr>')
    tbl = table._tbl
    fresh = parse_xml(f'<a:tbl xmlns:a="{_A}">{"".join(rows_xml)}</a:tbl>')
    for tr, new in zip(list(tbl.tr_lst), list(fresh)):
        tbl.replace(tr, new)
    for r, c, text, bold, color, fill in slow:
        Deck._cell(table.cell(r, c), text, size, bold=bold, color=color, fill=fill)

