"""``reportlib rates ...``: change decks, verify, review, apply, lookup, change log, shared decks.

Every deck command works on a stored deck, by default the user's own working deck (named
after the user); ``--deck NAME`` picks another, e.g. a shared one. The user is the operating
system's (see :mod:`reportlib.ratedesk.users`); a rates admin may act as another with
``--as-user NAME``, which the change log notes.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

__all__ = ["add_commands"]


def _engine(args):
    from ..db import init_db

    return init_db(args.db)


def _actor(args):
    """Who acts: the operating system's user, or (admins only) ``--as-user``; noted in the change log."""
    from ..errors import ParameterError
    from .decks import add_note
    from .users import acting_user

    if getattr(args, "_actor", None) is not None:
        return args._actor
    if getattr(args, "user", None):
        me = acting_user().user
        raise ParameterError(f"rates {args.rates_command}", [
            f"--user {args.user!r} is not accepted: you are {me!r}, the operating system's user; a rates admin "
            "may act as another user with --as-user NAME"])
    actor = acting_user(getattr(args, "as_user", None))
    if actor.on_behalf:
        deck = getattr(args, "deck", None) or getattr(args, "name", None)
        with _engine(args).begin() as conn:
            add_note(conn, "as-user", f"{actor.os_user} acted as {actor.user}: reportlib rates {args.rates_command}"
                     + (f" (deck {deck!r})" if deck else ""), user=actor.user, os_user=actor.os_user, deck=deck)
    args._actor = actor
    return actor


def _user(args) -> str:
    return _actor(args).user


def _deck_name(args) -> str:
    return args.deck or _user(args)


def _when(text: str | None, what: str) -> datetime | None:
    from ..errors import ParameterError

    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError("rates", [f"{what} {text!r} is not an ISO date or date-time (YYYY-MM-DD[THH:MM])"]) \
            from None
    if value.tzinfo is not None:
        from datetime import timezone

        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _current_rows(engine, name: str, user: str):
    from .decks import read_deck

    with engine.connect() as conn:
        try:
            return read_deck(conn, name, user)
        except LookupError:
            return []


def _store(engine, name: str, rows, user: str, what: str) -> int:
    from .decks import save_deck

    save_deck(engine, name, rows, user)
    print(f"{what}; change deck {name!r} now has {len(rows)} row(s).")
    return 0


def _combine(args, engine, name, user, new_rows):
    from .change_deck import append_rows, merge_rows

    if getattr(args, "merge", False):
        return merge_rows(_current_rows(engine, name, user), new_rows)
    if getattr(args, "append", False):
        return append_rows(_current_rows(engine, name, user), new_rows)
    return new_rows


def cmd_import(args) -> int:
    from .change_deck import read_change_csv

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    with engine.connect() as conn:
        rows = read_change_csv(args.file, args.code_deck, conn)
    rows = _combine(args, engine, name, user, rows)
    return _store(engine, name, rows, user, f"Imported {args.file}")


def cmd_add_current(args) -> int:
    from .change_deck import rows_from_rates

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    with engine.connect() as conn:
        rows = rows_from_rates(conn, args.plan, areas=args.area or (), contains=args.contains,
                               at=_when(args.at, "--at"))
    args.append = not args.replace
    combined = _combine(args, engine, name, user, rows)
    return _store(engine, name, combined, user, f"Added {len(rows)} current rate(s) of {args.plan!r}")


def cmd_demo_deck(args) -> int:
    from .change_deck import demo_change_deck

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    with engine.connect() as conn:
        rows = demo_change_deck(conn, args.code_deck, seed=args.seed, errors=args.errors)
    rows = _combine(args, engine, name, user, rows)
    return _store(engine, name, rows, user, f"Demo change deck for {args.code_deck!r}"
                  + (" (with deliberate errors)" if args.errors else ""))


def cmd_modify(args) -> int:
    from .change_deck import modify_rates

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    rows = _current_rows(engine, name, user)
    if not rows:
        from ..errors import DataError

        raise DataError(f"Change deck {name!r} is empty or does not exist; import or add rows first.")

    def where(r) -> bool:
        if args.area_contains and args.area_contains.lower() not in r.area.lower():
            return False
        if args.plan and args.plan not in r.rate_plans:
            return False
        return not args.rows or r.row in args.rows

    changed = modify_rates(rows, args.operation, args.value, digits=args.digits, mode=args.mode, where=where)
    count = sum(a != b for a, b in zip(rows, changed))
    return _store(engine, name, changed, user, f"{args.operation}: {count} rate(s) changed")


