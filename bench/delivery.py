"""Delivery's speed goals, side by side (medians of ``--repeat``), on the default demo.

- every QBR deck's PDF: LibreOffice batched (a few ``soffice`` processes, as ``make_pdfs``
  does) against one ``soffice`` process per deck (measured on ``--sample`` decks, scaled);
- every statement's PDF: one headless Chromium printing the whole batch against a Chromium
  started per page (measured on ``--sample`` pages);
- ``--messages`` messages (statement packs with their PDF and workbook attached, two
  addresses each) composed, recorded in the delivery log and sent by ``send.deliver`` (as
  ``reportlib send`` does: recording and sending at once) to an aiosmtpd server on 127.0.0.1 in
  a process of its own, against plain ``smtplib`` sending the same .eml files on one connection
  (no log). The server's count proves each was accepted once. The messages cycle through the
  demo's statement packs, so a send reads each of their files once (``send``); ``send-own``
  makes each message read and encode its files as if they were its own, as a real send's are.

    python bench/delivery.py --db sqlite:///data/reportlib.sqlite --repeat 3 --messages 1000
    python bench/delivery.py --reuse outputs --parts send --repeat 1   # after make demo, sending alone
"""

from __future__ import annotations

import argparse
import os
import resource
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SERVER = """
import sys, threading
from aiosmtpd.controller import Controller

class Count:
    def __init__(self):
        self.ids, self.rcpts = [], 0
    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\\r\\n"):
            if line.lower().startswith(b"message-id:"):
                self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        self.rcpts += len(envelope.rcpt_tos)
        return "250 OK"

handler = Count()
controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]), data_size_limit=0)
controller.start()
print("ready", flush=True)
sys.stdin.readline()
controller.stop()
print(len(handler.ids), len(set(handler.ids)), handler.rcpts, flush=True)
"""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """aiosmtpd on 127.0.0.1 in its own process; ``stop()`` returns (messages, distinct Message-IDs, recipients)."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> tuple[int, int, int]:
        out, _ = self.process.communicate("stop\n", timeout=120)
        return tuple(int(x) for x in out.split())  # type: ignore[return-value]


def cli(*args: str) -> None:
    subprocess.run([str(BIN / "reportlib"), *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def cpu_seconds() -> float:
    """CPU seconds (user and system) of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def median(values: list[float]) -> float:
    return statistics.median(values)


def rendered(family: str, param: str, period: str, url: str, work: Path, reuse: Path | None) -> Path:
    """The period's reports in ``work``: copied from ``reuse`` (outputs made before), or made now."""
    import shutil

    from reportlib.families import get_family
    from reportlib.files import slugify

    folder = work / get_family(family).folder / slugify(period)
    if reuse is not None and (reuse / folder.relative_to(work)).is_dir():
        log(f"{family}: the reports of {period} copied from {reuse}")
        shutil.copytree(reuse / folder.relative_to(work), folder, ignore=shutil.ignore_patterns("outbox", "versions"))
    else:
        log(f"{family}: every report of {period} (no PDFs yet)")
        cli("batch", family, "-p", param, period, "--no-pdf", "--quiet", "--out", str(work), "--db", url)
    return folder


def decks(url: str, work: Path, repeat: int, sample: int, workers: int, reuse: Path | None) -> list[str]:
    from reportlib.delivery.pdf import make_pdfs, office_to_pdf
    from reportlib.families import get_family

    folder = rendered("qbr", "quarter", "2026Q3", url, work, reuse)
    sources = sorted(folder.glob("*.pptx"))
    batched, cpu = [], []
    for n in range(repeat):
        clock = cpu_seconds()
        report = make_pdfs(get_family("qbr"), [folder], workers=workers, force=True)
        cpu.append(cpu_seconds() - clock)
        assert not report.failed and len(report.made) == len(sources), report.summary()
        batched.append(report.seconds)
        log(f"qbr: {len(sources)} deck PDFs batched in {report.seconds:.1f} s, {cpu[-1]:.1f} CPU s "
            f"(load {os.getloadavg()[0]:.1f})")
    single = []
    for n in range(repeat if sample > 0 else 0):  # --sample 0: the batch alone
        with tempfile.TemporaryDirectory() as scratch:
            clock = time.perf_counter()
            for source in sources[:sample]:
                office_to_pdf([source], Path(scratch))
            single.append((time.perf_counter() - clock) / min(sample, len(sources)))
        log(f"qbr: one soffice per deck {single[-1]:.2f} s a deck")
    b, c = median(batched), median(cpu)
    return [f"| QBR deck PDFs, {len(sources)} decks, LibreOffice batched ({workers} processes) | {b:.1f} | "
            f"{b / len(sources):.2f} |",
            f"| same, CPU seconds (this process and its `soffice` processes; wall ≈ this ÷ cores on an idle "
            f"machine) | {c:.1f} | {c / len(sources):.2f} |"] + (
           [f"| the decks themselves, one `soffice` per deck (measured on {min(sample, len(sources))}, "
            f"× {len(sources)}) | {median(single) * len(sources):.1f} | {median(single):.2f} |"] if single else [])


