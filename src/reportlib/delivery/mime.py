"""Attachments encoded once, and a message's bytes without writing its base64 line by line.

A send attaches files that are often the same for many messages (one document to many
readers), and each attachment is hundreds of KB of base64: thousands of lines. The standard
library encodes an attachment in 57-byte pieces and its generator writes a body one line at a
time, both in Python. Here:

- :class:`Attachments` reads, encodes and digests each file once per send (a file is known by
  its path, size and modification time) and attaches it with :func:`attach`, which makes the
  same part as ``EmailMessage.add_attachment`` (same headers, same base64 lines);
- :func:`message_bytes` is ``message.as_bytes(policy=policy.SMTP)``: the standard generator
  writes the message with each attachment's body left out, and the bodies, already in CRLF
  lines, are put in their places. The bytes are the generator's own, byte for byte.

:func:`part_digests` gives an attachment's sha256 and :func:`~reportlib.versions.content_sha256`
from its encoded body, decoding and digesting each distinct body once.
"""

from __future__ import annotations

import binascii
import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Generic, TypeVar

from ..versions import content_sha256

__all__ = ["Attachments", "EncodedFile", "attach", "encode", "message_bytes", "part_digests"]


@dataclass(frozen=True)
class EncodedFile:
    """A file to attach: its bytes as a message carries them (base64 lines) and its digests."""

    name: str
    payload: str  # base64 lines ending with "\n", as set_content makes them
    wire: bytes  # the same lines ending with CRLF, as they go out
    sha256: str
    content_sha256: str
    parts: dict = field(default_factory=dict, compare=False, repr=False)  # (type, policy) -> a part to copy


def encode(data: bytes, name: str, *, max_line_length: int | None = 78) -> EncodedFile:
    """``data`` as a base64 body in the lines ``EmailMessage.set_content`` makes (76 characters
    under the SMTP policy), with its digests."""
    width = (max_line_length or 78) // 4 * 4  # whole base64 groups, as the standard library cuts them
    flat = binascii.b2a_base64(data, newline=False)
    lines = [flat[i:i + width] for i in range(0, len(flat), width)]
    wire = b"".join(line + b"\r\n" for line in lines)
    return EncodedFile(name, wire.replace(b"\r\n", b"\n").decode("ascii"), wire, hashlib.sha256(data).hexdigest(),
                       content_sha256(data))


class Attachments:
    """The files of one send, each read, encoded and digested once.

    A file is known by its path, size and modification time: a file written again is read
    again. The files most recently attached are kept, up to ``keep`` bytes of encoded text
    (a send of thousands of entities, each with files of its own, does not hold them all).
    """

    def __init__(self, *, max_line_length: int | None = policy.SMTP.max_line_length, keep: int = 256 * 1_048_576):
        self.max_line_length = max_line_length
        self._files: _Kept[tuple[str, int, int]] = _Kept(keep)

    def get(self, path: Path) -> EncodedFile:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        found = self._files.get(key)
        if found is None:
            found = encode(path.read_bytes(), path.name, max_line_length=self.max_line_length)
            self._files.put(key, found)
            _KNOWN.put(found.payload, found)
        return found


def attach(message: EmailMessage, file: EncodedFile, maintype: str, subtype: str) -> None:
    """Attach ``file`` as ``message.add_attachment(data, maintype, subtype, filename=...)`` does.

    The part's headers are made once per file and type; each message gets a part of its own
    that carries those header objects (they are immutable, and taking them is not parsing them
    again) and the file's encoded body."""
    key = (maintype, subtype, message.policy)
    model = file.parts.get(key)
    if model is None:
        holder = type(message)(policy=message.policy)
        holder.add_attachment(b"", maintype=maintype, subtype=subtype, filename=file.name)
        model = file.parts[key] = list(holder.iter_parts())[-1]
    part = type(message)(policy=message.policy)
    for name, value in model.items():
        part[name] = value
    part.set_payload(file.payload)
    if message.get_content_maintype() != "multipart" or message.get_content_subtype() != "mixed":
        message.make_mixed()  # as add_attachment does
    message.attach(part)