def cmd_show(args) -> int:
    from .change_deck import status_word, write_change_csv
    from .decks import read_deck

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    with engine.connect() as conn:
        rows = read_deck(conn, name, user)
    if args.csv:
        write_change_csv(args.csv, rows)
        print(f"Wrote {len(rows)} row(s) to {args.csv}")
        return 0
    print(f"{'row':>4}  {'status':<8}  {'change type':<13} {'code deck':<16} {'area':<32} {'new area / codes':<28} "
          f"{'rate new':>12} {'increm.':<8} plans/groups  last result")
    for r in rows:
        extra = r.area_new or r.codes
        print(f"{r.row:>4}  {status_word(r.enabled):<8}  {r.change_type:<13} {r.code_deck[:16]:<16} {r.area[:32]:<32} {extra[:28]:<28} "
              f"{r.rate_new:>12} {r.increment_new:<8} {';'.join(x for x in (r.rate_plans, r.rate_plan_groups) if x)}"
              f"  {r.status}")
    return 0


def cmd_status(args) -> int:
    """The manual's record Status: enable or disable deck rows without deleting them."""
    from dataclasses import replace

    from ..errors import ParameterError
    from .change_deck import status_word

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    rows = _current_rows(engine, name, user)
    if not args.rows and not args.all:
        raise ParameterError("rates status", ["give --row N (repeatable) or --all"])
    unknown = sorted(set(args.rows or ()) - {r.row for r in rows})
    if unknown:
        raise ParameterError("rates status", [f"--row {n}: change deck {name!r} has no row {n} (rows: "
                                              f"{', '.join(str(r.row) for r in rows) or 'none'})" for n in unknown])
    enabled = args.action == "enable"
    chosen = set(args.rows or ()) if not args.all else {r.row for r in rows}
    changed = [replace(r, enabled=enabled) if r.row in chosen else r for r in rows]
    count = sum(a.enabled != b.enabled for a, b in zip(rows, changed))
    return _store(engine, name, changed, user, f"{count} row(s) {status_word(enabled)}")


def cmd_clear(args) -> int:
    """The manual's "Clear table": the deck's rows and its verifications go; the deck itself stays."""
    from .decks import clear_deck

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    rows, verifications = clear_deck(engine, name, user)
    print(f"Cleared change deck {name!r}: {rows} row(s) and {verifications} verification(s) removed.")
    return 0


def cmd_template(args) -> int:
    from .change_deck import append_rows, merge_rows
    from .decks import delete_deck, list_decks, read_deck, save_deck

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    if args.action == "list":
        with engine.connect() as conn:
            frame = list_decks(conn, user)
        for row in frame[frame["kind"] == "template"].itertuples():
            print(f"{row.name:<30} {row.rows:>6} rows  owner {row.owner}  updated {row.updated_at:%Y-%m-%d %H:%M}")
        return 0
    if not args.template:
        from ..errors import ParameterError

        raise ParameterError("rates template", [f"{args.action} needs a template name"])
    if args.action == "delete":
        delete_deck(engine, args.template, user)
        print(f"Deleted template {args.template!r}.")
        return 0
    if args.action == "save":
        rows = _current_rows(engine, name, user)
        save_deck(engine, args.template, rows, user, kind="template")
        print(f"Saved change deck {name!r} ({len(rows)} rows) as template {args.template!r}.")
        return 0
    if args.action == "append-deck":  # the manual's "append the deck into an existing template"
        rows = _current_rows(engine, name, user)
        if not rows:
            from ..errors import DataError

            raise DataError(f"Change deck {name!r} is empty: nothing to append to template {args.template!r}.")
        with engine.connect() as conn:
            template = read_deck(conn, args.template, user, kind="template")
        combined = append_rows(template, rows)
        save_deck(engine, args.template, combined, user, kind="template")
        print(f"Appended change deck {name!r} ({len(rows)} rows) to template {args.template!r}, which now has "
              f"{len(combined)} row(s).")
        return 0
    with engine.connect() as conn:
        template = read_deck(conn, args.template, user, kind="template")
    current = _current_rows(engine, name, user)
    rows = {"load": lambda: append_rows([], template), "append": lambda: append_rows(current, template),
            "merge": lambda: merge_rows(current, template)}[args.action]()
    return _store(engine, name, rows, user, f"Template {args.template!r} {args.action}ed")


