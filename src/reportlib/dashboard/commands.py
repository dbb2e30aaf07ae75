"""``reportlib dashboard names ...``: maintain the advertiser/publisher alias table and review fuzzy proposals.

``reportlib names ...`` is its old spelling, kept as an alias.

    reportlib dashboard names propose [-o names-review.csv] [--kind advertiser] [--threshold 85]
    reportlib dashboard names accept names-review.csv      # rows marked accept = yes become aliases
    reportlib dashboard names export aliases.csv
    reportlib dashboard names import aliases.csv [--replace]
"""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def _cmd_propose(args: argparse.Namespace) -> int:
    from ..db import connect, init_db
    from .names import write_proposals

    init_db(args.db)
    with connect(args.db) as conn:
        count = write_proposals(conn, args.output, kinds=args.kind or ("advertiser", "publisher"),
                                threshold=args.threshold)
    print(f"Wrote {count:,} proposal(s) to {args.output}. Nothing is merged yet: mark the rows to merge with "
          f"accept = yes, then run: reportlib dashboard names accept {args.output}")
    return 0


def _cmd_accept(args: argparse.Namespace) -> int:
    from .names import accept_proposals

    accepted, left = accept_proposals(args.file, url=args.db)
    print(f"Accepted {accepted:,} proposal(s) as aliases; {left:,} left unmerged.")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ..db import connect, init_db
    from .names import export_aliases

    init_db(args.db)
    with connect(args.db) as conn:
        count = export_aliases(conn, args.file)
    print(f"Wrote {count:,} alias(es) to {args.file}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from .names import import_aliases

    count = import_aliases(args.file, url=args.db, replace=args.replace)
    print(f"Imported {count:,} alias(es){' (the table was replaced)' if args.replace else ''}.")
    return 0


def add_commands(cli) -> None:
    """``reportlib dashboard names ...``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    group = cli.subparsers.add_parser("dashboard", help="tech dashboard: advertiser and publisher names (names)")
    commands = group.add_subparsers(dest="dashboard_command", required=True, metavar="COMMAND")
    names = commands.add_parser("names", help="advertiser/publisher names: aliases and fuzzy-match review")
    actions = names.add_subparsers(dest="names_command", required=True, metavar="ACTION")

    p = actions.add_parser("propose", help="write fuzzy-match proposals to a review CSV (merges nothing)")
    p.add_argument("-o", "--output", default="names-review.csv", metavar="FILE.csv")
    p.add_argument("--kind", action="append", choices=("advertiser", "publisher"), help="only this kind (repeatable)")
    p.add_argument("--threshold", type=float, default=85, help="minimum similarity, 0-100 (default 85)")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=_cmd_propose)

    p = actions.add_parser("accept", help="turn the review CSV's rows marked accept = yes into aliases")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=_cmd_accept)

    p = actions.add_parser("export", help="write the alias table to CSV")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=_cmd_export)

    p = actions.add_parser("import", help="add aliases from a CSV of kind, raw_name, canonical_name")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--replace", action="store_true", help="replace the whole alias table")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=_cmd_import)
    cli.alias("names", "dashboard names")