def statements(url: str, work: Path, repeat: int, sample: int, reuse: Path | None) -> list[str]:
    from reportlib.delivery.pdf import make_pdfs, pending_pdfs, print_jobs
    from reportlib.families import get_family
    from reportlib.render.pdf import printing_tabs

    folder = rendered("statement", "month", "2026-10", url, work, reuse)
    family = get_family("statement")
    batched = []
    for n in range(repeat):
        report = make_pdfs(family, [folder], force=True)
        assert not report.failed and report.made, report.summary()
        batched.append(report.seconds / len(report.made))
        count = len(report.made)
        log(f"statement: {count} PDFs in {report.seconds:.1f} s ({printing_tabs(count)} tabs)")
    jobs, _ = pending_pdfs(family, [folder], force=True)
    one_tab, single = [], []
    for n in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            clock = time.perf_counter()
            outcome = print_jobs(jobs, Path(scratch), tabs=1)
            assert all(not isinstance(v, str) for v in outcome.values()), outcome
            one_tab.append((time.perf_counter() - clock) / len(jobs))
            log(f"statement: {len(jobs)} PDFs in one tab {one_tab[-1] * len(jobs):.1f} s")
        with tempfile.TemporaryDirectory() as scratch:
            clock = time.perf_counter()
            for job in jobs[:sample]:
                print_jobs([job], Path(scratch))
            single.append((time.perf_counter() - clock) / min(sample, len(jobs)))
    return [f"| statement PDFs, {count} packs, one Chromium for the batch, {printing_tabs(count)} tabs at once | "
            f"{median(batched) * count:.1f} | {median(batched):.2f} |",
            f"| same, one Chromium, one tab (page after page) | {median(one_tab) * count:.1f} | {median(one_tab):.2f} |",
            f"| same, a Chromium started per page (measured on {min(sample, len(jobs))}) | "
            f"{median(single) * count:.1f} | {median(single):.2f} |"]


def _messages(work: Path, n: int, outbox: Path, *, attach: bool = True, shared: bool = True):
    """``n`` messages (:class:`~reportlib.delivery.send.Outgoing`) from the statement packs, entities
    numbered past the real ones; ``attach`` False: each message links to the catalogue instead of
    carrying the files; ``shared`` False: each message reads and encodes its files as if no other
    message carried them (a real send's messages each carry their own entity's files)."""
    from reportlib.delivery.mime import Attachments
    from reportlib.delivery.send import Outgoing, compose
    from reportlib.families import get_family
    from reportlib.manifest import SUFFIX, read_manifest

    family = get_family("statement")
    folder = work / "statements" / "2026-10"
    manifests = [m for m in (read_manifest(p) for p in sorted(folder.glob(f"*{SUFFIX}"))) if m and m["status"] == "ok"]
    files = Attachments()
    for i in range(n):
        manifest = manifests[i % len(manifests)]
        entity = f"E{i:05d}"
        recipients = {"to": [f"finance@{entity.lower()}.example"], "cc": [], "bcc": ["archive@carrier.example"]}
        message = compose(family, folder, manifest, recipients, "reports@reportlib.example",
                          max_bytes=10 * 1_048_576 if attach else 0, catalogue="index.html",
                          files=files if shared else Attachments())
        yield Outgoing("2026-10", entity, f"{entity}.eml", message, recipients, outbox / f"{entity}.eml")


