"""Images (PNG, JPEG, TIFF, WebP, BMP) read by OCR: one section per image, or per page of a multi-page TIFF.

Only those five decoders are allowed (Pillow would otherwise hand an EPS to Ghostscript), and an image's size is
checked from its header before a pixel is decoded, against ingest.ocr_max_pixels (decompression bombs).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from ingest.budget import FileBudget
from ingest.documents import Document, Section, SkipFile, file_type_of
from ingest.ocr import OcrOptions, PageReader, build_engine

IMAGE_TYPES = ("bmp", "jpg", "png", "tiff", "webp")  # their extensions: ingest/documents.py
_DECODERS = ["PNG", "JPEG", "TIFF", "WEBP", "BMP"]


class ImageLoader:
    """An image's text by OCR; a multi-page TIFF gives one section per page (pages from 1)."""

    file_types: tuple[str, ...] = IMAGE_TYPES

    def __init__(self, ocr: OcrOptions | None = None) -> None:
        self._ocr = ocr or OcrOptions()
        self._engine = build_engine(self._ocr)

    def load(self, path: Path, data: bytes) -> Document:
        return self.load_within(path, data, FileBudget())

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document:
        """As load, with OCR time counted from budget.started and the text counted in the budget."""
        from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

        file_type = file_type_of(path) or "png"
        if self._engine is None:
            raise SkipFile("an image is read only by OCR, which is off; set ingest.ocr: auto (or rapidocr, tesseract)")
        try:
            with warnings.catch_warnings():  # Pillow warns of sizes our own bound (below) refuses anyway
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data), formats=_DECODERS)
        except Image.DecompressionBombError as exc:  # Pillow's own bound, far above ours
            raise SkipFile(
                f"image is over ingest.ocr_max_pixels={self._ocr.max_pixels} pixels; scale it down first"
            ) from exc
        except (UnidentifiedImageError, SyntaxError, OSError, ValueError, EOFError) as exc:
            raise SkipFile(f"not a readable {file_type.upper()} image ({str(exc)[:120]}); re-save it") from exc
        reader = PageReader(self._engine, self._ocr, budget.started)
        frames = getattr(image, "n_frames", 1)
        multi = frames > 1
        if frames > self._ocr.max_frames:
            reader.warnings.append(f"pages {self._ocr.max_frames + 1}-{frames}: not read (over ingest.ocr_max_frames)")
        sections = []
        try:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= self._ocr.max_frames:
                    break
                page = index + 1 if multi else None
                width, height = frame.size
                if width * height > self._ocr.max_pixels:
                    raise SkipFile(
                        f"image{f' page {page}' if page else ''} is {width}x{height} pixels, over "
                        f"ingest.ocr_max_pixels={self._ocr.max_pixels}; scale it down first"
                    )
                try:
                    frame.load()
                    upright = ImageOps.exif_transpose(frame)
                except (OSError, ValueError, SyntaxError) as exc:
                    reader.warnings.append(f"{f'page {page}' if page else 'image'}: cannot be decoded ({exc})")
                    continue
                text = reader.read(upright, page)
                if text:
                    sections.append(Section(text, page=page, ocr=True))
        except (OSError, EOFError) as exc:  # a truncated multi-page file: keep the pages read so far
            reader.warnings.append(f"image file cut short after {len(sections)} page(s) ({str(exc)[:80]})")
        finally:
            image.close()
        notes = reader.finish()
        if not sections:
            raise SkipFile(f"no text found by OCR in this image ({notes[-1] if notes else 'blank'})")
        budget.take_chars(sum(len(s.text) for s in sections), file_type.upper())
        return Document(
            path, file_type, path.stem, tuple(sections), pages=frames if multi else 1, warnings=tuple(notes)
        )
