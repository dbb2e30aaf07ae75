"""The ``amendment`` report family: a customer's rate amendment per rate plan and change batch.

Fed by the rate desk (:mod:`reportlib.ratedesk`): after a change batch is applied, every
enabled customer × rate plan it touched gets an XLSX amendment, a billing CSV and an e-mail.
"""

from .email import SmtpTarget
from .metrics import Amendment, Notice, amendment, amendment_targets, compare_sheets, regeneration_targets
from .records import amendment_records, deliver, generate
from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES

__all__ = [
    "AMENDMENT_TEMPLATES", "Amendment", "CSV_TEMPLATES", "EMAIL_TEMPLATES", "Notice", "SmtpTarget", "amendment",
    "amendment_records", "amendment_targets", "compare_sheets", "deliver", "generate", "regeneration_targets",
]