def _given_options(args) -> dict:
    """The verify options given on the command line, by :data:`~reportlib.ratedesk.verifications.OPTION_FLAGS` name."""
    given = {"plans": tuple(args.plan or ()), "groups": tuple(args.group or ()),
             "base_date": _when(args.base_date, "--base-date"), "specific_date": _when(args.date, "--date"),
             "date_template": args.date_template,
             "all_codes_deleted": args.all_codes_deleted, "no_new": args.no_new,
             "one_deck": False if args.allow_many_decks else None}
    return {name: value for name, value in given.items() if value not in (None, ())}


def _options(args):
    from .verify import VerifyOptions

    return VerifyOptions(**_given_options(args))


def _print_options(options, what: str) -> None:
    from .verifications import describe_options

    print(f"{what}: " + "; ".join(f"{label}: {value}" for label, value in describe_options(options)))


def _print_verify(result) -> None:
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts().items())
    print(f"Verified {len(result.rows)} deck row(s) into {len(result.changes):,} change(s): {counts}")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for e in result.errors:
        print(f"error: {e}", file=sys.stderr)


def _may_edit(engine, name: str, user: str) -> bool:
    from .decks import can

    with engine.connect() as conn:
        return can(conn, name, user, "editor")


def _export_verify(result, path: str, verification_id: int, edits: int = 0) -> None:
    """The verify table to ``path``: a workbook (.xlsx) or the Changes sheet as CSV (.csv)."""
    from ..errors import ParameterError
    from .edits import write_verify_csv
    from .xlsx import write_verify_xlsx

    suffix = path.lower().rsplit(".", 1)[-1] if "." in path else ""
    if suffix == "csv":
        write_verify_csv(result, path, verification_id)
    elif suffix == "xlsx":
        write_verify_xlsx(result, path, verification_id, edits)
    else:
        raise ParameterError("rates verify", [f"--export {path!r}: give a file ending in .xlsx or .csv"])
    print(f"Wrote {path}")


def _verify_edits(args, engine, actor, name: str) -> int:
    """``rates verify --edits FILE``: take the analyst's edits of the latest verification's table."""
    from dataclasses import replace
    from pathlib import Path

    from ..errors import ParameterError
    from .decks import editing, read_deck
    from .edits import apply_edits, read_edits, record_edits, verification_edits
    from .verifications import OPTION_FLAGS, VerificationError, changes_digest, options_to_apply
    from .verify import verify_deck

    given = _given_options(args)
    if given:
        raise ParameterError("rates verify --edits", [
            f"{OPTION_FLAGS[k]} cannot be given with --edits: the edits belong to the deck's latest verification, "
            "with its options (verify again without --edits to change them)" for k in given])
    user = actor.user
    with editing(engine, name, user, os_user=actor.os_user):
        with engine.connect() as conn:
            rows = read_deck(conn, name, user)
            options, verification = options_to_apply(conn, name, rows, {})
            result = verify_deck(conn, rows, options)
            if changes_digest(result) != verification.changes_digest:
                raise VerificationError(f"Verified again now, change deck {name!r} makes other changes than its "
                                        f"verification {verification.id} showed (the rates changed since); verify it "
                                        "again, export the table and edit that.")
            earlier = verification_edits(conn, verification.id)
        changes = apply_edits(result.changes, earlier)
        edits = read_edits(args.edits, changes, verification.id)
        record_edits(engine, verification.id, edits, user=user, source=Path(args.edits).name)
    print(f"{len(edits)} edit(s) of verification {verification.id} recorded from {args.edits}"
          + (" (the file says what the table already says)" if not edits else ":"))
    for e in edits:
        c = changes[e.change_no - 1]
        print(f"  verify row {e.change_no} (deck row {c.deck_row}, {c.rate_plan} {c.area!r}): {e.field} "
              f"{e.old or '(blank)'} -> {e.new or '(blank)'}")
    with engine.connect() as conn:
        now = verification_edits(conn, verification.id)
    result = replace(result, changes=apply_edits(result.changes, now))
    _print_verify(result)
    if args.export:
        _export_verify(result, args.export, verification.id, sum(len(v) for v in now.values()))
    return 1 if result.errors else 0


