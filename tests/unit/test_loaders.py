from pathlib import Path

import pytest

from ingest.formats import default_loaders
from ingest.loaders import (
    PdfLoader,
    SkipFile,
    TextLoader,
    UnstructuredLoader,
    decode_text,
    file_type_of,
)
from tests.conftest import SAMPLE, write_corpus

CASES = {
    "hr/code-of-conduct.pdf": ("pdf", "Code of Conduct", "ethics hotline at extension 4400"),
    "hr/benefits.docx": ("docx", "Employee Benefits", "80 percent of the premium"),
    "engineering/onboarding.pptx": ("pptx", "Engineering Onboarding", "allowance of 300 euros per shift"),
    "it/vpn-setup.html": ("html", "VPN Setup Guide", "times out after 12 hours"),
    "hr/leave-policy.md": ("md", "Leave Policy", "16 weeks of fully paid parental leave"),
    "finance/expenses.txt": ("txt", "Expense Claims", "paid with the next monthly salary run"),
}


@pytest.mark.parametrize("rel", sorted(CASES))
def test_each_format_yields_its_text_title_and_structure(rel: str) -> None:
    path = SAMPLE / rel
    file_type, title, phrase = CASES[rel]
    doc = default_loaders()[file_type_of(path) or ""].load(path, path.read_bytes())
    assert doc.file_type == file_type
    assert doc.title == title
    assert any(phrase in s.text for s in doc.sections)


def test_pdf_sections_carry_page_numbers() -> None:
    path = SAMPLE / "hr" / "code-of-conduct.pdf"
    doc = PdfLoader().load(path, path.read_bytes())
    assert doc.pages == 3
    pages = {s.page: s.text for s in doc.sections}
    assert "Gifts from suppliers" in pages[2]
    assert "dismissal" in pages[3]


def test_slides_are_pages_and_headings_nest() -> None:
    path = SAMPLE / "engineering" / "onboarding.pptx"
    doc = UnstructuredLoader().load(path, path.read_bytes())
    assert [s.page for s in doc.sections] == [1, 2, 3, 4]
    md = SAMPLE / "hr" / "leave-policy.md"
    sections = UnstructuredLoader().load(md, md.read_bytes()).sections
    assert any(s.heading == "Leave Policy > Sick leave" and "doctor's note" in s.text for s in sections)


def test_non_utf8_text_is_decoded_not_skipped() -> None:
    text = decode_text("Prix du café: 2 euros à Zürich.\n".encode("latin-1"))
    assert "café" in text and "Zürich" in text


def test_every_broken_file_gets_a_one_line_reason(tmp_path: Path) -> None:
    expected = write_corpus(tmp_path)
    loaders = default_loaders()
    for rel, fragment in expected.items():
        path = tmp_path / rel
        file_type = file_type_of(path)
        if file_type is None or rel == "broken/loop.md" or not path.read_bytes().strip():
            continue  # handled before loading (unsupported, unreadable, empty): see the ingest tests
        with pytest.raises(SkipFile) as info:
            loaders[file_type].load(path, path.read_bytes())
        reason = str(info.value)
        assert fragment.lower() in reason.lower(), (rel, reason)
        assert "\n" not in reason


def test_text_title_is_first_short_line() -> None:
    doc = TextLoader().load(Path("faq.txt"), b"Password FAQ\n\nHow long? 14 characters.")
    assert doc.title == "Password FAQ"
