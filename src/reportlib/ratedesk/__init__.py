"""The rate desk: code decks, change decks, verify, apply, change log, lookup, shared decks.

The workflow of a wholesale voice carrier's rate desk: fill a change deck (import, current
rates, templates, demo), modify its new rates, verify it against the database, apply it in
one transaction as a change batch, and look up the rate in force for any dialled number.
An application with its own commands (``reportlib rates ...``), not a report family; the
amendment documents it feeds are the ``amendment`` family (:mod:`reportlib.amendments`).
"""

from .apply import ApplyResult, BatchAppliedError, apply_deck
from .change_deck import (CHANGE_TYPES, CSV_HEADERS, ChangeDeckError, ChangeRow, append_rows, demo_change_deck,
                          merge_rows, modify_rates, read_change_csv, rows_from_rates, write_change_csv)
from .decks import (DeckAccessError, DeckLockedError, acquire_lock, can, create_deck, current_user, list_decks,
                    read_deck, release_lock, set_access, save_deck)
from .html import write_review_html
from .metrics import Lookup, batch_changes, batch_plans, change_log_frame, lookup_rate, rate_sheet
from .verify import Change, VerifyOptions, VerifyResult, verify_deck
from .xlsx import write_review_xlsx, write_verify_xlsx

__all__ = [
    "ApplyResult", "BatchAppliedError", "CHANGE_TYPES", "CSV_HEADERS", "Change", "ChangeDeckError", "ChangeRow",
    "DeckAccessError", "DeckLockedError", "Lookup", "VerifyOptions", "VerifyResult", "acquire_lock", "append_rows",
    "apply_deck", "batch_changes", "batch_plans", "can", "change_log_frame", "create_deck", "current_user",
    "demo_change_deck", "list_decks", "lookup_rate", "merge_rows", "modify_rates", "rate_sheet", "read_change_csv",
    "read_deck", "release_lock", "rows_from_rates", "save_deck", "set_access", "verify_deck", "write_change_csv",
    "write_review_html", "write_review_xlsx", "write_verify_xlsx",
]
