"""PPTX decks written as PresentationML text: the parts python-pptx makes, without its object model.

:class:`DeckWriter` has the drawing methods of the python-pptx reference ``Deck`` (``tests/oracles/pptx_reference.py``) and writes the
same package: every slide, notes slide and chart part is the XML that python-pptx writes for the
same calls (a test holds the two to the same canonical XML, part by part), and the parts that
never change — theme, slide master and layouts, notes master — are python-pptx's own, taken once
per process from a deck python-pptx built. What python-pptx spends on proxy objects, XPath
look-ups and serialising lxml trees, the most of a deck's time, becomes string formatting
(measured in DEVELOPERS.md, "PPTX writer").

The one part that differs is each chart's embedded workbook (what PowerPoint opens for "Edit
data"): python-pptx writes it with XlsxWriter, this module writes the same cells (categories in
column A, a series per column from B, the number format on the values) as a minimal SpreadsheetML
package; the test reads both back with openpyxl.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Sequence
from xml.sax.saxutils import escape

from ..files import atomic_path
from .charts import THEME_COLORS
from .figures import rounded
from .fit import CELL_MARGIN_X, CELL_MARGIN_Y, TableFit, bullets_fit, fit_table, text_size

__all__ = ["Box", "DeckWriter", "FOOTER_BOX", "Layout", "MIN_BULLET_SIZE", "MIN_TABLE_SIZE", "STATUS_FILLS", "SUBTITLE_BOX",
           "SUBTITLE_LINE", "Slide", "TITLE_BOX", "TableFit", "chart_number"]

_NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_NS_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_SLD_NS = f'xmlns:a="{_NS_A}" xmlns:p="{_NS_P}" xmlns:r="{_NS_R}"'
_CT = {
    "slide": "application/vnd.openxmlformats-officedocument.presentationml.slide+xml",
    "notes": "application/vnd.openxmlformats-officedocument.presentationml.notesSlide+xml",
    "chart": "application/vnd.openxmlformats-officedocument.drawingml.chart+xml",
}
# What python-pptx escapes in run text (all C0 controls but tab and line feed) and how.
_CTRL = re.compile(r"[\x00-\x08\x0B-\x1F]")
_BREAKS = re.compile("\n|\v")

NAVY = THEME_COLORS[0].lstrip("#")
GREY = "595959"
WHITE = "FFFFFF"
BLACK = "000000"
FONT = "Calibri"
STATUS_FILLS = {"on": "C6EFCE", "watch": "FFEB9C", "off": "FFC7CE", "none": "EDEDED"}
_EMU_PER_INCH = 914400
WIDTH, HEIGHT = int(_EMU_PER_INCH * 13.333), int(_EMU_PER_INCH * 7.5)
MARGIN = int(_EMU_PER_INCH * 0.5)
BODY_TOP = int(_EMU_PER_INCH * 1.35)


def _inches(value: float) -> int:
    return int(value * _EMU_PER_INCH)


def _text(value: str) -> str:
    """Run text as python-pptx stores it: XML-escaped, control characters as ``_xHHHH_``."""
    return escape(_CTRL.sub(lambda m: f"_x{ord(m.group()):04X}_", value))


def _colour(color: Any) -> str:
    """A hex colour from a python-pptx ``RGBColor`` (whose str is its hex) or a hex string."""
    return str(color).lstrip("#").upper()


@functools.lru_cache(maxsize=256)
def _rpr(size: int | None, color: str | None = None, bold: bool | None = None) -> str:
    attrs = (f' sz="{size * 100}"' if size is not None else "") + ("" if bold is None else f' b="{int(bool(bold))}"')
    fill = f'<a:solidFill><a:srgbClr val="{color}"/></a:solidFill>' if color is not None else ""
    latin = f'<a:latin typeface="{FONT}"/>' if size is not None else ""
    return f"<a:rPr{attrs}>{fill}{latin}</a:rPr>" if attrs or fill or latin else ""


def _runs(text: str, rpr: str) -> str:
    """A paragraph's runs and line breaks: ``\\n`` and ``\\v`` break lines, empty runs are left out."""
    out = []
    for index, piece in enumerate(_BREAKS.split(text)):
        if index:
            out.append("<a:br/>")
        if piece:
            out.append(f"<a:r>{rpr}<a:t>{_text(piece)}</a:t></a:r>")
    return "".join(out)


def _paragraph(text: str, rpr: str, ppr: str = "") -> str:
    body = ppr + _runs(text, rpr)
    return f"<a:p>{body}</a:p>" if body else "<a:p/>"


_PLAIN = re.compile(r"[^\x00-\x1f]+")


def _paragraphs(text: str, rpr: str, ppr: str = "") -> str:
    """``TextFrame.text = text``: one paragraph per line."""
    if _PLAIN.fullmatch(text):  # most text: one line, one run, nothing to break or escape but XML's three
        return f"<a:p>{ppr}<a:r>{rpr}<a:t>{escape(text)}</a:t></a:r></a:p>"
    return "".join(_paragraph(line, rpr, ppr) for line in text.split("\n"))


