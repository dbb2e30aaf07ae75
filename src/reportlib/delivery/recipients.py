"""The ``recipients`` domain: who receives each family's reports.

CSV contract (``reportlib load recipients FOLDER``; header names exactly, extra columns ignored):

| file | columns |
| --- | --- |
| recipients.csv | family, entity_id, role (to/cc/bcc), email, name, active |

``entity_id`` is the entity a report is about (a partner ``P001``, a customer ``C001``), or
``*`` for every entity of the family: the internal subscribers of the dashboard, an account
manager copied on every deck. ``active`` (yes/no, blank = yes) lets a row stay in the file
while its person receives nothing. Every address is checked at load
(:mod:`email_validator`, syntax only: no DNS), each bad one reported with its file, row and
column; the same address twice for one family and entity is a duplicate. The rate
amendments keep their TO/CC/BCC rules from the customer's rate plan setup; rows of family
``amendment`` add to them (an archive in BCC, say).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import metadata
from ..domains import DOMAINS, Domain, Field, FileSpec

__all__ = ["ALL", "DOMAIN", "ROLES", "Addressed", "address_problem", "recipient_book", "recipients_for"]

ALL = "*"
ROLES = ("to", "cc", "bcc")

recipient_book = sa.Table(
    "recipients", metadata,
    sa.Column("family", sa.String(40), primary_key=True),
    sa.Column("entity_id", sa.String(200), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("role", sa.String(3), nullable=False),
    sa.Column("name", sa.String(300)),
    sa.Column("active", sa.Boolean),  # blank in the file (NULL) is active: only "no" stops a row
)


def address_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address one can send to, or None when it is."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"not a valid e-mail address: {exc}"
    return None


def _check_row(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    from ..families import FAMILIES

    problems = []
    if row["family"] not in FAMILIES:
        problems.append(("family", f"unknown report family; known: {', '.join(FAMILIES.names())}"))
    why = address_problem(row["email"])
    if why:
        problems.append(("email", why))
    if row["entity_id"] != row["entity_id"].strip():
        problems.append(("entity_id", "has spaces around it; an id is matched exactly"))
    return problems


def _demo_of(domain: str, seed: int, scale: str) -> dict:
    """Another domain's demo data, found by name through its entry point."""
    return DOMAINS.get(domain).demo(seed, scale)  # type: ignore[misc]


def demo_recipients(seed: int, scale: str) -> dict[str, list[dict]]:
    """A realistic recipients file for every family of the demo (same seed and scale).

    The entities come from the other domains' demo data, looked up by name through their entry
    points (delivery sits below the families and imports none of them)."""
    rng = random.Random(f"recipients|{seed}|{scale}")
    rows: list[dict] = []

    def add(family: str, entity: str, role: str, email: str, name: str | None, active: bool = True) -> None:
        rows.append(dict(family=family, entity_id=entity, role=role, email=email, name=name, active=active))

    def mailbox(name: str) -> str:
        return "".join(ch for ch in name.lower() if ch.isalnum())[:30] or "partner"

    for account in _demo_of("billing", seed, scale)["accounts.csv"]:
        if account["account_type"] == "partner":
            box = mailbox(account["name"])
            add("statement", account["account_id"], "to", f"finance@{box}.example", f"{account['name']} finance")
            if rng.random() < 0.4:
                add("statement", account["account_id"], "cc", f"ceo@{box}.example", f"{account['name']} CEO")
    add("statement", ALL, "bcc", "statements-archive@carrier.example", "Statement archive")
    add("statement", ALL, "cc", "billing-team@carrier.example", "Billing team")

    partners = _demo_of("qbr", seed, scale)["partners.csv"]
    records = partners.to_dict("records") if hasattr(partners, "to_dict") else partners
    for partner in records:
        box = mailbox(partner["name"])
        add("qbr", partner["partner_id"], "to", f"alliances@{box}.example", f"{partner['name']} alliances lead")
        if rng.random() < 0.3:
            add("qbr", partner["partner_id"], "cc", f"sales@{box}.example", f"{partner['name']} sales", rng.random() < 0.9)
    add("qbr", ALL, "cc", "partner-managers@carrier.example", "Partner managers")
    add("qbr-portfolio", ALL, "to", "partner-leadership@carrier.example", "Partner leadership")
    add("qbr-portfolio", ALL, "cc", "sales-ops@carrier.example", "Sales operations")

    add("dashboard", ALL, "to", "tech-leads@carrier.example", "Tech leads")
    add("dashboard", ALL, "cc", "lead-quality@carrier.example", "Lead quality team")
    add("dashboard", ALL, "bcc", "cto@carrier.example", "CTO", False)

    add("amendment", ALL, "bcc", "rates-archive@carrier.example", "Rate amendment archive")
    for customer in _demo_of("rates", seed, scale)["customers.csv"][:3]:
        add("amendment", customer["customer_id"], "cc", f"legal@{mailbox(customer['name'])}.example",
            f"{customer['name']} legal")
    return {"recipients.csv": rows}


DOMAIN = Domain(
    name="recipients",
    description="Who receives each family's reports (reportlib send).",
    files=(FileSpec(
        file="recipients.csv",
        table=recipient_book,
        fields=(Field("family"), Field("entity_id"), Field("role", "enum", choices=ROLES), Field("email"),
                Field("name", required=False), Field("active", "bool", required=False)),
        key=("family", "entity_id", "email"),
        row_checks=(_check_row,),
    ),),
    demo=demo_recipients,
)


@dataclass(frozen=True)
class Addressed:
    """An entity's recipients by role (addresses as written, each once), and their names."""

    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    names: Mapping[str, str]

    def by_role(self) -> dict[str, list[str]]:
        return {"to": list(self.to), "cc": list(self.cc), "bcc": list(self.bcc)}

    def __bool__(self) -> bool:
        return bool(self.to or self.cc or self.bcc)


def recipients_for(conn: Connection, family: str, entity: str | None) -> Addressed:
    """The active recipients of ``family``'s report on ``entity`` (its own rows, then ``*`` rows).

    An address listed twice (for the entity and for ``*``) is kept once, in its first role
    (to before cc before bcc). A report of a whole period (a dashboard) has ``entity`` None:
    only the ``*`` rows.
    """
    r = recipient_book.c
    wanted = [ALL] if not entity else [entity, ALL]
    rows = conn.execute(sa.select(recipient_book).where(r.family == family, r.entity_id.in_(wanted))).all()
    order = {role: n for n, role in enumerate(ROLES)}
    rows = sorted((row for row in rows if row.active is not False),
                  key=lambda row: (order[row.role], row.entity_id == ALL, row.email.lower()))
    seen: set[str] = set()
    roles: dict[str, list[str]] = {role: [] for role in ROLES}
    names: dict[str, str] = {}
    for row in rows:
        key = row.email.strip().lower()
        if key in seen:
            continue
        seen.add(key)
        roles[row.role].append(row.email.strip())
        if row.name:
            names[row.email.strip()] = row.name
    return Addressed(tuple(roles["to"]), tuple(roles["cc"]), tuple(roles["bcc"]), names)
