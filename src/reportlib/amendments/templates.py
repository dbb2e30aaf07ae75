"""Document templates of rate amendments: XLSX amendment, billing CSV and e-mail templates.

A customer's RP setup names one template of each kind (``amendment_template``,
``csv_template``, ``email_template``); a blank name means ``default``. Templates choose the
columns, their order and their labels; they hold no logic. Each kind is a small registry:
``AMENDMENT_TEMPLATES.get(name)`` fails with the list of known names.

Sheet and CSV columns are keys of the amendment sheet (:data:`SHEET_FIELDS`, see
:func:`reportlib.amendments.metrics.compare_sheets`) or of the billing row
(:data:`BILLING_FIELDS`, see :func:`reportlib.amendments.csv.billing_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from ..registry import Registry

__all__ = [
    "AMENDMENT_TEMPLATES", "AmendmentTemplate", "BILLING_FIELDS", "CSV_TEMPLATES", "CsvTemplate",
    "EMAIL_TEMPLATES", "EmailTemplate", "SHEET_FIELDS", "SheetTemplate", "template_for",
]

# key -> (default label, cell kind of reportlib.render.table.Col)
SHEET_FIELDS: dict[str, tuple[str, str]] = {
    "area": ("Country / area", "text"),
    "code": ("Code", "code"),
    "rate": ("Rate", "rate"),
    "previous_rate": ("Previous rate", "rate"),
    "change": ("Change", "text"),
    "effective_date": ("Effective date", "date"),
    "end_date": ("End date", "date"),
    "increment": ("Billing increment", "text"),
    "policy_5g": ("5G policy", "text"),
    "policy_ext": ("Extension policy", "text"),
}

BILLING_FIELDS = (
    "ext_billing_customer", "ext_billing_rate_plan", "customer_id", "rate_plan", "currency", "area", "code",
    "rate", "previous_rate", "change", "increment_1", "increment_2", "increment_3", "effective_date",
    "end_date", "blocked", "discontinued", "batch",
)


def _check_columns(what: str, columns, known) -> None:
    unknown = [key for key, _ in columns if key not in known]
    if unknown:
        raise ConfigError(f"{what} has unknown column(s) {', '.join(unknown)}; known: {', '.join(known)}.")


@dataclass(frozen=True)
class SheetTemplate:
    """One sheet of an amendment: which rows (all codes or only changes) and which columns."""

    title: str
    rows: Literal["all", "changes"]
    columns: tuple[tuple[str, str | None], ...]  # (sheet field, label or None for the default)

    def __post_init__(self):
        _check_columns(f"Sheet template {self.title!r}", self.columns, SHEET_FIELDS)


@dataclass(frozen=True)
class AmendmentTemplate:
    """An XLSX amendment: a notice block on top of each sheet, then the sheets in order."""

    name: str
    title: str
    sheets: tuple[SheetTemplate, ...]
    notice: str  # text with {customer}, {rate_plan}, {currency}, {effective_from}... placeholders


@dataclass(frozen=True)
class CsvTemplate:
    """A billing CSV: columns (billing fields) with their headers, in order."""

    name: str
    columns: tuple[tuple[str, str], ...]

    def __post_init__(self):
        _check_columns(f"CSV template {self.name!r}", self.columns, BILLING_FIELDS)


@dataclass(frozen=True)
class EmailTemplate:
    """Subject and plain-text body with ``{placeholders}`` (see :func:`reportlib.amendments.email.fields`)."""

    name: str
    subject: str
    body: str


_FULL_COLUMNS = (("area", None), ("code", None), ("rate", None), ("previous_rate", None), ("change", None),
                 ("effective_date", None), ("end_date", None), ("increment", None))
_NOTICE = ("Dear {customer}, please find below the rates of rate plan {rate_plan} in {currency} as they "
           "will stand from {effective_to}. Changes take effect on the effective date of each code; "
           "codes marked Closed can no longer be dialled after their end date.")

AMENDMENT_TEMPLATES: Registry[AmendmentTemplate] = Registry("amendment template")
for _template in (
    AmendmentTemplate("full-az", "Rate amendment", (
        SheetTemplate("Rates A-Z", "all", _FULL_COLUMNS),
        SheetTemplate("Changes", "changes", _FULL_COLUMNS),
    ), _NOTICE),
    AmendmentTemplate("changes-only", "Rate amendment (changes)", (
        SheetTemplate("Changes", "changes", _FULL_COLUMNS),
    ), "Dear {customer}, please find below the changes to rate plan {rate_plan} ({currency}) of batch "
       "{batch}. Codes not listed keep their current rate."),
    AmendmentTemplate("compact", "Price list", (
        SheetTemplate("Price list", "all", (("code", "Prefix"), ("area", "Destination"), ("rate", "Price"),
                                            ("increment", "Billing"), ("change", "Status"),
                                            ("effective_date", "Valid from"), ("end_date", "Valid until"))),
    ), _NOTICE),
):
    AMENDMENT_TEMPLATES.register(_template.name, _template)
AMENDMENT_TEMPLATES.register("default", AMENDMENT_TEMPLATES.get("full-az"))

CSV_TEMPLATES: Registry[CsvTemplate] = Registry("CSV template")
for _csv in (
    CsvTemplate("billing", (
        ("ext_billing_customer", "customer_ref"), ("ext_billing_rate_plan", "rate_plan_ref"), ("code", "code"),
        ("area", "destination"), ("rate", "rate"), ("currency", "currency"), ("increment_1", "increment_first"),
        ("increment_2", "increment_next"), ("increment_3", "increment_third"), ("effective_date", "valid_from"),
        ("end_date", "valid_to"), ("blocked", "blocked"), ("discontinued", "discontinued"))),
    CsvTemplate("billing-full", tuple((key, key) for key in BILLING_FIELDS)),
):
    CSV_TEMPLATES.register(_csv.name, _csv)
CSV_TEMPLATES.register("default", CSV_TEMPLATES.get("billing"))

EMAIL_TEMPLATES: Registry[EmailTemplate] = Registry("e-mail template")
for _mail in (
    EmailTemplate(
        "standard", "Rate amendment: {rate_plan} ({currency}), effective {effective_from}",
        "Dear {customer},\n\n"
        "Please find attached the rate amendment for rate plan {rate_plan} ({currency}), issued {issue_date}.\n\n"
        "Changes: {increases} increase(s), {decreases} decrease(s), {new} new and {closed} closed code(s), "
        "effective from {effective_from}.\n"
        "The attached workbook lists every code of the plan as it will stand.\n\n"
        "Kind regards,\nRates team\n"),
    EmailTemplate(
        "brief", "[{rate_plan}] rate changes {effective_from}",
        "{customer}: {changes} code(s) of {rate_plan} change from {effective_from}; see the attachment.\n"),
    EmailTemplate(
        "billing", "Billing rate upload: batch {batch}, {files} file(s)",
        "Rate amendments of batch {batch} for external billing: {files} CSV file(s) attached, "
        "{rows} row(s) in all.\n\n{listing}\n"),
):
    EMAIL_TEMPLATES.register(_mail.name, _mail)
EMAIL_TEMPLATES.register("default", EMAIL_TEMPLATES.get("standard"))


def template_for(registry: Registry, name: str | None, *, customer: str, rate_plan: str, column: str):
    """The template a setup names (blank: ``default``); the error names the setup row and column."""
    wanted = (name or "").strip() or "default"
    if wanted not in registry:
        raise ConfigError(f"Customer {customer} × rate plan {rate_plan}: {column} {wanted!r} is not a known "
                          f"{registry.kind}; known: {', '.join(registry.names())}.")
    return registry.get(wanted)
