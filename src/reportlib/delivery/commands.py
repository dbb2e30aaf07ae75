"""Delivery's command line.

    reportlib send FAMILY -p NAME VALUE... [--entity ID] [--smtp HOST:PORT] [--dry-run] [--resend] [--retry]
    reportlib pdf FAMILY -p NAME VALUE... [--force]      PDFs of the reports (also made by send, run --pdf, batch --pdf)
    reportlib catalogue                                  rebuild outputs/index.html
    reportlib due [--smtp HOST:PORT] [--now TIME]        run the scheduled jobs that are due, then send
    reportlib schedule                                   the jobs, their next and last runs

The SMTP server is ``--smtp`` or ``$REPORTLIB_SMTP`` (``HOST:PORT``); security and login come
from the environment only (see :mod:`reportlib.delivery.smtp`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_catalogue", "add_due", "add_pdf", "add_schedule", "add_send"]


def _smtp(args):
    from .smtp import SmtpTarget

    text = args.smtp or os.environ.get("REPORTLIB_SMTP")
    return SmtpTarget.parse(text) if text else None


def _raw(args) -> dict[str, Any]:
    from ..params import load_params_file, parse_cli_pairs

    raw = load_params_file(args.params_file) if args.params_file else {}
    raw.update(parse_cli_pairs(args.param))
    return raw


def cmd_send(args) -> int:
    from .send import send_reports

    smtp = _smtp(args)
    options = {"billing_address": args.billing_address} if args.billing_address else {}
    report = send_reports(args.family, _raw(args), db_url=args.db, out=args.out, entity=args.entity, smtp=smtp,
                          dry_run=args.dry_run, resend=args.resend, retry=args.retry, sender=args.sender,
                          max_attach_mb=args.max_attach_mb, options=options,
                          progress=lambda name: print(f"sending {name} via {smtp}", file=sys.stderr))
    print(report.summary())
    if not args.dry_run:
        from ..config import outputs_root, resolve_db_url
        from .catalogue import write_catalogue

        write_catalogue(outputs_root(args.out), resolve_db_url(args.db))
    return 1 if report.failed or getattr(report, "pdf_failed", False) else 0  # a family's own send makes no PDF


def cmd_pdf(args) -> int:
    from ..families import get_family
    from .pdf import make_pdfs
    from .send import period_folders_of

    family = get_family(args.family)
    if not family.pdfs:
        print(f"The {family.name} family makes no PDF.")
        return 0
    folders = [folder for _, folder in period_folders_of(family, _raw(args), db_url=args.db, out=args.out)]
    report = make_pdfs(family, folders, workers=args.workers, force=args.force)
    print(report.summary())
    from ..config import outputs_root, resolve_db_url
    from .catalogue import write_catalogue

    # The manifests now list the PDFs: the catalogue links them.
    print(f"Catalogue: {write_catalogue(outputs_root(args.out), resolve_db_url(args.db))}")
    return 1 if report.failed else 0


def cmd_catalogue(args) -> int:
    from ..config import outputs_root, resolve_db_url
    from .catalogue import write_catalogue

    # Every row made again from its manifest (runs and sends remake only the rows that changed).
    print(f"Catalogue: {write_catalogue(outputs_root(args.out), resolve_db_url(args.db), full=True)}")
    return 0


def cmd_due(args) -> int:
    from datetime import datetime

    from .schedule import LockBusy, due

    now = datetime.fromisoformat(args.now).replace(tzinfo=None) if args.now else None
    try:
        report = due(db_url=args.db, out=args.out, path=args.file, now=now, smtp=_smtp(args), workers=args.workers,
                     pdf=not args.no_pdf, say=lambda line: print(line, file=sys.stderr))
    except LockBusy as exc:
        print(exc)
        return 0
    print("\n".join(report.lines))
    return 1 if report.failed else 0


def cmd_schedule(args) -> int:
    from datetime import datetime

    from .schedule import jobs_status

    now = datetime.fromisoformat(args.now).replace(tzinfo=None) if args.now else None
    for row in jobs_status(db_url=args.db, path=args.file, now=now):
        job, last = row["job"], row["last"]
        params = " ".join(f"{k}={v}" for k, v in row["next_parameters"].items())
        done = (f"last {last.scheduled_for:%Y-%m-%d %H:%M} {last.status}" if last is not None else "never run")
        print(f"{job.name:<22} {job.family:<14} {job.when:<16} send={'yes' if job.send else 'no ':<4} "
              f"next {row['next']:%Y-%m-%d %H:%M} ({params}); {done}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy database URL (default: $REPORTLIB_DB or data/reportlib.sqlite)")
    p.add_argument("--out", metavar="DIR", help="outputs folder (default: outputs/)")


def _params(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="a batch parameter that selects the period(s), e.g. -p month 2026-10 (repeatable)")
    p.add_argument("-f", "--params-file", metavar="PARAMS.yaml", help="parameters from a YAML file; -p values win")


def add_send(cli) -> None:
    """``reportlib send``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("send", help="e-mail a family's reports of a period to their recipients (outbox, delivery log)")
    p.add_argument("family", help="report family: statement, qbr, qbr-portfolio, dashboard, amendment")
    _params(p)
    p.add_argument("--entity", metavar="ID", help="only this entity (a partner id, a customer id, a stem)")
    p.add_argument("--smtp", metavar="HOST:PORT", help="send through this SMTP server (default: $REPORTLIB_SMTP; "
                                                       "none: write the outbox only)")
    p.add_argument("--dry-run", action="store_true", help="show what would be written and to whom; do nothing")
    p.add_argument("--resend", action="store_true", help="send again what an address already has (recorded)")
    p.add_argument("--retry", action="store_true", help="compose nothing new: send only what was not accepted yet")
    p.add_argument("--from", dest="sender", metavar="ADDRESS", help="sender (default: $REPORTLIB_MAIL_FROM)")
    p.add_argument("--max-attach-mb", type=float, default=None,
                   help="above this size in all, a link to the catalogue instead of attachments (default 10)")
    p.add_argument("--billing-address", metavar="ADDRESS", help="amendment: external billing's address")
    _common(p)
    p.set_defaults(handler=cmd_send)


