"""OCR: images and scanned PDF pages read by the real engines, on small images drawn here."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ingest.formats import default_loaders
from ingest.images import ImageLoader
from ingest.loaders import PdfLoader, SkipFile
from ingest.ocr import OcrOptions, RapidOcrEngine, TesseractEngine
from retrieval.types import ChunkMeta
from serving.answer.citations import Citation
from tests.conftest import SAMPLE

AUDIT = ("The quarterly audit found seven", "unlabelled backup tapes in Room 12.")
LEDGER = ("Visitors must sign the blue ledger", "at the north entrance before noon.")


def scan(lines: tuple[str, ...], width: int = 760) -> Image.Image:
    """A small page of black text on white, as a scanner would give it."""
    font = ImageFont.load_default(size=26)  # Pillow's bundled font: no system font needed
    image = Image.new("L", (width, 50 + 44 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((24, 24 + 44 * i), line, fill=0, font=font)
    return image


def blank() -> Image.Image:
    return Image.new("L", (760, 140), 255)


def encode(images: list[Image.Image], fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    images[0].save(out, format=fmt, save_all=len(images) > 1, append_images=images[1:], **options)
    return out.getvalue()


def says(text: str, *phrases: str) -> bool:
    """Every phrase is in the text, ignoring case and spaces (PP-OCR may join two words of a small font)."""
    compact = "".join(text.lower().split())
    return all("".join(p.lower().split()) in compact for p in phrases)


def test_an_image_is_read_by_ocr_and_marked() -> None:
    doc = default_loaders()["png"].load(Path("notice.png"), encode([scan(AUDIT)], "PNG"))
    assert doc.file_type == "png" and doc.title == "notice" and doc.pages == 1
    (section,) = doc.sections
    assert section.ocr and section.page is None
    assert says(section.text, "quarterly audit found seven", "unlabelled backup tapes in Room 12")


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_scanned_pdf_pages_are_read_with_their_page_numbers_and_a_blank_page_is_reported(engine: str) -> None:
    data = encode([scan(LEDGER), blank(), scan(AUDIT)], "PDF", resolution=100)
    doc = PdfLoader(OcrOptions(engine=engine)).load(Path("scan.pdf"), data)  # type: ignore[arg-type]
    assert doc.pages == 3
    assert [(s.page, s.ocr) for s in doc.sections] == [(1, True), (3, True)]
    assert says(doc.sections[0].text, "sign the blue ledger", "north entrance")
    assert says(doc.sections[1].text, "quarterly audit", "backup tapes")
    assert doc.warnings == ("page 2: no text found by OCR",)


def test_only_pages_without_a_text_layer_are_ocrd() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(SAMPLE / "hr" / "code-of-conduct.pdf").pages:  # 3 pages with a text layer
        writer.add_page(page)
    writer.add_page(PdfReader(io.BytesIO(encode([scan(LEDGER)], "PDF", resolution=100))).pages[0])
    out = io.BytesIO()
    writer.write(out)
    doc = PdfLoader().load(Path("mixed.pdf"), out.getvalue())
    assert [(s.page, s.ocr) for s in doc.sections] == [(1, False), (2, False), (3, False), (4, True)]
    assert "Gifts from suppliers" in doc.sections[1].text  # the text layer, verbatim
    assert says(doc.sections[3].text, "blue ledger")


def test_multi_page_tiff_pages_are_pages() -> None:
    data = encode([scan(AUDIT), blank(), scan(LEDGER)], "TIFF", compression="tiff_lzw")
    doc = ImageLoader().load(Path("fax.tiff"), data)
    assert doc.file_type == "tiff" and doc.pages == 3
    assert [s.page for s in doc.sections] == [1, 3] and all(s.ocr for s in doc.sections)
    assert says(doc.sections[0].text, "quarterly audit") and says(doc.sections[1].text, "blue ledger")
    assert doc.warnings == ("page 2: no text found by OCR",)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds almost nothing: the shape of a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(10_000, 10_000), (100_000, 100_000)])
def test_an_image_over_the_pixel_limit_is_refused_unread(width: int, height: int) -> None:
    with pytest.raises(SkipFile) as info:
        ImageLoader().load(Path("bomb.png"), _png_header(width, height))
    reason = str(info.value)
    assert "over ingest.ocr_max_pixels=50000000" in reason and "\n" not in reason


def test_a_blank_image_and_a_broken_one_are_skipped_with_a_reason() -> None:
    with pytest.raises(SkipFile, match="no text found by OCR"):
        ImageLoader().load(Path("white.png"), encode([blank()], "PNG"))
    with pytest.raises(SkipFile, match="not a readable JPG image"):
        ImageLoader().load(Path("photo.jpg"), b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    with pytest.raises(SkipFile, match="not a readable PNG image"):  # a decoder we do not allow (EPS)
        ImageLoader().load(Path("drawing.png"), b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")


def test_ocr_off_skips_images_and_leaves_scanned_pages_out() -> None:
    off = OcrOptions(engine="off")
    with pytest.raises(SkipFile, match="OCR, which is off"):
        ImageLoader(off).load(Path("notice.png"), encode([scan(AUDIT)], "PNG"))
    with pytest.raises(SkipFile, match="set ingest.ocr: auto"):
        PdfLoader(off).load(Path("scan.pdf"), encode([scan(AUDIT)], "PDF", resolution=100))


def test_a_file_over_its_ocr_time_reports_the_pages_left_unread() -> None:
    data = encode([scan(LEDGER), scan(AUDIT)], "PDF", resolution=100)
    with pytest.raises(SkipFile) as info:
        PdfLoader(OcrOptions(file_timeout_s=1e-9)).load(Path("slow.pdf"), data)
    assert "page(s) 1, 2: not read by OCR (over ingest.ocr_file_timeout_s=1e-09)" in str(info.value)


def test_both_engines_read_the_same_page() -> None:
    for engine in (TesseractEngine(), RapidOcrEngine()):
        assert says(engine.read(scan(AUDIT)), *AUDIT), engine.name


def test_small_text_is_read_again_larger_so_words_keep_their_spaces() -> None:
    text = RapidOcrEngine().read(scan(LEDGER))  # lines about 28 px high: read once more at twice the size
    assert "north entrance before noon" in text


def test_the_ocr_flag_is_stored_only_when_set_and_old_records_read_as_not_ocr() -> None:
    assert ChunkMeta(page=2, ocr=True).to_record("/d/scan.pdf")["ocr"] is True
    assert "ocr" not in ChunkMeta(page=2).to_record("/d/text.pdf")
    old = {"source": "/d/text.pdf", "page": 2, "file_type": "pdf"}  # written before OCR existed
    assert ChunkMeta.from_record(old).ocr is False
    assert ChunkMeta.from_record({**old, "ocr": True}).ocr is True


def _cited(page: int | None, ocr: bool = False) -> Citation:
    return Citation(1, "/d/s.pdf", "s.pdf", "", page, "", "t", 0, 1, 1.0, ocr=ocr)


def test_a_citation_of_ocr_text_says_so() -> None:
    assert _cited(2, ocr=True).label == "s.pdf, page 2 (OCR)"
    assert _cited(None, ocr=True).label == "s.pdf, read by OCR"
    assert _cited(2).label == "s.pdf, page 2"
