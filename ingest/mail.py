"""E-mail files (.eml): the headers and body, and each attachment of a supported type read by its own loader.

An attachment is indexed inside its message, as sections headed "Attachment: NAME", not as a file of its own: the
message is one file in the manifest, so a changed, moved or deleted .eml takes its attachments with it in the same
crash-safe write, and nothing is ever unpacked to disk. A hit from an attachment names the .eml as its source and the
attachment (and its page) in its section.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

from ingest.archives import ArchiveLimits
from ingest.budget import FileBudget, SharedBudgetLoader
from ingest.documents import Document, Loader, Section, SkipFile, file_type_of

logger = logging.getLogger(__name__)

MAX_ATTACHMENTS = 20  # attachments read per .eml file, those of an attached message included; the rest are noted
MAX_DEPTH = 1  # an attached message is read; a message attached to it is only named in the notes
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header (bad encoded word, broken address list) costs only that header
        value = msg.get_all(name, failobj=[""])[0] if hasattr(msg, "get_all") else ""
    return " ".join(str(value or "").split())[:1000]


def _text_of(part: Message) -> str:
    """A text part's content in its declared charset (or UTF-8 with replacements when that is unknown)."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _attachment_name(part: Message, number: int) -> str:
    name = part.get_filename() or ""
    if not name and part.get_content_type() == "message/rfc822":
        name = f"message-{number}.eml"
    name = _UNSAFE.sub("_", name).strip() or f"attachment-{number}"
    return name[-200:]


@dataclass
class _Reading:
    """One .eml file being read: the budget its whole tree of attachments shares, and the attachments opened."""

    budget: FileBudget
    opened: int = 0
    full: bool = False  # the attachment limit was reached (and noted once)


class EmailLoader:
    """RFC 5322 messages with MIME parts (stdlib email, policy.default): From, To, Cc, Date and Subject, the plain
    body (else the HTML body as text), then the attachments the other loaders read. The file's limits hold for the
    message and everything attached to it together, not for each attachment: at most MAX_ATTACHMENTS attachments in
    all, one count of table cells and of characters, one OCR time bound; an attached message is read, the messages
    attached to it are not."""

    file_types: tuple[str, ...] = ("eml",)

    def __init__(
        self, loaders: Mapping[str, Loader], max_attachments: int = MAX_ATTACHMENTS, limits: ArchiveLimits | None = None
    ) -> None:
        self._loaders = loaders
        self._max = max_attachments
        self._limits = limits or ArchiveLimits()

    def load(self, path: Path, data: bytes) -> Document:
        if data[:5] == b"%PDF-" or data[:4] == b"PK\x03\x04":
            raise SkipFile("content is a PDF or zip file, not an e-mail; give it its real extension")
        try:
            msg = BytesParser(policy=policy.default).parsebytes(data)
        except Exception as exc:  # the parser is lenient; this is a last resort
            raise SkipFile(f"cannot parse e-mail ({type(exc).__name__}: {str(exc)[:120]})") from exc
        assert isinstance(msg, EmailMessage)
        budget = FileBudget(self._limits, scope=", the e-mail and all its attachments together")
        return self._read(path, msg, _Reading(budget), 0)

    def _read(self, path: Path, msg: EmailMessage, reading: _Reading, depth: int) -> Document:
        """The message's sections; an attached message is already parsed (with the file), so it is read as is."""
        headers = [(name, _header(msg, name)) for name in _HEADERS]
        present = [f"{name}: {value}" for name, value in headers if value]
        if not present:
            raise SkipFile("no e-mail headers (From, To, Date, Subject); is it really an .eml file?")
        subject = dict(headers)["Subject"]
        title = subject or path.stem
        body = self._body(msg)
        sections = [Section("\n".join(present) + (f"\n\n{body}" if body else ""), heading=title)]
        reading.budget.take_chars(len(sections[0].text), "e-mail")
        notes: list[str] = []
        for number, part in enumerate(msg.iter_attachments(), 1):
            name = _attachment_name(part, number)
            if reading.full:
                break
            if reading.opened >= self._max:
                reading.full = True
                notes.append(f"attachments after the first {self._max} not indexed")
                break
            more, why = self._attachment(part, name, reading, depth)
            sections += more
            notes += why
        for note in notes:
            logger.info("%s: %s", path, note)
        return Document(path, "eml", title, tuple(sections), notes=tuple(notes))

    def _body(self, msg: EmailMessage) -> str:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        text = _text_of(part)
        if part.get_content_type() == "text/html" and text.strip() and "html" in self._loaders:
            try:
                doc = self._loaders["html"].load(Path("body.html"), text.encode("utf-8"))
                text = "\n\n".join(s.text for s in doc.sections)
            except SkipFile:
                text = ""
        return text.replace("\r\n", "\n").replace("\x00", "").strip()

    def _attachment(self, part: Message, name: str, reading: _Reading, depth: int) -> tuple[list[Section], list[str]]:
        """The attachment's sections under 'Attachment: NAME', or a note saying why it is not indexed."""
        file_type = file_type_of(Path(name))
        loader = self._loaders.get(file_type or "")
        inner: EmailMessage | None = None
        if part.get_content_type() == "message/rfc822":
            if depth >= MAX_DEPTH:
                return [], [f"attachment {name!r} not indexed: a message attached to an attached message is not read"]
            payload = part.get_payload()
            payload = payload[0] if isinstance(payload, list) and payload else payload
            inner = payload if isinstance(payload, EmailMessage) else None
            data = b"message" if inner is not None else b""
            loader, file_type = self, "eml"
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        if loader is None:
            return [], [f"attachment {name!r} not indexed: unsupported type"]
        if not data.strip():
            return [], [f"attachment {name!r} not indexed: empty"]
        reading.opened += 1  # what is only named in a note is not counted
        try:
            if inner is not None:
                doc = self._read(Path(name), inner, reading, depth + 1)
            elif isinstance(loader, SharedBudgetLoader):  # it counts what it reads as it reads it
                doc = loader.load_within(Path(name), data, reading.budget)
            else:
                doc = loader.load(Path(name), data)
                reading.budget.take_chars(doc.chars, (file_type or "attachment").upper())
        except SkipFile as exc:
            return [], [f"attachment {name!r} not indexed: {exc}"]
        except Exception as exc:  # a parser bug on one attachment must not lose the message
            logger.exception("unexpected error parsing attachment %s", name)
            detail = " ".join(str(exc).split())[:120]
            return [], [f"attachment {name!r} not indexed: parser error ({type(exc).__name__}: {detail})"]
        sections = []
        for s in doc.sections:
            heading = f"Attachment: {name}" + (f", page {s.page}" if s.page else "")
            heading += f" > {s.heading}" if s.heading and s.heading != doc.title else ""
            sections.append(Section(s.text, heading=heading))
        return sections, [f"attachment {name!r}: {note}" for note in doc.notes]