def cmd_verify(args) -> int:
    from .decks import DeckLockedError, read_deck, set_statuses
    from .verifications import record_verification
    from .verify import verify_deck

    engine, user, name = _engine(args), _user(args), _deck_name(args)
    if args.edits:
        return _verify_edits(args, engine, _actor(args), name)
    with engine.connect() as conn:
        rows = read_deck(conn, name, user)
        result = verify_deck(conn, rows, _options(args))
    verification = record_verification(engine, name, user, result)
    _print_verify(result)
    _print_options(result.options, "Verified with (rates apply uses exactly these)")
    if _may_edit(engine, name, user):
        try:  # the deck's status column shows the verify result, unless someone else is editing it
            set_statuses(engine, name, user, result.row_statuses())
        except DeckLockedError as exc:
            print(f"note: row statuses not saved: {exc}", file=sys.stderr)
    if args.export:
        _export_verify(result, args.export, verification)
    if result.errors:
        print(f"{len(result.errors)} error(s): fix the change deck; apply will refuse it.", file=sys.stderr)
        return 1
    return 0


def _steps(args):
    from .publish import Steps

    return Steps(xlsx=args.xlsx, email_xlsx=args.email_xlsx, csv=args.csv, email_csv=args.email_csv,
                 upload=args.upload, clear=args.clear, smtp=args.smtp, sender=args.sender,
                 billing_address=args.billing_address, upload_to=args.upload_to, out=args.out, workers=args.workers)


