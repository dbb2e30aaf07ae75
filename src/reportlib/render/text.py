"""Untrusted text on its way into a document: never a formula, never markup."""

from __future__ import annotations

import html

__all__ = ["FORMULA_TRIGGERS", "escape_html", "neutralise_formula"]

# OWASP CSV injection: a cell starting with one of these may be run as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise_formula(text: str) -> str:
    """Prefix text that a spreadsheet could read as a formula with a single quote (OWASP)."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def escape_html(text: object) -> str:
    """Text for HTML, with ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape("" if text is None else str(text), quote=True)