def add_pdf(cli) -> None:
    """``reportlib pdf``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("pdf", help="make the missing or outdated PDFs of a family's reports of a period")
    p.add_argument("family")
    _params(p)
    p.add_argument("--workers", type=int, default=None, help="LibreOffice processes (default: cores)")
    p.add_argument("--force", action="store_true", help="make every PDF again")
    _common(p)
    p.set_defaults(handler=cmd_pdf)


def add_catalogue(cli) -> None:
    """``reportlib catalogue``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("catalogue", help="rebuild outputs/index.html (every report, its versions and deliveries)")
    _common(p)
    p.set_defaults(handler=cmd_catalogue)


def add_due(cli) -> None:
    """``reportlib due``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("due", help="run the scheduled jobs that are due (params/schedule.yaml), then send")
    p.add_argument("--file", metavar="SCHEDULE.yaml", help="the schedule (default: params/schedule.yaml)")
    p.add_argument("--smtp", metavar="HOST:PORT", help="send through this SMTP server (default: $REPORTLIB_SMTP)")
    p.add_argument("--now", metavar="YYYY-MM-DDTHH:MM", help="act as if it were this time (UTC)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-pdf", action="store_true", help="no PDFs")
    _common(p)
    p.set_defaults(handler=cmd_due)


def add_schedule(cli) -> None:
    """``reportlib schedule``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("schedule", help="the scheduled jobs with their next and last runs")
    p.add_argument("--file", metavar="SCHEDULE.yaml", help="the schedule (default: params/schedule.yaml)")
    p.add_argument("--now", metavar="YYYY-MM-DDTHH:MM", help="act as if it were this time (UTC)")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=cmd_schedule)

