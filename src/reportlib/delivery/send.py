"""``reportlib send``: every family's reports to their recipients, through the delivery log.

For each entity whose current run in the period succeeded (its manifest says ``ok``), the
message is composed from the family's templates (``delivery/templates/<family>.subject.j2``
and ``.body.j2``, Jinja2) with the run's headline (entity, period, key figures as
:mod:`reportlib.render.figures` shows them), its PDF attached first and then its documents
(above a size limit, a link to the catalogue instead). Runs and batches make PDFs only when
asked (``--pdf``), so a send first makes every missing or stale PDF of the runs it sends
(:func:`reportlib.delivery.pdf.make_pdfs`, listed in their manifests); a run whose PDF cannot
be made is not sent. Then, for each message:

1. it is written to ``outputs/<family>/<period>/outbox/<stem>.eml`` and recorded in the
   delivery log, every address ``pending`` (:func:`reportlib.delivery.log.prepare`: not
   again to an address that has this content; changed content says what it replaces);
2. with an SMTP server, once its record is committed, it is sent and each address's answer
   recorded (:func:`deliver`: one thread composes and records the next messages, a few per
   commit, while another sends those recorded, through a bounded queue); then every earlier
   delivery of the periods not accepted yet (:func:`send_open`). Without a server, the outbox
   is the delivery, for review.

Each attachment file is read, encoded and digested once per send (:mod:`reportlib.delivery.mime`).

A family with rules of its own (the rate amendments: TO/CC/BCC from the rate plan setup, the
billing message) sets :attr:`~reportlib.families.Family.send`; it composes its messages its
own way and sends them through :func:`send_open` too: one send path, one log.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import queue
import sys
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy.engine import Engine

from ..config import outputs_root, resolve_db_url
from ..db import connect, init_db
from ..errors import ConfigError, DataError
from ..families import Family, get_family
from ..files import safe_join, slugify
from ..manifest import SUFFIX, read_manifest
from ..render.figures import count
from . import log
from .mime import Attachments, attach, message_bytes
from .pdf import PdfReport, make_pdfs
from .recipients import recipients_for
from .smtp import Mailer, SmtpTarget

__all__ = ["DEFAULT_MAX_ATTACH_MB", "DEFAULT_SENDER", "Outgoing", "SendReport", "compose", "deliver",
           "period_folders_of", "send_open", "send_reports"]

DEFAULT_SENDER = "reports@reportlib.example"
DEFAULT_MAX_ATTACH_MB = 10.0
TEMPLATES = Path(__file__).parent / "templates"
_TYPES = {".pdf": "application/pdf",
          ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
          ".csv": "text/csv"}
# What a reader receives of a run, in this order after the PDF: the documents, not the page
# (the PDF is its printout) or the executed notebook (the run's record).
_DELIVERABLE = (".xlsx", ".pptx", ".csv")


@dataclass
class SendReport:
    """What a send did: messages written to the outbox, sent, already delivered, failed, skipped."""

    family: str
    periods: list[str]
    written: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (message, reason)
    delivered: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entity, why: no recipients, failed run)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be written and sent
    notes: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # written by an earlier send, still not accepted
    outboxes: list[Path] = field(default_factory=list)
    smtp: str | None = None  # the server messages went to; None: the outbox is the delivery
    command: str = ""  # how to send them (``reportlib send FAMILY -p ...``), said when nothing was sent
    pdfs: list[PdfReport] = field(default_factory=list)  # the PDFs made before composing, one per period

    @property
    def pdf_failed(self) -> bool:
        return any(made.failed for made in self.pdfs)

    def summary(self) -> str:
        where = ", ".join(self.periods)
        if self.planned:
            lines = [f"{self.family} {where}: dry run, nothing written or sent; {len(self.planned)} message(s):"]
            lines += [f"  {line}" for line in self.planned]
        elif self.smtp is None:
            unsent = len(self.written) + len(self.waiting)
            lines = [f"{self.family} {where}: {len(self.written)} message(s) written to the outbox"
                     + (f", {len(self.waiting)} written before and still waiting there" if self.waiting else "")
                     + f", {len(self.delivered)} already delivered; nothing sent (no --smtp)"]
            if unsent:
                lines.append(f"  {unsent} message(s) wait in {', '.join(map(str, self.outboxes))} for review; "
                             f"send them with: {self.command or f'reportlib send {self.family} ...'} --smtp HOST:PORT "
                             "(or $REPORTLIB_SMTP)")
        else:
            lines = [f"{self.family} {where}: {len(self.written)} message(s) written to the outbox, {len(self.sent)} sent, "
                     f"{len(self.failed)} failed, {len(self.delivered)} already delivered"]
        lines += [f"  {made.summary().splitlines()[0]}" for made in self.pdfs if made.made or made.failed
                  or made.missing_program]
        lines += [f"  FAILED {name}: {why}" for name, why in self.failed]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped]
        lines += [f"  {note}" for note in self.notes]
        if self.delivered and not self.planned:
            lines.append("  already delivered (same content, same addresses) are not sent again; --resend sends them again")
        if self.failed:
            lines.append(f"  retry with: reportlib send {self.family} ... --smtp HOST:PORT --retry")
        return "\n".join(lines)


class _Results:
    """What sending a send's deliveries came to: the messages that reached at least one
    address, the failures (``(message, "addresses: server's words")``, addresses refused alike
    together), the messages another process was sending at that moment, the deliveries tried."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.busy: list[str] = []
        self.tried: set[int] = set()

    def send(self, engine: Engine, delivery: int, name: str, mailer: Mailer, tick: Callable[[str], None]) -> None:
        tick(name)
        self.tried.add(delivery)
        results = log.send(engine, delivery, mailer)
        if results is None:
            self.busy.append(name)
            return
        if any(r.accepted for r in results):
            self.sent.append(name)
        refused: dict[str, list[str]] = {}
        for r in results:
            if not r.accepted:
                refused.setdefault(r.reply, []).append(r.address)
        self.failed += [(name, f"{', '.join(people)}: {reply}") for reply, people in refused.items()]


