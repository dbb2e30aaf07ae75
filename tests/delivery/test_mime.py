"""Attachments encoded once and messages written without the generator's line-by-line loop
(``delivery.mime``): the same parts, the same bytes and the same digests as the standard library's."""

from __future__ import annotations

import hashlib
import os
import random
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from openpyxl import Workbook

from reportlib.delivery.log import _replacement_note, message_sha256
from reportlib.delivery.mime import Attachments, attach, message_bytes, part_digests
from reportlib.versions import content_sha256

TYPES = [("report.pdf", "application", "pdf"), ("book.xlsx", "application",
                                                 "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
         ("rows.csv", "text", "csv"), ("empty.bin", "application", "octet-stream"),
         ("exact.bin", "application", "octet-stream")]


def files(tmp_path):
    noise = random.Random(7)
    book = Workbook()
    book.active.append(["Generated (UTC)", "2026-12-02 07:00"])
    book.active.append(["Closing balance", 301.5])
    book.save(tmp_path / "book.xlsx")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n" + noise.randbytes(150_001))
    (tmp_path / "rows.csv").write_bytes("entity,amount\nP1,301.50\nÉcole,1\n".encode() * 400)
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "exact.bin").write_bytes(noise.randbytes(57 * 200))  # whole base64 lines, no short last one
    return [tmp_path / name for name, _, _ in TYPES]


def message(msgid: str = "<1.2.3@reportlib.example>") -> EmailMessage:
    m = EmailMessage(policy=policy.SMTP)
    m["From"] = "reports@reportlib.example"
    m["To"] = "Alpha finance <finance@alpha.example>, ceo@alpha.example"
    m["Bcc"] = "archive@carrier.example"
    m["Subject"] = "Relevé de crédit et de revenus — octobre 2026 — Alpha Partner (P1) " * 2
    m["Message-ID"] = msgid
    m.set_content("Bonjour,\nvotre relevé d'octobre.\n")
    return m


def both(tmp_path) -> tuple[EmailMessage, EmailMessage, list]:
    """The same message made by ``add_attachment`` and by :func:`attach`, with the same boundary;
    and the files attached."""
    paths = files(tmp_path)
    plain, ours = message(), message()
    cache = Attachments()
    for path, (_, maintype, subtype) in zip(paths, TYPES):
        plain.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
        attach(ours, cache.get(path), maintype, subtype)
    plain.set_boundary("===============0123456789012345678==")
    ours.set_boundary("===============0123456789012345678==")
    return plain, ours, paths


def test_attached_parts_and_written_bytes_are_the_standard_librarys(tmp_path):
    plain, ours, paths = both(tmp_path)
    expected = plain.as_bytes(policy=policy.SMTP)
    assert ours.as_bytes(policy=policy.SMTP) == expected  # attach makes add_attachment's parts
    assert message_bytes(ours) == expected  # and the bodies put in whole are the generator's lines
    assert message_bytes(plain) == expected
    parsed = BytesParser(policy=policy.default).parsebytes(message_bytes(ours))
    assert parsed.items() == BytesParser(policy=policy.default).parsebytes(expected).items()
    found = [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in parsed.iter_attachments()]
    assert found == [(p.name, f"{m}/{s}", p.read_bytes()) for p, (_, m, s) in zip(paths, TYPES)]
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Bonjour,\nvotre relevé d'octobre.\n"
    # Writing leaves the message as it was: the attachments' bodies are back in place.
    assert [a.get_payload(decode=True) for a in ours.iter_attachments()] == [p.read_bytes() for p in paths]


def test_a_message_changed_after_its_files_were_attached_is_written_as_the_generator_writes_it(tmp_path):
    plain, ours, _ = both(tmp_path)
    earlier = type("Earlier", (), {"message_id": "<earlier@reportlib.example>"})()
    for m in (plain, ours):
        _replacement_note(m, earlier, None)
    assert message_bytes(ours) == plain.as_bytes(policy=policy.SMTP)
    assert b"This message replaces the one sent (Message-ID <earlier@reportlib.example>)" in message_bytes(ours)


def test_a_boundary_the_generator_chooses_is_set_on_the_message_as_the_generator_sets_it(tmp_path):
    _, ours, _ = both(tmp_path)
    ours.replace_header("Content-Type", "multipart/mixed")  # no boundary yet: the generator makes one
    data = message_bytes(ours)
    assert ours.get_boundary() and f"--{ours.get_boundary()}--".encode() in data
    assert data == ours.as_bytes(policy=policy.SMTP)


def test_digests_are_the_files_and_a_message_digest_is_unchanged(tmp_path):
    plain, ours, paths = both(tmp_path)
    expected = [(hashlib.sha256(p.read_bytes()).hexdigest(), content_sha256(p.read_bytes())) for p in paths]
    assert [part_digests(a) for a in ours.iter_attachments()] == expected
    assert [part_digests(a) for a in plain.iter_attachments()] == expected
    # The never-twice digest, as the delivery log has always taken it: an earlier log's
    # deliveries keep matching the same content.
    digest = hashlib.sha256()
    for name, value in plain.items():
        if name.lower() not in {"date", "message-id", "to", "cc", "bcc", "references", "in-reply-to",
                                "mime-version", "supersedes"} and not name.lower().startswith("content-"):
            digest.update(f"{name.lower()}: {' '.join(str(value).split())}\n".encode())
    for part in plain.walk():
        if part.is_multipart():
            digest.update(f"multipart {part.get_content_type()}\n".encode())
        elif part.get_filename() is None and part.get_content_maintype() == "text":
            digest.update(f"text {part.get_content_type()}\n{part.get_content()}\n".encode())
        else:
            data = part.get_payload(decode=True)
            digest.update(f"file {part.get_content_type()} {part.get_filename()} {content_sha256(data)}\n".encode())
    assert message_sha256(ours) == message_sha256(plain) == digest.hexdigest()


def test_a_file_written_again_during_a_send_is_read_again(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7\nfirst")
    cache = Attachments()
    first = cache.get(path)
    assert cache.get(path) is first  # read and encoded once
    path.write_bytes(b"%PDF-1.7\nsecond, longer")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    second = cache.get(path)
    assert second is not first and second.sha256 == hashlib.sha256(b"%PDF-1.7\nsecond, longer").hexdigest()
    m = message()
    attach(m, second, "application", "pdf")
    assert next(m.iter_attachments()).get_payload(decode=True) == b"%PDF-1.7\nsecond, longer"


def test_a_send_keeps_only_the_files_it_attached_last_up_to_its_limit(tmp_path):
    noise = random.Random(3)
    paths = []
    for n in range(4):
        paths.append(tmp_path / f"p{n}.pdf")
        paths[-1].write_bytes(noise.randbytes(30_000))
    cache = Attachments(keep=3 * 2 * 40_600)  # three files' base64 text and wire lines
    first = cache.get(paths[0])
    for path in paths[1:]:
        cache.get(path)
    again = cache.get(paths[0])  # dropped for the fourth: read and encoded again, the same
    assert again is not first and again == first
    assert cache.get(paths[3]) is cache.get(paths[3])