def sending(work: Path, repeat: int, n: int, *, attach: bool = True, shared: bool = True) -> list[str]:
    from reportlib.db import init_db
    from reportlib.delivery import Mailer, SmtpTarget, delivery_frame
    from reportlib.delivery.send import deliver

    os.environ["REPORTLIB_SMTP_SECURITY"] = "none"
    ours, plain, cpu, size = [], [], [], 0
    for r in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            engine = init_db(f"sqlite:///{scratch}/log.sqlite")
            outbox = Path(scratch) / "outbox"
            server = Server()
            clock, own = time.perf_counter(), time.process_time()
            with Mailer(SmtpTarget("127.0.0.1", server.port, timeout=60)) as mailer:  # as send_reports does
                done = deliver(engine, "statement", _messages(work, n, outbox, attach=attach, shared=shared), mailer,
                               user="bench")
            sent, failed = done.sent, done.failed
            ours.append(time.perf_counter() - clock)
            cpu.append(time.process_time() - own)
            messages, distinct, rcpts = server.stop()
            with engine.connect() as conn:
                frame = delivery_frame(conn, "statement")
            assert not failed and len(sent) == n and (messages, distinct, rcpts) == (n, n, 2 * n)
            assert len(frame) == 2 * n and set(frame["status"]) == {"sent"} and set(frame["attempts"]) == {1}
            log(f"send: {n} messages composed, logged, sent in {ours[-1]:.1f} s ({cpu[-1]:.1f} CPU s of this process, "
                f"load {os.getloadavg()[0]:.1f}); server got {messages}, {distinct} distinct")
            files = sorted(outbox.glob("*.eml"))
            size = sum(f.stat().st_size for f in files) / n
            server = Server()
            clock = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", server.port, timeout=60) as smtp:
                for f in files:
                    smtp.sendmail("reports@reportlib.example", ["a@x.example", "b@x.example"], f.read_bytes())
            plain.append(time.perf_counter() - clock)
            assert server.stop()[0] == n
            log(f"send: the same {n} .eml files by plain smtplib in {plain[-1]:.1f} s")
    what = ("a link to the catalogue, no attachment" if not attach else "PDF and workbook attached, "
            + ("each file read and encoded once for the send" if shared else "each message encoding its own files"))
    return [f"| {n} messages (≈{size / 1024:.0f} KB each, {what}) composed, logged and sent (`deliver`) | "
            f"{median(ours):.1f} | {median(ours) / n * 1000:.1f} ms |",
            f"| same, CPU seconds of this process (composing, logging, sending; not the server's) | "
            f"{median(cpu):.1f} | {median(cpu) / n * 1000:.1f} ms |",
            f"| same .eml files, plain `smtplib.sendmail` on one connection, no log | {median(plain):.1f} | "
            f"{median(plain) / n * 1000:.1f} ms |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{ROOT / 'data' / 'reportlib.sqlite'}",
                        help="the default demo's database (made if missing)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=4, help="decks / pages converted one process each")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--reuse", metavar="OUTPUTS", help="copy the reports from this outputs folder (made by "
                                                          "make demo) instead of making them")
    parser.add_argument("--parts", default="decks,statements,send,send-own,send-links",
                        help="what to measure (comma-separated: decks, statements, send (PDF and workbook attached; "
                             "the 34 packs' files, each read and encoded once), send-own (the same, each message "
                             "reading and encoding its files as if they were its own), send-links (a link to the "
                             "catalogue instead))")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    reuse = Path(args.reuse).resolve() if args.reuse else None
    os.environ.setdefault("REPORTLIB_HOME", str(ROOT))
    path = args.db.removeprefix("sqlite:///")
    if args.db.startswith("sqlite:///") and not Path(path).exists():
        log("making the default demo")
        cli("demo", "--db", args.db)
    load = os.getloadavg()
    started = datetime.now(timezone.utc)
    lines = [f"load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, {os.cpu_count()} cores; "
             f"medians of {args.repeat}", "", "| what | seconds | per item |", "| --- | ---: | ---: |"]
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as work:
        if "decks" in parts:
            lines += decks(args.db, Path(work), args.repeat, args.sample, args.workers, reuse)
        if "statements" in parts:
            lines += statements(args.db, Path(work), args.repeat, args.sample, reuse)
        elif parts & {"send", "send-own", "send-links"}:  # the messages attach the packs and their PDFs
            folder = rendered("statement", "month", "2026-10", args.db, Path(work), reuse)
            from reportlib.delivery.pdf import make_pdfs
            from reportlib.families import get_family

            make_pdfs(get_family("statement"), [folder])
        if "send" in parts:
            lines += sending(Path(work), args.repeat, args.messages)
        if "send-own" in parts:
            lines += sending(Path(work), args.repeat, args.messages, shared=False)
        if "send-links" in parts:
            lines += sending(Path(work), args.repeat, args.messages, attach=False)
    load = os.getloadavg()
    lines += ["", f"load average at end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; "
                  f"{(datetime.now(timezone.utc) - started).total_seconds():.0f} s"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
