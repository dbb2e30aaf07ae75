"""How much room text needs on a slide, and tables laid out to fit their box.

Slides ask for Calibri. Text is measured here in DejaVu Sans (:mod:`._fontwidths`): what
LibreOffice draws where neither Calibri nor its metric twin Carlito is installed, and wider than
Calibri, so text laid out to fit in DejaVu Sans fits in PowerPoint too. Lines are
:data:`LINE` ems high (Calibri's; DejaVu Sans needs less). Lines wrap at spaces, and a word wider
than its line breaks between characters, as PowerPoint and LibreOffice break it.

Nothing here writes XML: both deck writers (:mod:`.pptx`, :mod:`.pptx`) lay out with it,
so they draw the same sizes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

from ._fontwidths import BOLD, CHARS, REGULAR

__all__ = ["CELL_MARGIN_X", "CELL_MARGIN_Y", "EMU_PER_PT", "LINE", "ROW_PAD", "SLACK", "SLACK_PT", "TEXT_INSET_X",
           "TEXT_INSET_Y", "TableFit", "bullets_fit", "fit_table", "line_count", "text_fits", "text_size"]

EMU_PER_PT = 12700
LINE = 1.22  # line height in ems: Calibri's ascent, descent and line gap
UNKNOWN = 1.0  # the width in ems of a character not measured (as wide as a CJK ideograph)
# Renderers place glyphs on a device grid and keep a little room at a line's end: LibreOffice
# wraps a word whose measured width fills its cell exactly. Text is measured this much wider,
# and every line this many points shorter.
SLACK = 1.02
SLACK_PT = 2.0
CELL_MARGIN_X = 54864  # a table cell's left and right margins, each (0.06 in, EMU)
CELL_MARGIN_Y = 27432  # its top and bottom margins, each (0.03 in)
TEXT_INSET_X = 91440  # a text box's left and right insets, each (0.1 in, PowerPoint's default)
TEXT_INSET_Y = 45720  # its top and bottom insets, each (0.05 in)
ROW_PAD = 91440  # the most room a table row gets beyond its text (0.1 in), when the box has it
BULLET_SPACE = 8  # points after each bullet (the writers' spcAft)

_EMS = {False: dict(zip(CHARS, (w * SLACK / 1000 for w in REGULAR))),
        True: dict(zip(CHARS, (w * SLACK / 1000 for w in BOLD)))}
_BREAKS = re.compile("\n|\v")


class _Measure(NamedTuple):
    lines: tuple[tuple[tuple[float, str], ...], ...]  # each line (split at line breaks): its words' widths and words
    longest: float  # the widest word, in ems
    natural: float  # the widest line left unwrapped, in ems


@functools.lru_cache(maxsize=16384)
def _measure(text: str, bold: bool) -> _Measure:
    ems = _EMS[bold]
    space = ems[" "]
    lines = tuple(tuple((sum(ems.get(ch, UNKNOWN) for ch in word), word) for word in line.split(" ") if word)
                  for line in _BREAKS.split(text))
    return _Measure(lines, max((w for line in lines for w, _ in line), default=0.0),
                    max((sum(w for w, _ in line) + space * max(len(line) - 1, 0) for line in lines), default=0.0))


def line_count(text: str, width_pt: float, size: float, bold: bool = False) -> int:
    """How many lines ``text`` takes at ``size`` points in a line ``width_pt`` points wide."""
    return _lines(_measure(text, bold), (width_pt + 0.001) / size, bold)


def _lines(measure: _Measure, room: float, bold: bool) -> int:
    """Lines of a measured text in ``room`` ems (a width rounded down to whole EMU holds what it was made for:
    the callers add a thousandth of a point)."""
    if measure.natural <= room:
        return len(measure.lines)
    space = _EMS[bold][" "]
    count = 0
    for words in measure.lines:
        count += 1
        used = None  # the width of the current line's words, None before its first word
        for width, word in words:
            if used is not None and used + space + width <= room:
                used += space + width
                continue
            if used is not None:
                count += 1
            if width <= room:
                used = width
                continue
            # Wider than a line: it breaks between characters.
            used = 0.0
            ems = _EMS[bold]
            for ch in word:
                w = ems.get(ch, UNKNOWN)
                if used and used + w > room:
                    count += 1
                    used = 0.0
                used += w
    return count


def _longest_word(text: str, bold: bool) -> float:
    return _measure(text, bold).longest


def text_fits(text: str, width: int, height: int, size: float, bold: bool = False) -> bool:
    """Whether ``text`` at ``size`` fits a text box ``width`` × ``height`` (EMU) with default insets,
    no word broken."""
    room = (width - 2 * TEXT_INSET_X) / EMU_PER_PT - SLACK_PT
    if _longest_word(text, bold) * size > room:
        return False
    return line_count(text, room, size, bold) * LINE * size * EMU_PER_PT + 2 * TEXT_INSET_Y <= height


@functools.lru_cache(maxsize=1024)  # a deck's footer is the same text on every slide
def text_size(text: str, width: int, height: int, size: int, min_size: int, bold: bool = False) -> int:
    """The largest size from ``size`` down to ``min_size`` at which ``text`` fits its box (else ``min_size``)."""
    for points in range(size, min_size, -1):
        if text_fits(text, width, height, points, bold):
            return points
    return min_size


def _bullets_height(items: Sequence[str], width: int, size: float, whole_words: bool = True) -> float:
    room = (width - 2 * TEXT_INSET_X) / EMU_PER_PT - SLACK_PT
    if whole_words and any(_longest_word(item, False) * size > room for item in items):
        return float("inf")  # a word would break: take a smaller size
    lines = sum(line_count(f"• {item}", room, size) for item in items)  # as the writers draw them
    return (lines * LINE * size + BULLET_SPACE * len(items)) * EMU_PER_PT + 2 * TEXT_INSET_Y


def bullets_fit(items: Sequence[str], width: int, height: int, size: int, min_size: int) -> tuple[int, int]:
    """``(size, count)``: the largest size down to ``min_size`` at which all ``items`` fit the box;
    if none does, ``min_size`` and how many of the first items fit at it (at least one)."""
    for points in range(size, min_size - 1, -1):
        if _bullets_height(items, width, points) <= height:
            return points, len(items)
    count = 1
    while count < len(items) and _bullets_height(items[:count + 1], width, min_size, False) <= height:
        count += 1
    return min_size, count


@dataclass(frozen=True)
class TableFit:
    """A table laid out in a box: font size, column widths and row heights (EMU, the header row first),
    and how many body rows fit in the box's height (all of them unless the table must continue)."""

    size: int
    columns: tuple[int, ...]
    heights: tuple[int, ...]
    rows: int

    @property
    def width(self) -> int:
        return sum(self.columns)

    @property
    def height(self) -> int:
        return sum(self.heights)