def send_open(engine: Engine, family: str, period: str, names: dict[str, str], mailer: Mailer,
              tick: Callable[[str], None] = lambda name: None, busy: list[str] | None = None, *,
              tried: set[int] = frozenset()) -> tuple[list[str], list[tuple[str, str]]]:  # type: ignore[assignment]
    """Send every delivery of ``names`` (log entity -> message name) in ``period`` not accepted yet
    (but those in ``tried``: sent once already by this send).

    Returns the messages that reached at least one address, and the failures
    (``(message, "addresses: server's words")``, addresses refused alike together). Messages
    another process was sending at that moment are left to it, and named in ``busy``.
    """
    results = _Results()
    waiting = log.open_by_entity(engine, family, period)
    for entity, name in names.items():
        for delivery in waiting.get(entity, ()):
            if delivery not in tried:
                results.send(engine, delivery, name, mailer, tick)
    if busy is not None:
        busy += results.busy
    return results.sent, results.failed


@dataclass
class Outgoing:
    """A message for :func:`deliver`: recorded in the delivery log as ``entity``'s in ``period``
    (its .eml file ``eml``), named ``name`` in what a send reports."""

    period: str
    entity: str
    name: str
    message: EmailMessage
    recipients: dict[str, list[str]]
    eml: Path


# At most this many messages recorded in one commit while the sender has work (fewer when it
# has none), and at most this many recorded and waiting for it: a send killed at any moment
# leaves them recorded, and the next send sends them.
_CHUNK = 16
_QUEUED = 64
_ALONE = 100  # messages per commit when nothing is sent


