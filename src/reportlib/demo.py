"""``reportlib demo``: deterministic, realistic demo data for every registered domain.

Each domain contributes a generator ``demo(seed, scale) -> {file: rows}``; the same seed and
scale always give the same data. Rows are written by :func:`reportlib.load.write_domain`, in
the same replace-the-domain transaction as ``reportlib load``, and ``export_csv`` writes them
out as the domain's CSV contract (a folder ``reportlib load`` accepts).
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from .domains import DOMAINS, Domain
from .files import atomic_write
from .load import LoadSummary, write_domain
from .registry import Registry

__all__ = ["DEMO_EXTRAS", "SCALES", "build_demo", "export_csv"]

SCALES = ("small", "default", "large")
# What a demo makes besides its data: name -> function(database URL) -> lines to print once
# (the portal's demo users and their passwords), declared as entry points of reportlib.demo_extras.
DEMO_EXTRAS: Registry[Callable[[str | None], list[str]]] = Registry("demo extra", group="reportlib.demo_extras")


def build_demo(url: str | None = None, *, seed: int = 7, scale: str = "default", domains: list[str] | None = None,
               csv_folder: str | Path | None = None,
               progress: Callable[[str], None] | None = None) -> list[LoadSummary]:
    """Generate and write demo data for ``domains`` (default: all) into the database at ``url``."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    names = domains or [n for n, domain in DOMAINS.items() if domain.demo is not None]
    summaries = []
    for name in names:
        domain = DOMAINS.get(name)
        if domain.demo is None:
            continue
        if progress:
            progress(f"demo {name} ({scale}, seed {seed})")
        rows = domain.demo(seed, scale)
        if csv_folder is not None:
            export_csv(domain, rows, Path(csv_folder) / name)
        summaries.append(write_domain(domain, rows, url=url, source=f"demo seed={seed} scale={scale}",
                                      digest=f"demo|{name}|{seed}|{scale}"))
    return summaries


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def export_csv(domain: Domain, rows: dict[str, list[dict]], folder: Path) -> None:
    """Write ``rows`` as the domain's input CSV files (a folder ``reportlib load`` accepts)."""
    folder.mkdir(parents=True, exist_ok=True)
    for spec in domain.files:
        names = [f.name for f in spec.fields]
        with atomic_write(folder / spec.file, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            rows_of_file = rows.get(spec.file, [])
            if hasattr(rows_of_file, "to_dict"):  # a DataFrame (bulk demo data)
                rows_of_file = rows_of_file.astype(object).to_dict("records")
            for row in rows_of_file:
                writer.writerow([_text(row.get(n)) for n in names])