def fit_table(width: int, height: int, header: Sequence[str], rows: Sequence[Sequence[str]], *,
              weights: Sequence[float] | None = None, size: int = 12, min_size: int = 10) -> TableFit:
    """Lay out a table of text cells (the header bold) in a box ``width`` × ``height`` (EMU).

    At the largest font size from ``size`` down to ``min_size`` at which every row fits: each
    column gets at least its longest word (no word breaks while the box is wide enough), the
    columns whose text still wraps share the rest by ``weights`` up to their text's unwrapped
    width, and what is left goes to all by ``weights``; rows are as high as their text plus up
    to :data:`ROW_PAD` when there is room. If no size fits every row, ``min_size`` and
    :attr:`TableFit.rows` says how many fit (at least one: a row higher than the box overflows it).
    """
    n = len(header)
    weights = list(weights) if weights else [1.0] * n
    # Column by column: the header's measure (bold), then each row's.
    columns_of = [[_measure(str(title), True)] + [_measure(row[c], False) for row in rows]
                  for c, title in enumerate(header)]
    longest = [max(m.longest for m in column) for column in columns_of]
    natural = [max(m.natural for m in column) for column in columns_of]
    width_pt, height_pt = width / EMU_PER_PT, height / EMU_PER_PT
    margin_x = 2 * CELL_MARGIN_X / EMU_PER_PT + SLACK_PT
    margin_y, pad = 2 * CELL_MARGIN_Y / EMU_PER_PT, ROW_PAD / EMU_PER_PT
    for points in range(size, min_size - 1, -1):
        columns = _share(width_pt, weights, [w * points + margin_x for w in longest],
                         [w * points + margin_x for w in natural])
        lines = [1] * (len(rows) + 1)
        for column, width_c in zip(columns_of, columns):
            room = (width_c - margin_x + 0.001) / points
            for r, m in enumerate(column):
                count = len(m.lines) if m.natural <= room else _lines(m, room, r == 0)
                if count > lines[r]:
                    lines[r] = count
        needed = [count * LINE * points + margin_y for count in lines]
        if sum(needed) <= height_pt or points == min_size:
            break
    spare = max(height_pt - sum(needed), 0.0)
    extra = min(pad, spare / len(needed))
    heights = tuple(int((h + extra) * EMU_PER_PT) for h in needed)
    emu = [int(w * EMU_PER_PT) for w in columns]
    emu[-1] = width - sum(emu[:-1])  # the last column absorbs the rounding
    fitting, used = 0, heights[0]
    for h in heights[1:]:
        if used + h > height and fitting:
            break
        used += h
        fitting += 1
    return TableFit(points, tuple(emu), heights, fitting)


def _share(total: float, weights: list[float], least: list[float], natural: list[float]) -> list[float]:
    """Column widths summing to ``total``: each at least ``least`` (its longest word), the wrapping ones
    grown by weight up to ``natural`` (their unwrapped text), then the rest by weight."""
    if sum(least) >= total:  # not even the longest words fit: share the box in their proportion
        return [total * w / sum(least) for w in least]
    columns = list(least)
    free = total - sum(least)
    wrapping = {i for i in range(len(columns)) if columns[i] < natural[i]}
    while wrapping and free > 1e-9:
        share = sum(weights[i] for i in wrapping)
        grant = {i: free * weights[i] / share for i in wrapping}
        full = {i for i in wrapping if columns[i] + grant[i] >= natural[i]}
        if not full:
            for i in wrapping:
                columns[i] += grant[i]
            return columns
        for i in full:
            free -= natural[i] - columns[i]
            columns[i] = natural[i]
        wrapping -= full
    share = sum(weights)
    return [c + free * w / share for c, w in zip(columns, weights)]
