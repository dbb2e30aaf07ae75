"""Rate management: code decks, change decks, verify, apply, change log, lookup, shared decks.

The workflow of a wholesale voice carrier's rate desk: fill a change deck (import, current
rates, templates, demo), modify its new rates, verify it against the database, apply it in
one transaction as a change batch, and look up the rate in force for any dialled number.
"""

from .apply import ApplyResult, BatchAppliedError, apply_deck
from .deck import (CHANGE_TYPES, CSV_HEADERS, ChangeDeckError, ChangeRow, append_rows, demo_change_deck, merge_rows,
                   modify_rates, read_change_csv, rows_from_rates, write_change_csv)
from .metrics import Lookup, batch_changes, batch_plans, change_log_frame, lookup_rate, rate_sheet
from .shared import (DeckAccessError, DeckLockedError, acquire_lock, can, create_deck, current_user, list_decks,
                     read_deck, release_lock, set_access, write_deck)
from .verify import Change, VerifyOptions, VerifyResult, verify_deck
# The amendment documents (issue 5).
from .amendments import Amendment, Notice, amendment, amendment_targets, compare_sheets, regeneration_targets
from .mail import SmtpTarget
from .records import amendment_records, deliver, generate
from .report import write_review
from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES

__all__ = [
    "ApplyResult", "BatchAppliedError", "CHANGE_TYPES", "CSV_HEADERS", "Change", "ChangeDeckError", "ChangeRow",
    "DeckAccessError", "DeckLockedError", "Lookup", "VerifyOptions", "VerifyResult", "acquire_lock", "append_rows",
    "apply_deck", "batch_changes", "batch_plans", "can", "change_log_frame", "create_deck", "current_user",
    "demo_change_deck", "list_decks", "lookup_rate", "merge_rows", "modify_rates", "rate_sheet", "read_change_csv",
    "read_deck", "release_lock", "rows_from_rates", "set_access", "verify_deck", "write_change_csv", "write_deck",
    # amendments
    "AMENDMENT_TEMPLATES", "Amendment", "CSV_TEMPLATES", "EMAIL_TEMPLATES", "Notice", "SmtpTarget", "amendment",
    "amendment_records", "amendment_targets", "compare_sheets", "deliver", "generate", "regeneration_targets",
    "write_review",
]
