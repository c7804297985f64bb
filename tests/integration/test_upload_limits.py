"""Uploads from the page under attack: decompression bombs, files that parse too long or too big, upload floods.
Parsing runs in a child process bounded in time and memory; the server process only embeds and writes."""

from __future__ import annotations

import io
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from serving.access.identity import LOCAL, Identity
from serving.access.quotas import OverLimit
from tests.bombs import docx, docx_bomb
from tests.conftest import SAMPLE, make_settings

pytestmark = pytest.mark.integration


def _assistant(tmp_path: Path, embedder: Any, **sections: dict[str, Any]) -> Any:
    from ingest.indexer import build_indexer
    from serving.app import Assistant

    index = tmp_path / "index"
    build_indexer(make_settings(index), embedder=embedder).run([SAMPLE / "it"])
    settings = make_settings(
        index,
        llm={"backend": "extractive"},
        **{"serving": {"uploads_dir": str(tmp_path / "uploads")}, **sections},
    )
    return Assistant(settings, index)


def _note(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"# {name}\n\n{text}\n")
    return path


def test_a_zip_bomb_upload_is_refused_before_parsing_and_leaves_nothing(tmp_path: Path, embedder: Any) -> None:
    assistant = _assistant(tmp_path, embedder)
    (tmp_path / "in").mkdir()
    bomb = docx_bomb(tmp_path / "in" / "report.docx", 300)  # ~1 MB on disk, 300 MB of XML
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = assistant.ingest_upload([bomb], "facilities", LOCAL)
    assert "skipped report.docx" in message and "decompression bomb" in message, message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # kB: nothing unpacked here
    assert not (tmp_path / "uploads" / "facilities" / "report.docx").exists()  # the refused copy is gone
    ok = _note(tmp_path, "canteen.md", "The canteen serves lunch from 11:30 to 14:00 on weekdays.")
    assert "Indexed 1 file(s) into **facilities**" in assistant.ingest_upload([ok], "facilities", LOCAL)
    assert "11:30" in assistant.chain.answer("When does the canteen serve lunch?").text


def test_a_file_that_parses_too_long_is_killed_and_refused_and_the_next_upload_works(
    tmp_path: Path, embedder: Any
) -> None:
    assistant = _assistant(
        tmp_path,
        embedder,
        serving={"uploads_dir": str(tmp_path / "uploads"), "upload_parse_timeout_s": 5},
        ingest={"max_compression_ratio": 100_000},  # let the archive check pass: only the time limit is tested
    )
    good = docx(tmp_path / "minutes.docx", "<w:p><w:r><w:t>The board meets on Tuesdays at nine.</w:t></w:r></w:p>")
    assert "Indexed 1 file(s)" in assistant.ingest_upload([good], "board", LOCAL)
    (tmp_path / "in").mkdir()
    slow = docx(tmp_path / "in" / "minutes.docx", "<w:p/>" * 1_000_000)  # 10 kB; about a minute of parsing
    message = assistant.ingest_upload([slow], "board", LOCAL)
    assert "skipped minutes.docx: parsing took longer than serving.upload_parse_timeout_s=5 s" in message, message
    # The refused copy is taken out and the file it replaced put back: the folder matches the index.
    stored = tmp_path / "uploads" / "board" / "minutes.docx"
    assert stored.read_bytes() == good.read_bytes()
    assert "Tuesdays" in assistant.chain.answer("When does the board meet?").text
    ok = _note(tmp_path, "canteen.md", "The canteen serves lunch from 11:30 to 14:00 on weekdays.")
    message = assistant.ingest_upload([ok], "board", LOCAL)
    assert "Indexed 1 file(s) into **board**" in message and "1 unchanged" in message, message


def test_a_file_that_needs_more_memory_than_allowed_is_refused(tmp_path: Path, embedder: Any) -> None:
    assistant = _assistant(
        tmp_path,
        embedder,
        serving={"uploads_dir": str(tmp_path / "uploads"), "upload_parse_max_mb": 1024},
        ingest={"max_compression_ratio": 100_000},
    )
    (tmp_path / "in").mkdir()
    heavy = docx_bomb(tmp_path / "in" / "heavy.docx", 60)  # parsing it takes well over a GB
    message = assistant.ingest_upload([heavy], "facilities", LOCAL)
    assert "skipped heavy.docx" in message and "serving.upload_parse_max_mb=1024" in message, message
    assert not (tmp_path / "uploads" / "facilities" / "heavy.docx").exists()


def test_uploads_count_against_the_rate_limit(tmp_path: Path, embedder: Any) -> None:
    assistant = _assistant(
        tmp_path, embedder, limits={"requests_per_minute": 2}, access={"upload": {"editors": ["facilities"]}}
    )
    rita = Identity("rita", frozenset({"editors"}), "key")
    notes = [_note(tmp_path, f"note{i}.md", f"Note number {i} about the canteen.") for i in range(3)]
    assert "Indexed 1 file(s)" in assistant.ingest_upload([notes[0]], "facilities", rita)
    assert "Indexed 1 file(s)" in assistant.ingest_upload([notes[1]], "facilities", rita)
    with pytest.raises(OverLimit, match="too many requests"):
        assistant.ingest_upload([notes[2]], "facilities", rita)
    assert not (tmp_path / "uploads" / "facilities" / "note2.md").exists()  # refused before anything was copied
    assert "Indexed 1 file(s)" in assistant.ingest_upload([notes[2]], "facilities", LOCAL)  # another identity


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract (make tesseract)")
def test_a_timed_out_parse_leaves_no_process_behind(tmp_path: Path) -> None:
    import psutil
    from PIL import Image, ImageDraw

    from ingest.archives import ArchiveLimits
    from ingest.loaders import SkipFile
    from ingest.ocr import OcrOptions
    from ingest.sandbox import IsolatedLoader

    image = Image.new("L", (3000, 3000), 255)
    draw = ImageDraw.Draw(image)
    for i in range(20_000):  # dense text: tesseract needs far longer than the 3 s allowed
        draw.text(((i * 7919) % 2990, (i * 104_729) % 2990), "Invoice 42", fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    loader = IsolatedLoader(ArchiveLimits(), timeout_s=3, max_mb=4096, ocr=OcrOptions(engine="tesseract", threads=1))
    try:
        loader.load(Path("warm.md"), b"# Warm\n\nThe parser process is started.\n")
        (child,) = [p for p in psutil.Process().children() if "ingest.sandbox" in " ".join(p.cmdline())]
        with pytest.raises(SkipFile, match="longer than serving.upload_parse_timeout_s=3 s"):
            loader.load(Path("scan.png"), out.getvalue())
        time.sleep(0.5)
        left = [p.pid for p in psutil.process_iter() if _running_in(p, child.pid)]
        assert left == []  # the tesseract the child started was ended with it (a zombie left to reap is not running)
    finally:
        loader.close()


def _running_in(process: Any, session: int) -> bool:
    import psutil

    try:
        return os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE
    except (OSError, psutil.Error):  # it ended while we looked
        return False
