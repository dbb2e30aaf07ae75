"""Handing a message to an SMTP server, with the server's answer for every recipient.

:class:`Mailer` keeps one connection for many messages and talks to the server one command at
a time (MAIL, one RCPT per address, DATA), so that each address gets its own result with the
server's own words. A refusal is one of two kinds:

- **permanent** (5xx): the address is not accepted; retrying now will not change that;
- **temporary** (4xx, a connection refused or lost, a timeout): retried at once, up to
  ``attempts`` times with a short back-off, and on the same connection or a new one.

Security and login come from the environment only, never from a file, a manifest or a
message: ``REPORTLIB_SMTP_SECURITY`` is ``starttls`` (the default: STARTTLS, required when a
login is set, used whenever the server offers it), ``ssl`` (TLS from the first byte, usually
port 465) or ``none`` (a plain local relay); ``REPORTLIB_SMTP_USER`` and
``REPORTLIB_SMTP_PASSWORD`` log in; ``REPORTLIB_SMTP_CAFILE`` names the certificates to trust
(default: the system's). A login is never sent over a connection without TLS.

An address counts as accepted only when its RCPT and the message's DATA were both answered
250. A connection lost after DATA was sent but before its answer is a temporary failure: the
message is sent again later, under the same Message-ID (receivers that keep Message-IDs show
it once).
"""

from __future__ import annotations

import copy
import os
import smtplib
import ssl
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Callable, Sequence

from ..errors import ConfigError

__all__ = ["Mailer", "RecipientResult", "SECURITY", "SmtpTarget", "without_bcc"]

SECURITY = ("starttls", "ssl", "none")

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = (0.5, 1.5)  # seconds before the 2nd and 3rd attempt


