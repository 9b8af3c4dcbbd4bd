"""Where reports come from: files, folders, Maildirs, mboxes, mails, gzip and zip archives.

`report_blobs(paths)` yields, one at a time, either a `Blob` (the JSON bytes of one report,
with a label saying where it came from and a domain hinted by its name) or an `Unreadable`,
so the caller aggregates as it goes and memory stays flat however many files there are.

What a file is, is decided by its first bytes, never by its name alone (senders name
attachments freely and send gzip as `application/octet-stream`): gzip magic, zip magic,
JSON (`{` or `[` after blanks or a BOM), an mbox (`From `), a mail (a header line). Mail parts are
taken when their type is `application/tlsrpt+gzip`/`+json`, or any non-text type whose
bytes sniff as gzip, zip or JSON (RFC 8460 section 5.3 sends `application/tlsrpt+gzip`;
real senders also use `application/gzip`, `application/octet-stream`, `application/zip`).

Bounds (a hostile or broken input becomes an `Unreadable` with a reason, never a hang):
- `MAX_REPORT_BYTES`: one report's JSON, after decompression (gzip and zip bombs stop
  there: decompression reads at most one byte more than the cap);
- `MAX_MAIL_BYTES`: one mail (a plain file or one message of an mbox);
- `MAX_ARCHIVE_MEMBERS` and `MAX_ARCHIVE_BYTES`: members read from one zip, and their
  decompressed total, so many small bombs in one archive stop too;
- `MAX_NESTING`: containers inside containers (a gzip in a zip in a mail is 3);
- folders are walked once per real directory (symlink loops end), sockets, FIFOs and
  devices are skipped (reading a FIFO would wait forever), a Maildir's `tmp/` (mail being
  delivered) is not read.
"""

from __future__ import annotations

import email
import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from functools import partial
from pathlib import Path
from typing import BinaryIO, Protocol

from provisioner.reports.model import Unreadable

MAX_REPORT_BYTES = 16 * 1024 * 1024
"""One report's JSON after decompression. The largest real reports (a big receiver, every
sending IP listed in failure details) are a few MB; 16 MiB leaves room and keeps one parse
well under a few hundred MB of memory."""
MAX_MAIL_BYTES = 32 * 1024 * 1024
"""One mail: a report attachment at the cap, base64-encoded, plus headers."""
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_NESTING = 4

