"""The ``amendment`` report family: a customer's rate amendment per rate plan and change batch.

Fed by the rate desk (:mod:`reportlib.ratedesk`): after a change batch is applied, every
enabled customer × rate plan it touched gets an XLSX amendment, a billing CSV and an e-mail.
"""

from .data import amendment_records, period_name
from .documents import Documents, write_documents
from .email import SmtpTarget
from .family import AmendmentBatchParams, AmendmentParams
from .metrics import Amendment, Notice, amendment, amendment_targets, compare_sheets, regeneration_targets
from .send import DeliveryReport, deliver
from .templates import AMENDMENT_TEMPLATES, CSV_TEMPLATES, EMAIL_TEMPLATES

__all__ = [
    "AMENDMENT_TEMPLATES", "Amendment", "AmendmentBatchParams", "AmendmentParams", "CSV_TEMPLATES", "DeliveryReport",
    "Documents", "EMAIL_TEMPLATES", "Notice", "SmtpTarget", "amendment", "amendment_records", "amendment_targets",
    "compare_sheets", "deliver", "period_name", "regeneration_targets", "write_documents",
]
