"""``reportlib statements report NAME``: export one portal report for any period and selection.

``reportlib report NAME`` is its old spelling, kept as an alias.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_commands"]


def _cmd_report(args: argparse.Namespace) -> int:
    from datetime import date

    from ..config import outputs_root
    from ..db import connect
    from ..errors import ParameterError
    from ..files import slugify
    from ..periods import Month
    from .metrics import Selection
    from .xlsx import write_report_xlsx

    problems = []
    if args.month and (args.start or args.end):
        problems.append("give either --month or --from/--to, not both")
    try:
        if args.month:
            month = Month.parse(args.month)
            start, end = month.start, month.end
        elif args.start and args.end:
            start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
            if end < start:
                problems.append(f"--to {end} is before --from {start}")
            end = date.fromordinal(end.toordinal() + 1)  # --to is inclusive
        else:
            problems.append("a period is required: --month YYYY-MM or --from YYYY-MM-DD --to YYYY-MM-DD")
            start = end = None
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise ParameterError(f"statements report {args.name}", problems)
    sel = Selection(args.partner, start, end, account_type=args.account_type, account=args.account)
    if args.output:
        out = Path(args.output)
    else:  # never the folder the command happens to run in: beside the other outputs
        out = outputs_root() / "reports" / f"{slugify(args.name)}-{slugify(args.partner)}-{start}.xlsx"
        out.parent.mkdir(parents=True, exist_ok=True)
    with connect(args.db) as conn:
        path = write_report_xlsx(conn, args.name, sel, out, statuses=args.status)
    print(f"Wrote {path}")
    return 0


def add_commands(cli) -> None:
    """``reportlib statements report``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    from .xlsx import REPORTS

    group = cli.subparsers.add_parser("statements", help="statement reports: export one for any period (report)")
    commands = group.add_subparsers(dest="statements_command", required=True, metavar="COMMAND")
    p = commands.add_parser("report", help="export one statement report (credit-topups, total-credit, ...) to XLSX")
    p.add_argument("name", choices=REPORTS.names(), help="which report")
    p.add_argument("--partner", required=True, help="partner account id")
    p.add_argument("--month", help="a month, YYYY-MM")
    p.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--account-type", choices=("partner", "customer", "both"), default="both")
    p.add_argument("--account", help="one account (default: all the partner manages)")
    p.add_argument("--status", action="append", choices=("active", "inactive", "expired", "scheduled"),
                   help="discount status filter (repeatable; discounts report)")
    p.add_argument("-o", "--output", metavar="FILE.xlsx", help="where to write (default: outputs/reports/REPORT-PARTNER-FROM.xlsx)")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=_cmd_report)
    cli.alias("report", "statements report")