def _xfrm(left: int, top: int, width: int, height: int, tag: str = "a:xfrm") -> str:
    return f'<{tag}><a:off x="{left}" y="{top}"/><a:ext cx="{width}" cy="{height}"/></{tag}>'


def chart_number(value: Any, places: int = 2) -> float | None:
    """A figure as a chart point: rounded half up to ``places`` decimals, as every figure is
    (:func:`reportlib.render.figures.rounded`); charts store doubles."""
    shown = rounded(value, places)
    return None if shown is None else float(shown)


@dataclass(frozen=True)
class Box:
    """A rectangle on the slide, in EMU."""

    left: int
    top: int
    width: int
    height: int


# The title slide's title and subtitle (centred on the 16:9 slide, not where the template's 4:3
# layout puts them), a content slide's subtitle line and footer.
TITLE_BOX = Box(_inches(0.75), _inches(1.6), WIDTH - _inches(1.5), _inches(2.2))
SUBTITLE_BOX = Box(_inches(1.25), _inches(4.0), WIDTH - _inches(2.5), _inches(2.0))
SUBTITLE_LINE = Box(MARGIN, _inches(1.02), WIDTH - 2 * MARGIN, _inches(0.35))
FOOTER_BOX = Box(MARGIN, HEIGHT - _inches(0.45), WIDTH - 2 * MARGIN, _inches(0.3))
# The smallest sizes text is shrunk to so that it fits, in points.
MIN_TABLE_SIZE = 10
MIN_BULLET_SIZE = 12


