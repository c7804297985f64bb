"""OCR for pages without a text layer: scanned PDF pages and images, read offline.

Two engines: Tesseract 5 (Debian's `tesseract-ocr`, run as a subprocess) and RapidOCR (PP-OCRv4 ONNX models inside
the `rapidocr-onnxruntime` wheel, nothing downloaded). `auto`, the default, takes Tesseract where it is installed:
on degraded scans (`python -m eval bench-ocr`) it read as accurately for a third of RapidOCR's CPU time; RapidOCR
needs nothing but pip. Each engine loads once per process, on first use, and reads one page at a time.

Bounds, for images from outside: an image over `max_pixels` is refused before it is decoded (decompression bombs);
a page is scaled down to `max_side_px` before it is read, which bounds the time one page takes; a file stops being
read once it has spent `file_timeout_s` (the pages left are reported, not indexed).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess  # nosec B404  # tesseract with fixed arguments, the image on stdin, no shell
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

    from configs.settings import IngestSettings

logger = logging.getLogger(__name__)

EngineName = Literal["auto", "rapidocr", "tesseract", "off"]


@dataclass(frozen=True)
class OcrOptions:
    """How pages without text are read (ingest.ocr_* settings)."""

    engine: EngineName = "auto"  # auto: tesseract where it is installed, else rapidocr
    dpi: int = 200  # PDF pages are rendered at this resolution before OCR
    min_chars: int = 20  # a PDF page whose text layer has fewer non-space characters is OCR'd
    max_pixels: int = 50_000_000  # an image (or TIFF frame) larger than this is refused unread
    max_side_px: int = 4000  # a page is scaled down to this longest side before OCR (bounds time per page)
    max_frames: int = 200  # pages of a multi-page TIFF read at most
    file_timeout_s: float = 300.0  # OCR time one file may take; later pages are reported as not read
    threads: int = 0  # threads one page is read with; 0: the engine's default (every core)

    @classmethod
    def of(cls, settings: IngestSettings) -> OcrOptions:
        return cls(
            engine=settings.ocr,
            dpi=settings.ocr_dpi,
            min_chars=settings.ocr_min_chars,
            max_pixels=settings.ocr_max_pixels,
            max_side_px=settings.ocr_max_side_px,
            max_frames=settings.ocr_max_frames,
            file_timeout_s=settings.ocr_file_timeout_s,
            threads=settings.ocr_threads,
        )


class OcrUnavailable(Exception):
    """The configured engine cannot run here; str() says what to install or set."""


class OcrEngine(Protocol):
    """Reads the text of one page image."""

    name: str

    def read(self, image: Image) -> str: ...


def _prepare(image: Image, max_side_px: int) -> Image:
    """Grayscale, scaled down so its longest side is at most max_side_px."""
    gray = image.convert("L")
    longest = max(gray.size)
    if longest > max_side_px:
        scale = max_side_px / longest
        gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))))
    return gray


def _lines(boxes: list[tuple[float, float, float, str]]) -> str:
    """Text boxes (top, bottom, left, text) as lines in reading order: boxes whose vertical extents overlap by half
    the smaller height sit on one line, left to right."""
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes, key=lambda b: (b[0], b[2])):
        top, bottom = box[0], box[1]
        for line in lines:
            l_top = min(b[0] for b in line)
            l_bottom = max(b[1] for b in line)
            overlap = min(bottom, l_bottom) - max(top, l_top)
            if overlap >= 0.5 * min(bottom - top, l_bottom - l_top):
                line.append(box)
                break
        else:
            lines.append([box])
    return "\n".join(" ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines)


# Text line heights (detected boxes, pixels): below MIN_LINE_PX PP-OCRv4 drops the spaces between English words
# ("entrancebefore"); such a page is read again scaled to TARGET_LINE_PX (measured on Pillow-drawn and scanned text).
MIN_LINE_PX = 36.0
TARGET_LINE_PX = 48.0
_RAPID_LOCK = threading.Lock()
_RAPID: dict[int, Any] = {}  # RapidOCR per thread count, one per process (ONNX sessions: a second, ~100 MB to load)


class RapidOcrEngine:
    """PP-OCRv4 through RapidOCR and ONNX Runtime; the models ship in the wheel."""

    name = "rapidocr"

    def __init__(self, max_side_px: int = 4000, threads: int = 0) -> None:
        self._max_side = max_side_px
        self._threads = threads

    def _model(self) -> Any:
        with _RAPID_LOCK:
            if self._threads not in _RAPID:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as exc:
                    raise OcrUnavailable(
                        f"rapidocr-onnxruntime is not installed ({exc}); run `make setup`, or set ingest.ocr: "
                        "tesseract or off"
                    ) from exc
                # max_side_len: its own downscale before detection; ours (max_side_px) has already bounded the page.
                threads = {"intra_op_num_threads": self._threads} if self._threads > 0 else {}
                _RAPID[self._threads] = RapidOCR(max_side_len=100_000, print_verbose=False, **threads)
            return _RAPID[self._threads]

    def read(self, image: Image) -> str:
        gray = _prepare(image, self._max_side)
        boxes = self._boxes(gray)
        heights = sorted(bottom - top for top, bottom, _, _ in boxes)
        if heights and heights[len(heights) // 2] < MIN_LINE_PX:
            # Small text: the recogniser merges words (drops spaces) below about 40 px lines; read it again larger.
            scale = min(TARGET_LINE_PX / max(heights[len(heights) // 2], 1.0), 4.0, self._max_side / max(gray.size))
            if scale > 1.1:
                larger = gray.resize((round(gray.width * scale), round(gray.height * scale)))
                boxes = self._boxes(larger)
        return _lines(boxes)

    def _boxes(self, gray: Image) -> list[tuple[float, float, float, str]]:
        import numpy as np

        model = self._model()
        with _RAPID_LOCK:  # the model object keeps per-call state; ONNX Runtime uses every core for one page anyway
            try:
                result, _ = model(np.asarray(gray))
            except Exception as exc:  # RapidOCR wraps ONNX Runtime's errors in its own class
                if "bad_alloc" in str(exc):  # under a memory cap (the upload sandbox): a full page needs ~4 GB
                    raise MemoryError(f"OCR of a {gray.width}x{gray.height} page ran out of memory") from exc
                raise
        boxes = []
        for points, text, _score in result or []:
            ys = [p[1] for p in points]
            xs = [p[0] for p in points]
            if str(text).strip():
                boxes.append((float(min(ys)), float(max(ys)), float(min(xs)), str(text).strip()))
        return boxes


class TesseractEngine:
    """Tesseract 5 (`apt-get install tesseract-ocr tesseract-ocr-eng`), one subprocess per page."""

    name = "tesseract"

    def __init__(
        self, max_side_px: int = 4000, timeout_s: float = 120.0, language: str = "eng", threads: int = 0
    ) -> None:
        self._max_side = max_side_px
        self._threads = threads
        self._timeout = timeout_s
        self._language = language
        self._binary: str | None = None

    def _tesseract(self) -> str:
        if self._binary is None:
            found = shutil.which("tesseract")
            if found is None:
                raise OcrUnavailable(
                    "tesseract is not installed; run `apt-get install tesseract-ocr tesseract-ocr-eng`, or set "
                    "ingest.ocr: rapidocr"
                )
            self._binary = found
        return self._binary

    def read(self, image: Image) -> str:
        import io

        buffer = io.BytesIO()
        _prepare(image, self._max_side).save(buffer, format="PNG")
        try:
            done = subprocess.run(  # nosec B603  # the resolved tesseract binary, fixed arguments, no shell
                [self._tesseract(), "stdin", "stdout", "-l", self._language, "--psm", "3"],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=self._timeout,
                env={**os.environ, "OMP_THREAD_LIMIT": str(self._threads)} if self._threads > 0 else None,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"tesseract took over {self._timeout:g} s on one page") from exc
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()[-200:]
            raise OcrUnavailable(f"tesseract failed ({detail}); check `tesseract --list-langs` has {self._language}")
        text = done.stdout.decode("utf-8", "replace")
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())


class PageReader:
    """OCR for the pages of one file, within the file's time budget; what it could not read becomes warnings."""

    def __init__(self, engine: OcrEngine | None, options: OcrOptions, started: float | None = None) -> None:
        """started: time.monotonic() when the file began to be read (an e-mail: its attachments share one bound)."""
        import time

        self._engine = engine
        self._options = options
        self._deadline = (time.monotonic() if started is None else started) + options.file_timeout_s
        self._stopped: str | None = None  # why no further page is read
        self._unread: list[int] = []
        self.warnings: list[str] = []

    @property
    def enabled(self) -> bool:
        return self._engine is not None

    def read(self, image: Image, page: int | None) -> str:
        """The page's text, or "" with a warning naming the page."""
        import time

        where = f"page {page}" if page is not None else "image"
        if self._engine is None:
            return ""
        if self._stopped is None and time.monotonic() > self._deadline:
            self._stopped = f"over ingest.ocr_file_timeout_s={self._options.file_timeout_s:g}"
        if self._stopped is not None:
            self._unread.append(page or 0)
            return ""
        try:
            text = self._engine.read(image).strip()
        except OcrUnavailable as exc:
            self._stopped = str(exc)
            self._unread.append(page or 0)
            return ""
        except TimeoutError as exc:
            self.warnings.append(f"{where}: not read by OCR ({exc})")
            return ""
        if not text:
            self.warnings.append(f"{where}: no text found by OCR")
        return text

    def finish(self) -> list[str]:
        """The warnings, with one line for the pages left unread and why."""
        if self._unread:
            pages = ", ".join(str(p) for p in self._unread[:10]) + (" ..." if len(self._unread) > 10 else "")
            what = f"page(s) {pages}" if any(self._unread) else "image"
            self.warnings.append(f"{what}: not read by OCR ({self._stopped})")
            self._unread = []
        return self.warnings


def build_engine(options: OcrOptions) -> OcrEngine | None:
    """The configured engine, not yet loaded; None when OCR is off."""
    if options.engine == "off":
        return None
    if options.engine == "tesseract" or (options.engine == "auto" and shutil.which("tesseract")):
        return TesseractEngine(options.max_side_px, timeout_s=options.file_timeout_s, threads=options.threads)
    return RapidOcrEngine(options.max_side_px, options.threads)
