"""``reportlib amendments ...``: the amendment documents.

    reportlib amendments [--period P] [--batch N] [--customer C] [--failed]   the record
    reportlib amendments make --batch N [--smtp HOST:PORT] [--billing-address A] [--resend]
    reportlib amendments make --regenerate [--plan P]... [--group G]... [--customer C]...
    reportlib amendments send PERIOD [--smtp HOST:PORT] [--customer C]... [--resend]
    reportlib amendments retry-email PERIOD --smtp HOST:PORT  the same as send
    reportlib amendments deliveries [PERIOD] [--customer C]   the delivery log, per address
    reportlib amendments upload PERIOD [--upload-to URL|FOLDER] the billing CSVs to external billing

(``reportlib amendments ...``, their old spelling, is kept as an alias.)

``make`` runs the ``amendment`` batch (one notebook per enabled customer × plan), then
writes the e-mails to the period's outbox and, with ``--smtp``, sends them. ``send`` is also
the retry: it regenerates and re-applies nothing and sends only to the addresses the server
has not accepted yet. The same content never goes to the same address twice unless
``--resend`` asks for it (recorded in the delivery log).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_commands"]


def _smtp(args):
    from .email import SmtpTarget

    return SmtpTarget.parse(args.smtp) if args.smtp else None


def _deliver(args, period: str) -> int:
    from .send import deliver

    smtp = _smtp(args)
    report = deliver(args.db, period, smtp=smtp, sender=args.sender, billing_address=args.billing_address,
                     customers=tuple(args.customer or ()), resend=args.resend,
                     progress=lambda name: print(f"sending {name} via {smtp}", file=sys.stderr))
    print(report.summary())
    return 1 if report.failed else 0


def cmd_make(args) -> int:
    from ..batch import run_batch
    from ..errors import ParameterError
    from .data import period_name

    if args.batch is not None:
        args.batch = _batch_id(args)
    if args.batch is None and not args.regenerate:
        raise ParameterError("amendments make", ["give --batch N, or --regenerate [--plan P] [--group G]"])
    if args.batch is not None and args.regenerate:
        raise ParameterError("amendments make", ["give either --batch or --regenerate, not both"])
    smtp = _smtp(args)  # a bad --smtp fails before any notebook runs
    raw = {"batch": args.batch} if args.batch is not None else {
        "plans": list(args.plan or []), "groups": list(args.group or []), "at": args.at}
    if args.customer:
        raw["customers"] = list(args.customer)
    result = run_batch("amendment", raw, out=args.out, db_url=args.db, workers=args.workers, force=args.force)
    print(result.summary())
    if not any(r.status in ("ok", "skipped") for r in result.results):
        return 1
    from datetime import date

    period = period_name(args.batch, date.fromisoformat(args.at) if args.at else None)
    args.smtp = str(smtp) if smtp else None
    delivered = _deliver(args, period)
    from ..delivery.publish import after_runs

    after_runs("amendment", [], out=args.out, db_url=args.db, pdf=False)  # the catalogue
    return 1 if not result.ok else delivered


def _batch_id(args) -> int:
    from ..errors import ParameterError
    from ..db import init_db
    from ..ratedesk.metrics import latest_batch
    from .demo import demo_batch

    text = str(args.batch).strip().lower()
    if text != "latest":
        if not text.isdigit():
            raise ParameterError("amendments make", [f"--batch {args.batch!r} is not a batch id or 'latest'"])
        return int(text)
    with init_db(args.db).connect() as conn:
        found = latest_batch(conn)
    if found is None and args.demo_if_none:
        found = demo_batch(args.db)
        print(f"No change batch yet: applied the demo change deck as batch {found}.", file=sys.stderr)
    if found is None:
        raise ParameterError("amendments make", ["--batch latest: no change batch has been applied yet "
                                                       "(reportlib rates apply, or --demo-if-none)"])
    return found


def cmd_send(args) -> int:
    return _deliver(args, args.period)


def cmd_upload(args) -> int:
    """Upload a period's billing CSVs not uploaded yet to external billing (also the retry of rates apply --upload)."""
    from ..db import init_db
    from ..delivery.upload import uploader_for
    from ..errors import ParameterError
    from ..ratedesk.decks import current_user
    from .upload import upload_period

    text = args.period.strip().lower().removeprefix("batch-")
    period = f"batch-{int(text)}" if text.isdigit() else args.period.strip()
    if not text.isdigit() and not period.startswith("regenerate-"):
        raise ParameterError("amendments upload", [f"{args.period!r} is not a change batch (N or batch-N) or a "
                                                   "regeneration (regenerate-YYYY-MM-DD)"])
    uploader = uploader_for(args.upload_to)
    problems = uploader.problems()
    if problems:
        raise ParameterError("amendments upload", problems)
    engine = init_db(args.db)
    report = upload_period(engine, period, uploader, user=current_user(),
                           progress=lambda name: print(f"uploading {name} to {uploader}", file=sys.stderr))
    print(report.summary())
    return 1 if report.failed else 0