def cmd_apply(args) -> int:
    """The manual's "Apply changes + Upload": apply as verified (with the verify table's edits), then the options."""
    from ..errors import ParameterError
    from .apply import apply_deck
    from .decks import clear_deck, editing, read_deck
    from .edits import apply_edits, verification_edits
    from .publish import publisher
    from .verifications import options_to_apply
    from .verify import verify_deck

    engine, actor, name = _engine(args), _actor(args), _deck_name(args)
    user, steps = actor.user, _steps(args).resolved()
    with editing(engine, name, user, os_user=actor.os_user):
        with engine.connect() as conn:
            rows = read_deck(conn, name, user)
            options, verification = options_to_apply(conn, name, rows, _given_options(args))
            edits = verification_edits(conn, verification.id)
            if steps.documents or steps.emails or steps.upload:  # every option checked before anything changes
                check = verify_deck(conn, rows, options)
                todo = [c for c in apply_edits(check.changes, edits) if c.applies]
                problems = check.errors + publisher().problems(conn, todo, steps)
                if problems:
                    raise ParameterError("rates apply (nothing was applied)", problems)
                print(f"Options checked for {publisher().summary(conn, todo)}", file=sys.stderr)
        print(f"Applying change deck {name!r} ({len(rows)} rows) as verified on "
              f"{verification.verified_at:%Y-%m-%d %H:%M} UTC by {verification.user}"
              + (f", with {sum(len(v) for v in edits.values())} edit(s) of its verify table" if edits else "")
              + " ...", file=sys.stderr)
        _print_options(options, "With")
        result = apply_deck(engine, rows, options, user=user, deck_name=name, os_user=actor.os_user,
                            expected_changes=verification.changes_digest, edits=edits)
    _print_verify(result.verify)
    seconds = (result.finished_at - result.started_at).total_seconds()
    print(f"Applied as change batch {result.batch_id} in {seconds:.1f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in result.written.items()))
    report = publisher().publish(engine, args.db, result.batch_id, steps, user=user)
    for line in report.lines:
        print(line)
    if steps.clear:
        cleared, _ = clear_deck(engine, name, user)
        print(f"Cleared change deck {name!r} ({cleared} row(s)) after the change.")
    for problem in report.failed:
        print(f"FAILED {problem}", file=sys.stderr)
    return 1 if report.failed else 0


def cmd_lookup(args) -> int:
    from .metrics import lookup_rate

    with _engine(args).connect() as conn:
        found = lookup_rate(conn, args.plan, args.number, _when(args.at, "--at"))
    till = f"{found.active_till:%Y-%m-%d %H:%M}" if found.active_till else "open"
    print(f"{found.number} in {found.rate_plan} at {found.at:%Y-%m-%d %H:%M} UTC: code {found.code} "
          f"({found.area}) rate {found.rate} {found.currency}/min, increment {found.increment}, "
          f"from {found.active_from:%Y-%m-%d %H:%M} till {till} (rate id {found.rate_id})")
    return 0


def cmd_locks(args) -> int:
    from .decks import lock_frame

    with _engine(args).connect() as conn:
        frame = lock_frame(conn)
    if frame.empty:
        print("No change deck is locked.")
        return 0
    for r in frame.itertuples():
        free = "  (free: the next editor takes it over)" if r.state in ("gone", "expired") else ""
        print(f"{r.deck:<30} {r.kind:<8} held by {r.holder:<12} since {r.since:%Y-%m-%d %H:%M} UTC  {r.where}  "
              f"[{r.state}]{free}")
    return 0


def cmd_log(args) -> int:
    from .metrics import batch_changes, change_log_frame, change_notes_frame

    with _engine(args).connect() as conn:
        if args.batch:
            frame = batch_changes(conn, args.batch)
            if frame.empty:
                print(f"No change history for batch {args.batch}.")
            for r in frame.astype(object).where(frame.notna(), "").itertuples():
                print(f"row {r.deck_row:>4} {r.change_type:<12} {r.result:<12} {r.rate_plan:<18} {r.area:<30} "
                      f"{r.code:<18} {r.rate_old} -> {r.rate_new} from {r.active_from}")
            return 0
        frame = change_log_frame(conn, args.limit)
        notes = change_notes_frame(conn, args.limit)
    steps = (("xlsx_done_at", "All .xlsx files generated"), ("csv_done_at", "All .csv files generated"),
             ("emails_done_at", "All e-mails sent"), ("uploads_done_at", "All uploads to billing done"))
    for r in frame.itertuples():
        by = f" (logged in: {r.os_user})" if isinstance(r.os_user, str) else ""
        print(f"batch {r.batch_id:>4}  {r.finished_at:%Y-%m-%d %H:%M}  {r.user:<12} {r.change_types:<40} "
              f"decks: {r.code_decks}  plans ({r.plan_count}): {r.rate_plans}  rows {r.deck_rows}/{r.change_rows}{by}")
        done = [f"{label}: {getattr(r, column):%Y-%m-%d %H:%M:%S} GMT" for column, label in steps
                if not _missing(getattr(r, column))]
        if done:
            print("            " + "; ".join(done))
    if frame.empty:
        print("No change batch has been applied yet.")
    if not notes.empty:
        print("Notes:")
    for r in notes.itertuples():
        print(f"  {r.at:%Y-%m-%d %H:%M:%S}  {r.kind:<16} {r.text}")
    return 0


def _missing(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def cmd_review(args) -> int:
    from ..db import init_db
    from ..errors import ParameterError
    from .decks import read_deck
    from .html import write_review_html
    from .verifications import describe_options, record_verification
    from .verify import verify_deck
    from .xlsx import write_review_xlsx

    if not args.xlsx and not args.html:
        raise ParameterError("rates review", ["give --xlsx FILE.xlsx and/or --html FILE.html"])
    engine, user, name = init_db(args.db), _user(args), _deck_name(args)
    with engine.connect() as conn:
        rows = read_deck(conn, name, user)
        result = verify_deck(conn, rows, _options(args))
    record_verification(engine, name, user, result)  # a review is a verification: apply applies what it showed
    report = dict(title=f"Change deck review: {name}", options=describe_options(result.options))
    frame = result.frame()
    written = [write(frame, result.errors, result.warnings, path, **report)
               for write, path in ((write_review_xlsx, args.xlsx), (write_review_html, args.html)) if path]
    _print_options(result.options, "Reviewed with (rates apply uses exactly these)")
    for path in written:
        print(f"Wrote {path}")
    if result.errors:
        print(f"{len(result.errors)} error(s): fix the change deck; apply will refuse it.", file=sys.stderr)
        return 1
    return 0


def _duration(text: str | None):
    from datetime import timedelta

    from ..errors import ParameterError

    if not text:
        return None
    units = {"m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    if len(value) < 2 or value[-1] not in units or not value[:-1].isdigit() or int(value[:-1]) == 0:
        raise ParameterError("rates deck lock", [f"--for {text!r} is not a duration like 30m, 4h or 2d"])
    return timedelta(seconds=int(value[:-1]) * units[value[-1]])


def cmd_deck(args) -> int:
    from .decks import (SESSION, acquire_lock, create_deck, delete_deck, list_decks, lock_frame, release_lock,
                         set_access, set_sharing)

    engine, actor = _engine(args), _actor(args)
    user = actor.user
    if args.action == "list":
        with engine.connect() as conn:
            frame = list_decks(conn, user)
            locks = lock_frame(conn).set_index("deck")
        for r in frame.itertuples():
            lock = ""
            if r.name in locks.index:
                held = locks.loc[r.name]
                lock = f"  locked by {held.holder} since {held.since:%Y-%m-%d %H:%M} UTC ({held.where}; {held.state})"
            print(f"{r.name:<30} {r.kind:<8} {'shared' if r.shared else 'private':<8} owner {r.owner:<12} "
                  f"{r.rows:>6} rows{lock}")
        return 0
    if not args.name:
        from ..errors import ParameterError

        raise ParameterError("rates deck", [f"{args.action} needs a deck name"])
    if args.action == "create":
        create_deck(engine, args.name, user, shared=args.shared)
        print(f"Created {'shared' if args.shared else 'private'} change deck {args.name!r}.")
    elif args.action == "lock":
        hold = _duration(args.hold) or SESSION
        acquire_lock(engine, args.name, user, hold=hold, os_user=actor.os_user)
        print(f"{user} holds the edit lock of {args.name!r} for {hold} (until released, or renewed by your "
              "commands on the deck).")
    elif args.action == "unlock":
        release_lock(engine, args.name, user, force=args.force)
        print(f"Edit lock of {args.name!r} released.")
    elif args.action == "delete":
        delete_deck(engine, args.name, user)
        print(f"Deleted change deck {args.name!r}.")
    elif args.action in ("allow", "deny", "forget"):
        if not args.who:
            from ..errors import ParameterError

            raise ParameterError("rates deck", [f"{args.action} needs --who USER"])
        allowed = {"allow": True, "deny": False, "forget": None}[args.action]
        set_access(engine, args.name, user, args.who, args.role, allowed)
        print(f"{args.who}: {args.action} {args.role} on {args.name!r}.")
    elif args.action in ("share", "unshare"):
        set_sharing(engine, args.name, user, args.action == "share")
        print(f"Change deck {args.name!r} is now {'shared' if args.action == 'share' else 'private'}.")
    return 0


def _common(p, deck: bool = True) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy database URL")
    p.add_argument("--as-user", metavar="NAME",
                   help="rates admins only ($REPORTLIB_RATES_ADMINS): act as this user (noted in the change log); "
                        "everyone else is the operating system's user")
    p.add_argument("--user", help=argparse.SUPPRESS)  # refused with a message saying what to do instead
    if deck:
        p.add_argument("--deck", help="stored change deck (default: your own, named after you)")


def _verify_options(p, apply: bool = False) -> None:
    from .verify import ALL_CODES_DELETED

    if apply:
        p.description = ("Applies the deck exactly as its latest verification (rates verify / rates review) "
                         "checked it, with that verification's options; an option given here must be the same.")

    p.add_argument("--plan", action="append", help="rate plan to apply to (repeatable; rows may name their own)")
    p.add_argument("--group", action="append", help="rate plan group (repeatable; union with --plan)")
    p.add_argument("--base-date", metavar="DATE", help="date the templates' days count from (default: today)")
    p.add_argument("--date", metavar="DATE", help="one specific date for every change (overrides templates)")
    p.add_argument("--date-template", metavar="NAME",
                   help="this date template's days for every plan, instead of each plan's own")
    p.add_argument("--all-codes-deleted", choices=ALL_CODES_DELETED,
                   help="when every code of an area is deleted (default: close-area)")
    p.add_argument("--no-new", action="store_true", default=None,
                   help="don't add new areas or rates (skip those rows)")
    p.add_argument("--allow-many-decks", action="store_true", default=None,
                   help="no warning for a batch over several code decks")


def add_commands(cli) -> None:
    """``reportlib rates ...``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    rates = cli.subparsers.add_parser("rates", help="the rate desk: change decks, verify, review, apply, lookup, "
                                                     "change log")
    cmds = rates.add_subparsers(dest="rates_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("import", help="import a change deck CSV (the seed's headers)")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--code-deck", required=True, help="code deck of rows that do not name one")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--append", action="store_true", help="add to the deck's rows instead of replacing them")
    g.add_argument("--merge", action="store_true", help="replace matching rows, add the others")
    _common(p)
    p.set_defaults(handler=cmd_import)

    p = cmds.add_parser("add-current", help="add Area RATE rows from a plan's current rates")
    p.add_argument("plan")
    p.add_argument("--area", action="append", help="only this area (repeatable)")
    p.add_argument("--contains", help="only areas whose name contains this text")
    p.add_argument("--at", metavar="TIME", help="rates in force at this time (default: now)")
    p.add_argument("--replace", action="store_true", help="replace the deck's rows instead of appending")
    _common(p)
    p.set_defaults(handler=cmd_add_current)

    p = cmds.add_parser("demo-deck", help="generate a demo change deck with every change type")
    p.add_argument("code_deck")
    p.add_argument("--errors", action="store_true", help="include rows with deliberate errors")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--append", action="store_true")
    _common(p)
    p.set_defaults(handler=cmd_demo_deck)

    p = cmds.add_parser("modify", help="modify the deck's NEW rates: clear, add, multiply, round")
    p.add_argument("operation", choices=("clear", "add", "multiply", "round"))
    p.add_argument("value", nargs="?", help="the amount to add or the factor to multiply by")
    p.add_argument("--digits", type=int, help="round to this many decimal places (1-8)")
    p.add_argument("--mode", choices=("up", "down", "half-up"), default="half-up")
    p.add_argument("--area-contains", help="only rows whose area contains this text")
    p.add_argument("--plan", help="only rows naming this rate plan")
    p.add_argument("--row", dest="rows", type=int, action="append", help="only this deck row (repeatable)")
    _common(p)
    p.set_defaults(handler=cmd_modify)

    p = cmds.add_parser("show", help="print a change deck (or write it as CSV)")
    p.add_argument("--csv", metavar="FILE.csv", help="write the deck with the seed's headers")
    _common(p)
    p.set_defaults(handler=cmd_show)

    p = cmds.add_parser("status", help="enable or disable deck rows (kept and shown; skipped by verify and apply)")
    p.add_argument("action", choices=("enable", "disable"))
    p.add_argument("--row", dest="rows", type=int, action="append", help="this deck row (repeatable)")
    p.add_argument("--all", action="store_true", help="every row of the deck")
    _common(p)
    p.set_defaults(handler=cmd_status)

    p = cmds.add_parser("clear", help="clear the table: empty the change deck and its verify table")
    _common(p)
    p.set_defaults(handler=cmd_clear)

    p = cmds.add_parser("template", help="saved templates: save, load, append, merge, append-deck, list, delete")
    p.add_argument("action", choices=("save", "load", "append", "merge", "append-deck", "list", "delete"),
                   help="save: the deck as a template (replacing it); load / append / merge: a template into the "
                        "deck; append-deck: the deck's rows added to the end of an existing template")
    p.add_argument("template", nargs="?")
    _common(p)
    p.set_defaults(handler=cmd_template)

    p = cmds.add_parser("verify", help="verify a change deck; --export FILE.xlsx|.csv for review; --edits FILE to "
                                       "take the analyst's corrections of the verify table")
    _verify_options(p)
    p.add_argument("--export", metavar="FILE.xlsx|FILE.csv", help="write the verify table (for review and edits)")
    p.add_argument("--edits", metavar="FILE.xlsx|FILE.csv",
                   help="the exported verify table with Status, Locked new, Ext policy new or Custom 1-3 new edited: "
                        "checked, recorded, and applied by rates apply")
    _common(p)
    p.set_defaults(handler=cmd_verify)

    p = cmds.add_parser("apply", help="apply changes (+ upload): apply the deck as verified, in one transaction, "
                                      "then amendments, e-mails, uploads and clear as the options say")
    _verify_options(p, apply=True)
    p.description += (" Future rates of the same plan and area are always superseded. Every option is checked for "
                      "every customer rate plan the batch touches before anything changes; any problem refuses "
                      "the whole run, naming every problem.")
    p.add_argument("--xlsx", action="store_true", help="create XLSX amendments")
    p.add_argument("--email-xlsx", action="store_true", help="send e-mails with the XLSX to customers (implies --xlsx)")
    p.add_argument("--csv", action="store_true", help="create CSV amendments (billing CSVs)")
    p.add_argument("--email-csv", action="store_true",
                   help="send e-mails with the CSVs to external billing (implies --csv)")
    p.add_argument("--upload", action="store_true",
                   help="upload new customer rates to external billing (implies --csv)")
    p.add_argument("--clear", action="store_true", help="clear the table (the change deck) after the change")
    p.add_argument("--smtp", metavar="HOST:PORT", help="SMTP server for the e-mails")
    p.add_argument("--from", dest="sender", metavar="ADDRESS", help="sender (default: $REPORTLIB_MAIL_FROM)")
    p.add_argument("--billing-address", metavar="ADDRESS",
                   help="external billing's e-mail address (default: $REPORTLIB_BILLING_EMAIL)")
    p.add_argument("--upload-to", metavar="URL|FOLDER",
                   help="billing system to upload to: http(s)://... (token in $REPORTLIB_BILLING_TOKEN), "
                        "file://FOLDER or a folder (default: $REPORTLIB_BILLING_UPLOAD)")
    p.add_argument("--out", metavar="DIR", help="outputs folder of the amendments (default: outputs/)")
    p.add_argument("--workers", type=int, help="parallel amendment runs (default: cores)")
    _common(p)
    p.set_defaults(handler=cmd_apply)

    p = cmds.add_parser("lookup", help="the rate in force for a dialled number (longest prefix)")
    p.add_argument("plan")
    p.add_argument("number")
    p.add_argument("--at", metavar="TIME", help="ISO date or date-time, UTC (default: now)")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=cmd_lookup)

    p = cmds.add_parser("log", help="the change log, or one batch's change history")
    p.add_argument("--batch", type=int, help="show this batch's change history")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=cmd_log)

    p = cmds.add_parser("deck", help="stored and shared decks: list, create, lock, unlock, allow, deny, ...")
    p.add_argument("action", choices=("list", "create", "lock", "unlock", "delete", "allow", "deny", "forget",
                                       "share", "unshare"))
    p.add_argument("name", nargs="?")
    p.add_argument("--shared", action="store_true", help="create: several users may view and edit it")
    p.add_argument("--who", metavar="USER", help="allow/deny/forget: the user")
    p.add_argument("--role", choices=("viewer", "editor"), default="editor")
    p.add_argument("--force", action="store_true", help="unlock: the owner breaks someone else's lock")
    p.add_argument("--for", dest="hold", metavar="DURATION",
                   help="lock: hold it this long, e.g. 30m, 4h, 2d (default 4h; your commands on it renew it)")
    _common(p, deck=False)
    p.set_defaults(handler=cmd_deck)

    p = cmds.add_parser("locks", help="who holds which change deck's edit lock, since when, where")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(handler=cmd_locks)

    r = cmds.add_parser("review", help="review report of a change deck before applying (XLSX and HTML)")
    _common(r)
    _verify_options(r)
    r.add_argument("--xlsx", metavar="FILE.xlsx", help="write the review workbook here")
    r.add_argument("--html", metavar="FILE.html", help="write the review page here")
    r.set_defaults(handler=cmd_review)
    # The amendment documents were `reportlib amendments ...` before they became a family of their own.
    cli.alias("rates amendments", "amendments")