def _cells(rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    return [["" if value is None else str(value) for value in row] for row in rows]


class Layout:
    """Where a reportlib slide's content goes and how big its text is (both deck writers share it)."""

    @property
    def body(self) -> Box:
        return Box(MARGIN, BODY_TOP, WIDTH - 2 * MARGIN, HEIGHT - BODY_TOP - _inches(0.6))

    def left_half(self) -> Box:
        b = self.body
        return Box(b.left, b.top, b.width // 2 - _inches(0.15), b.height)

    def right_half(self) -> Box:
        b = self.body
        return Box(b.left + b.width // 2 + _inches(0.15), b.top, b.width // 2 - _inches(0.15), b.height)

    def below(self, box: Box, bottom: int, gap: int = _inches(0.25)) -> Box:
        """The part of ``box`` from ``gap`` below ``bottom`` (a shape's bottom edge) down."""
        top = bottom + gap
        return Box(box.left, top, box.width, max(box.top + box.height - top, 0))

    def fit_table(self, box: Box, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
                  widths: Sequence[float] | None = None, size: int = 12, min_size: int | None = None) -> TableFit:
        """How :meth:`table` lays these rows out in ``box`` (see :func:`reportlib.render.fit.fit_table`);
        the font shrinks from ``size`` to ``min_size`` (default: ``size``) if the rows need it."""
        return fit_table(box.width, box.height, [str(h) for h in header], _cells(rows), weights=widths, size=size,
                         min_size=size if min_size is None else min_size)

    def paged_table(self, slide: Any, box: Box, header: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str,
                    widths: Sequence[float] | None = None, fills: Sequence[Sequence[str | None]] | None = None,
                    size: int = 12, min_size: int = MIN_TABLE_SIZE, notes: str | None = None,
                    subtitle: str | None = None) -> tuple[Any, int]:
        """A table in ``box``, shrunk down to ``min_size`` to fit; rows that fit nowhere continue on
        slides titled "``title`` (continued)" (same notes and subtitle, the header repeated, the
        whole body), all its parts at ``min_size``. Returns the last slide and the table's bottom
        edge on it (EMU)."""
        start = 0
        while True:
            rest = rows[start:]
            fit = self.fit_table(box, header, rest, widths=widths, size=size, min_size=min_size)
            count = fit.rows
            if rest and sum(fit.heights[:2]) > box.height and box != self.body:
                # Not even the header and one row fit below what the slide already holds: start afresh.
                slide, box = self._continued(title, notes, subtitle), self.body
                continue
            if count < len(rest):
                size = min_size
                while True:  # fewer rows may take other column widths: check the part on its own
                    fit = self.fit_table(box, header, rest[:count], widths=widths, size=size)
                    if fit.rows == count:
                        break
                    count = fit.rows
            part_fills = fills[start:start + count] if fills else None
            self.table(slide, box, header, rest[:count], widths=widths, fills=part_fills, size=fit.size, fit=fit)
            start += count
            if start >= len(rows):
                return slide, box.top + fit.height
            slide, box = self._continued(title, notes, subtitle), self.body

    def _continued(self, title: str, notes: str | None, subtitle: str | None) -> Any:
        return self.slide(f"{title} (continued)", notes=notes or f'The table of the slide "{title}", continued.',
                          subtitle=subtitle)

    def bullets_slide(self, title: str, bullets: Sequence[str], notes: str | None = None,
                      subtitle: str | None = None, *, size: int = 16, min_size: int = MIN_BULLET_SIZE) -> Any:
        """A slide of bullets in the body, shrunk down to ``min_size`` to fit; the bullets that fit
        nowhere continue on slides titled "``title`` (continued)". Returns the first slide."""
        items, first = list(bullets), None
        body = self.body
        while True:
            points, count = bullets_fit(items, body.width, body.height, size, min_size)
            slide = self.slide(title if first is None else f"{title} (continued)", notes, subtitle)
            self.bullets(slide, body, items[:count], size=points)
            first = first or slide
            items, size = items[count:], points
            if not items:
                return first

    def _text_size(self, box: Box, text: str, size: int, min_size: int | None, bold: bool) -> int:
        return size if min_size is None else text_size(text, box.width, box.height, size, min_size, bold)

    def _bullets_size(self, box: Box, items: Sequence[str], size: int, min_size: int | None) -> int:
        return size if min_size is None else bullets_fit(items, box.width, box.height, size, min_size)[0]


@dataclass
class _Chart:
    number: int
    xml: str
    workbook: bytes


@dataclass
class Slide:
    """One slide being written: its shapes (XML), relationships and speaker notes."""

    number: int
    layout: str
    background: str = ""
    shapes: list[str] = field(default_factory=list)
    next_id: int = 2
    rels: list[tuple[str, str]] = field(default_factory=list)  # (type, target), rId = position + 1
    notes: str | None = None
    notes_number: int | None = None

    def new_id(self) -> int:
        shape_id, self.next_id = self.next_id, self.next_id + 1
        return shape_id

    def relate(self, kind: str, target: str) -> str:
        self.rels.append((kind, target))
        return f"rId{len(self.rels)}"


class DeckWriter(Layout):
    """A presentation in the reportlib theme, written straight to PresentationML.

    Same drawing calls as :class:`reportlib.render.pptx.Deck`; ``add_notes`` appends to a
    slide's speaker notes. Colours are hex strings or python-pptx ``RGBColor`` values.
    """

    def __init__(self, footer: str = ""):
        self.footer = footer
        self.slides: list[Slide] = []
        self.charts: list[_Chart] = []
        self._notes_count = 0
        self._pres_rels: list[tuple[str, str]] = []  # after the template's own, in python-pptx's order

    # ----------------------------------------------------------------- slides
    def _new_slide(self, layout: int) -> Slide:
        base = _base()
        slide = Slide(len(self.slides) + 1, base.layouts[layout])
        slide.relate("slideLayout", "../" + base.layouts[layout].removeprefix("ppt/"))
        self.slides.append(slide)
        self._pres_rels.append(("slide", slide))
        return slide

    def title_slide(self, title: str, subtitle: str, notes: str | None = None) -> Slide:
        slide = self._new_slide(0)
        slide.background = (f'<p:bg><p:bgPr><a:solidFill><a:srgbClr val="{NAVY}"/></a:solidFill>'
                            "<a:effectLst/></p:bgPr></p:bg>")
        title_size = self._text_size(TITLE_BOX, title, 40, 24, True)
        subtitle_size = self._text_size(SUBTITLE_BOX, subtitle, 20, 12, False)
        slide.shapes.append(self._placeholder(slide, "Title 1", '<p:ph type="ctrTitle"/>',
                                              f"<p:spPr>{_xfrm(*astuple(TITLE_BOX))}</p:spPr>",
                                              _paragraphs(title, _rpr(title_size, WHITE, True))))
        slide.shapes.append(self._placeholder(slide, "Subtitle 2", '<p:ph type="subTitle" idx="1"/>',
                                              f"<p:spPr>{_xfrm(*astuple(SUBTITLE_BOX))}</p:spPr>",
                                              _paragraphs(subtitle, _rpr(subtitle_size, WHITE, False))))
        self._set_notes(slide, notes)
        return slide

    def slide(self, title: str, notes: str | None = None, subtitle: str | None = None) -> Slide:
        """A content slide: a title bar, an optional subtitle line, the footer."""
        slide = self._new_slide(5)
        title_id = slide.new_id()  # the layout's title placeholder comes first, then is drawn above the bar
        bar_id = slide.new_id()
        slide.shapes.append(
            f'<p:sp><p:nvSpPr><p:cNvPr id="{bar_id}" name="Rectangle {bar_id - 1}"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr>'
            f'<p:spPr>{_xfrm(0, 0, WIDTH, _inches(1.0))}<a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
            f'<a:solidFill><a:srgbClr val="{NAVY}"/></a:solidFill><a:ln><a:noFill/></a:ln></p:spPr>'
            '<p:style><a:lnRef idx="1"><a:schemeClr val="accent1"/></a:lnRef><a:fillRef idx="3"><a:schemeClr '
            'val="accent1"/></a:fillRef><a:effectRef idx="2"><a:schemeClr val="accent1"/></a:effectRef><a:fontRef '
            'idx="minor"><a:schemeClr val="lt1"/></a:fontRef></p:style><p:txBody><a:bodyPr rtlCol="0" anchor="ctr"/>'
            '<a:lstStyle/><a:p><a:pPr algn="ctr"/></a:p></p:txBody></p:sp>')
        slide.shapes.append(self._placeholder(
            slide, "Title 1", '<p:ph type="title"/>',
            f"<p:spPr>{_xfrm(MARGIN, _inches(0.1), WIDTH - 2 * MARGIN, _inches(0.8))}</p:spPr>",
            _paragraphs(title, _rpr(28, WHITE, True), '<a:pPr algn="l"/>'), shape_id=title_id))
        if subtitle:
            self.text(slide, SUBTITLE_LINE, subtitle, size=13, min_size=10, color=GREY)
        if self.footer:
            self.text(slide, FOOTER_BOX, self.footer, size=10, min_size=7, color=GREY)
        self._set_notes(slide, notes)
        return slide

    def add_notes(self, slide: Slide, text: str) -> None:
        """Append ``text`` to the slide's speaker notes."""
        self._set_notes(slide, (slide.notes or "") + text)

    # ----------------------------------------------------------------- content
    def text(self, slide: Slide, box: Box, text: str, *, size: int = 14, min_size: int | None = None,
             color: Any = None, bold: bool = False, align: Any = "l") -> str:
        """A text box; with ``min_size`` the text shrinks (down to it) to fit the box."""
        size = self._text_size(box, text, size, min_size, bold)
        algn = _ALIGN.get(str(align).split(" ")[0], align) if align is not None else None
        ppr = f'<a:pPr algn="{algn}"/>' if algn else ""
        shape = self._textbox(slide, box, _paragraphs(text, _rpr(size, _colour(color or BLACK), bold), ppr))
        slide.shapes.append(shape)
        return shape

    def bullets(self, slide: Slide, box: Box, items: Sequence[str], size: int = 16, min_size: int | None = None) -> str:
        """A text box of bullets; with ``min_size`` they shrink (down to it) to fit the box."""
        size = self._bullets_size(box, items, size, min_size)
        ppr = '<a:pPr><a:spcAft><a:spcPts val="800"/></a:spcAft></a:pPr>'
        body = "".join(_paragraph(f"• {item}", _rpr(size), ppr) for item in items) or "<a:p/>"
        shape = self._textbox(slide, box, body)
        slide.shapes.append(shape)
        return shape

    def table(self, slide: Slide, box: Box, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
              widths: Sequence[float] | None = None, fills: Sequence[Sequence[str | None]] | None = None,
              size: int = 12, min_size: int | None = None, fit: TableFit | None = None) -> str:
        """A table of text cells laid out by :meth:`fit_table` (or ``fit``, its answer for these rows);
        ``widths`` weighs the columns, ``fills`` gives an optional hex background per body cell."""
        fit = fit or self.fit_table(box, header, rows, widths=widths, size=size, min_size=min_size)
        size, columns, heights = fit.size, fit.columns, fit.heights
        margins = (f'marL="{CELL_MARGIN_X}" marR="{CELL_MARGIN_X}" marT="{CELL_MARGIN_Y}" '
                   f'marB="{CELL_MARGIN_Y}"')
        cells = [[(title, True, WHITE, NAVY) for title in header]]
        cells += [[("" if value is None else str(value), False, None, fills[r][c] if fills else None)
                   for c, value in enumerate(row)] for r, row in enumerate(rows)]
        trs = []
        for row, h in zip(cells, heights):
            tcs = []
            for text, bold, color, fill in row:
                paragraphs = _paragraphs(text, _rpr(size, color, bold))
                background = f'<a:solidFill><a:srgbClr val="{fill}"/></a:solidFill>' if fill else ""
                tcpr = f"<a:tcPr {margins}>{background}</a:tcPr>" if background else f"<a:tcPr {margins}/>"
                tcs.append(f"<a:tc><a:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}</a:txBody>{tcpr}</a:tc>")
            trs.append(f'<a:tr h="{h}">{"".join(tcs)}</a:tr>')
        grid = "".join(f'<a:gridCol w="{w}"/>' for w in columns)
        shape_id = slide.new_id()
        shape = (f'<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="{shape_id}" name="Table {shape_id - 1}"/>'
                 '<p:cNvGraphicFramePr><a:graphicFrameLocks noGrp="1"/></p:cNvGraphicFramePr><p:nvPr/>'
                 f'</p:nvGraphicFramePr>{_xfrm(box.left, box.top, fit.width, fit.height, "p:xfrm")}'
                 '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl>'
                 '<a:tblPr firstRow="1" bandRow="1"><a:tableStyleId>{5C22544A-7EE6-4342-B048-85BDC9FD1C3A}'
                 f'</a:tableStyleId></a:tblPr><a:tblGrid>{grid}</a:tblGrid>{"".join(trs)}</a:tbl></a:graphicData>'
                 "</a:graphic></p:graphicFrame>")
        slide.shapes.append(shape)
        return shape

    def chart(self, slide: Slide, box: Box, kind: str, categories: Sequence[Any], series: dict[str, Sequence[Any]],
              *, title: str | None = None, number_format: str = "#,##0", legend: bool = True) -> str:
        """A native chart: ``kind`` is line, column or bar; series values are rounded numbers.

        With no category at all there is nothing to draw: the box says so instead.
        """
        if kind not in _CHART_KINDS:
            raise ValueError(f"unknown chart kind {kind!r}; known: {', '.join(_CHART_KINDS)}")
        if not categories:
            return self.text(slide, box, f"{title or 'Chart'}: no data for this period.", size=14, color=GREY)
        labels = [_category(c) for c in categories]
        values = {name: [chart_number(v) for v in vals] for name, vals in series.items()}
        number = len(self.charts) + 1
        xml = _chart_xml(kind, labels, values, title, number_format, legend and len(series) > 1)
        self.charts.append(_Chart(number, xml, _chart_workbook(labels, values, number_format)))
        rid = slide.relate("chart", f"../charts/chart{number}.xml")
        shape_id = slide.new_id()
        shape = (f'<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="{shape_id}" name="Chart {shape_id - 1}"/>'
                 '<p:cNvGraphicFramePr><a:graphicFrameLocks noGrp="1"/></p:cNvGraphicFramePr><p:nvPr/>'
                 f'</p:nvGraphicFramePr>{_xfrm(box.left, box.top, box.width, box.height, "p:xfrm")}<a:graphic><a:graphicData '
                 f'uri="{_NS_C}"><c:chart xmlns:c="{_NS_C}" r:id="{rid}"/></a:graphicData></a:graphic>'
                 "</p:graphicFrame>")
        slide.shapes.append(shape)
        return shape

    # ----------------------------------------------------------------- package
    def to_bytes(self) -> bytes:
        """The whole .pptx package."""
        buffer = io.BytesIO()
        self._write(buffer)
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the deck atomically (a temporary file renamed over ``path``)."""
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                self._write(handle)
        return Path(path)

    def parts(self) -> dict[str, bytes]:
        """Every part of the package by name (``ppt/slides/slide1.xml``, ...)."""
        base = _base()
        has_notes = self._notes_count > 0
        parts = {name: blob for name, blob in base.static.items() if has_notes or name not in base.notes_parts}
        overrides = dict(base.overrides)
        if not has_notes:
            for name in base.notes_parts:
                overrides.pop("/" + name, None)
        parts["ppt/presentation.xml"] = self._presentation_xml(base).encode()
        parts["ppt/_rels/presentation.xml.rels"] = self._presentation_rels(base).encode()
        for slide in self.slides:
            name = f"ppt/slides/slide{slide.number}.xml"
            parts[name] = (f"{_HEAD}<p:sld {_SLD_NS}><p:cSld>{slide.background}<p:spTree><p:nvGrpSpPr>"
                           '<p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>'
                           f'{"".join(slide.shapes)}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/>'
                           "</p:clrMapOvr></p:sld>").encode()
            parts[f"ppt/slides/_rels/slide{slide.number}.xml.rels"] = _rels(slide.rels).encode()
            overrides["/" + name] = _CT["slide"]
            if slide.notes is not None:
                notes = f"ppt/notesSlides/notesSlide{slide.notes_number}.xml"
                parts[notes] = _notes_xml(slide.notes).encode()
                parts[f"ppt/notesSlides/_rels/notesSlide{slide.notes_number}.xml.rels"] = _rels(
                    [("notesMaster", "../" + base.notes_master.removeprefix("ppt/")), ("slide", f"../slides/slide{slide.number}.xml")]
                ).encode()
                overrides["/" + notes] = _CT["notes"]
        for chart in self.charts:
            name = f"ppt/charts/chart{chart.number}.xml"
            parts[name] = chart.xml.encode()
            parts[f"ppt/charts/_rels/chart{chart.number}.xml.rels"] = _rels(
                [("package", f"../embeddings/Microsoft_Excel_Sheet{chart.number}.xlsx")]).encode()
            parts[f"ppt/embeddings/Microsoft_Excel_Sheet{chart.number}.xlsx"] = chart.workbook
            overrides["/" + name] = _CT["chart"]
        defaults = dict(base.defaults)
        if self.charts:
            defaults["xlsx"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        types = "".join(f'<Default Extension="{ext}" ContentType="{ct}"/>' for ext, ct in sorted(defaults.items()))
        types += "".join(f'<Override PartName="{name}" ContentType="{ct}"/>' for name, ct in sorted(overrides.items()))
        parts["[Content_Types].xml"] = (
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">{types}</Types>'
        ).encode()
        return parts

    def _write(self, handle) -> None:
        parts = self.parts()
        static = _base().compressed
        order = ["[Content_Types].xml"] + [name for name in parts if name != "[Content_Types].xml"]
        handle.write(_zip((name, static.get(name) or _deflate(parts[name])) for name in order))

    # ----------------------------------------------------------------- internals
    def _set_notes(self, slide: Slide, notes: str | None) -> None:
        if not notes:
            return
        if slide.notes_number is None:
            self._notes_count += 1
            slide.notes_number = self._notes_count
            slide.relate("notesSlide", f"../notesSlides/notesSlide{slide.notes_number}.xml")
            if self._notes_count == 1:  # python-pptx adds the notes master with the first notes slide
                self._pres_rels.append(("notesMaster", None))
        slide.notes = notes

    @staticmethod
    def _placeholder(slide: Slide, name: str, ph: str, sppr: str, paragraphs: str, shape_id: int | None = None) -> str:
        shape_id = shape_id if shape_id is not None else slide.new_id()
        return (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvSpPr><a:spLocks noGrp="1"/>'
                f"</p:cNvSpPr><p:nvPr>{ph}</p:nvPr></p:nvSpPr>{sppr}<p:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}"
                "</p:txBody></p:sp>")

    @staticmethod
    def _textbox(slide: Slide, box: Box, paragraphs: str) -> str:
        shape_id = slide.new_id()
        return (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="TextBox {shape_id - 1}"/><p:cNvSpPr txBox="1"/>'
                f'<p:nvPr/></p:nvSpPr><p:spPr>{_xfrm(box.left, box.top, box.width, box.height)}<a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
                '<a:noFill/></p:spPr><p:txBody><a:bodyPr wrap="square"><a:spAutoFit/></a:bodyPr><a:lstStyle/>'
                f"{paragraphs}</p:txBody></p:sp>")

    def _presentation_rels(self, base: "_Base") -> str:
        rels = list(base.rels)
        for kind, slide in self._pres_rels:
            target = f"slides/slide{slide.number}.xml" if kind == "slide" else base.notes_master.removeprefix("ppt/")
            rels.append((kind, target))
        return _rels(rels)

    def _presentation_xml(self, base: "_Base") -> str:
        ids, rid = [], len(base.rels)
        for kind, slide in self._pres_rels:
            rid += 1
            if kind == "slide":
                ids.append(f'<p:sldId id="{255 + slide.number}" r:id="rId{rid}"/>')
        return base.presentation.replace("<p:sldIdLst/>", f"<p:sldIdLst>{''.join(ids)}</p:sldIdLst>" if ids else "")


# python-pptx's PP_ALIGN members by name, as the text method takes them (PP_ALIGN.LEFT is "l").
_ALIGN = {"LEFT": "l", "CENTER": "ctr", "RIGHT": "r", "JUSTIFY": "just", "l": "l", "ctr": "ctr", "r": "r"}
_CHART_KINDS = ("line", "column", "bar")


def _rels(rels: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<Relationship Id="rId{i}" Type="{_RT}{kind}" Target="{target}"/>'
                    for i, (kind, target) in enumerate(rels, 1))
    return f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{items}</Relationships>'


def _notes_xml(text: str) -> str:
    return (f"{_HEAD}<p:notes {_SLD_NS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/>"
            '<p:nvPr/></p:nvGrpSpPr><p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/>'
            '<a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr><p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image '
            'Placeholder 1"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="sldImg" idx="2"/>'
            '</p:nvPr></p:nvSpPr><p:spPr/></p:sp><p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes Placeholder 2"/>'
            '<p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="body" idx="3" sz="quarter"/></p:nvPr>'
            f"</p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:lstStyle/>{_paragraphs(text, '')}</p:txBody></p:sp>"
            '<p:sp><p:nvSpPr><p:cNvPr id="4" name="Slide Number Placeholder 3"/><p:cNvSpPr><a:spLocks noGrp="1"/>'
            '</p:cNvSpPr><p:nvPr><p:ph type="sldNum" idx="5" sz="quarter"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp>'
            "</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:notes>")


def _category(value: Any) -> str:
    """A category label; python-pptx writes numbers and dates as other axis kinds, which decks never use."""
    import datetime
    import numbers

    if isinstance(value, (numbers.Number, datetime.date)) and not isinstance(value, bool):
        raise TypeError(f"chart categories are text here; got {type(value).__name__} {value!r} (pass str(value))")
    return str(value)


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _chart_xml(kind: str, categories: list[str], series: dict[str, list[float | None]], title: str | None,
               number_format: str, legend: bool) -> str:
    n = len(categories)
    cat_pts = "".join(f'<c:pt idx="{i}"><c:v>{escape(label)}</c:v></c:pt>' for i, label in enumerate(categories))
    cat = (f"<c:cat><c:strRef><c:f>Sheet1!$A$2:$A${n + 1}</c:f><c:strCache><c:ptCount val=\"{n}\"/>{cat_pts}"
           "</c:strCache></c:strRef></c:cat>")
    fmt = escape(number_format)
    sers = []
    for index, (name, values) in enumerate(series.items()):
        col = _column(index + 1)
        color = THEME_COLORS[index % len(THEME_COLORS)].lstrip("#")
        pts = "".join(f'<c:pt idx="{i}"><c:v>{v}</c:v></c:pt>' for i, v in enumerate(values) if v is not None)
        tx = (f"<c:tx><c:strRef><c:f>Sheet1!${col}$1</c:f><c:strCache><c:ptCount val=\"1\"/><c:pt idx=\"0\">"
              f"<c:v>{escape(name)}</c:v></c:pt></c:strCache></c:strRef></c:tx>")
        val = (f"<c:val><c:numRef><c:f>Sheet1!${col}$2:${col}${len(values) + 1}</c:f><c:numCache><c:formatCode>{fmt}"
               f'</c:formatCode><c:ptCount val="{len(values)}"/>{pts}</c:numCache></c:numRef></c:val>')
        if kind == "line":
            sppr = f'<c:spPr><a:ln><a:solidFill><a:srgbClr val="{color}"/></a:solidFill></a:ln></c:spPr>'
            sers.append(f'<c:ser><c:idx val="{index}"/><c:order val="{index}"/>{tx}{sppr}{cat}{val}'
                        '<c:smooth val="0"/></c:ser>')
        else:
            sppr = f'<c:spPr><a:solidFill><a:srgbClr val="{color}"/></a:solidFill></c:spPr>'
            sers.append(f'<c:ser><c:idx val="{index}"/><c:order val="{index}"/>{tx}{sppr}{cat}{val}</c:ser>')
    if kind == "line":
        ax1, ax2, cat_pos, val_pos = "2118791784", "2140495176", "b", "l"
        plot = (f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{"".join(sers)}<c:marker val="1"/>'
                f'<c:smooth val="0"/><c:axId val="{ax1}"/><c:axId val="{ax2}"/></c:lineChart>')
        legend_xml = '<c:legend><c:legendPos val="b"/><c:layout/><c:overlay val="0"/></c:legend>' if legend else ""
        tail = f'{legend_xml}<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/><c:showDLblsOverMax val="0"/>'
    else:
        ax1, ax2 = "-2068027336", "-2113994440"
        cat_pos, val_pos = ("l", "b") if kind == "bar" else ("b", "l")
        plot = (f'<c:barChart><c:barDir val="{"bar" if kind == "bar" else "col"}"/><c:grouping val="clustered"/>'
                f'{"".join(sers)}<c:axId val="{ax1}"/><c:axId val="{ax2}"/></c:barChart>')
        legend_xml = '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>' if legend else ""
        tail = f'{legend_xml}<c:dispBlanksAs val="gap"/>'
    axes = (f'<c:catAx><c:axId val="{ax1}"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
            f'<c:axPos val="{cat_pos}"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos '
            f'val="nextTo"/><c:crossAx val="{ax2}"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/>'
            f'<c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx><c:valAx><c:axId val="{ax2}"/><c:scaling/>'
            f'<c:delete val="0"/><c:axPos val="{val_pos}"/><c:majorGridlines/><c:majorTickMark val="out"/>'
            f'<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="{ax1}"/><c:crosses '
            'val="autoZero"/></c:valAx>')
    if title:
        head = (f"<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/>{_paragraphs(title, _rpr(14, NAVY, True))}</c:rich>"
                '</c:tx><c:layout/><c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/>')
    else:
        head = '<c:autoTitleDeleted val="1"/>'
    return (f'{_HEAD}<c:chartSpace xmlns:c="{_NS_C}" xmlns:a="{_NS_A}" xmlns:r="{_NS_R}"><c:date1904 val="0"/>'
            f"<c:chart>{head}<c:plotArea>{plot}{axes}</c:plotArea>{tail}</c:chart><c:txPr><a:bodyPr/><a:lstStyle/>"
            f'<a:p><a:pPr><a:defRPr sz="1100"><a:latin typeface="{FONT}"/></a:defRPr></a:pPr><a:endParaRPr '
            'lang="en-US"/></a:p></c:txPr><c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData>'
            "</c:chartSpace>")


_X_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_X_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@functools.lru_cache(maxsize=16)
def _workbook_parts(number_format: str) -> tuple[tuple[str, _Entry], ...]:
    """The parts of a chart's workbook that only its number format changes, deflated once."""
    files = {
        "[Content_Types].xml": (
            f'{_X_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override '
            'PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sharedStrings+xml"/></Types>'),
        "_rels/.rels": _rels([("officeDocument", "xl/workbook.xml")]),
        "xl/workbook.xml": (f'{_X_HEAD}<workbook xmlns="{_X_NS}" xmlns:r="{_NS_R}"><sheets><sheet name="Sheet1" '
                            'sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": _rels([("worksheet", "worksheets/sheet1.xml"), ("styles", "styles.xml"),
                                             ("sharedStrings", "sharedStrings.xml")]),
        "xl/styles.xml": (
            f'{_X_HEAD}<styleSheet xmlns="{_X_NS}"><numFmts count="1"><numFmt numFmtId="164" '
            f'formatCode="{escape(number_format, {chr(34): "&quot;"})}"/></numFmts><fonts count="1"><font>'
            '<sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts><fills count="2"><fill><patternFill '
            'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1">'
            '<border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf '
            'numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" '
            'fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" '
            'xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" '
            'builtinId="0"/></cellStyles></styleSheet>'),
    }
    return tuple((name, _deflate(text.encode())) for name, text in files.items())


def _chart_workbook(categories: list[str], series: dict[str, list[float | None]], number_format: str) -> bytes:
    """The chart's data as the workbook PowerPoint opens to edit it: python-pptx's layout of the cells."""
    strings: dict[str, int] = {}

    def sst(text: str) -> int:
        return strings.setdefault(text, len(strings))

    last = _column(len(series))
    rows = ['<row r="1">' + "".join(f'<c r="{_column(i + 1)}1" t="s"><v>{sst(name)}</v></c>'
                                    for i, name in enumerate(series)) + "</row>"]
    columns = list(series.values())
    for r, label in enumerate(categories, 2):
        cells = [f'<c r="A{r}" t="s"><v>{sst(label)}</v></c>']
        for i, values in enumerate(columns):
            value = values[r - 2] if r - 2 < len(values) else None
            if value is not None:
                cells.append(f'<c r="{_column(i + 1)}{r}" s="1"><v>{value!r}</v></c>')
        rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = (f'{_X_HEAD}<worksheet xmlns="{_X_NS}"><dimension ref="A1:{last}{len(categories) + 1}"/>'
             f'<sheetData>{"".join(rows)}</sheetData></worksheet>')
    shared = "".join(f"<si><t>{_text(s)}</t></si>" for s in strings)
    sheets = {"xl/worksheets/sheet1.xml": sheet,
              "xl/sharedStrings.xml": (f'{_X_HEAD}<sst xmlns="{_X_NS}" count="{len(strings)}" '
                                       f'uniqueCount="{len(strings)}">{shared}</sst>')}
    return _zip([*_workbook_parts(number_format), *((name, _deflate(text.encode())) for name, text in sheets.items())])


# A zip archive written directly: python-pptx's static parts are deflated once per process, not
# once per deck (deflating them was a third of a deck's time).
_Entry = tuple[int, int, int, bytes]  # CRC-32, uncompressed size, compressed size, deflated bytes
_DOS_TIME, _DOS_DATE = 0, (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01 00:00, as python-pptx's parts


def _deflate(data: bytes) -> _Entry:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    return zlib.crc32(data), len(data), len(packed), packed


def _zip(entries) -> bytes:
    """A zip archive of ``(name, deflated entry)`` pairs, in order."""
    out, directory, offset = [], [], 0
    for name, (crc, size, packed_size, packed) in entries:
        raw = name.encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, _DOS_TIME, _DOS_DATE, crc, packed_size, size,
                             len(raw), 0)
        out += (header, raw, packed)
        directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, _DOS_TIME, _DOS_DATE, crc,
                                     packed_size, size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
        offset += len(header) + len(raw) + packed_size
    central = b"".join(directory)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(directory), len(directory), len(central), offset, 0)
    return b"".join(out) + central + end


@dataclass(frozen=True)
class _Base:
    """The parts of python-pptx's default template that every deck shares, and how to extend them."""

    static: dict[str, bytes]
    compressed: dict[str, _Entry]  # the static parts, deflated
    presentation: str  # presentation.xml with an empty <p:sldIdLst/> to fill in
    rels: list[tuple[str, str]]  # the presentation's own relationships, before any slide
    defaults: dict[str, str]
    overrides: dict[str, str]
    layouts: tuple[str, ...]  # part names of the slide layouts, in python-pptx's slide_layouts order
    notes_master: str
    notes_parts: frozenset[str]  # the notes master and its theme: only in decks with speaker notes


@functools.lru_cache(maxsize=1)
def _base() -> _Base:
    """Built once per process: a python-pptx deck with the reportlib slide size and one notes slide."""
    from lxml import etree
    from pptx import Presentation

    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDTH, HEIGHT
    layouts = tuple(layout.part.partname.lstrip("/") for layout in prs.slide_layouts)
    first = prs.slides.add_slide(prs.slide_layouts[6])
    first.notes_slide.notes_text_frame.text = "x"
    notes_master = prs.notes_master.part.partname.lstrip("/")
    notes_theme = next(rel.target_part.partname.lstrip("/") for rel in prs.notes_master.part.rels.values()
                       if rel.reltype.endswith("/theme"))
    buffer = io.BytesIO()
    prs.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as package:
        blobs = {name: package.read(name) for name in package.namelist()}
    mine = ("ppt/slides/", "ppt/notesSlides/", "[Content_Types].xml", "ppt/presentation.xml",
            "ppt/_rels/presentation.xml.rels")
    static = {name: blob for name, blob in blobs.items() if not name.startswith(mine)}
    types = etree.fromstring(blobs["[Content_Types].xml"])
    defaults = {e.get("Extension"): e.get("ContentType") for e in types if e.tag.endswith("Default")}
    overrides = {e.get("PartName"): e.get("ContentType") for e in types if e.tag.endswith("Override")
                 and not e.get("PartName").startswith(("/ppt/slides/", "/ppt/notesSlides/"))}
    rel_root = etree.fromstring(blobs["ppt/_rels/presentation.xml.rels"])
    rels = sorted(((int(r.get("Id")[3:]), r.get("Type").rsplit("/", 1)[1], r.get("Target")) for r in rel_root))
    own = [(kind, target) for _, kind, target in rels if kind not in ("slide", "notesMaster")]
    if [i for i, kind, _ in rels if kind not in ("slide", "notesMaster")] != list(range(1, len(own) + 1)):
        raise RuntimeError("python-pptx's default template no longer numbers its own relationships first")
    presentation = blobs["ppt/presentation.xml"].decode()
    presentation = re.sub(r"<p:sldIdLst>.*?</p:sldIdLst>", "<p:sldIdLst/>", presentation, flags=re.S)
    return _Base(static, {name: _deflate(blob) for name, blob in static.items()}, presentation, own, defaults, overrides, layouts, notes_master,
                 frozenset({notes_master, f"ppt/notesMasters/_rels/{notes_master.rsplit('/', 1)[1]}.rels",
                            notes_theme}))
