"""HTML pieces of the amendment notebook: title and notice, change counts, the changed codes."""

from __future__ import annotations

from ..ratedesk.data import RATE_SCALE
from ..render.figures import count
from ..render.html import kpi_cards, table_html
from ..render.text import escape_html
from ..render.table import Col
from .metrics import Amendment, change_counts, changes_only

__all__ = ["counts_html", "sheet_html", "title_html"]

_SHEET_COLUMNS = [Col("area", "Country / area"), Col("code", "Code", "code"),
                  Col("rate", "Rate", "rate", places=RATE_SCALE),
                  Col("previous_rate", "Previous rate", "rate", places=RATE_SCALE), Col("change", "Change"),
                  Col("effective_date", "Effective", "date"), Col("end_date", "End date", "date"),
                  Col("increment", "Increment")]


def title_html(doc: Amendment) -> str:
    """Heading and notice of an amendment, for the notebook."""
    n = doc.notice
    batch = f"change batch {n.batch}" if n.batch is not None else "regeneration without changes"
    return (f"<h1>Rate amendment — {escape_html(n.rate_plan)}</h1>"
            f"<p><b>{escape_html(n.customer)}</b> ({escape_html(n.customer_id)}), {escape_html(n.currency)}, "
            f"{escape_html(batch)}; effective {n.effective_from:%Y-%m-%d} to {n.effective_to:%Y-%m-%d}; "
            f"issued {n.issue_date:%Y-%m-%d %H:%M} UTC.</p>")


def counts_html(doc: Amendment) -> str:
    """One card per change indicator."""
    counts = change_counts(doc.sheet)
    return kpi_cards([(name, count(n), None) for name, n in counts.items()])


def sheet_html(doc: Amendment, limit: int = 200) -> str:
    """The changed codes (at most ``limit``) as an escaped HTML table."""
    changed = changes_only(doc.sheet)
    caption = f"Changed codes ({count(len(changed))} of {count(len(doc.sheet))})" + \
        (f", first {limit}" if len(changed) > limit else "")
    return table_html(changed, _SHEET_COLUMNS, caption=caption, limit=limit)