K = TypeVar("K")


class _Kept(Generic[K]):
    """Encoded files by a key, the most recently used kept up to ``size`` bytes of text."""

    def __init__(self, size: int):
        self.size, self._bytes = size, 0
        self._kept: OrderedDict[K, EncodedFile] = OrderedDict()
        self._lock = threading.Lock()  # sends in threads of one process share the module's

    def get(self, key: K) -> EncodedFile | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: K, file: EncodedFile) -> None:
        with self._lock:
            earlier = self._kept.pop(key, None)
            if earlier is not None:
                self._bytes -= _weight(earlier)
            self._kept[key] = file
            self._bytes += _weight(file)
            while self._bytes > self.size and len(self._kept) > 1:
                self._bytes -= _weight(self._kept.popitem(last=False)[1])


def _weight(file: EncodedFile) -> int:
    return len(file.payload) + len(file.wire)


# Bodies by their base64 text: a message's attachments digested and written without decoding
# them again (the files of the current send, and any body the log digests).
_KNOWN: _Kept[str] = _Kept(128 * 1_048_576)


def _base64_body(part: EmailMessage) -> str | None:
    payload = part.get_payload()
    if part.is_multipart() or not isinstance(payload, str) or \
            str(part.get("content-transfer-encoding", "")).lower() != "base64":
        return None
    return payload


def part_digests(part: EmailMessage) -> tuple[str, str]:
    """A leaf part's ``(sha256, content_sha256)`` of its decoded body."""
    payload = _base64_body(part)
    found = _KNOWN.get(payload) if payload is not None else None
    if found is not None:
        return found.sha256, found.content_sha256
    data = part.get_payload(decode=True) or b""
    digests = hashlib.sha256(data).hexdigest(), content_sha256(data)
    if payload is not None and len(payload) >= _WHOLE:
        wire = _wire(payload)
        if wire is not None:
            _KNOWN.put(payload, EncodedFile(part.get_filename() or "", payload, wire, *digests))
    return digests


# Bodies shorter than this (base64 characters) are left to the generator.
_WHOLE = 4096


def _wire(payload: str) -> bytes | None:
    """A base64 body's lines with CRLF ends, or None when it is not in lines as set_content writes them."""
    try:
        lines = payload.encode("ascii")
    except UnicodeEncodeError:
        return None
    if not lines.endswith(b"\n") or b"\r" in lines:
        return None
    return lines.replace(b"\n", b"\r\n")


def message_bytes(message: EmailMessage) -> bytes:
    """``message.as_bytes(policy=policy.SMTP)``, the same bytes, with each base64 body put in
    whole instead of written line by line. Sets the message's multipart boundaries, as the
    generator does."""
    bodies: list[tuple[EmailMessage, str, bytes]] = []
    for part in message.walk():
        payload = _base64_body(part)
        if payload is None or len(payload) < _WHOLE:
            continue
        known = _KNOWN.get(payload)
        wire = known.wire if known is not None else _wire(payload)
        if wire is not None:
            bodies.append((part, payload, wire))
    if not bodies:
        return message.as_bytes(policy=policy.SMTP)
    # A marker no body holds (base64 has no "-"), and the generator checks the boundaries it
    # makes against it (boundaries are never base64 lines either: fifteen "=" in a row).
    marker = f"-reportlib-body-{secrets.token_hex(8)}-"
    try:
        for n, (part, _, _) in enumerate(bodies):
            part.set_payload(f"{marker}{n}\n")
        data = message.as_bytes(policy=policy.SMTP)
    finally:
        for part, payload, _ in bodies:
            part.set_payload(payload)
    pieces = data.split(marker.encode())
    out = [pieces[0]]
    for n, (piece, (_, _, wire)) in enumerate(zip(pieces[1:], bodies)):
        number, _, rest = piece.partition(b"\r\n")
        if number != str(n).encode():
            break
        out += [wire, rest]
    else:
        if len(pieces) == len(bodies) + 1:
            return b"".join(out)
    return message.as_bytes(policy=policy.SMTP)  # a header or a text quoted the marker: the generator alone
