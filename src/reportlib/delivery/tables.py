"""The delivery log's tables, declared apart from its rules (:mod:`reportlib.delivery.log`).

What reads the log without sending, such as the catalogue that a run brings up to date
(:mod:`reportlib.delivery.catalogue`), imports these alone: not the mail modules that the
log's rules need (``email``, ``smtplib``, :mod:`reportlib.delivery.mime`).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..db import metadata

__all__ = ["deliveries", "delivery_recipients"]

deliveries = sa.Table(
    "delivery_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("family", sa.String(40), nullable=False),
    sa.Column("period", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(400), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("attachments", sa.Text, nullable=False),  # JSON [{"name", "sha256", "content_sha256"}]
    sa.Column("message_id", sa.String(400), nullable=False),
    sa.Column("subject", sa.String(1000)),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("eml_file", sa.Text, nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),  # first | changed | recipients | resend
    sa.Column("replaces", sa.Integer),  # the delivered delivery whose content this one replaces
    sa.Column("superseded_by", sa.Integer),  # a newer delivery of this entity made before this one went out
    sa.Column("requested_by", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_delivery_log_entity", "family", "entity"),
    sa.Index("ix_delivery_log_period", "family", "period"),
)

delivery_recipients = sa.Table(
    "delivery_recipients", metadata,
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("delivery_log.id"), primary_key=True),
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("role", sa.String(3), nullable=False),  # to | cc | bcc
    sa.Column("position", sa.Integer, nullable=False),  # order of the address in the message (to, cc, bcc)
    sa.Column("status", sa.String(8), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("closed", sa.String(400)),  # why this address will not be sent to (superseded, dropped)
    sa.Column("sent_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