def deliver(engine: Engine, family: str, outgoing: Iterable[Outgoing], mailer: Mailer | None, *,
            resend: bool = False, user: str | None = None, tick: Callable[[str], None] = lambda name: None,
            prepared: Callable[[Outgoing, log.Prepared], None] = lambda item, outcome: None) -> _Results:
    """Record each message of ``outgoing`` (:func:`reportlib.delivery.log.prepare`) and, with
    ``mailer``, send what it still has to reach while the next messages are made and recorded.

    Iterating ``outgoing`` (composing the messages) and recording them happen in this thread;
    sending in another, which mostly waits for the server. The messages are recorded a few at a
    time, and a batch's commit (after its .eml files are on disk) comes before any of its
    messages is handed to the sender: nothing goes out that is not recorded. The sender takes
    them from a bounded queue in order, and records each result before the next message
    (:func:`reportlib.delivery.log.send`). An error on either side stops both: what was
    recorded and not sent waits for the next send. ``prepared`` hears of each message once
    recorded.
    """
    results = _Results()
    switching = sys.getswitchinterval()
    if mailer is not None:
        # The sender needs the interpreter for a moment after each of the server's replies; while
        # this thread composes it would wait for the interpreter's switch interval each time.
        sys.setswitchinterval(min(switching, _SWITCH))
    try:
        return _deliver(engine, family, outgoing, mailer, results, resend=resend, user=user, tick=tick,
                        prepared=prepared)
    finally:
        sys.setswitchinterval(switching)


_SWITCH = 0.0005  # seconds: how long a thread holding the interpreter runs before another that waits gets it


def _deliver(engine: Engine, family: str, outgoing: Iterable[Outgoing], mailer: Mailer | None, results: _Results, *,
             resend: bool, user: str | None, tick: Callable[[str], None],
             prepared: Callable[[Outgoing, log.Prepared], None]) -> _Results:
    sender = _Sender(engine, mailer, results, tick) if mailer is not None else None
    pending: list[Outgoing] = []

    def record() -> None:
        data = [message_bytes(item.message) for item in pending]  # before the transaction: it holds the writer
        with log.preparing(engine, size=len(pending) + 1) as batch:
            outcomes = [log.prepare(batch, family=family, period=item.period, entity=item.entity,
                                    message=item.message, recipients=item.recipients, eml=item.eml, resend=resend,
                                    user=user, data=wire) for item, wire in zip(pending, data)]
        for item, outcome in zip(pending, outcomes):
            prepared(item, outcome)
            if sender is not None and outcome.open:
                sender.put(item.name, outcome.open)
        pending.clear()

    try:
        for item in outgoing:
            pending.append(item)
            if len(pending) >= (_ALONE if sender is None else _CHUNK) or (sender is not None and sender.idle()):
                record()
        if pending:
            record()
        if sender is not None:
            sender.finish()
    except BaseException:
        if sender is not None:
            sender.abort()
        raise
    return results


