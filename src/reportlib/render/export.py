"""Any DataFrame as a house-style workbook in one call: ``reportlib.export(frame, "file.xlsx")``.

For the analyst's own questions (``notebooks/explore.ipynb``): the columns are typed from the
frame (whole numbers, decimals, dates and times, true/false, text), the header is the house
header, and the workbook is written by :func:`reportlib.render.xlsx.write_workbook` like every
report's. A column a reader should see as money or a percentage says so in ``kinds``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from .table import Col, Sheet

__all__ = ["KINDS", "export", "frame_columns"]

# What ``kinds`` may name (render.table.Col's kinds).
KINDS = ("text", "code", "int", "decimal", "rate", "money", "percent", "date", "datetime", "bool")
_MAX_PLACES = 4


def _places(values: list[Any]) -> int:
    """Decimals to show: as many as the exact values need (trailing zeros aside), else two."""
    exact = [v for v in values if isinstance(v, Decimal) and v.is_finite()]
    if not exact:
        return 2
    return min(_MAX_PLACES, max(max(0, -v.normalize().as_tuple().exponent) for v in exact))


def _kind(series: Any) -> tuple[str, int]:
    import pandas as pd
    from pandas.api import types

    if types.is_bool_dtype(series):
        return "bool", 2
    if types.is_integer_dtype(series):
        return "int", 0
    if types.is_float_dtype(series):
        return "decimal", 2
    if types.is_datetime64_any_dtype(series):
        times = pd.to_datetime(series.dropna())
        whole_days = bool(len(times)) and bool((times == times.dt.normalize()).all())
        return ("date" if whole_days else "datetime"), 2
    sample = [v for v in series.head(1000) if v is not None and not (isinstance(v, float) and v != v)]
    if sample and all(isinstance(v, bool) for v in sample):
        return "bool", 2
    if sample and all(isinstance(v, int) and not isinstance(v, bool) for v in sample):
        return "int", 0
    if sample and all(isinstance(v, (Decimal, int, float)) and not isinstance(v, bool) for v in sample):
        return "decimal", _places(sample)
    if sample and all(isinstance(v, dt.datetime) for v in sample):
        return "datetime", 2
    if sample and all(isinstance(v, dt.date) for v in sample):
        return "date", 2
    return "text", 2


def frame_columns(frame: Any, kinds: Mapping[str, str] | None = None) -> list[Col]:
    """A :class:`Col` per column of ``frame``, typed from its values; ``kinds`` overrides by name."""
    kinds = dict(kinds or {})
    unknown = [name for name in kinds if name not in frame.columns]
    if unknown:
        raise ConfigError(f"kinds names {', '.join(map(repr, unknown))}, which the frame does not have "
                          f"(its columns: {', '.join(map(str, frame.columns))}).")
    wrong = {name: kind for name, kind in kinds.items() if kind not in KINDS}
    if wrong:
        raise ConfigError(f"unknown column kind(s) {wrong}; a kind is one of {', '.join(KINDS)}.")
    columns = []
    for name in frame.columns:
        kind, places = _kind(frame[name])
        if name in kinds:
            kind = kinds[name]
            places = places if kind in ("decimal", "rate") else 2
        columns.append(Col(str(name), str(name), kind, places))
    return columns


def export(frame: Any, path: str | Path, *, sheet: str | None = None, kinds: Mapping[str, str] | None = None) -> Path:
    """Write ``frame`` (a DataFrame, or a Series) to an XLSX file in the house style; its path.

    A relative ``path`` lands under ``outputs/scratch/`` (never beside the committed notebooks);
    a named index (``groupby`` results) becomes columns, a plain one is left out. ``sheet`` names the sheet (default: the
    file's name); ``kinds`` types columns the values cannot say, e.g. ``{"revenue": "money",
    "share": "percent"}`` (percent: values in percent, 0-100).
    """
    import pandas as pd

    from ..config import outputs_root
    from .xlsx import write_workbook

    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"reportlib.export writes a pandas DataFrame or Series, not {type(frame).__name__}.")
    # A named index (a groupby's keys) is data; a plain one only says where rows came from.
    frame = frame.reset_index(drop=all(name is None for name in frame.index.names))
    frame = frame.rename(columns=lambda c: " ".join(map(str, c)) if isinstance(c, tuple) else str(c))
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise ConfigError(f"reportlib.export writes XLSX: give a file name ending in .xlsx, not {str(path)!r}.")
    if not target.is_absolute():
        target = outputs_root() / "scratch" / target
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_workbook(target, [Sheet(sheet or target.stem, frame, frame_columns(frame, kinds))])
