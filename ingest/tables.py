"""Tables as rows a reader can quote: CSV/TSV, XLSX and ODS files, and the tables inside DOCX, PPTX and HTML.

Every row is rendered with its column headers and its table's title, "Suppliers (sheet Lead times) - Supplier: Acme
GmbH; Lead time (days): 14; Country: DE", and is a section of its own (heading: the sheet or the heading above the
table), so a retrieved chunk is one whole row that needs nothing around it to be understood, in an answer's quote,
in BM25 and in the embedding alike (eval/bench/tables.py measured this against rows packed several to a chunk).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.archives import ArchiveLimits, ArchiveRefused, check_archive
from ingest.budget import FileBudget
from ingest.documents import Document, Section, SkipFile, decode_text

logger = logging.getLogger(__name__)

MAX_CELL_CHARS = 2000  # a cell's text beyond this is cut: a row stays one readable line
SNIFF_CHARS = 4096  # a CSV dialect is sniffed from at most this much of the start of the file
SNIFF_LINES = 20
MAX_COLSPAN = 64  # a merged cell is repeated under at most this many columns
_NUMBER = re.compile(r"[-+]?(?:\d[\d\s,.'\u00a0]*)?\d(?:[.,]\d+)?(?:[eE][-+]?\d+)?\s*%?")
_DATE = re.compile(r"\d{4}-\d\d-\d\d(?:[ T][\d:.]+)?|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}:\d\d(?::\d\d)?")
_DEFAULT_SHEET = re.compile(r"(sheet|tabelle|feuil|hoja|foglio|blad)\s*\d*", re.I)


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: A, B, ... Z, AA, AB ..."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def cell_text(value: Any) -> str:
    """A cell value as it reads in a sheet: 14 not 14.0, a date without a midnight time, one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = " ".join(str(value).split())
    return text[:MAX_CELL_CHARS]


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | dt.date | dt.time | dt.timedelta):
        return True
    return isinstance(value, str) and bool(_NUMBER.fullmatch(value.strip()) or _DATE.fullmatch(value.strip()))


