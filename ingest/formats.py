"""The loader of each file type: ingest.loaders' own (text, PDF, Office, Markdown) and the formats built on them
(HTML main content, images, spreadsheets, e-mail, EPUB/ODT/RTF through pandoc)."""

from __future__ import annotations

from ingest.archives import ArchiveLimits
from ingest.documents import Loader
from ingest.images import ImageLoader
from ingest.loaders import PdfLoader, TextLoader, UnstructuredLoader
from ingest.mail import EmailLoader
from ingest.ocr import OcrOptions
from ingest.pandoc import PandocLoader
from ingest.tables import CsvLoader, OdsLoader, XlsxLoader
from ingest.webpages import HtmlLoader


def default_loaders(limits: ArchiveLimits | None = None, ocr: OcrOptions | None = None) -> dict[str, Loader]:
    """Map file type -> loader."""
    limits = limits or ArchiveLimits()
    loaders: list[Loader] = [TextLoader(), PdfLoader(ocr), UnstructuredLoader(limits), HtmlLoader(), ImageLoader(ocr)]
    loaders += [CsvLoader(limits), XlsxLoader(limits), OdsLoader(limits), PandocLoader(limits)]
    by_type = {ft: loader for loader in loaders for ft in loader.file_types}
    by_type["eml"] = EmailLoader(dict(by_type), limits=limits)  # attachments are read by the loaders above
    return by_type
