"""``reportlib qbr metrics``: every partner's QBR metrics and health score for a quarter.

``reportlib qbr-metrics`` is its old spelling, kept as an alias.
"""

from __future__ import annotations

import argparse
import time

__all__ = ["add_commands"]

_TEXT = {"partner_id", "quarter", "name", "tier", "segment", "region", "partner_manager", "account_manager", "status",
         "health_band", "health_action", "missing_components"}


def _cmd_metrics(args: argparse.Namespace) -> int:
    from ..db import connect
    from ..errors import ParameterError
    from ..periods import Quarter
    from ..render.table import Col, Sheet
    from ..render.xlsx import write_workbook
    from .slices import quarter_metrics
    from .review import portfolio
    from .xlsx import PORTFOLIO_COLUMNS

    try:
        quarter = Quarter.parse(args.quarter)
    except ValueError as exc:
        raise ParameterError("qbr metrics", [str(exc)]) from None
    if args.reference_cycle_days <= 0:
        raise ParameterError("qbr metrics", ["--reference-cycle-days must be a positive number of days"])
    clock = time.perf_counter()
    with connect(args.db) as conn:
        all_partners = quarter_metrics(conn, quarter, args.reference_cycle_days)
    seconds = time.perf_counter() - clock
    m = all_partners.metrics
    active = m[m["status"] == "active"]
    print(f"{quarter}: metrics of {len(m):,} partners ({len(active):,} active) and of the quarter before, "
          f"benchmarks and trends in {seconds:.2f} s")
    for band, count in active["health_band"].value_counts().sort_index().items():
        print(f"  {band}: {count}")
    if args.output:
        book = portfolio(all_partners)
        columns = [Col(c, c, "text" if c in _TEXT else "decimal", places=4) for c in m.columns]
        path = write_workbook(args.output, [Sheet("Portfolio", book, PORTFOLIO_COLUMNS),
                                            Sheet("All metrics", m, columns)])
        print(f"Wrote {path}")
    return 0


def add_commands(cli) -> None:
    """``reportlib qbr metrics``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    group = cli.subparsers.add_parser("qbr", help="QBR: every partner's metrics of a quarter (metrics)")
    commands = group.add_subparsers(dest="qbr_command", required=True, metavar="COMMAND")
    p = commands.add_parser("metrics", help="compute every partner's QBR metrics for a quarter (timed)")
    p.add_argument("--quarter", required=True, help="quarter, e.g. 2026Q3")
    p.add_argument("--reference-cycle-days", type=int, default=180)
    p.add_argument("-o", "--output", metavar="FILE.xlsx", help="also write the portfolio and all metrics to XLSX")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=_cmd_metrics)
    cli.alias("qbr-metrics", "qbr metrics")
