"""A deck's copy for printing: what LibreOffice converts to PDF in place of the deck.

LibreOffice spends most of a deck's conversion on its tables, not on its charts: it builds
every cell of a table as an object of its own and applies the table style to each, cell by
cell (``bench/delivery.py``; a deck with its tables taken out converts in a fraction of the
time, one with its charts taken out in about the same). The copy draws each table of
:meth:`reportlib.render.pptx.DeckWriter.table` as what it looks like: per cell a rectangle with
the cell's fill (or the row's band of the table style, as LibreOffice draws it), a thin white
line round it and the cell's own paragraphs, margins and place. The PDF shows the same table,
with the same text for ``pdftotext`` and a reader's search; only the PDF is made from the
copy, the deck itself is left as it is (its tables stay tables for whoever edits it).

A table this module did not write the same way (another style, merged cells, no row heights)
is kept as a table: the copy is then slower to convert, never different.

    print_copy(deck_path, copy_path)
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from lxml import etree

__all__ = ["print_copy", "print_slide"]

_NS = {"a": "http://schemas.openxmlformats.org/drawingml/2006/main",
       "p": "http://schemas.openxmlformats.org/presentationml/2006/main"}
_A, _P = (f"{{{_NS[k]}}}" for k in ("a", "p"))
_SLIDE = re.compile(r"ppt/slides/slide\d+\.xml")
# The table style DeckWriter gives its tables ("Medium Style 2 - Accent 1" with a header row and
# banded rows), and the fills LibreOffice draws for its body rows: first band, second band.
TABLE_STYLE = "{5C22544A-7EE6-4342-B048-85BDC9FD1C3A}"
BANDS = ("D0D8E7", "E9ECF3")
_LINE = '<a:ln w="12700"><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill></a:ln>'
_MARGINS = (("lIns", "marL"), ("rIns", "marR"), ("tIns", "marT"), ("bIns", "marB"))


def print_copy(source: str | Path, target: str | Path) -> Path:
    """Write ``target``: the deck ``source`` with its tables drawn cell by cell (every other part
    copied unchanged). A deck with no table to redraw is copied as it is."""
    source, target = Path(source), Path(target)
    with zipfile.ZipFile(source) as deck:
        slides = {name: print_slide(deck.read(name)) for name in deck.namelist() if _SLIDE.fullmatch(name)}
        changed = {name: xml for name, xml in slides.items() if xml is not None}
        if not changed:
            shutil.copyfile(source, target)
            return target
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
            for info in deck.infolist():
                data = changed.get(info.filename)
                if data is None:
                    copy.writestr(info, deck.read(info.filename))
                else:
                    copy.writestr(info.filename, data)
    return target


def print_slide(xml: bytes) -> bytes | None:
    """One slide's XML with each of its DeckWriter tables as cell shapes; None if it has none."""
    if b"drawingml/2006/table" not in xml:
        return None
    root = etree.fromstring(xml)
    next_id = max((int(e.get("id")) for e in root.iter(f"{_P}cNvPr") if (e.get("id") or "").isdigit()), default=1) + 1
    changed = False
    for frame in list(root.iter(f"{_P}graphicFrame")):
        cells = _cells(frame)
        if cells is None:
            continue
        parent, at = frame.getparent(), frame.getparent().index(frame)
        parent.remove(frame)
        for n, (x, y, width, height, fill, cell) in enumerate(cells):
            parent.insert(at + n, _shape(next_id, x, y, width, height, fill, cell))
            next_id += 1
        changed = True
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True) if changed else None


def _cells(frame) -> list[tuple[int, int, int, int, str, etree._Element]] | None:
    """Each cell of the frame's table with its place and fill, or None if it is not a table
    drawn the way this module redraws it."""
    table = frame.find("a:graphic/a:graphicData/a:tbl", _NS)
    offset = frame.find("p:xfrm/a:off", _NS)
    if table is None or offset is None:
        return None
    properties = table.find("a:tblPr", _NS)
    style = table.findtext("a:tblPr/a:tableStyleId", namespaces=_NS)
    if (properties is None or style != TABLE_STYLE or properties.get("firstRow") != "1"
            or properties.get("bandRow") != "1" or properties.get("bandCol") == "1"):
        return None
    columns = [int(g.get("w", "0")) for g in table.findall("a:tblGrid/a:gridCol", _NS)]
    rows = table.findall("a:tr", _NS)
    cells = []
    top = int(offset.get("y"))
    for r, row in enumerate(rows):
        entries = row.findall("a:tc", _NS)
        if len(entries) != len(columns) or not row.get("h", "").isdigit() or any(
                tc.get(k) for tc in entries for k in ("gridSpan", "rowSpan", "hMerge", "vMerge")):
            return None
        height, left = int(row.get("h")), int(offset.get("x"))
        band = BANDS[(r - 1) % 2] if r else None
        for width, tc in zip(columns, entries):
            own = tc.find("a:tcPr/a:solidFill/a:srgbClr", _NS)
            fill = own.get("val") if own is not None else band
            if fill is None:  # a header cell without its own fill: the style's, which is not drawn here
                return None
            cells.append((left, top, width, height, fill, tc))
            left += width
        top += height
    return cells


def _shape(shape_id: int, x: int, y: int, width: int, height: int, fill: str, cell) -> etree._Element:
    properties = cell.find("a:tcPr", _NS)
    # A table cell's default margins, as the cell would have them without its own.
    margins = {"lIns": "91440", "rIns": "91440", "tIns": "45720", "bIns": "45720"}
    if properties is not None:
        margins.update({inset: properties.get(mar) for inset, mar in _MARGINS if properties.get(mar)})
    anchor = {"ctr": "ctr", "b": "b"}.get(properties.get("anchor") if properties is not None else "", "t")
    insets = " ".join(f'{k}="{v}"' for k, v in margins.items())
    body = cell.find("a:txBody", _NS)
    paragraphs = "".join(etree.tostring(p, encoding="unicode") for p in body.findall("a:p", _NS)) if body is not None \
        else "<a:p/>"
    xml = (f'<p:sp xmlns:p="{_NS["p"]}" xmlns:a="{_NS["a"]}"><p:nvSpPr><p:cNvPr id="{shape_id}" '
           f'name="Cell {shape_id}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr><a:xfrm>'
           f'<a:off x="{x}" y="{y}"/><a:ext cx="{width}" cy="{height}"/></a:xfrm><a:prstGeom prst="rect">'
           f'<a:avLst/></a:prstGeom><a:solidFill><a:srgbClr val="{fill}"/></a:solidFill>{_LINE}</p:spPr>'
           f'<p:txBody><a:bodyPr wrap="square" {insets} anchor="{anchor}" rtlCol="0"><a:noAutofit/></a:bodyPr>'
           f'<a:lstStyle/>{paragraphs or "<a:p/>"}</p:txBody></p:sp>')
    return etree.fromstring(xml)