@dataclass(frozen=True)
class Table:
    """A table's title, its column headers and its data rows (cell texts)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def make_table(
    title: str,
    raw_rows: Iterable[Sequence[Any]],
    marked_header: bool = False,
    budget: FileBudget | None = None,
    kind: str = "table",
) -> Table | None:
    """The header is the first non-empty row, unless every value in it is a number or a date (and the format does
    not mark it as a header): then the columns are named by letter and that row is data. None: no data rows.
    With a budget, each row read is counted (its cells, an empty row as one, and its characters) as it is read."""
    rows: list[list[str]] = []
    first: Sequence[Any] = ()
    for raw in raw_rows:
        texts = _row_texts(raw, budget, kind)
        while texts and not texts[-1]:
            texts.pop()
        if texts:
            if not rows:
                first = raw
            rows.append(texts)
    headers: list[str] = []
    if rows and (marked_header or not all(_numeric(v) for v in first if cell_text(v))):
        headers = rows.pop(0)
    if not rows:
        return None
    width = max(len(headers), *(len(r) for r in rows))
    named = [h or column_letter(i) for i, h in enumerate(headers)]
    named += [column_letter(i) for i in range(len(named), width)]
    return Table(title, tuple(named), tuple(tuple(r) for r in rows))


def _row_texts(raw: Sequence[Any], budget: FileBudget | None, kind: str) -> list[str]:
    if budget is None:
        return [cell_text(v) for v in raw]
    budget.take_cells(max(len(raw), 1), kind)  # an empty row still costs a step
    texts: list[str] = []
    size, room = 0, budget.room()
    for value in raw:  # counted cell by cell: one row repeated across 500,000 columns is a gigabyte too
        texts.append(cell_text(value))
        size += len(texts[-1])
        if size > room:
            break
    budget.take_chars(size, kind)
    return texts


def render_row(table: Table, row: Sequence[str]) -> str:
    """One self-contained line: 'Title - Header: value; Header: value' (empty cells left out)."""
    cells = "; ".join(f"{h}: {v}" for h, v in zip(table.headers, row, strict=False) if v)
    return f"{table.title} - {cells}" if table.title else cells


def table_sections(
    table: Table, heading: str = "", page: int | None = None, budget: FileBudget | None = None, kind: str = "table"
) -> list[Section]:
    """One section per row: the chunker never packs two rows together nor cuts one (unless a single row is longer
    than a whole chunk, when it is split at '; ' and each piece is embedded under the table's title). With a budget,
    what rendering adds to the cells read (the title and a header beside every value) is counted before it is built,
    so the rows' text never exceeds ingest.max_unpacked_mb however often a long header or title repeats."""
    out = []
    for row in table.rows:
        if budget is not None:
            pairs = [(h, v) for h, v in zip(table.headers, row, strict=False) if v]
            added = sum(len(h) + 4 for h, _ in pairs) + (len(table.title) + 3 if table.title else 0)
            budget.take_chars(added, kind)
        text = render_row(table, row)
        if text:
            out.append(Section(text, page=page, heading=heading))
    return out


def _sheet_title(doc_title: str, sheet: str, sheets: int) -> str:
    if sheets == 1 and _DEFAULT_SHEET.fullmatch(sheet.strip()):
        return doc_title
    return f"{doc_title} (sheet {sheet})"


def _workbook_document(
    path: Path,
    file_type: str,
    title: str,
    sheets: list[tuple[str, str, Iterable[Sequence[Any]]]],
    budget: FileBudget,
) -> Document:
    """sheets: (name, state, rows) with state 'visible' or why it is left out; rows are read lazily."""
    sections: list[Section] = []
    notes: list[str] = []
    visible = [s for s in sheets if s[1] == "visible"]
    for name, state, rows in sheets:
        if state != "visible":
            notes.append(f"sheet {name!r} skipped: {state}")
            continue
        kind = file_type.upper()
        table = make_table(_sheet_title(title, name, len(visible)), rows, budget=budget, kind=kind)
        if table is None:
            notes.append(f"sheet {name!r} skipped: no data rows")
            continue
        sections += table_sections(table, heading=name, budget=budget, kind=kind)  # the sheet name: the chunk's section
    if not sections:
        raise SkipFile(f"no data in any visible sheet ({'; '.join(notes) or 'no sheets'})")
    for note in notes:
        logger.info("%s: %s", path, note)
    return Document(path, file_type, title, tuple(sections), notes=tuple(notes))


class CsvLoader:
    """CSV and TSV: the dialect sniffed from the first lines (TSV: tabs), any encoding decode_text reads."""

    file_types: tuple[str, ...] = ("csv", "tsv")

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self._limits = limits or ArchiveLimits()

    def load(self, path: Path, data: bytes) -> Document:
        return self.load_within(path, data, FileBudget(self._limits))

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document:
        tsv = path.suffix.lower() == ".tsv"
        kind = "TSV" if tsv else "CSV"
        text = decode_text(data, kind)
        dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab if tsv else csv.excel
        if not tsv:
            with contextlib.suppress(csv.Error):  # one column, or too irregular to tell: plain commas
                dialect = csv.Sniffer().sniff(_sample(text), delimiters=",;\t|")
        title = path.stem
        try:
            table = make_table(title, csv.reader(io.StringIO(text, newline=""), dialect), budget=budget, kind=kind)
        except csv.Error as exc:
            raise SkipFile(f"malformed {kind} ({exc}); check its quoting or re-export it") from exc
        if table is None:
            raise SkipFile(f"no data rows in this {kind} file (a header at most)")
        return Document(path, kind.lower(), title, tuple(table_sections(table, budget=budget, kind=kind)))


def _sample(text: str) -> str:
    """What the dialect is sniffed from: the first SNIFF_LINES lines, at most SNIFF_CHARS (csv.Sniffer's regular
    expressions take time quadratic in the sample on crafted input: 64 KiB of ',"a' took 43 s)."""
    return "\n".join(text[:SNIFF_CHARS].splitlines()[:SNIFF_LINES])


def _checked_package(data: bytes, kind: str, limits: ArchiveLimits) -> None:
    """A spreadsheet's zip package, checked against the archive limits (zip bombs) before anything is unpacked."""
    if not data.startswith(b"PK\x03\x04"):
        raise SkipFile(f"not a valid {kind} (not a zip package); re-save it from its spreadsheet program")
    try:
        check_archive(data, kind, limits)
    except ArchiveRefused as exc:
        raise SkipFile(str(exc)) from exc


class XlsxLoader:
    """Excel workbooks (openpyxl, read-only): every visible worksheet, formulas as the values Excel last computed
    (a file never opened in a spreadsheet program has none: those cells read empty). openpyxl parses through
    defusedxml (installed), so no entity or DTD is expanded; hidden rows and columns are read (read-only mode
    does not see them)."""

    file_types: tuple[str, ...] = ("xlsx",)

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self._limits = limits or ArchiveLimits()

    def load(self, path: Path, data: bytes) -> Document:
        return self.load_within(path, data, FileBudget(self._limits))

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document:
        import openpyxl

        _checked_package(data, "XLSX", self._limits)
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises KeyError, InvalidFileException, lxml errors on damaged files
            raise SkipFile(f"cannot parse XLSX ({type(exc).__name__}: {str(exc)[:120]})") from exc
        try:
            title = cell_text(book.properties.title) or path.stem
            sheets: list[tuple[str, str, Iterable[Sequence[Any]]]] = []
            for ws in book.worksheets:
                ws.reset_dimensions()  # the declared size can lie (and pad every row to 16,384 columns)
                state = "visible" if ws.sheet_state == "visible" else f"{ws.sheet_state} sheet"
                sheets.append((ws.title, state, ws.iter_rows(values_only=True)))
            try:
                return _workbook_document(path, "xlsx", title, sheets, budget)
            except SkipFile:
                raise
            except Exception as exc:
                raise SkipFile(f"cannot parse XLSX ({type(exc).__name__}: {str(exc)[:120]})") from exc
        finally:
            book.close()


_ODS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
}


