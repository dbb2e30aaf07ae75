"""Amendment e-mails: RFC 5322 messages written to an outbox, optionally sent through SMTP.

One message per customer × plan with its XLSX attached, addressed from the RP setup; one
message per batch to the external billing address with every billing CSV attached. Sending
goes through :mod:`reportlib.delivery` (the delivery log): the ``.eml`` written to the outbox
is the message that is sent, and retried, under its Message-ID.
"""

from __future__ import annotations

import mimetypes
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from string import Formatter
from typing import Any, Iterable, Mapping, Sequence

from ..delivery.log import read_eml, write_eml
from ..delivery.smtp import SmtpTarget
from ..errors import ConfigError
from ..render.figures import count
from .metrics import Amendment, change_counts
from .templates import EmailTemplate

__all__ = ["SmtpTarget", "amendment_message", "billing_message", "fields", "fill", "read_eml", "write_eml"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def fields(amendment: Amendment) -> dict[str, Any]:
    """Placeholder values of an amendment e-mail: the notice's fields plus change counts, as
    every output shows them (:func:`reportlib.render.figures.count`)."""
    counts = change_counts(amendment.sheet)
    values = amendment.notice.fields()
    values.update({key: count(n) for key, n in dict(
        increases=counts["Increase"], decreases=counts["Decrease"], new=counts["New"], closed=counts["Closed"],
        unchanged=counts["Unchanged"], changes=sum(v for k, v in counts.items() if k != "Unchanged"),
        codes=len(amendment.sheet)).items()})
    return values


def fill(text: str, values: Mapping[str, Any], *, template: str) -> str:
    """``text`` with its ``{placeholders}`` filled; an unknown one is an error naming the template."""
    unknown = sorted({name for _, name, _, _ in Formatter().parse(text) if name and name not in values})
    if unknown:
        raise ConfigError(f"E-mail template {template!r} uses unknown placeholder(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(values))}.")
    return text.format_map(values)


def _message(sender: str, to: Sequence[str], cc: Sequence[str], subject: str, body: str) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


def _attach(message: EmailMessage, path: Path) -> None:
    kind = XLSX_TYPE if path.suffix == ".xlsx" else mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    maintype, subtype = kind.split("/", 1)
    message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)


def amendment_message(values: Mapping[str, Any], recipients: Mapping[str, Sequence[str]], template: EmailTemplate,
                      xlsx: Path, sender: str) -> EmailMessage:
    """The customer's message: subject and body from the template (``values``: see :func:`fields`), the XLSX attached.

    BCC addresses are kept in a ``Bcc`` header of the stored .eml so the outbox shows every
    recipient; sending delivers to them and strips the header from what goes out.
    """
    to, cc, bcc = (list(recipients.get(k, [])) for k in ("to", "cc", "bcc"))
    subject = fill(template.subject, values, template=template.name)
    message = _message(sender, to, cc, " ".join(subject.split()), fill(template.body, values, template=template.name))
    if bcc:
        message["Bcc"] = ", ".join(bcc)
    _attach(message, xlsx)
    return message


def billing_message(batch: str, csvs: Iterable[tuple[Path, int]], template: EmailTemplate, sender: str,
                    billing_address: str) -> EmailMessage:
    """The batch's message to external billing with every billing CSV (path, row count) attached."""
    files = list(csvs)
    values = {"batch": batch, "files": count(len(files)), "rows": count(sum(n for _, n in files)),
              "listing": "\n".join(f"- {p.name}: {count(n)} row(s)" for p, n in files)}
    subject = fill(template.subject, values, template=template.name)
    message = _message(sender, [billing_address], [], subject, fill(template.body, values, template=template.name))
    for path, _ in files:
        _attach(message, path)
    return message