class _Sender(threading.Thread):
    """:func:`deliver`'s sending side: deliveries recorded and committed, taken in order from a
    bounded queue and sent."""

    def __init__(self, engine: Engine, mailer: Mailer, results: _Results, tick: Callable[[str], None]):
        super().__init__(name="reportlib-send", daemon=True)
        self.engine, self.mailer, self.results, self.tick = engine, mailer, results, tick
        self.queue: queue.Queue[tuple[str, list[int]] | None] = queue.Queue(_QUEUED)
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                name, ids = item
                for delivery in ids:
                    if self.stopping.is_set():
                        return
                    self.results.send(self.engine, delivery, name, self.mailer, self.tick)
        except BaseException as exc:  # handed to the recording side, which stops and raises it
            self.error = exc

    def idle(self) -> bool:
        """Nothing waits in the queue: the sender is on its last message or waiting for the next."""
        return self.queue.empty()

    def put(self, name: str, ids: list[int]) -> None:
        while True:
            if self.error is not None or not self.is_alive():
                self._raise()
            try:
                self.queue.put((name, ids), timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Everything is recorded: send what waits, then stop."""
        while self.is_alive():
            try:
                self.queue.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self.join()
        if self.error is not None:
            self._raise()

    def abort(self) -> None:
        """Stop after the message being sent (its result recorded); what waits is left for the next send."""
        self.stopping.set()
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.queue.put_nowait(None)
        self.join()

    def _raise(self) -> None:
        error = self.error or RuntimeError("the sending thread ended before its messages were sent")
        raise error


def period_folders_of(family: Family, raw: dict[str, Any], *, db_url: str | None = None,
                      out: str | Path | None = None) -> list[tuple[str, Path]]:
    """The period folders a family's batch parameters select: ``(period, folder)`` in order."""
    params = family.batch_params.parse(raw)
    with connect(resolve_db_url(db_url)) as conn:
        runs = family.entities(conn, params)
    periods = list(dict.fromkeys(family.period(family.params.parse(r)) for r in runs))
    if not periods:
        raise DataError(f"The {family.name} parameters {params.to_notebook()} select no report; check the period.")
    root = outputs_root(out)
    return [(p, safe_join(root, slugify(family.folder), slugify(p))) for p in periods]


@functools.lru_cache(maxsize=1)
def _environment():
    """The message templates' environment: one per process, so each template is compiled once."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              autoescape=False, keep_trailing_newline=True)


def _human_size(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def compose(family: Family, folder: Path, manifest: dict[str, Any], recipients: dict[str, list[str]], sender: str,
            *, names: dict[str, str] | None = None, max_bytes: int, catalogue: str,
            files: Attachments | None = None) -> EmailMessage:
    """One run's message: subject and body from the family's templates, its files attached
    (PDF first) or, above ``max_bytes`` in all, a link to ``catalogue`` instead. ``files``: the
    send's attachments, each file read and encoded once for all its messages."""
    import jinja2

    stem = manifest["stem"]
    listed = [folder / e["name"] for e in manifest.get("files", [])]
    pdf = [f for f in listed if f.name == f"{stem}.pdf"]
    documents = pdf + [f for suffix in _DELIVERABLE for f in listed if f.suffix == suffix]
    size = sum(f.stat().st_size for f in documents)
    headline = manifest.get("headline") or {}
    figures = headline.get("figures") or []
    context = {
        "family": family.name, "stem": stem, "period": headline.get("period") or folder.name,
        "entity": headline.get("entity") or "", "name": headline.get("name") or stem,
        "figures": figures, "figure": {f["label"]: f["text"] for f in figures},
        "note": {f["label"]: f.get("note") or "" for f in figures},
        "attachments": [f.name for f in documents], "size": _human_size(size),
        "link": f"{catalogue}#{slugify(family.name)}-{folder.name}-{stem}" if size > max_bytes else None,
    }
    environment = _environment()
    try:
        subject = environment.get_template(f"{family.name}.subject.j2").render(context)
        body = environment.get_template(f"{family.name}.body.j2").render(context)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"The {family.name} family has no message template {exc.name} in {TEMPLATES}.") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"The {family.name} message template uses a value this run does not have ({exc.message}); "
                          f"run {stem} again so that its manifest records its headline.") from None
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    shown = names or {}
    for role in ("to", "cc"):
        if recipients.get(role):
            message[role.capitalize()] = ", ".join(formataddr((shown.get(a, ""), a)) for a in recipients[role])
    if recipients.get("bcc"):  # kept in the outbox's copy; stripped when sent
        message["Bcc"] = ", ".join(recipients["bcc"])
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    if context["link"] is None:
        files = files if files is not None else Attachments(max_line_length=message.policy.max_line_length)
        for path in documents:
            kind = _TYPES.get(path.suffix, "application/octet-stream")
            maintype, subtype = kind.split("/", 1)
            attach(message, files.get(path), maintype, subtype)
    return message


