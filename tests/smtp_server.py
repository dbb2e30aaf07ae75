"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the tests: an inbox that keeps what it accepts and
misbehaves on request, and servers started for a test and stopped after it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading

from aiosmtpd.controller import Controller

from reportlib.delivery.smtp import SmtpTarget


class Inbox:
    """An aiosmtpd handler that keeps every envelope it accepts, and misbehaves on request."""

    def __init__(self, refuse: dict[str, str] | None = None, busy_once: set[str] | frozenset = frozenset(),
                 drop_data_once: bool = False, hold: str | None = None):
        self.envelopes = []
        self.refuse = dict(refuse or {})  # address -> permanent refusal
        self.busy = set(busy_once)  # addresses answered 451 the first time
        self.drop = drop_data_once
        self.hold = hold  # an address whose RCPT waits until ``release`` is set
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.hold:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        if address in self.refuse:
            return self.refuse[address]
        if address in self.busy:
            self.busy.discard(address)
            return "451 4.3.0 <%s>: mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop:
            self.drop = False
            server.transport.close()  # the connection is lost before the message is accepted
            return "421 4.3.0 closing"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


# ``python -c CLI args...`` runs ``reportlib args...``.
CLI = "import sys; from reportlib.cli import main; sys.exit(main())"


def killed_while_held(inbox: Inbox, args: list[str], *, timeout: float = 180) -> None:
    """Run ``python args...`` until ``inbox`` holds it at the address ``inbox.hold``, kill it there
    (SIGKILL: nothing of it runs after), then let the server go on and hold no more."""
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ))
    try:
        assert inbox.holding.wait(timeout=timeout), f"the killed send never reached {inbox.hold}"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        inbox.release.set()
    inbox.hold = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServers:
    """Servers started during one test (``start(inbox, **aiosmtpd options)``), all stopped by ``stop``."""

    def __init__(self):
        self.started: list[Controller] = []

    def start(self, inbox: Inbox, **options) -> SmtpTarget:
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        self.started.append(controller)
        return SmtpTarget("127.0.0.1", controller.port, timeout=30)

    def stop(self) -> None:
        for controller in self.started:
            controller.stop()