def _q(ns: str, name: str) -> str:
    return f"{{{_ODS[ns]}}}{name}"


class OdsLoader:
    """OpenDocument spreadsheets, read from content.xml with the standard library (defusedxml: no entities):
    visible sheets, formulas as their stored values, repeated rows and cells expanded only where they hold data."""

    file_types: tuple[str, ...] = ("ods",)

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self._limits = limits or ArchiveLimits()

    def load(self, path: Path, data: bytes) -> Document:
        return self.load_within(path, data, FileBudget(self._limits))

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring

        _checked_package(data, "ODS", self._limits)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                root = fromstring(archive.read("content.xml"))
                meta = archive.read("meta.xml") if "meta.xml" in archive.namelist() else b""
        except (KeyError, zipfile.BadZipFile, DefusedXmlException, SyntaxError, ValueError) as exc:
            raise SkipFile(f"cannot parse ODS ({type(exc).__name__}: {str(exc)[:120]})") from exc
        hidden = {
            s.get(_q("style", "name"))
            for s in root.iter(_q("style", "style"))
            for p in s.iter(_q("style", "table-properties"))
            if p.get(_q("table", "display")) == "false"
        }
        sheets: list[tuple[str, str, Iterable[Sequence[Any]]]] = []
        for table in root.iter(_q("table", "table")):
            name = table.get(_q("table", "name")) or f"Sheet{len(sheets) + 1}"
            state = "hidden sheet" if table.get(_q("table", "style-name")) in hidden else "visible"
            sheets.append((name, state, _ods_rows(table, budget)))
        title = _ods_title(meta) or path.stem
        return _workbook_document(path, "ods", title, sheets, budget)


