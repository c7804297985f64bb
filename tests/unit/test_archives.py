"""Zip-based documents are checked for what they unpack to before any parser sees them (decompression bombs)."""

from __future__ import annotations

import os
import resource
import zipfile
from pathlib import Path

import pytest

from configs.settings import IngestSettings
from ingest.archives import ArchiveLimits
from ingest.formats import default_loaders
from ingest.loaders import SkipFile, UnstructuredLoader
from tests.bombs import docx, docx_bomb, understate_sizes
from tests.conftest import SAMPLE


def _load(path: Path, limits: ArchiveLimits | None = None) -> str:
    """The loader's skip reason for the file ('' when it loads)."""
    try:
        default_loaders(limits)["docx"].load(path, path.read_bytes())
    except SkipFile as exc:
        return str(exc)
    return ""


def test_a_300_mb_docx_bomb_is_refused_without_being_unpacked(tmp_path: Path) -> None:
    bomb = docx_bomb(tmp_path / "bomb.docx", 300)
    assert bomb.stat().st_size < 2 * 1024 * 1024  # a file far below every size limit on disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reason = _load(bomb, ArchiveLimits.of(IngestSettings()))
    assert "decompression bomb" in reason and "ingest.max_compression_ratio=100" in reason
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # kB: nothing was unpacked
    generous = ArchiveLimits(max_compression_ratio=1000)
    assert "unpacks to more than 200 MB (ingest.max_unpacked_mb)" in _load(bomb, generous)


def test_total_unpacked_size_entry_count_and_compression_method_are_limited(tmp_path: Path) -> None:
    noise = os.urandom(600_000).hex()  # 1.2 MB of text that barely compresses: a low ratio, a large size
    big = docx(tmp_path / "big.docx", f"<w:p><w:r><w:t>{noise}</w:t></w:r></w:p>")
    assert _load(big, ArchiveLimits()) == ""
    assert "unpacks to more than 1 MB (ingest.max_unpacked_mb)" in _load(big, ArchiveLimits(max_unpacked_mb=1))
    assert "holds 3 parts, over ingest.max_archive_entries=2" in _load(big, ArchiveLimits(max_entries=2))
    odd = tmp_path / "bzip2.docx"
    with zipfile.ZipFile(big) as src, zipfile.ZipFile(odd, "w", zipfile.ZIP_BZIP2) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
    assert "compression method 12" in _load(odd)


def test_a_header_that_understates_the_size_cannot_make_the_parser_unpack_more(tmp_path: Path) -> None:
    """The check trusts declared sizes; zipfile, which the parsers read through, stops at them (then fails the
    CRC), so a lying header gets a damaged-file reason, not the real size unpacked."""
    liar = docx_bomb(tmp_path / "liar.docx", 50)
    understate_sizes(liar, "word/document.xml", 4000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reason = _load(liar)
    assert "cannot parse DOCX" in reason and "CRC" in reason
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024


@pytest.mark.parametrize("name", ["hr/benefits.docx", "finance/travel-policy.docx", "engineering/onboarding.pptx"])
def test_real_office_files_pass_the_default_limits(name: str) -> None:
    path = SAMPLE / name
    doc = UnstructuredLoader(ArchiveLimits.of(IngestSettings())).load(path, path.read_bytes())
    assert doc.chars > 100


def test_the_limits_come_from_the_ingest_settings() -> None:
    settings = IngestSettings(max_unpacked_mb=5, max_compression_ratio=20, max_archive_entries=7)
    assert ArchiveLimits.of(settings) == ArchiveLimits(5, 20, 7)
