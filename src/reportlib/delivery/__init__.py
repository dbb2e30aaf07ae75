"""Delivery: handing finished documents to people, recorded so that nothing is sent twice or lost.

- :mod:`reportlib.delivery.smtp` — an SMTP server's answer for every recipient
  (:class:`Mailer`, :class:`SmtpTarget`), temporary refusals retried with a short back-off;
- :mod:`reportlib.delivery.log` — the delivery log and its rules: written before a message
  goes out and updated after, never the same content to the same address twice unless a
  re-send is asked for, changed content a new delivery;
- :mod:`reportlib.delivery.tables` — the log's tables (``delivery_log``, ``delivery_recipients``),
  for what reads the log without sending (the catalogue).

Today the rate amendments send through it (``reportlib amendments send``); the spec
``delivery.md`` describes how every family will.
"""

from ..lazy import lazy_exports as _lazy_exports

# name -> the module that defines it, imported when first used (PEP 562): a run rebuilds the
# catalogue (``reportlib.delivery.catalogue``), which needs neither the mail modules nor the log's rules.
_EXPORTS = {
    **dict.fromkeys(("DeliveryState", "Prepared", "content_sha256", "delivery_frame", "delivery_state",
                     "message_sha256", "open_deliveries", "prepare", "read_eml", "send", "write_eml"), ".log"),
    **dict.fromkeys(("deliveries", "delivery_recipients"), ".tables"),
    **dict.fromkeys(("Mailer", "RecipientResult", "SmtpTarget"), ".smtp"),
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