def _ods_title(meta: bytes) -> str:
    if not meta:
        return ""
    from defusedxml.ElementTree import fromstring

    try:
        node = fromstring(meta).find(".//{http://purl.org/dc/elements/1.1/}title")
    except Exception:  # a broken meta.xml costs only the title
        return ""
    return cell_text(node.text) if node is not None else ""


def _ods_cell(cell: Any) -> Any:
    kind = cell.get(_q("office", "value-type"))
    if kind in ("float", "percentage", "currency"):
        value = cell.get(_q("office", "value"))
        if value is not None and kind == "float":
            try:
                return float(value)
            except ValueError:
                return value
    elif kind == "date":
        return cell.get(_q("office", "date-value"))
    elif kind == "boolean":
        return cell.get(_q("office", "boolean-value")) == "true"
    # Text, and what a currency or percentage shows ("14 %", "EUR 3.50"): the paragraphs as displayed.
    return "\n".join("".join(p.itertext()) for p in cell.iter(_q("text", "p")))


def _repeat(node: Any, attribute: str) -> int:
    """A repeat count; one where it is missing or not a positive whole number."""
    try:
        return max(int(node.get(_q("table", attribute), "1") or 1), 1)
    except ValueError:
        return 1


def _ods_rows(table: Any, budget: FileBudget) -> Iterator[list[Any]]:
    """Rows of one sheet; a repeat of empty rows or cells (how ODS pads a sheet to its full size) costs nothing."""
    for row in table.iter(_q("table", "table-row")):
        cells: list[Any] = []
        pending = 0  # empty cells seen but not yet placed (placed only when a value follows them)
        for cell in row:
            if cell.tag not in (_q("table", "table-cell"), _q("table", "covered-table-cell")):
                continue
            repeat = _repeat(cell, "number-columns-repeated")
            value = _ods_cell(cell)
            if value in ("", None):
                pending += repeat
                continue
            budget.check_cells(len(cells) + pending + repeat, "ODS")
            cells += [None] * pending + [value] * repeat
            pending = 0
        times = _repeat(row, "number-rows-repeated")
        if not cells:
            continue  # empty rows are dropped anyway: a repeat of a million of them is free
        for _ in range(times):  # each counted, cells and characters, by make_table
            yield cells


def html_table(html: str, title: str) -> Table | None:
    """A Table from an HTML table (unstructured's text_as_html, a web page's table): a first row of <th> cells is
    the header; a <caption> is the title; a merged cell is repeated under each column it spans."""
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # lxml raises ParserError / ValueError on junk
        return None
    node = root if root.tag == "table" else next(root.iter("table"), None)
    if node is None:
        return None
    caption = next(node.iter("caption"), None)
    if caption is not None and caption.text_content().strip():
        title = cell_text(caption.text_content())
    rows: list[list[str]] = []
    marked = False
    for tr in node.iter("tr"):
        cells: list[str] = []
        for cell in tr:
            if cell.tag not in ("td", "th"):
                continue
            try:
                span = min(max(int(cell.get("colspan", "1")), 1), MAX_COLSPAN)
            except ValueError:
                span = 1
            cells += [cell_text(cell.text_content())] * span
        if not rows and any(cells):
            marked = all(c.tag == "th" for c in tr if c.tag in ("td", "th"))
        rows.append(cells)
    return make_table(title, rows, marked_header=marked)


def element_rows(element: Any, headings: Sequence[str], page: int | None) -> list[Section]:
    """The rows of an unstructured Table element (DOCX, PPTX, HTML, Markdown), each titled by the innermost heading
    above the table (or its caption) and filed under the heading path; [] when it carries no HTML to read."""
    html = getattr(element.metadata, "text_as_html", None)
    if not html:
        return []
    table = html_table(html, headings[-1] if headings else "")
    if table is None or len(table.headers) < 2 or len(table.rows) < 2:
        return []  # one column or one row (layout, a navigation bar) reads better as plain text
    return table_sections(table, heading=" > ".join(headings), page=page)
