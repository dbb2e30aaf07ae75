"""Headless Chromium driven over the DevTools protocol, through a pipe (no port, no network).

Chromium's ``--print-to-pdf`` has no header or footer templates, so pages are printed with the
DevTools command ``Page.printToPDF`` instead. The browser is started with
``--remote-debugging-pipe``: it reads commands on file descriptor 3 and answers on 4, each
message JSON ending in a NUL byte, so nothing listens on any port. Every browser gets a
profile folder of its own and the offline flags (a proxy that goes nowhere for anything but
loopback, no background networking), so a page can never fetch from the network.

One :class:`Browser` serves many pages: a batch of statement packs starts Chromium once, and
several tabs (:class:`Page`) may each be driven from a thread of its own (commands are written
whole, one at a time; each tab waits only for its own events). :mod:`reportlib.render.pdf` is
the printer built on it.

    with Browser() as browser:
        page = browser.page()
        page.open(path.as_uri())
        pdf = page.pdf(header_html, footer_html)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ReportlibError

__all__ = ["A4", "Browser", "BrowserError", "Page", "chromium_path"]

A4 = (210 / 25.4, 297 / 25.4)  # 210 × 297 mm, in inches
OFFLINE_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-extensions", "--disable-default-apps",
    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--mute-audio", "--hide-scrollbars",
)


class BrowserError(ReportlibError):
    """Chromium could not be started, or did not do what it was asked."""


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# Events kept for a waiting caller; every other event (console, contexts, ...) is dropped as it comes.
_AWAITED = frozenset({"Page.loadEventFired"})


def chromium_path() -> str | None:
    """The Chromium (or Chrome) program: ``$REPORTLIB_CHROMIUM`` (a name on PATH or a file), else the
    first of :data:`BROWSERS` found on PATH; None if there is none."""
    named = os.environ.get("REPORTLIB_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _parent_death_signal():
    """A function for a child process to call before exec: on Linux, be killed when we are gone
    (a batch killed outright must not leave a browser behind); elsewhere it does nothing."""
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            prctl = ctypes.CDLL(None, use_errno=True).prctl
            return lambda: prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    return lambda: None


class Browser:
    """A headless Chromium of our own, spoken to over the DevTools pipe; a context manager."""

    def __init__(self, program: str | None = None, *, timeout: float = 60.0):
        self.program = program or chromium_path()
        if not self.program:
            raise ConfigError("Chromium is not installed (needed for PDFs of HTML reports): install the chromium "
                              "package, or set REPORTLIB_CHROMIUM to the browser's path.")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="reportlib-chromium-")
        self._next = 0
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        self._changed = threading.Condition()
        self._writing = threading.Lock()
        self._closed = False
        to_child, self._commands = os.pipe()
        self._answers, from_child = os.pipe()

        die_with_us = _parent_death_signal()

        def arrange_fds() -> None:  # in the child: commands on fd 3, answers on fd 4
            die_with_us()
            high_in, high_out = os.dup(to_child), os.dup(from_child)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        try:
            self.process = subprocess.Popen(
                [self.program, *OFFLINE_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
                 "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=arrange_fds, pass_fds=(3, 4))
        except OSError as exc:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise BrowserError(f"Cannot start Chromium ({self.program}): {exc}") from None
        finally:
            os.close(to_child)
            os.close(from_child)
        self._reader = threading.Thread(target=self._read, name="reportlib-cdp-reader", daemon=True)
        self._reader.start()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._answers, "rb", buffering=0) as pipe:
            while True:
                try:
                    chunk = pipe.read(1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                with self._changed:
                    for raw in messages:
                        message = json.loads(raw)
                        if "id" in message:
                            self._replies[message["id"]] = message
                        elif message.get("method") in _AWAITED:
                            self._events.append(message)
                    self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Send one DevTools command and wait for its result; an error reply raises BrowserError."""
        with self._changed:
            self._next += 1
            ident = self._next
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = memoryview(json.dumps(message).encode() + b"\0")
        try:
            with self._writing:  # one whole message at a time: tabs driven from several threads
                while data:
                    data = data[os.write(self._commands, data):]
        except OSError as exc:
            raise BrowserError(f"Chromium is gone ({method}): {exc}") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._changed:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"Chromium gave no answer to {method} "
                                       + ("(it exited)" if self._closed else f"within {timeout or self.timeout:g} s"))
                self._changed.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise BrowserError(f"Chromium refused {method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, *, session: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Wait for an event (one of :data:`_AWAITED`, e.g. ``Page.loadEventFired``) of ``session``;
        it and that session's earlier events are used up."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._changed:
            while True:
                for index, event in enumerate(self._events):
                    if event.get("method") == method and event.get("sessionId") == session:
                        self._events = [e for n, e in enumerate(self._events)
                                        if n > index or e.get("sessionId") != session]
                        return event.get("params", {})
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"Chromium sent no {method} within {timeout or self.timeout:g} s")
                self._changed.wait(left)

    def clear_events(self, session: str | None = None) -> None:
        """Forget the events kept for ``session``."""
        with self._changed:
            self._events = [e for e in self._events if e.get("sessionId") != session]

    def page(self) -> "Page":
        """A new tab (target), attached in flat session mode."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def close(self) -> None:
        """Ask the browser to close, then make sure it is gone; remove its profile."""
        if getattr(self, "process", None) is None:
            return
        try:
            if self.process.poll() is None:
                try:
                    self.call("Browser.close", timeout=10)
                except BrowserError:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            try:
                os.close(self._commands)
            except OSError:
                pass
            self._reader.join(timeout=10)
            shutil.rmtree(self._profile, ignore_errors=True)
            self.process = None  # type: ignore[assignment]


class Page:
    """One tab of a :class:`Browser`."""

    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.browser.call(method, params, session=self.session, **kw)

    def open(self, url: str, *, ready: str | None = None, timeout: float | None = None) -> None:
        """Load ``url`` and wait for its load event, then until the JavaScript ``ready`` is true."""
        self.browser.clear_events(self.session)
        reply = self.call("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise BrowserError(f"Chromium could not open {url}: {reply['errorText']}")
        self.browser.wait_event("Page.loadEventFired", session=self.session, timeout=timeout)
        if ready:
            self.wait_for(ready, timeout=timeout)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able values)."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"JavaScript error in {expression[:80]!r}: "
                               f"{reply['exceptionDetails'].get('exception', {}).get('description')}")
        return reply.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout: float | None = None) -> None:
        """Poll a JavaScript condition until it holds."""
        deadline = time.monotonic() + (timeout or self.browser.timeout)
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise BrowserError(f"The page never got ready ({expression[:120]})")
            time.sleep(0.05)

    def type_text(self, text: str) -> None:
        """Type into the focused element, as a person would (input events fire)."""
        self.call("Input.insertText", {"text": text})

    def pdf(self, header: str, footer: str, *, paper: tuple[float, float] = A4,
            margins: tuple[float, float, float, float] = (0.75, 0.5, 0.7, 0.5)) -> bytes:
        """The page printed to PDF: ``paper`` (inches), margins top/right/bottom/left (inches),
        ``header`` and ``footer`` as Chromium's templates (``<span class="pageNumber"></span>``)."""
        top, right, bottom, left = margins
        reply = self.call("Page.printToPDF", {
            "paperWidth": paper[0], "paperHeight": paper[1], "marginTop": top, "marginRight": right,
            "marginBottom": bottom, "marginLeft": left, "printBackground": True, "displayHeaderFooter": True,
            "headerTemplate": header, "footerTemplate": footer, "preferCSSPageSize": False,
        }, timeout=max(self.browser.timeout, 120))
        return base64.b64decode(reply["data"])

    def close(self) -> None:
        try:
            self.browser.call("Target.closeTarget", {"targetId": self.target})
        except BrowserError:
            pass