def _runs(folder: Path, family: Family, entity: str | None) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        manifest = read_manifest(path)
        if not manifest or manifest.get("family") != family.name:
            continue
        who = (manifest.get("headline") or {}).get("entity") or ""
        if entity is not None and entity not in (who, manifest.get("stem")):
            continue
        runs.append(manifest)
    return runs


def _with_pdfs(report: SendReport, family: Family, folder: Path, runs: list[dict[str, Any]], *,
               entity: str | None, dry_run: bool) -> tuple[list[dict[str, Any]], set[str]]:
    """Make the missing or stale PDFs of ``runs`` (runs and batches make none unless asked), so
    that each message attaches the PDF of the document it carries; the runs read again (their
    manifests now list the PDFs), and the stems whose PDF could not be made: their messages wait.
    A dry run makes nothing and says which PDFs a send would make first."""
    good = [m for m in runs if m.get("status") == "ok"]
    if dry_run:
        missing = [m["stem"] for m in good if f"{m['stem']}.pdf" not in {e["name"] for e in m.get("files", [])}]
        if missing:
            report.notes.append(f"{folder.name}: a send makes the PDF of {', '.join(missing)} first "
                                "(not listed above; a dry run makes none)")
        return runs, set()
    made = make_pdfs(family, [folder], stems=[m["stem"] for m in good])
    report.pdfs.append(made)
    unmade = {name.removesuffix(".pdf") for name, _ in made.failed}
    for name, why in made.failed:
        report.skipped.append((name.removesuffix(".pdf"), f"its PDF could not be made ({why}); nothing is sent "
                                                          "until it is (reportlib pdf, then send again)"))
    return _runs(folder, family, entity), unmade


def _log_entity(manifest: dict[str, Any]) -> str:
    return (manifest.get("headline") or {}).get("entity") or manifest["stem"]


def _outgoing(report: SendReport, family: Family, period: str, folder: Path, manifest: dict[str, Any],
              names: dict[str, str], *, engine: Engine, retry: bool, dry_run: bool, sender: str, limit: float,
              catalogue: str, files: Attachments) -> Outgoing | None:
    """One run's message to record (or, ``dry_run``, what it would be, said in ``report``)."""
    stem, key = manifest["stem"], _log_entity(manifest)
    names[key] = f"{stem}.eml"
    if retry:
        return None
    if manifest.get("status") != "ok":
        report.skipped.append((stem, "its latest run failed; nothing is sent until it succeeds"))
        return None
    with engine.connect() as conn:
        addressed = recipients_for(conn, family.name, (manifest.get("headline") or {}).get("entity") or None)
    if not addressed:
        report.skipped.append((stem, f"no active recipient for {family.name} {key} "
                                     "(reportlib load recipients FOLDER)"))
        return None
    message = compose(family, folder, manifest, addressed.by_role(), sender, names=dict(addressed.names),
                      max_bytes=int(limit * 1_048_576), catalogue=catalogue, files=files)
    if dry_run:
        people = "; ".join(f"{role}: {', '.join(a)}" for role, a in addressed.by_role().items() if a)
        attached = ", ".join(p.get_filename() for p in message.iter_attachments()) or "link to the catalogue"
        report.planned.append(f"{stem}.eml «{message['Subject']}» [{attached}] -> {people}")
        return None
    return Outgoing(period, key, f"{stem}.eml", message, addressed.by_role(),
                    safe_join(folder, "outbox", f"{stem}.eml"))


def _noted(report: SendReport) -> Callable[[Outgoing, log.Prepared], None]:
    def note(item: Outgoing, prepared: log.Prepared) -> None:
        if prepared.created is not None and prepared.eml is not None:
            report.written.append(prepared.eml.name)
        elif prepared.open:
            report.waiting.append(item.name)
        elif prepared.delivered:
            report.delivered.append(item.name)
    return note


