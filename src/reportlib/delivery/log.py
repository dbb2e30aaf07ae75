"""The delivery log: every message handed to someone, recorded per recipient before and after.

Two tables:

    delivery_log         one row per delivery: family, period, entity, the digest of its content
                         (and each attachment's), Message-ID, .eml file, why it was made (first,
                         changed, recipients, resend), what it replaces, who asked, when
    delivery_recipients  one row per address of a delivery: role (to/cc/bcc), status
                         (pending, sent, failed), attempts, the server's last words, when sent

The rules every family's sending follows (spec ``delivery.md``):

- **Written before, updated after.** :func:`prepare` writes the .eml and records the delivery
  with every recipient ``pending`` before anything is sent; :func:`send` records each
  address's result after each SMTP transaction. A crash loses nothing: a re-run sends exactly
  the addresses still not ``sent``.
- **Never twice.** A document is a family's entity in a period (a customer × plan's amendment
  of batch 3). The content of its message is a digest (:func:`message_sha256`): headers
  and text without Date, Message-ID and the address headers, and each attachment's content
  (:func:`content_sha256`). An address whose latest delivery of the document had this
  content is never sent it again, whatever is re-run or regenerated, unless a re-send is
  asked for explicitly (a delivery of its own, reason ``resend``, with who asked).
- **Changed content is a new delivery.** Its message says which earlier message it replaces;
  an earlier delivery not sent yet is superseded and never goes out.
- **Never a phantom "sent".** Each address is ``sent`` only when the server accepted it; a
  refused one is ``failed`` with the server's words, and a later :func:`send` tries it again.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import query_frame
from ..files import atomic_write
from ..versions import content_sha256
from .tables import deliveries, delivery_recipients
from .mime import message_bytes, part_digests
from .smtp import Mailer, RecipientResult

__all__ = [
    "DeliveryState", "Prepared", "REPLACES_HEADER", "content_sha256", "deliveries", "delivery_frame",
    "delivery_recipients", "delivery_state", "message_sha256", "open_by_entity", "open_deliveries", "prepare",
    "preparing", "read_eml", "send", "write_eml",
]

REPLACES_HEADER = "Supersedes"  # RFC 2156: this message replaces that one
ROLES = ("to", "cc", "bcc")
STATUSES = ("pending", "sent", "failed")
REASONS = ("first", "changed", "recipients", "resend")

# Headers that say when and to whom, not what: left out of a message's content digest.
_NOT_CONTENT = {"date", "message-id", "to", "cc", "bcc", "references", "in-reply-to", "mime-version",
                REPLACES_HEADER.lower()}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def message_sha256(message: EmailMessage) -> str:
    """The digest of what a message says (hex sha256), for the never-twice rule.

    Its headers except Date, Message-ID, the address headers (To, Cc, Bcc: recipients are
    recorded one by one) and MIME bookkeeping; its text parts; each attachment's name, type
    and :func:`content_sha256`.
    """
    return _content(message)[0]


def _content(message: EmailMessage) -> tuple[str, list[dict[str, str]]]:
    """:func:`message_sha256` and the attachments' names and digests, each attachment decoded
    and digested once (:func:`~reportlib.delivery.mime.part_digests`)."""
    digest = hashlib.sha256()
    files = []
    for name, value in message.items():
        key = name.lower()
        if key not in _NOT_CONTENT and not key.startswith("content-"):
            digest.update(f"{key}: {' '.join(str(value).split())}\n".encode())
    for part in message.walk():
        if part.is_multipart():
            digest.update(f"multipart {part.get_content_type()}\n".encode())
            continue
        filename = part.get_filename()
        if filename is None and part.get_content_maintype() == "text":
            text = part.get_content().replace("\r\n", "\n")
            digest.update(f"text {part.get_content_type()}\n{text}\n".encode())
            continue
        sha256, content = part_digests(part)
        digest.update(f"file {part.get_content_type()} {filename} {content}\n".encode())
        if filename is not None:
            files.append({"name": filename, "sha256": sha256, "content_sha256": content})
    return digest.hexdigest(), files


def write_eml(message: EmailMessage, path: str | Path, *, fsync: bool = True, data: bytes | None = None) -> Path:
    """Write a message as an RFC 5322 .eml file (CRLF line ends), atomically; ``fsync=False``
    leaves making it durable to the caller (:class:`preparing` does, before its commit).
    ``data``: the message's bytes made before (:func:`~reportlib.delivery.mime.message_bytes`)."""
    with atomic_write(path, "wb", fsync=fsync) as handle:
        handle.write(data if data is not None else message_bytes(message))
    return Path(path)


