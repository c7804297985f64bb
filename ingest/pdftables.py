"""Ruled tables on PDF pages kept as tables: each row a section that carries its column headers (ingest/tables.py).

PDFium reads a page's text as runs of cells, so a retrieved row would lose its headers. pdfplumber's "lines" strategy
finds tables drawn with ruling lines or cell borders, but it parses the page again in pure Python (about 50-90 ms a
page here, against 2 ms for PDFium's text), so it runs only on pages PDFium shows to have horizontal and vertical
rules (`ruled`, about 1 ms a page). A table found becomes rows titled by the heading-like line above it (else
"<document title> page N"), and its cells leave the page's text so they are not indexed twice. Anything that goes
wrong on a page costs only its tables: the page keeps PDFium's text.
"""

from __future__ import annotations

import io
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.budget import FileBudget
from ingest.documents import Section, SkipFile, _clean
from ingest.tables import make_table, table_sections

logger = logging.getLogger(__name__)

RULE_PT = 3.0  # a path this thin (points) across its length is a rule; thicker, a box with two edges of each kind
RECT_SEGMENTS = 5  # a box is drawn in at most this many path segments (move, four lines, close); more: a curve
EDGE_PT = 2  # a vertical rule this close to where a horizontal one ends closes the table's side
MAX_RULES_COMPARED = 400  # horizontal rules compared with each other on one page, at most
MAX_SEGMENTS = 20_000  # likewise a page whose paths have more segments than this (one path can hold thousands)
MAX_CROSSINGS = 10_000  # distinct rule heights x distinct rule positions across: 100 x 100 at most
MAX_PATHS = 5000  # a page drawn with more vector paths (a chart, a map) is not searched for tables: too slow
MAX_CHARS = 20_000  # likewise a page with more characters of text than this
MAX_SECONDS = 60.0  # table finding time one file may spend, checked between pages; later pages keep their text
# A gap between letters wider than this share of the font size is a space: pdfplumber's fixed 3 pt glued the words
# of tightly set PDFs together ("displaythehelpfile" in the Debian Reference); PDFium had read them apart.
SPACE_RATIO = 0.15
OPEN_SIDED = 0.1  # a table with more of the characters level with it outside it than this is not trusted
HEADING_CHARS = 120  # a longer line above a table is prose, not its title


def ruled(page: Any) -> bool:
    """Whether a PDFium page draws a ruled grid (cheap: path bounds only): horizontal rules of the same extent at two
    heights or more, vertical rules at both their ends, and one between them, level with them (a column rule). A
    framed code listing (no column rule) or a table ruled only between its columns (no rule where the horizontal
    ones end, see _open_sided) is not worth parsing the page for."""
    import pypdfium2.raw as pdfium_c

    across: list[tuple[int, int, int]] = []  # horizontal edges: left, right, height
    down: list[tuple[int, int, int]] = []  # vertical edges: x, bottom, top
    paths = segments = 0
    try:
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=3):
            paths += 1
            segments += max(1, pdfium_c.FPDFPath_CountSegments(obj.raw))
            if paths > MAX_PATHS or segments > MAX_SEGMENTS:
                return False
            left, bottom, right, top = (round(v) for v in obj.get_bounds())
            width, height = right - left, top - bottom
            if height <= RULE_PT < width:
                across.append((left, right, bottom))
            elif width <= RULE_PT < height:
                down.append((left, bottom, top))
            elif width > RULE_PT and height > RULE_PT and pdfium_c.FPDFPath_CountSegments(obj.raw) <= RECT_SEGMENTS:
                across += [(left, right, bottom), (left, right, top)]  # a cell border or a box (not a curve)
                down += [(left, bottom, top), (right, bottom, top)]
    except Exception as exc:  # PDFium errors on an odd object: the page is read as text
        logger.debug("page objects not read (%s: %s)", type(exc).__name__, exc)
        return False
    # pdfplumber's lines strategy pairs every horizontal edge with every vertical one (quadratic in their crossings,
    # and one page cannot be stopped once it runs): a grid of more crossings than a real table has stays text
    if len({y for _, _, y in across}) * len({x for x, _, _ in down}) > MAX_CROSSINGS:
        logger.debug("a page of %d x %d rules is not searched for tables", len(across), len(down))
        return False
    return _grid(_joined(across), down)