@dataclass(frozen=True)
class SmtpTarget:
    """An SMTP server to hand messages to: ``HOST:PORT``."""

    host: str
    port: int
    timeout: float = 30.0
    security: str | None = None  # None: $REPORTLIB_SMTP_SECURITY, else starttls

    @classmethod
    def parse(cls, text: str) -> "SmtpTarget":
        host, sep, port = (text or "").strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--smtp {text!r} is not HOST:PORT (for example 127.0.0.1:1025).")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def settings(self) -> tuple[str, str | None, str | None, ssl.SSLContext]:
        """Security, user, password and TLS context, from the environment (never from a file)."""
        security = (self.security or os.environ.get("REPORTLIB_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in SECURITY:
            raise ConfigError(f"REPORTLIB_SMTP_SECURITY={security!r} is not one of {', '.join(SECURITY)}.")
        user = os.environ.get("REPORTLIB_SMTP_USER") or None
        password = os.environ.get("REPORTLIB_SMTP_PASSWORD") or None
        if user and not password:
            raise ConfigError("REPORTLIB_SMTP_USER is set but REPORTLIB_SMTP_PASSWORD is not.")
        if user and security == "none":
            raise ConfigError("A login (REPORTLIB_SMTP_USER) is never sent without TLS: set REPORTLIB_SMTP_SECURITY "
                              "to starttls or ssl.")
        context = ssl.create_default_context(cafile=os.environ.get("REPORTLIB_SMTP_CAFILE") or None)
        return security, user, password, context


@dataclass(frozen=True)
class RecipientResult:
    """What the server made of one address: accepted or not, whether worth retrying, its words."""

    address: str
    accepted: bool
    temporary: bool  # not accepted, and a later attempt may succeed (4xx, connection trouble)
    reply: str  # the server's answer ("550 5.1.1 <x@y>: user unknown") or the connection error
    attempts: int = 1


def _words(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _refused(address: str, code: int, text: bytes | str) -> RecipientResult:
    return RecipientResult(address, False, not 500 <= code < 600, _words(code, text))


def without_bcc(data: bytes) -> bytes:
    """A message's bytes (CRLF line ends) without its Bcc header and that header's folded lines."""
    head, blank, body = data.partition(b"\r\n\r\n")
    kept, dropping = [], False
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):  # a new header, not the continuation of the one before
            dropping = line[:4].lower() == b"bcc:"
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + blank + body


class Mailer:
    """Sends messages through one SMTP server, keeping the connection between messages.

    Use as a context manager (the connection is closed with QUIT at the end)::

        with Mailer(SmtpTarget("127.0.0.1", 1025)) as mailer:
            results = mailer.send(message, "rates@example.com", ["a@example.com"])
    """

    def __init__(self, target: SmtpTarget, *, attempts: int = DEFAULT_ATTEMPTS,
                 backoff: Sequence[float] = DEFAULT_BACKOFF, sleep: Callable[[float], None] = time.sleep):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.target, self.attempts, self.backoff, self._sleep = target, attempts, tuple(backoff) or (0.0,), sleep
        self._settings = target.settings()  # a bad setting is one clear error before anything is sent
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> "Mailer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def send(self, message: EmailMessage | bytes, sender: str, recipients: Sequence[str]) -> dict[str, RecipientResult]:
        """Send ``message`` (its Bcc header removed) to ``recipients``; one result per address.

        ``message`` may be the bytes of an .eml file (CRLF line ends, as :func:`write_eml`
        writes them): they go out as they are, without parsing and writing the message again.

        Temporary refusals are tried again, up to :attr:`attempts` times in all, after the
        back-off delays; only the addresses not accepted yet are sent to again.
        """
        data = self._wire(message)
        pending = list(dict.fromkeys(recipients))
        results: dict[str, RecipientResult] = {}
        tries: dict[str, int] = {}
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
            for address, result in self._transaction(data, sender, pending).items():
                tries[address] = tries.get(address, 0) + 1
                results[address] = RecipientResult(result.address, result.accepted, result.temporary, result.reply,
                                                   tries[address])
            pending = [a for a in pending if not results[a].accepted and results[a].temporary]
            if not pending:
                break
        return results

    @staticmethod
    def _wire(message: EmailMessage | bytes) -> bytes:
        if isinstance(message, bytes):
            return without_bcc(message)
        outgoing = copy.copy(message)
        del outgoing["Bcc"]
        return outgoing.as_bytes(policy=policy.SMTP)

    def _open(self) -> smtplib.SMTP:
        if self._client is None:
            security, user, password, context = self._settings
            if security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.target.host, self.target.port,
                                                        timeout=self.target.timeout, context=context)
            else:
                client = smtplib.SMTP(self.target.host, self.target.port, timeout=self.target.timeout)
            try:
                client.ehlo_or_helo_if_needed()
                if security == "starttls" and (user or client.has_extn("starttls")):
                    if not client.has_extn("starttls"):  # a login must not go out in clear text
                        raise smtplib.SMTPNotSupportedError(
                            f"{self.target} offers no STARTTLS, and a login is never sent without TLS")
                    client.starttls(context=context)
                    client.ehlo()
                if user:
                    client.login(user, password or "")
            except BaseException:
                client.close()
                raise
            self._client = client
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _mail(self, sender: str) -> tuple[int, bytes]:
        reused = self._client is not None
        try:
            return self._open().mail(sender)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            self._drop()  # the server closed a connection we kept: open a new one, this is no failure
            return self._open().mail(sender)

    def _transaction(self, data: bytes, sender: str, addresses: list[str]) -> dict[str, RecipientResult]:
        replies: dict[str, tuple[int, bytes]] = {}
        try:
            code, text = self._mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, sender)
            for address in addresses:
                replies[address] = self._client.rcpt(address)  # type: ignore[union-attr]
            accepted = [a for a in addresses if replies[a][0] in (250, 251)]
            if not accepted:
                self._client.rset()  # type: ignore[union-attr]
                return {a: _refused(a, *replies[a]) for a in addresses}
            code, text = self._client.data(data)  # type: ignore[union-attr]
            if code != 250:
                raise smtplib.SMTPDataError(code, text)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421 or not 400 <= exc.smtp_code < 600:
                self._drop()  # the server is closing the connection, or never opened it properly
            else:
                self._rset()
            failure = _words(exc.smtp_code, exc.smtp_error)
            return {a: _refused(a, *replies[a]) if a in replies and replies[a][0] not in (250, 251)
                    else RecipientResult(a, False, not 500 <= exc.smtp_code < 600, failure) for a in addresses}
        except (smtplib.SMTPServerDisconnected, OSError) as exc:  # refused, dropped, timed out
            self._drop()
            failure = f"{type(exc).__name__}: {exc}"
            return {a: _refused(a, *replies[a]) if a in replies and replies[a][0] not in (250, 251)
                    else RecipientResult(a, False, True, failure) for a in addresses}
        except smtplib.SMTPException as exc:  # the server cannot do what is required (no STARTTLS for a login)
            self._drop()
            return {a: RecipientResult(a, False, False, str(exc)) for a in addresses}
        return {a: RecipientResult(a, True, False, _words(code, text)) if a in accepted else _refused(a, *replies[a])
                for a in addresses}

    def _rset(self) -> None:
        if self._client is None:
            return
        try:
            self._client.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