def _write(message: EmailMessage, path: str | Path, where: "Engine | Connection | preparing",
           data: bytes | None = None) -> None:
    if isinstance(where, preparing):
        where.written(write_eml(message, path, fsync=False, data=data))
    else:
        write_eml(message, path, data=data)


def read_eml(path: str | Path) -> EmailMessage:
    """An .eml file back as a message."""
    with open(path, "rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)  # type: ignore[return-value]


def _prepare_statements():
    """The statements :func:`prepare` runs for every message, built once (as :func:`send`'s)."""
    d, r = deliveries.c, delivery_recipients.c
    document = sa.and_(d.family == sa.bindparam("p_family"), d.period == sa.bindparam("p_period"),
                       d.entity == sa.bindparam("p_entity"))
    earlier = sa.select(deliveries).where(document).order_by(d.id)
    people = sa.select(delivery_recipients).where(r.delivery_id.in_(sa.bindparam("p_ids", expanding=True)))
    used = sa.select(d.id).where(d.eml_file == sa.bindparam("p_eml")).limit(1)
    insert = deliveries.insert().returning(d.id)
    opened = (sa.select(d.id).where(document, d.superseded_by.is_(None)).where(sa.exists().where(
        r.delivery_id == d.id, r.status != "sent", r.closed.is_(None))).order_by(d.id))
    turn = deliveries.update().where(d.id < 0).values(updated_at=d.updated_at)
    return earlier, people, used, insert, delivery_recipients.insert(), opened, turn


_EARLIER, _PEOPLE_OF, _EML_USED, _INSERT, _INSERT_PEOPLE, _OPENED, _TURN = _prepare_statements()


def _serialise(conn: Connection, family: str, period: str, entity: str) -> None:
    """Make concurrent :func:`prepare` calls for one document take turns (until this transaction ends)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"delivery|{family}|{period}|{entity}".encode()).digest()[:8], "big",
                             signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    else:  # SQLite: a write statement takes the database's write lock for the rest of the transaction
        conn.execute(_TURN)


@dataclass
class Prepared:
    """What :func:`prepare` found and did for one entity's message."""

    digest: str
    created: int | None = None  # the delivery recorded now, if any
    eml: Path | None = None  # its .eml file
    reason: str | None = None
    open: list[int] = field(default_factory=list)  # deliveries of this content with addresses still to send
    delivered: list[str] = field(default_factory=list)  # addresses that already have this content
    superseded: list[int] = field(default_factory=list)  # earlier, unsent deliveries that will never go out


def _replacement_note(message: EmailMessage, earlier, sent_at: datetime | None) -> None:
    message[REPLACES_HEADER] = earlier.message_id
    message["References"] = earlier.message_id
    body = message.get_body(("plain",))
    if body is not None:
        when = f" on {sent_at:%Y-%m-%d %H:%M} UTC" if sent_at else ""
        note = (f"This message replaces the one sent{when} (Message-ID {earlier.message_id}); "
                "its content has changed.\n\n")
        body.set_content(note + body.get_content())


def prepare(engine: "Engine | Connection | preparing", *, family: str, period: str, entity: str, message: EmailMessage,
            recipients: Mapping[str, Sequence[str]], eml: str | Path, resend: bool = False,
            user: str | None = None, data: bytes | None = None) -> Prepared:
    """Record what ``message`` still has to reach, and write its .eml if it is a new delivery.

    ``recipients`` maps to / cc / bcc to addresses (the message's own headers name them too).
    Addresses that were sent this content before are left out (``delivered``), unless
    ``resend``; addresses already waiting for it in an earlier delivery stay there (``open``);
    the others get a new delivery, written to ``eml`` (numbered ``.2.eml``... when an earlier
    delivery used that name) and recorded with every address ``pending``, before anything is
    sent. A message whose content differs from what the entity was last sent says which
    message it replaces; earlier deliveries of other content not sent yet are superseded.

    Given an engine it commits before it returns. Given a batch (:class:`preparing`) it works in
    the batch's transaction: many messages are recorded in one commit, which is as safe as long
    as none of them is sent before the commit; their .eml files are on disk before it. A
    connection works in that connection's transaction too.

    ``data`` is the message's bytes, made before (:func:`~reportlib.delivery.mime.message_bytes`,
    outside the batch's transaction): written as they are unless the message is changed here
    (the note of what it replaces).
    """
    digest, files = _content(message)
    wanted: dict[str, tuple[str, str]] = {}
    for role in ROLES:
        for address in recipients.get(role, ()):
            wanted.setdefault(address.strip().lower(), (role, address.strip()))
    d, r = deliveries.c, delivery_recipients.c
    outcome = Prepared(digest)
    now = _now()
    with _transaction(engine) as conn:
        _serialise(conn, family, period, entity)
        document = {"p_family": family, "p_period": period, "p_entity": entity}
        earlier = conn.execute(_EARLIER, document).all()
        ids = [e.id for e in earlier]
        people = conn.execute(_PEOPLE_OF, {"p_ids": ids}).all() if ids else []
        by_delivery: dict[int, list] = {}
        for person in people:
            by_delivery.setdefault(person.delivery_id, []).append(person)
        same = [e for e in earlier if e.content_sha256 == digest and e.superseded_by is None]
        latest: dict[str, Any] = {}  # address -> the latest delivery it was sent
        for e in earlier:
            for person in by_delivery.get(e.id, []):
                if person.status == "sent":
                    latest[person.address.lower()] = e
        have = {a for a in wanted if a in latest and latest[a].content_sha256 == digest}
        waiting = {p.address.lower(): p for e in same for p in by_delivery.get(e.id, [])
                   if p.status != "sent" and p.closed is None}
        outcome.delivered = [wanted[a][1] for a in wanted if a in have]
        targets = list(wanted) if resend else [a for a in wanted if a not in have and a not in waiting]
        stale = [e for e in earlier if e.superseded_by is None and e.content_sha256 != digest
                 and any(p.status != "sent" and p.closed is None for p in by_delivery.get(e.id, []))]
        if resend:
            stale += [e for e in same if any(p.address.lower() in waiting for p in by_delivery.get(e.id, []))]
        for e in same:  # an .eml removed from the outbox before it was sent is written again, same Message-ID
            if e.id in {p.delivery_id for p in waiting.values()} and not Path(e.eml_file).exists():
                _restore(message, e, earlier, by_delivery, engine)
        current = None
        if targets:
            older = [latest[a] for a in targets if a in latest and latest[a].content_sha256 != digest]
            replaces = max(older, key=lambda e: e.id) if older else None
            reason = "resend" if resend else "changed" if replaces is not None else "recipients" if same else "first"
            if replaces is not None:
                sent_at = max((p.sent_at for p in by_delivery[replaces.id] if p.sent_at), default=None)
                _replacement_note(message, replaces, sent_at)
                data = None
            path = Path(eml)
            for n in range(2, 10_000):
                if conn.execute(_EML_USED, {"p_eml": str(path)}).first() is None:
                    break
                path = Path(eml).with_name(f"{Path(eml).stem}.{n}{Path(eml).suffix}")
            _write(message, path, engine, data)
            current = conn.execute(_INSERT, dict(
                family=family, period=period, entity=entity, content_sha256=digest,
                attachments=json.dumps(files), message_id=str(message["Message-ID"]),
                subject=str(message["Subject"] or "")[:1000], sender=_sender(message), eml_file=str(path),
                reason=reason, replaces=replaces.id if replaces is not None else None, requested_by=user,
                created_at=now, updated_at=now)).scalar_one()
            conn.execute(_INSERT_PEOPLE, [
                dict(delivery_id=current, address=wanted[a][1], role=wanted[a][0], position=n, status="pending",
                     attempts=0, updated_at=now) for n, a in enumerate(targets, start=1)])
            outcome.created, outcome.eml, outcome.reason = current, path, reason
        elif same:
            current = same[-1].id
        for old in stale:
            if old.id == current:
                continue
            note = f"superseded by delivery {current} before it was sent" if current else "superseded"
            conn.execute(deliveries.update().where(d.id == old.id).values(superseded_by=current, updated_at=now))
            conn.execute(delivery_recipients.update().where(r.delivery_id == old.id, r.status != "sent",
                                                            r.closed.is_(None)).values(closed=note, updated_at=now))
            outcome.superseded.append(old.id)
        # Addresses that left the recipients since an earlier delivery of this content was made.
        for key, person in waiting.items():
            if key not in wanted and person.delivery_id not in outcome.superseded:
                conn.execute(delivery_recipients.update().where(
                    r.delivery_id == person.delivery_id, r.address == person.address)
                    .values(closed="no longer a recipient", updated_at=now))
        outcome.open = [row[0] for row in conn.execute(_OPENED, document)]
    return outcome


@contextmanager
def _transaction(where: "Engine | Connection | preparing") -> Iterator[Connection]:
    if isinstance(where, preparing):
        yield where.connection()
    elif isinstance(where, Connection):
        yield where
    else:
        with where.begin() as conn:
            yield conn


class preparing:
    """Record many messages in few transactions: ``with preparing(engine) as batch:`` then
    ``prepare(batch, ...)`` for each message, ``batch.done()`` after each.

    A transaction is committed every ``size`` messages and when the block ends (rolled back on
    an error: nothing of the uncommitted messages is recorded, and none of them was sent).
    Nothing may be sent inside the block: a message counts as recorded only once committed.

    The batch's .eml files are made durable (``fsync``, then their folders') before the commit
    that records them, as :func:`write_eml` does for one message; here a few threads sync them
    while the next messages are composed, and the disk writes many of them at once.
    """

    def __init__(self, engine: Engine, *, size: int = 100):
        self.engine, self.size = engine, size
        self._conn: Connection | None = None
        self._open = None
        self._writer = None  # this process's turn at writing (SQLite), held until the commit
        self._count = 0
        self._syncs: list[Future] = []
        self._folders: set[Path] = set()

    def written(self, path: Path) -> None:
        """A file of this batch to have on disk before the batch commits."""
        self._syncs.append(_syncing().submit(_fsync, path))
        self._folders.add(path.parent)

    def _synced(self) -> None:
        syncs, folders, self._syncs, self._folders = self._syncs, self._folders, [], set()
        for done in syncs:
            done.result()  # an error here rolls the batch back: nothing of it is recorded
        for folder in folders:  # the renames that put the files in place
            _fsync(folder)

    def __enter__(self) -> "preparing":
        return self

    def connection(self) -> Connection:
        if self._conn is None:
            self._writer = _writing(self.engine)
            self._writer.acquire()
            try:
                self._conn = self.engine.connect()
                self._open = self._conn.begin()
            except BaseException:
                self._release()
                raise
        return self._conn

    def _release(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()

    def done(self) -> None:
        """One message recorded: commit when the batch is full."""
        self._count += 1
        if self._count >= self.size:
            self.commit()

    def commit(self) -> None:
        conn, transaction, self._conn, self._open, self._count = self._conn, self._open, None, None, 0
        if conn is not None:
            try:
                self._synced()
                transaction.commit()
            finally:
                conn.close()
                self._release()

    def __exit__(self, kind, *exc) -> None:
        try:
            if kind is None:
                self.commit()
            elif self._conn is not None:
                conn, self._conn, self._open = self._conn, None, None
                conn.close()  # rolls back what was not committed
        finally:
            self._release()
            for done in self._syncs:  # none left running once the block is over
                done.exception()
            self._syncs = []


# Files synced at once by a batch: enough for the disk to take many in one journal commit.
_SYNC_THREADS = 8
_SYNC_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _syncing() -> ThreadPoolExecutor:
    """The threads that sync the batches' files, started once per process."""
    global _SYNC_POOL
    with _POOL_LOCK:
        if _SYNC_POOL is None:
            _SYNC_POOL = ThreadPoolExecutor(_SYNC_THREADS, thread_name_prefix="reportlib-fsync")
        return _SYNC_POOL


_WRITERS: "weakref.WeakKeyDictionary[Engine, threading.RLock]" = weakref.WeakKeyDictionary()


class _Anyone:
    """No turns: the database takes many writers at once (PostgreSQL)."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> "_Anyone":
        return self

    def __exit__(self, *exc) -> None:
        pass


def _writing(engine: Engine) -> "threading.RLock | _Anyone":
    """This process's turn at writing to ``engine``'s database. SQLite has one writer at a time,
    and a writer that finds the database locked polls for it in sleeps of up to 100 ms: threads
    of one send (recording the next messages, recording the results of those sent) take turns
    on this lock instead, and each has its turn as soon as the other commits."""
    if engine.dialect.name != "sqlite":
        return _Anyone()
    with _POOL_LOCK:
        # Reentrant: a thread that writes again inside its own batch meets SQLite's busy
        # timeout and its error, as it would without this lock, rather than waiting forever.
        return _WRITERS.setdefault(engine, threading.RLock())


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _restore(message: EmailMessage, delivery, earlier, by_delivery, where) -> None:
    restored = copy.deepcopy(message)
    del restored["Message-ID"]
    restored["Message-ID"] = delivery.message_id
    replaced = next((e for e in earlier if e.id == delivery.replaces), None)
    if replaced is not None:
        sent_at = max((p.sent_at for p in by_delivery.get(replaced.id, []) if p.sent_at), default=None)
        _replacement_note(restored, replaced, sent_at)
    _write(restored, delivery.eml_file, where)


def _sender(message: EmailMessage) -> str:
    from email.utils import getaddresses

    found = getaddresses(message.get_all("From", []))
    return found[0][1] if found else ""


def _open_ids(conn: Connection, where) -> list[int]:
    d, r = deliveries.c, delivery_recipients.c
    query = (sa.select(d.id).where(where, d.superseded_by.is_(None)).where(sa.exists().where(
        r.delivery_id == d.id, r.status != "sent", r.closed.is_(None))).order_by(d.id))
    return [row[0] for row in conn.execute(query)]


def open_deliveries(engine: Engine, family: str, *, period: str | None = None,
                    entity: str | None = None) -> list[int]:
    """Deliveries of ``family`` (in ``period``, of ``entity``) with addresses not sent yet, oldest first."""
    d = deliveries.c
    where = [d.family == family]
    if period is not None:
        where.append(d.period == period)
    if entity is not None:
        where.append(d.entity == entity)
    with engine.connect() as conn:
        return _open_ids(conn, sa.and_(*where))


def open_by_entity(engine: Engine, family: str, period: str) -> dict[str, list[int]]:
    """The deliveries of ``family`` in ``period`` with addresses not sent yet, by entity, oldest first."""
    d, r = deliveries.c, delivery_recipients.c
    query = (sa.select(d.id, d.entity).where(d.family == family, d.period == period, d.superseded_by.is_(None))
             .where(sa.exists().where(r.delivery_id == d.id, r.status != "sent", r.closed.is_(None))).order_by(d.id))
    found: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            found.setdefault(row.entity, []).append(row.id)
    return found


@contextmanager
def _sending(eml: str | Path) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on a delivery's .eml while it is sent: True when this process
    has it, False when another is sending it now. The kernel drops the lock when its holder
    ends, however it ends, so a killed send never blocks the next one."""
    try:
        handle = open(eml, "rb")
    except FileNotFoundError:
        yield True  # nothing to lock; reading the .eml will say what is missing
        return
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()


def _statements():
    """The statements :func:`send` runs for every message, built once: a batch of thousands of
    messages then spends its time sending, not building the same SQL again."""
    d, r = deliveries.c, delivery_recipients.c
    delivery = sa.bindparam("b_delivery")
    read = sa.select(d.eml_file, d.sender, d.superseded_by).where(d.id == delivery)
    people = (sa.select(r.address, r.attempts).where(r.delivery_id == delivery, r.status != "sent",
                                                     r.closed.is_(None)).order_by(r.position))
    address = sa.bindparam("b_address")
    result = delivery_recipients.update().where(r.delivery_id == delivery, r.address == address).values(
        status=sa.bindparam("b_status"), attempts=sa.bindparam("b_attempts"), last_error=sa.bindparam("b_error"),
        sent_at=sa.bindparam("b_sent_at"), updated_at=sa.bindparam("b_now"))
    touched = deliveries.update().where(d.id == delivery).values(updated_at=sa.bindparam("b_now"))
    return read, people, result, touched


_READ, _PEOPLE, _RESULT, _TOUCHED = _statements()


def send(engine: Engine, delivery_id: int, mailer: Mailer) -> list[RecipientResult] | None:
    """Send delivery ``delivery_id``'s .eml to its addresses not sent yet; record each result.

    Returns the results (empty when nothing was left to send), or None when another process is
    sending this delivery at this moment (two ``reportlib send`` at once never send one message
    twice: the addresses still to send are read only once the delivery's lock is held). The
    .eml on disk is what goes out, under its recorded Message-ID: nothing is composed again.
    The results are committed before the next message is sent: a send killed at any moment
    loses no accepted address.
    """
    key = {"b_delivery": delivery_id}
    with engine.connect() as conn:
        row = conn.execute(_READ, key).one()
    if row.superseded_by is not None:
        return []
    with _sending(row.eml_file) as mine:
        if not mine:
            return None
        with engine.connect() as conn:
            people = conn.execute(_PEOPLE, key).all()
        if not people:
            return []
        data = Path(row.eml_file).read_bytes()  # sent as written: nothing is parsed or composed again
        sender = row.sender or _sender(BytesParser(policy=policy.default).parsebytes(data, headersonly=True))
        results = mailer.send(data, sender, [p.address for p in people])
        now = _now()
        with _writing(engine), engine.begin() as conn:
            conn.execute(_RESULT, [
                dict(key, b_address=p.address, b_status="sent" if results[p.address].accepted else "failed",
                     b_attempts=p.attempts + results[p.address].attempts,
                     b_error=None if results[p.address].accepted else results[p.address].reply[:4000],
                     b_sent_at=now if results[p.address].accepted else None, b_now=now) for p in people])
            conn.execute(_TOUCHED, dict(key, b_now=now))
    return [results[p.address] for p in people]


@dataclass(frozen=True)
class DeliveryState:
    """Where an entity's delivery stands in a period: the summary a family's record shows."""

    status: str  # none | pending | sent | failed
    attempts: int
    sent_at: datetime | None
    errors: tuple[str, ...]  # "address: server's words", one per failed address


def delivery_state(conn: Connection, family: str, period: str, entity: str) -> DeliveryState:
    """``sent`` when every address of the entity's current deliveries in ``period`` has it, else
    ``failed`` when one was refused, else ``pending``; ``none`` without any delivery."""
    d, r = deliveries.c, delivery_recipients.c
    people = conn.execute(sa.select(delivery_recipients).join(deliveries, d.id == r.delivery_id).where(
        d.family == family, d.period == period, d.entity == entity, d.superseded_by.is_(None),
        r.closed.is_(None))).all()
    if not people:
        return DeliveryState("none", 0, None, ())
    statuses = {p.status for p in people}
    status = "sent" if statuses == {"sent"} else "failed" if "failed" in statuses else "pending"
    errors = tuple(f"{p.address}: {p.last_error}" for p in people if p.status == "failed")
    return DeliveryState(status, max(p.attempts for p in people),
                         max((p.sent_at for p in people if p.sent_at), default=None), errors)


def delivery_frame(conn: Connection, family: str, *, period: str | None = None, entity: str | None = None):
    """The log one row per address: delivery, period, entity, reason, Message-ID, role, status,
    attempts, last error, sent time, .eml file; oldest delivery first."""
    d, r = deliveries.c, delivery_recipients.c
    query = (sa.select(d.id.label("delivery"), d.period, d.entity, d.reason, d.replaces, d.superseded_by,
                       d.requested_by, d.created_at, d.message_id, d.content_sha256, r.address, r.role, r.status,
                       r.attempts, r.last_error, r.closed, r.sent_at, d.eml_file)
             .join(delivery_recipients, r.delivery_id == d.id).where(d.family == family)
             .order_by(d.id, r.position))
    if period is not None:
        query = query.where(d.period == period)
    if entity is not None:
        query = query.where(d.entity == entity)
    return query_frame(conn, query)