def _joined(across: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Horizontal edges at one height that touch, joined: a row of cell boxes is one rule across the table."""
    out: list[tuple[int, int, int]] = []
    for left, right, y in sorted(across, key=lambda e: (e[2], e[0])):
        if out and out[-1][2] == y and left <= out[-1][1] + EDGE_PT:
            out[-1] = (out[-1][0], max(out[-1][1], right), y)
        else:
            out.append((left, right, y))
    return out[:MAX_RULES_COMPARED]


def _grid(across: list[tuple[int, int, int]], down: list[tuple[int, int, int]]) -> bool:
    def near(a: int, b: int) -> bool:
        return abs(a - b) <= EDGE_PT

    for left, right, _ in across:
        heights = [y for lo, hi, y in across if near(lo, left) and near(hi, right)]
        if len(heights) < 2:
            continue
        low, high = min(heights), max(heights)
        level = [(x, b, t) for x, b, t in down if b < high and t > low]  # beside the rows of this rule's extent
        if (
            any(near(x, left) for x, _, _ in level)
            and any(near(x, right) for x, _, _ in level)
            and any(left + EDGE_PT < x < right - EDGE_PT for x, _, _ in level)
        ):
            return True
    return False


@dataclass(frozen=True)
class PageTables:
    """A page's text outside its tables, and its tables' rows."""

    text: str
    rows: tuple[Section, ...]


class TableFinder:
    """Finds ruled tables on the pages of one PDF, opened with pdfplumber on the first page asked for."""

    def __init__(self, path: Path, data: bytes, budget: FileBudget, pages: int | None = None) -> None:
        self._pages = pages  # PDFium's page count: pdfplumber must see the same pages, or it is not used
        self._path = path
        self._data = data
        self._budget = budget
        self._pdf: Any = None
        self._broken = False
        self._spent = 0.0

    def read(self, number: int, title: str) -> PageTables | None:
        """Page `number` (from 1) with its tables as rows (a table with no heading above it is titled "`title` page
        N"); None: no table found, or not searched (the page keeps its text)."""
        if self._broken or self._spent > MAX_SECONDS:
            return None
        started = time.monotonic()
        try:
            return self._read(number, title)
        except SkipFile:  # the file's budget is spent: the file is refused, as any loader does
            raise
        except Exception as exc:  # pdfplumber / pdfminer raise many types on odd pages: the page keeps its text
            logger.debug("%s: page %d tables not read (%s: %s)", self._path, number, type(exc).__name__, exc)
            return None
        finally:
            self._spent += time.monotonic() - started
            if self._spent > MAX_SECONDS:
                logger.info(
                    "%s: table finding stopped after %.0f s; later pages are plain text", self._path, self._spent
                )

    def _open(self) -> Any:
        if self._pdf is None:
            import pdfplumber

            try:
                self._pdf = pdfplumber.open(io.BytesIO(self._data))
            except Exception:
                self._broken = True
                raise
            if self._pages is not None and len(self._pdf.pages) != self._pages:
                self._broken = True  # a damaged page tree read two ways: its page N may not be PDFium's page N
                raise ValueError(f"pdfplumber sees {len(self._pdf.pages)} pages, PDFium {self._pages}")
        return self._pdf

    def _read(self, number: int, doc_title: str) -> PageTables | None:
        pages = self._open().pages
        if number > len(pages):
            return None
        page = pages[number - 1]
        try:
            found = [t for t in page.find_tables() if t.rows]
            rows: list[Section] = []
            boxes: list[tuple[float, float, float, float]] = []
            lines: list[dict[str, Any]] | None = None
            for table in found:
                cells = table.extract(x_tolerance_ratio=SPACE_RATIO)
                if len(cells) < 2 or max(len(r) for r in cells) < 2:
                    continue  # one row or one column: a box around text, not a table
                if _open_sided(page.chars, table.bbox):
                    continue  # only its inner rules were found: its outer columns would be lost
                if lines is None:
                    lines = page.extract_text_lines()
                title = _heading_above(lines, table.bbox[1], [t.bbox for t in found]) or f"{doc_title} page {number}"
                made = make_table(title, cells, budget=self._budget, kind="PDF")
                if made is None or len(made.headers) < 2:
                    continue
                rows += table_sections(made, heading=title, page=number, budget=self._budget, kind="PDF")
                boxes.append(table.bbox)
            if not rows:
                return None
            outside = page.filter(lambda obj: obj.get("object_type") != "char" or not _inside(obj, boxes))
            return PageTables(_clean(outside.extract_text(x_tolerance_ratio=SPACE_RATIO)), tuple(rows))
        finally:
            page.close()

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()


def _open_sided(chars: list[dict[str, Any]], box: tuple[float, float, float, float]) -> bool:
    """Whether text runs on beside the table, level with its rows: a table ruled only between its columns (no outer
    border), of which the lines strategy finds the inner columns alone."""
    x0, top, x1, bottom = box
    level = [c for c in chars if top <= (c["top"] + c["bottom"]) / 2 <= bottom and c["text"].strip()]
    beside = sum(1 for c in level if (c["x0"] + c["x1"]) / 2 < x0 or (c["x0"] + c["x1"]) / 2 > x1)
    return beside > OPEN_SIDED * len(level)


def _inside(obj: dict[str, Any], boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


def _heading_above(
    lines: list[dict[str, Any]], table_top: float, tables: Sequence[tuple[float, float, float, float]]
) -> str:
    """The nearest line above the table that reads as a heading: short, bold or larger than the page's text, and not
    in a table (another table's bold header row)."""
    sizes = [c.get("size", 0.0) for line in lines for c in line["chars"]]
    body = statistics.median(sizes) if sizes else 0.0
    for line in sorted(lines, key=lambda item: item["bottom"], reverse=True):
        if line["bottom"] > table_top + 1 or _inside(line, tables):
            continue
        text = " ".join(line["text"].split())
        if not text or len(text) > HEADING_CHARS or text.endswith((".", ",", ";")):
            continue
        chars = line["chars"]
        size = max(c.get("size", 0.0) for c in chars)
        bold = all("bold" in str(c.get("fontname", "")).lower() for c in chars if c.get("text", " ").strip())
        if bold or size > body * 1.15:
            return text
    return ""