def send_reports(family_name: str, raw: dict[str, Any], *, db_url: str | None = None, out: str | Path | None = None,
                 entity: str | None = None, smtp: SmtpTarget | None = None, dry_run: bool = False,
                 resend: bool = False, retry: bool = False, sender: str | None = None, user: str | None = None,
                 max_attach_mb: float | None = None, progress: Callable[[str], None] | None = None,
                 mailer: Mailer | None = None, options: dict[str, Any] | None = None) -> SendReport:
    """Compose, record and (with ``smtp``) send ``family``'s reports of the periods ``raw`` selects.

    ``retry``: compose nothing new, send only what is recorded and not accepted yet.
    ``dry_run``: say what would be written and to whom; write, record and send nothing.
    ``options`` are a family's own (the amendments' billing address).
    """
    family = get_family(family_name)
    if family.send is not None:
        return family.send(raw, db_url=db_url, out=out, entity=entity, smtp=smtp, dry_run=dry_run, resend=resend,
                           retry=retry, sender=sender, user=user, progress=progress, mailer=mailer,
                           **(options or {}))
    url = resolve_db_url(db_url)
    engine = init_db(url)
    sender = sender or os.environ.get("REPORTLIB_MAIL_FROM") or DEFAULT_SENDER
    who = user or getpass.getuser()
    limit = max_attach_mb if max_attach_mb is not None else float(
        os.environ.get("REPORTLIB_MAIL_MAX_MB") or DEFAULT_MAX_ATTACH_MB)
    folders = period_folders_of(family, raw, db_url=url, out=out)
    catalogue = os.environ.get("REPORTLIB_CATALOGUE_URL") or (outputs_root(out) / "index.html").as_uri()
    report = SendReport(family.name, [p for p, _ in folders], command=f"reportlib send {family.name} " + " ".join(
        f"-p {name} {value}" for name, value in raw.items()) + (f" --entity {entity}" if entity else ""))
    names_by_period: dict[str, dict[str, str]] = {}
    files = Attachments()

    def outgoing() -> Iterator[Outgoing]:
        for period, folder in folders:
            names = names_by_period.setdefault(period, {})
            runs = _runs(folder, family, entity) if folder.is_dir() else []
            if not runs:
                report.notes.append(f"{period}: no {family.name} report in {folder}"
                                    + (f" for {entity}" if entity else "") + "; run the batch first.")
            unmade: set[str] = set()
            if runs and family.pdfs and not retry:
                runs, unmade = _with_pdfs(report, family, folder, runs, entity=entity, dry_run=dry_run)
            for manifest in runs:
                if manifest["stem"] in unmade:
                    names[_log_entity(manifest)] = f"{manifest['stem']}.eml"
                    continue
                item = _outgoing(report, family, period, folder, manifest, names, engine=engine, retry=retry,
                                 dry_run=dry_run, sender=sender, limit=limit, catalogue=catalogue, files=files)
                if item is not None:
                    yield item

    sending = None if dry_run or (smtp is None and mailer is None) else mailer or Mailer(smtp)  # type: ignore[arg-type]
    tick = progress or (lambda name: None)
    with sending or contextlib.nullcontext():
        done = deliver(engine, family.name, outgoing(), sending, resend=resend, user=who, tick=tick,
                       prepared=_noted(report))
        if sending is not None:  # what earlier sends recorded and this one did not write again: sent now
            report.smtp = str(smtp) if smtp is not None else "the given mailer"
            for period, names in names_by_period.items():
                sent, failed = send_open(engine, family.name, period, names, sending, tick, done.busy,
                                         tried=done.tried)
                done.sent += sent
                done.failed += failed
            report.sent, report.failed = done.sent, done.failed
            report.notes += [f"{name}: another process was sending it at the same moment; left to it"
                             for name in done.busy]
    report.outboxes += [folder / "outbox" for _, folder in folders if (folder / "outbox").is_dir()]
    return report


def counts(report: SendReport) -> str:
    """One line: how many messages went where (for a schedule's log)."""
    return (f"{count(len(report.written))} written, {count(len(report.sent))} sent, "
            f"{count(len(report.failed))} failed")
