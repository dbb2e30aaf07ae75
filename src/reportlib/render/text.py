"""Untrusted text on its way into a document: never a formula, never markup."""

from __future__ import annotations

import html

__all__ = ["FORMULA_TRIGGERS", "escape_html", "looks_like_formula", "neutralise_formula"]

# OWASP CSV injection: a cell starting with one of these may be run as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def looks_like_formula(text: str) -> bool:
    """True if a spreadsheet could read ``text`` as a formula (it starts with ``=``, ``+``, ...)."""
    return bool(text) and text.startswith(FORMULA_TRIGGERS)


def neutralise_formula(text: str) -> str:
    """Prefix text that a spreadsheet could read as a formula with a single quote (OWASP), for CSV.

    An XLSX keeps the text as written instead: a string cell is never a formula, and
    :mod:`reportlib.render.xlsx` gives it the quote-prefix style.
    """
    if looks_like_formula(text):
        return "'" + text
    return text


def escape_html(text: object) -> str:
    """Text for HTML, with ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape("" if text is None else str(text), quote=True)