REPORT_TYPES = frozenset({"application/tlsrpt+gzip", "application/tlsrpt+json"})
_GZIP = b"\x1f\x8b"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_HEADER_RE = re.compile(rb"[!-9;-~]+:")
_SUBJECT_DOMAIN_RE = re.compile(r"Report[- ]Domain:\s*([^\s;]+)", re.IGNORECASE)
_READ_CHUNK = 1024 * 1024
_NOT_A_REPORT = "not a TLS-RPT report (neither JSON, gzip, zip nor mail)"
_MAIL_HEADERS = (
    *("from", "date", "subject", "to", "message-id", "received", "return-path"),
    *("mime-version", "content-type", "content-transfer-encoding"),
)
"""A file of `name: value` lines is read as mail only with one of these (RFC 5322 section
3.6, RFC 2045: a mail, or a saved MIME part); a YAML file beside the reports is not one."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class SourceError(ValueError):
    """Why an input holds no readable report (one line)."""


@dataclass(frozen=True)
class Blob:
    """One report's JSON bytes; `label` is where it came from, `domain` the policy domain
    its file name or mail subject names (used only when the report omits it)."""

    label: str
    data: bytes
    domain: str | None


Item = Blob | Unreadable


def report_blobs(paths: Sequence[Path]) -> Iterator[Item]:
    """Every report in `paths` (files and folders, walked in name order), or why not."""
    seen_dirs: set[tuple[int, int]] = set()
    for path in paths:
        yield from _path(str(path), seen_dirs)


def _path(path: str, seen_dirs: set[tuple[int, int]]) -> Iterator[Item]:
    try:
        info = Path(path).stat()
    except OSError as exc:
        yield Unreadable(path, _os_reason(exc))
        return
    if stat.S_ISDIR(info.st_mode):
        yield from _folder(path, seen_dirs)
    elif stat.S_ISREG(info.st_mode):
        yield from _guarded(path, lambda: _file(path))
    else:
        yield Unreadable(path, "not a regular file (a FIFO, socket or device); skipped")


def _folder(root: str, seen_dirs: set[tuple[int, int]]) -> Iterator[Item]:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = Path(folder).stat()
            key = (info.st_dev, info.st_ino)
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield Unreadable(folder, _os_reason(exc))
            continue
        kinds = {entry.name: _kind(entry) for entry in entries}
        maildir = kinds.get("cur") == kinds.get("new") == "dir"
        subfolders: list[str] = []
        for entry in entries:
            kind = kinds[entry.name]
            if kind == "dir":
                if not (maildir and entry.name == "tmp"):
                    subfolders.append(entry.path)
            elif maildir:
                continue  # a Maildir's own files are its index and uid lists, not mail
            elif kind == "file":
                yield from _guarded(entry.path, partial(_file, entry.path))
            else:
                yield from _path(entry.path, seen_dirs)  # a dangling link, a FIFO: say why
        stack.extend(reversed(subfolders))


def _kind(entry: os.DirEntry[str]) -> str:
    """ "dir", "file" (both after symlinks) or "other"; from the listing, no extra stat
    except for symlinks."""
    try:
        if entry.is_dir():
            return "dir"
        if entry.is_file():
            return "file"
    except OSError:
        pass
    return "other"


def _file(path: str) -> Iterator[Item]:
    file = Path(path)
    hint = _domain_from_name(file.name)
    with file.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(8)
        handle.seek(0)
        if head.startswith(b"From "):
            yield from _mbox(handle, path)
            return
        if head.startswith(_ZIP):
            yield from _zip(handle, path, 1)
            return
        if size > MAX_MAIL_BYTES:
            raise SourceError(f"file over {_size(MAX_MAIL_BYTES)}")
        data = handle.read(size + 1) if size else _read_capped(handle, MAX_MAIL_BYTES, "file")
        if len(data) > MAX_MAIL_BYTES:
            raise SourceError(f"file over {_size(MAX_MAIL_BYTES)}")
    yield from _bytes(data, path, hint, 0, top=True)


def _bytes(
    data: bytes, label: str, hint: str | None, depth: int, top: bool = False
) -> Iterator[Item]:
    """Whatever `data` holds: a report, a compressed one, an archive or a mail."""
    if depth > MAX_NESTING:
        raise SourceError(f"containers nested more than {MAX_NESTING} deep")
    if data.startswith(_GZIP):
        yield from _bytes(_gunzip(data), label, hint, depth + 1)
    elif data.startswith(_ZIP):
        yield from _zip(io.BytesIO(data), label, depth + 1)
    elif _looks_like_json(data):
        if len(data) > MAX_REPORT_BYTES:
            raise SourceError(f"report over {_size(MAX_REPORT_BYTES)}")
        yield Blob(label, data, hint)
    elif top and _looks_like_mail(data):
        yield from _mail(data, label, depth + 1)
    else:
        raise SourceError(_NOT_A_REPORT)


def _gunzip(data: bytes) -> bytes:
    """`data` decompressed (every gzip member, as `gzip` does), at most `MAX_REPORT_BYTES`:
    zlib stops producing output at the cap, so a bomb costs no more than the cap."""
    out: list[bytes] = []
    room = MAX_REPORT_BYTES + 1
    rest = data
    try:
        while rest[:2] == _GZIP:
            member = zlib.decompressobj(wbits=31)
            chunk = member.decompress(rest, room)
            out.append(chunk)
            room -= len(chunk)
            if room <= 0:
                raise SourceError(
                    f"decompressed report over {_size(MAX_REPORT_BYTES)} (the cap per report)"
                )
            if not member.eof:
                raise SourceError(
                    "corrupt gzip: Compressed file ended before the end-of-stream marker "
                    "was reached"
                )
            rest = member.unused_data.lstrip(b"\0")
    except zlib.error as exc:
        raise SourceError(f"corrupt gzip: {exc}") from None
    if rest:
        raise SourceError("corrupt gzip: data after the compressed stream")
    return b"".join(out)


def _zip(handle: BinaryIO, label: str, depth: int) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(f"corrupt zip: {exc}") from None
    with archive:
        budget = MAX_ARCHIVE_BYTES
        members = [info for info in archive.infolist() if not info.is_dir()]
        if not members:
            raise SourceError("empty zip archive")
        for number, info in enumerate(members):
            member_label = f"{label}!{info.filename}"
            if number >= MAX_ARCHIVE_MEMBERS:
                yield Unreadable(
                    label, f"more than {MAX_ARCHIVE_MEMBERS} members; the rest are not read"
                )
                return
            if budget <= 0:
                yield Unreadable(
                    label,
                    f"over {_size(MAX_ARCHIVE_BYTES)} decompressed; the rest are not read",
                )
                return

            def member(
                info: zipfile.ZipInfo = info, member_label: str = member_label
            ) -> Iterator[Item]:
                nonlocal budget
                with archive.open(info) as stream:
                    data = _read_capped(stream, MAX_REPORT_BYTES, "decompressed member")
                budget -= len(data)
                yield from _bytes(data, member_label, _domain_from_name(info.filename), depth)

            yield from _guarded(member_label, member)


def _mbox(handle: BinaryIO, label: str) -> Iterator[Item]:
    """Each message of an mbox, split on `From ` lines after a blank line, bounded."""
    number = 0
    parts: list[bytes] = []
    size = 0
    too_big = False
    previous_blank = True
    at_line_start = True

    def flush() -> Iterator[Item]:
        message_label = f"{label}!message {number}"
        if too_big:
            yield Unreadable(message_label, f"mail over {_size(MAX_MAIL_BYTES)}")
        elif parts:
            data = b"".join(parts)
            yield from _guarded(message_label, lambda: _mail(data, message_label, 1))

    while True:
        line = handle.readline(_READ_CHUNK)
        if not line:
            break
        if at_line_start and previous_blank and line.startswith(b"From "):
            yield from flush()
            number += 1
            parts, size, too_big = [], 0, False
        elif not too_big:
            size += len(line)
            if size > MAX_MAIL_BYTES:
                too_big, parts = True, []
            else:
                parts.append(line)
        ended = line.endswith(b"\n")
        if at_line_start:
            previous_blank = line.strip() == b""
        at_line_start = ended
    yield from flush()


def _mail(data: bytes, label: str, depth: int) -> Iterator[Item]:
    message = email.message_from_bytes(data)
    if not any(name in message for name in _MAIL_HEADERS):  # `version: 1` is no mail
        raise SourceError(_NOT_A_REPORT)
    hint = _domain_from_subject(message)
    found = 0
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type.startswith(("text/", "message/")) and content_type != "text/json":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        named = content_type in REPORT_TYPES
        if not (named or _sniffs_as_report(payload)):
            continue
        found += 1
        part_label = f"{label}!{_part_name(part, index)}"
        part_hint = _domain_from_name(part.get_filename() or "") or hint

        def attached(
            payload: bytes = payload,
            part_label: str = part_label,
            part_hint: str | None = part_hint,
        ) -> Iterator[Item]:
            yield from _bytes(payload, part_label, part_hint, depth)

        yield from _guarded(part_label, attached)
    if not found:
        raise SourceError("no TLS-RPT report in this mail")


def _guarded(label: str, produce: Callable[[], Iterator[Item]]) -> Iterator[Item]:
    """Run a producer of items; any failure becomes one `Unreadable` line for `label`."""
    try:
        yield from produce()
    except SourceError as exc:
        yield Unreadable(label, str(exc))
    except OSError as exc:
        yield Unreadable(label, _os_reason(exc))
    except RecursionError:
        yield Unreadable(label, "nested too deeply")
    except Exception as exc:  # a parser's surprise about hostile bytes is still one line
        yield Unreadable(label, one_line(f"cannot read: {type(exc).__name__}: {exc}"))


def _read_capped(stream: _Readable, cap: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise SourceError(f"{what} over {_size(cap)} (the cap per report)")


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit:,} bytes"


def _sniffs_as_report(data: bytes) -> bool:
    return data.startswith(_GZIP) or data.startswith(_ZIP) or _looks_like_json(data)


def _looks_like_json(data: bytes) -> bool:
    return data[:4096].lstrip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")


def _looks_like_mail(data: bytes) -> bool:
    return _HEADER_RE.match(data.lstrip(b"\r\n")[:1000]) is not None


def _part_name(part: Message, index: int) -> str:
    name = part.get_filename()
    return one_line(name) if name else f"part {index}"


def _domain_from_name(name: str) -> str | None:
    """`receiver!policy-domain!begin!end[!id].json[.gz]` (RFC 8460 section 5.3)."""
    pieces = Path(name).name.split("!")
    return pieces[1] if len(pieces) >= 4 and pieces[1] else None


def _domain_from_subject(message: Message) -> str | None:
    """`Subject: Report Domain: example.com Submitter: ... Report-ID: <...>` (section 5.3)."""
    subject = message.get("Subject")
    match = _SUBJECT_DOMAIN_RE.search(str(subject)) if subject else None
    return match.group(1) if match else None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def one_line(text: str, limit: int = 300) -> str:
    """A reason as one line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