def cmd_deliveries(args) -> int:
    from ..db import init_db
    from ..delivery import delivery_frame
    from .send import FAMILY

    with init_db(args.db).connect() as conn:
        frame = delivery_frame(conn, FAMILY, period=args.period)
    if args.customer:
        frame = frame[frame["entity"].str.startswith(f"{args.customer} × ")]
    if frame.empty:
        print("No delivery recorded" + (" that matches." if args.period or args.customer else "."))
        return 0
    for row in frame.astype(object).where(frame.notna(), None).itertuples():
        sent = f" {row.sent_at:%Y-%m-%d %H:%M}" if row.status == "sent" and row.sent_at is not None else ""
        why = f"  ({row.closed})" if row.closed else f"  {row.last_error}" if row.last_error else ""
        extra = f" replaces #{row.replaces}" if row.replaces is not None else ""
        by = f" by {row.requested_by}" if row.reason == "resend" and row.requested_by else ""
        print(f"#{row.delivery:<4} {row.period:<20} {row.entity:<32} {row.reason}{extra}{by}  {row.role:<3} "
              f"{row.address:<32} {row.status}{sent} attempts {row.attempts}{why}")
    return 0


def cmd_list(args) -> int:
    from ..db import init_db
    from .data import amendment_records

    with init_db(args.db).connect() as conn:
        frame = amendment_records(conn, period=args.period, batch=args.batch, customer=args.customer,
                                  failed=args.failed, limit=args.limit)
    if frame.empty:
        print("No amendment recorded" + (" that matches" if (args.period or args.batch or args.customer
                                                             or args.failed) else "") + ".")
        return 0
    for row in frame.astype(object).where(frame.notna(), None).itertuples():
        print("\n".join(_record_lines(row)))
    if (frame["email_status"] == "failed").any():
        print("Retry failed e-mails with: reportlib amendments send PERIOD --smtp HOST:PORT")
    if (frame["upload_status"] == "failed").any():
        print("Retry failed uploads with: reportlib amendments upload PERIOD --upload-to URL|FOLDER")
    return 0


def _record_lines(row) -> list[str]:
    """One amendment of the record: what was asked, then each step's status, completion time (GMT) and file."""
    from ..render.figures import count, number

    def when(at) -> str:
        return f"{at:%Y-%m-%d %H:%M:%S} GMT" if at is not None else "-"

    def link(*parts) -> str:
        if row.folder is None or parts[-1] is None:
            return ""
        path = Path(row.folder, *parts)
        shown = path.as_uri() if path.is_absolute() else str(path)
        return shown if path.is_file() else f"{shown} (missing)"

    took = f", {number(row.seconds, 2, suffix=' s')} in all" if row.seconds is not None else ""
    lines = [f"{row.period}  {row.customer_id} × {row.rate_plan}  requested {when(row.requested_at)} by {row.user}  "
             f"rows {count(row.rows)}, changes {count(row.changes)}{took}"]
    xlsx = (f"{number(row.xlsx_seconds, 2, suffix=' s')}, {number(row.xlsx_peak_mb, 1, suffix=' MB')} peak RAM"
            if row.xlsx_seconds is not None else "")
    csv = "its setup names no CSV template" if row.csv_status == "skipped" else \
        number(row.csv_seconds, 2, suffix=" s") if row.csv_generated_at is not None else ""
    attempts = f"attempts {count(row.email_attempts)}" if row.email_attempts else ""
    steps = [("XLSX", row.xlsx_status, row.xlsx_generated_at, xlsx, link(row.xlsx_file)),
             ("CSV", row.csv_status, row.csv_generated_at, csv, link(row.csv_file)),
             ("e-mail", row.email_status, row.email_sent_at, attempts, link("outbox", row.eml_file)),
             ("billing", row.billing_status, row.billing_sent_at, "e-mail of the CSV to external billing", ""),
             ("upload", row.upload_status or "-", row.uploaded_at, "to external billing", "")]
    for label, status, at, detail, file in steps:
        lines.append("  " + "  ".join(part for part in (f"{label:<8} {status:<8} {when(at):<23}", detail, file)
                                      if part).rstrip())
    lines += [f"  {label}: {text}" for label, text in (("error", row.error), ("e-mail error", row.email_error)) if text]
    return lines


