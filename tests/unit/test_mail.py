""".eml files: headers and body, and the attachments the other loaders read, each under its own heading."""

from __future__ import annotations

import io
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.archives import ArchiveLimits
from ingest.formats import default_loaders
from ingest.loaders import Document, SkipFile
from ingest.mail import EmailLoader


def _message(
    subject: str = "Q3 supplier review", body: str = "Hi all,\n\nthe lead times are attached.\n"
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna@example.com>"
    msg["To"] = "purchasing@example.com"
    msg["Date"] = "Tue, 01 Sep 2026 09:30:00 +0200"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Escalation policy", 1)
    document.add_paragraph("A supplier late twice in a quarter is escalated to the category manager.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _load(tmp_path: Path, msg: EmailMessage, loader: EmailLoader | None = None) -> tuple[list[tuple[str, str]], tuple]:
    path = tmp_path / "review.eml"
    path.write_bytes(msg.as_bytes())
    doc = (loader or default_loaders()["eml"]).load(path, path.read_bytes())
    assert doc.file_type == "eml" and doc.title == str(msg["Subject"])
    return [(s.heading, s.text) for s in doc.sections], doc.notes


def test_headers_body_and_each_readable_attachment_become_sections(tmp_path: Path) -> None:
    msg = _message()
    msg.add_attachment(b"Supplier,Lead time (days)\nAcme GmbH,14\n", "text", "csv", filename="lead-times.csv")
    msg.add_attachment(
        _docx_bytes(),
        "application",
        "vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="policy.docx",
    )
    msg.add_attachment(b"PK\x03\x04 not read", "application", "zip", filename="photos.zip")
    sections, notes = _load(tmp_path, msg)
    assert sections[0] == (
        "Q3 supplier review",
        "From: Anna Berg <anna@example.com>\nTo: purchasing@example.com\nDate: Tue, 01 Sep 2026 09:30:00 +0200\n"
        "Subject: Q3 supplier review\n\nHi all,\n\nthe lead times are attached.",
    )
    assert ("Attachment: lead-times.csv", "lead-times - Supplier: Acme GmbH; Lead time (days): 14") in sections
    assert any(
        h.startswith("Attachment: policy.docx") and "escalated to the category manager" in t for h, t in sections
    )
    assert notes == ("attachment 'photos.zip' not indexed: unsupported type",)


def test_an_html_only_body_is_read_as_text(tmp_path: Path) -> None:
    msg = _message()
    msg.set_content("<html><body><p>Lead times <b>rise</b> in <i>October</i>.</p></body></html>", subtype="html")
    sections, _ = _load(tmp_path, msg)
    assert sections[0][1].endswith("Subject: Q3 supplier review\n\nLead times rise in October.")


def test_attachments_are_bounded_and_a_broken_one_is_noted(tmp_path: Path) -> None:
    msg = _message()
    msg.add_attachment(b"%PDF-1.4 truncated", "application", "pdf", filename="../../etc/report.pdf")
    for i in range(3):
        msg.add_attachment(f"Item,Price\nWidget {i},4\n".encode(), "text", "csv", filename=f"p{i}.csv")
    loader = EmailLoader(default_loaders(), max_attachments=2)
    sections, notes = _load(tmp_path, msg, loader)
    assert [h for h, _ in sections[1:]] == ["Attachment: p0.csv"]
    assert notes[0].startswith("attachment '.._.._etc_report.pdf' not indexed: ")
    assert notes[1] == "attachments after the first 2 not indexed"


def test_an_attached_message_is_read_as_a_message(tmp_path: Path) -> None:
    inner = _message("Re: lead times", "Acme confirms 14 days from October.\n")
    msg = _message()
    msg.add_attachment(inner)
    sections, _ = _load(tmp_path, msg)
    assert sections[1][0] == "Attachment: message-1.eml"
    assert "Subject: Re: lead times\n\nAcme confirms 14 days" in sections[1][1]


def test_what_is_not_an_email_is_skipped_with_a_reason(tmp_path: Path) -> None:
    loader = default_loaders()["eml"]
    with pytest.raises(SkipFile, match="no e-mail headers"):
        loader.load(tmp_path / "x.eml", b"just some words\nand more\n")
    with pytest.raises(SkipFile, match="not an e-mail"):
        loader.load(tmp_path / "x.eml", b"PK\x03\x04zipped")


def _csv(msg: EmailMessage, name: str, rows: int = 3) -> None:
    text = "Item,Price\n" + "".join(f"Widget {i},{i}\n" for i in range(rows))
    msg.add_attachment(text.encode(), "text", "csv", filename=name)


def test_one_budget_holds_for_a_message_and_everything_attached_to_it(tmp_path: Path) -> None:
    limits = ArchiveLimits(max_table_cells=20)
    loader = EmailLoader(default_loaders(limits), max_attachments=5, limits=limits)
    # Cells: four CSVs of 8 cells each directly attached; the third goes over the message's 20.
    msg = _message()
    for i in range(4):
        _csv(msg, f"p{i}.csv")
    sections, notes = _load(tmp_path, msg, loader)
    assert [h for h, _ in sections[1:]].count("Attachment: p1.csv") == 3
    assert notes[0] == (
        "attachment 'p2.csv' not indexed: CSV has more than 20 cells (ingest.max_table_cells, the e-mail and all its "
        "attachments together); split the file or raise the limit"
    )
    # Attachments: three attached messages of three CSVs each are 12 attachments; 5 are read in all.
    msg = _message()
    for m in range(3):
        inner = _message(f"Part {m}")
        for i in range(3):
            _csv(inner, f"m{m}-{i}.csv", rows=1)
        msg.add_attachment(inner)
    sections, notes = _load(tmp_path, msg, EmailLoader(default_loaders(), max_attachments=5))
    read = {h.split(" > ")[-1] for h, _ in sections[1:]}
    assert read == {"Attachment: message-1.eml", "Attachment: m0-0.csv", "Attachment: m0-1.csv",
                    "Attachment: m0-2.csv", "Attachment: message-2.eml"}  # fmt: skip
    assert sum(n.endswith("attachments after the first 5 not indexed") for n in notes) == 1
    # Depth: a message attached to an attached message is named, not read.
    deepest = _message("Deepest", "Not to be read.\n")
    middle = _message("Middle", "Read.\n")
    middle.add_attachment(deepest)
    msg = _message()
    msg.add_attachment(middle)
    sections, notes = _load(tmp_path, msg)
    assert not any("Not to be read" in t for _, t in sections) and any("Read." in t for _, t in sections)
    assert notes == (
        "attachment 'message-1.eml': attachment 'message-1.eml' not indexed: a message attached to an attached "
        "message is not read",
    )


def test_ocr_time_is_counted_from_the_start_of_the_file_that_carries_the_image(tmp_path: Path) -> None:
    from PIL import Image

    from ingest.budget import FileBudget
    from ingest.images import ImageLoader
    from ingest.ocr import OcrOptions

    out = io.BytesIO()
    Image.new("L", (200, 100), 255).save(out, format="PNG")
    budget = FileBudget()
    budget.started -= 60  # the message's other attachments have had the minute this file may take
    with pytest.raises(SkipFile, match="over ingest.ocr_file_timeout_s=60"):
        ImageLoader(OcrOptions(file_timeout_s=60)).load_within(Path("scan.png"), out.getvalue(), budget)


class _BrokenLoader:
    """Stands for a parser with a bug: it raises something other than SkipFile."""

    file_types: tuple[str, ...] = ("csv",)

    def load(self, path: Path, data: bytes) -> Document:
        raise ValueError("invalid literal for int() with base 10: '2x'\nsecond line")


def test_an_attachment_that_breaks_its_parser_is_noted_with_the_error_on_one_line(tmp_path: Path) -> None:
    msg = _message()
    _csv(msg, "p.csv")
    _, notes = _load(tmp_path, msg, EmailLoader({"csv": _BrokenLoader()}))
    assert notes == (
        "attachment 'p.csv' not indexed: parser error (ValueError: invalid literal for int() with base 10: '2x' "
        "second line)",
    )
