"""The statement's HTML pieces: headline cards, charts and tables shown by the notebook."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ..render.headline import Headline
from ..render.figures import count, money
from ..render.html import kpi_cards, table_html
from ..render.text import escape_html
from .metrics import StatementPack
from .xlsx import COLUMNS

__all__ = ["balance_chart", "headline", "headline_html", "revenue_chart", "title_html", "tables_html"]


def title_html(pack: StatementPack) -> str:
    p = pack.partner
    return (f"<h1>Credit and revenue statement — {escape_html(pack.month.label)}</h1>"
            f"<p><b>{escape_html(p['name'])}</b> (partner account {escape_html(p['account_id'])}); "
            f"{count(pack.headline['accounts'])} account(s): its own and its customers'. Amounts in account currency; "
            "times in UTC.</p>")


def headline_html(pack: StatementPack) -> str:
    h = pack.headline
    return kpi_cards([
        ("Opening balance", money(h["opening"]), f"at {pack.month.start.isoformat()}"),
        ("Topped up", money(h["topped_up"]), None),
        ("Used", money(h["used"]), None),
        ("Accrued + adjustments", money(h["accrued"] + h["adjustments"]), None),
        ("Closing balance", money(h["closing"]), f"at {pack.month.last_day.isoformat()} end of day"),
        ("Net revenue", money(h["net"]), f"gross {money(h['gross'])}, discount {money(h['discount'])}"),
    ])


def balance_chart(pack: StatementPack) -> alt.Chart:
    """Credit balance of all the partner's accounts at the end of each day of the month."""
    # The tooltip reads the balance as text, formatted here (Vega would format the float itself).
    data = pd.DataFrame({"date": pd.to_datetime(pack.balance["date"]),
                         "balance": [float(v) for v in pack.balance["balance"]],
                         "balance_text": [money(v) for v in pack.balance["balance"]]})
    return (alt.Chart(data, title="Credit balance over the month")
            .mark_line(point=True)
            .encode(x=alt.X("date:T", title=None), y=alt.Y("balance:Q", title="Balance"),
                    tooltip=[alt.Tooltip("date:T"), alt.Tooltip("balance_text:N", title="balance")])
            .properties(width=640, height=240))


def revenue_chart(pack: StatementPack) -> alt.Chart:
    """Net revenue by service (bar), with the discount stacked on top."""
    rows = []
    for r in pack.revenue_by_service.itertuples(index=False):
        rows.append({"service": r.service, "part": "net", "amount": float(r.net), "amount_text": money(r.net)})
        rows.append({"service": r.service, "part": "discount", "amount": float(r.discount),
                     "amount_text": money(r.discount)})
    data = pd.DataFrame(rows, columns=["service", "part", "amount", "amount_text"])
    return (alt.Chart(data, title="Revenue by service")
            .mark_bar()
            .encode(x=alt.X("service:N", title=None, sort="-y"), y=alt.Y("sum(amount):Q", title="Gross"),
                    color=alt.Color("part:N", title=None),
                    tooltip=["service", "part", alt.Tooltip("amount_text:N", title="amount")])
            .properties(width=480, height=240))


def tables_html(pack: StatementPack) -> str:
    return "".join([
        "<h2>Total credit by account</h2>", table_html(pack.total_credit, COLUMNS["total_credit"]),
        "<h2>Revenue by service</h2>", table_html(pack.revenue_by_service, COLUMNS["revenue_by_service"]),
        "<h2>Revenue by account</h2>", table_html(pack.revenue_by_account, COLUMNS["revenue_by_account"]),
        "<h2>Usage by service</h2>", table_html(pack.usage_by_service, COLUMNS["usage_by_service"]),
        "<h2>Discounts valid in the month</h2>", table_html(pack.discounts, COLUMNS["discounts"]),
    ])


def headline(pack: StatementPack) -> Headline:
    """The pack's headline for its manifest, e-mail and catalogue: the closing balance first."""
    from ..render.figures import MONEY, Figure

    p, h = pack.partner, pack.headline
    return Headline(p["account_id"], p["name"], pack.month.label, {
        "Closing balance": Figure(h["closing"], MONEY), "Net revenue": Figure(h["net"], MONEY),
        "Opening balance": Figure(h["opening"], MONEY)})
