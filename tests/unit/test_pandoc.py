"""EPUB, ODT and RTF read through pandoc (the binary in pypandoc-binary): the files are written by pandoc itself from
one Markdown source, as an editor or an e-book tool would write them."""

from __future__ import annotations

import io
import re
import subprocess  # nosec B404
import zipfile
from pathlib import Path

import pytest

from ingest.archives import ArchiveLimits
from ingest.documents import SkipFile
from ingest.formats import default_loaders
from ingest.pandoc import pandoc_path

SOURCE = """---
title: Purchasing handbook
---

# Suppliers

Orders above 2,000 euros need a second quote. Ask Procurement before you sign anything.

## Lead times

| Supplier | Lead time (days) | Country |
|---|---|---|
| Kestrel Optics | 23 | UK |
| Praxiteles Marble | 63 | GR |
| Acme GmbH | 14 | DE |

## Returning goods

1. Open a return in the supplier portal.
2. Print the label and pack the goods.
3. Book the courier within thirty days.

    portal return --order 1234
"""


def write(tmp_path: Path, fmt: str, source: str = SOURCE) -> Path:
    src = tmp_path / "handbook.md"
    src.write_text(source, encoding="utf-8")
    out = tmp_path / f"handbook.{fmt}"
    subprocess.run([pandoc_path(), str(src), "-s", "-o", str(out)], check=True, capture_output=True)  # nosec B603
    return out


@pytest.mark.parametrize("fmt", ["epub", "odt", "rtf"])
def test_headings_rows_steps_and_title_survive(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, fmt)
    doc = default_loaders()[fmt].load(path, path.read_bytes())
    assert doc.file_type == fmt
    texts = [s.text for s in doc.sections]
    rows = [t for t in texts if t.startswith("Lead times - ")]
    assert rows == [
        "Lead times - Supplier: Kestrel Optics; Lead time (days): 23; Country: UK",
        "Lead times - Supplier: Praxiteles Marble; Lead time (days): 63; Country: GR",
        "Lead times - Supplier: Acme GmbH; Lead time (days): 14; Country: DE",
    ]
    returning = next(s for s in doc.sections if s.heading.endswith("Returning goods"))
    assert "Suppliers" in returning.heading
    steps = [line for line in returning.text.split("\n") if line.strip()]
    assert steps[1].endswith("Open a return in the supplier portal.") and steps[1][:2] in ("- ", "1.")
    assert steps[3].endswith("Book the courier within thirty days.")
    assert any("Orders above 2,000 euros need a second quote." in t for t in texts)


def test_the_title_is_the_documents_own(tmp_path: Path) -> None:
    path = write(tmp_path, "epub")
    assert default_loaders()["epub"].load(path, path.read_bytes()).title == "Purchasing handbook"
    untitled = write(tmp_path, "rtf", SOURCE.split("---\n", 2)[2])
    assert default_loaders()["rtf"].load(untitled, untitled.read_bytes()).title == "Suppliers"


def test_bad_files_get_a_one_line_reason(tmp_path: Path) -> None:
    loaders = default_loaders()
    for fmt, data, reason in [
        ("epub", b"%PDF-1.7 not an e-book", "not a valid EPUB (not a zip package)"),
        ("odt", b"PK\x03\x04 truncated", "not a valid ODT (damaged zip package"),
        ("rtf", b"plain text pretending", "not a valid RTF"),
    ]:
        with pytest.raises(SkipFile, match=re.escape(reason)) as caught:
            loaders[fmt].load(tmp_path / f"x.{fmt}", data)
        assert "\n" not in str(caught.value)
    # a zip that is not an e-book: pandoc's own reason, on one line
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hello")
    with pytest.raises(SkipFile, match="cannot parse EPUB") as caught:
        loaders["epub"].load(tmp_path / "x.epub", buf.getvalue())
    assert "\n" not in str(caught.value)


def test_a_zip_bomb_is_refused_before_pandoc_unpacks_it(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("EPUB/big.xhtml", b"a" * (3 * 1024 * 1024))
    loaders = default_loaders(ArchiveLimits(max_unpacked_mb=2))
    with pytest.raises(SkipFile, match=r"ingest\.max_(unpacked_mb|compression_ratio)"):
        loaders["epub"].load(tmp_path / "bomb.epub", buf.getvalue())


def test_one_clock_for_a_file_and_what_it_carries(tmp_path: Path) -> None:
    """An e-mail's attachments share the file's 120 s: a budget already spent refuses before pandoc runs."""
    import time

    from ingest.budget import FileBudget
    from ingest.pandoc import PANDOC_TIMEOUT_S, PandocLoader

    path = write(tmp_path, "rtf")
    spent = FileBudget()
    spent.started = time.monotonic() - PANDOC_TIMEOUT_S - 1
    with pytest.raises(SkipFile, match="no time left"):
        PandocLoader().load_within(path, path.read_bytes(), spent)
    assert PandocLoader().load_within(path, path.read_bytes(), FileBudget()).sections  # a fresh clock reads it


def test_an_rtf_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "rtf")
    doc = default_loaders()["rtf"].load(path, b"\xef\xbb\xbf" + path.read_bytes())
    assert any("second quote" in s.text for s in doc.sections)
