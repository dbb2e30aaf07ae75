"""CSV files for other systems: fixed columns, text neutralised against formula injection."""

from __future__ import annotations

import csv as _csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..files import atomic_write
from .figures import Figure, plain
from .text import neutralise_formula

__all__ = ["csv_text", "write_csv"]


def csv_text(value: Any, *, protect: bool = True) -> str:
    """One CSV field: ISO dates, exact decimals (a :class:`~reportlib.render.figures.Figure` as it
    reads elsewhere, without thousands separators), ``1``/``0`` for booleans, safe text.

    ``protect=False`` writes text verbatim (a file for another program, not a spreadsheet).
    """
    if value is None:
        return ""
    if isinstance(value, Figure):
        return value.kind.text(value.value, missing="", grouping=False)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, int, float)):
        return plain(value)
    return neutralise_formula(str(value)) if protect else str(value)


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
              headers: Sequence[str] | None = None, *, protect: bool = True) -> int:
    """Write ``rows`` (atomically) with ``columns`` in order; returns the row count.

    Text that a spreadsheet could run as a formula is prefixed with ``'`` unless ``protect``
    is False: a file another program imports must carry its values exactly.
    """
    count = 0
    with atomic_write(path, newline="") as handle:
        writer = _csv.writer(handle, lineterminator="\r\n")
        writer.writerow([csv_text(h, protect=protect) for h in (headers or columns)])
        for row in rows:
            writer.writerow([csv_text(row.get(c), protect=protect) for c in columns])
            count += 1
    return count