def _mail_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smtp", metavar="HOST:PORT", help="also send the messages through this SMTP server")
    p.add_argument("--from", dest="sender", metavar="ADDRESS",
                   help="sender address (default: $REPORTLIB_MAIL_FROM or rates@reportlib.example)")
    p.add_argument("--billing-address", metavar="ADDRESS",
                   help="external billing's address (default: $REPORTLIB_BILLING_EMAIL)")
    p.add_argument("--resend", action="store_true",
                   help="send again what an address already has (recorded as a re-send in the delivery log)")


def add_commands(cli) -> None:
    """``reportlib amendments ...``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("amendments", help="rate amendment documents: list the record, make, send (and "
                                                     "retry) e-mails")
    p.add_argument("--db", metavar="URL")
    p.add_argument("--period", help="only this period (batch-N or regenerate-YYYY-MM-DD)")
    p.add_argument("--batch", type=int, help="only this change batch")
    p.add_argument("--customer", help="only this customer")
    p.add_argument("--failed", action="store_true", help="only amendments with a failed step")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(handler=cmd_list)
    steps = p.add_subparsers(dest="amendments_command", metavar="STEP")

    m = steps.add_parser("make", help="render the amendments of a batch (or a regeneration), write and send e-mails")
    m.add_argument("--batch", metavar="N|latest", help="the applied change batch")
    m.add_argument("--demo-if-none", action="store_true",
                   help="with --batch latest: apply the demo change deck first when no batch exists (make amendments)")
    m.add_argument("--regenerate", action="store_true", help="regenerate without changes (chosen plans or groups)")
    m.add_argument("--plan", action="append", help="regeneration: a rate plan (repeatable; default all)")
    m.add_argument("--group", action="append", help="regeneration: a rate plan group (repeatable)")
    m.add_argument("--customer", action="append", help="only this customer (repeatable)")
    m.add_argument("--at", metavar="YYYY-MM-DD", help="regeneration: the sheet as of this date (default now)")
    m.add_argument("--out", metavar="DIR", help="outputs folder (default: outputs/)")
    m.add_argument("--workers", type=int, help="parallel notebook runs (default: cores)")
    m.add_argument("--force", action="store_true", help="render even when the outputs are up to date")
    m.add_argument("--db", metavar="URL")
    _mail_options(m)
    m.set_defaults(handler=cmd_make)

    s = steps.add_parser("send", aliases=["retry-email"],
                         help="write new e-mails to the outbox; with --smtp send to every address not accepted yet")
    s.add_argument("period", help="batch-N or regenerate-YYYY-MM-DD (see: reportlib amendments)")
    s.add_argument("--customer", action="append", help="only this customer's messages (repeatable)")
    s.add_argument("--db", metavar="URL")
    _mail_options(s)
    s.set_defaults(handler=cmd_send)

    u = steps.add_parser("upload", help="upload a period's billing CSVs to external billing (what is not uploaded "
                                        "yet: also the retry of rates apply --upload)")
    u.add_argument("period", metavar="N|batch-N|regenerate-YYYY-MM-DD")
    u.add_argument("--upload-to", metavar="URL|FOLDER",
                   help="http(s)://... (token in $REPORTLIB_BILLING_TOKEN; may hold {ext_billing_customer} and "
                        "{ext_billing_rate_plan}), file://FOLDER or a folder (default: $REPORTLIB_BILLING_UPLOAD)")
    u.add_argument("--db", metavar="URL")
    u.set_defaults(handler=cmd_upload)

    d = steps.add_parser("deliveries", help="the delivery log: every message, per address, with its status")
    d.add_argument("period", nargs="?", help="only this period")
    d.add_argument("--customer", help="only this customer")
    d.add_argument("--db", metavar="URL")
    d.set_defaults(handler=cmd_deliveries)
