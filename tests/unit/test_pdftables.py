"""Ruled tables on PDF pages become rows that carry their column headers, and leave the page's text."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingest.archives import ArchiveLimits
from ingest.budget import FileBudget
from ingest.loaders import PdfLoader, SkipFile
from ingest.pdftables import TableFinder

SUPPLIERS = [
    ("Acme GmbH", 14, "DE"),
    ("Bolt Ltd", 21, "UK"),
    ("Cerulean Oy", 35, "FI"),
    ("Dunmore Castings", 42, "IE"),
    ("Eskerfield AB", 9, "SE"),
    ("Fabbrica Lunetti", 28, "IT"),
    ("Gorska Metal", 17, "PL"),
    ("Hollandia Plastics", 12, "NL"),
    ("Ibarra Textiles", 31, "ES"),
    ("Jurassic Quarries", 56, "FR"),
    ("Kestrel Optics", 23, "UK"),
    ("Lindqvist Pumps", 19, "SE"),
    ("Montavo Ceramics", 44, "PT"),
    ("Nordlys Cables", 11, "NO"),
    ("Oberland Valves", 26, "AT"),
    ("Praxiteles Marble", 63, "GR"),
    ("Quarnero Shipping", 38, "HR"),
    ("Rheinwerk Tools", 8, "DE"),
    ("Saltire Fabrics", 27, "UK"),
    ("Tatra Bearings", 33, "SK"),
]
HEADING = "Supplier lead times"


def table_pdf(path: Path) -> Path:
    """A heading, a paragraph and a ruled 20-row table (fpdf2 draws each cell's border) on page 1; plain text on 2."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Purchasing handbook")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(text=HEADING, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, "Order early from slow suppliers: the table says how many days each one needs.")
    pdf.ln(4)
    with pdf.table() as table:
        table.row(["Supplier", "Lead time (days)", "Country"])
        for name, days, country in SUPPLIERS:
            table.row([name, str(days), country])
    pdf.add_page()
    pdf.multi_cell(0, 6, "Returns policy. Goods may be returned within thirty days of delivery.")
    pdf.output(str(path))
    return path


def _load(path: Path, limits: ArchiveLimits | None = None) -> list[tuple[int | None, str, str]]:
    doc = PdfLoader().load_within(path, path.read_bytes(), FileBudget(limits))
    return [(s.page, s.heading, s.text) for s in doc.sections]


def test_a_ruled_table_becomes_rows_with_headers_and_its_page(tmp_path: Path) -> None:
    sections = _load(table_pdf(tmp_path / "handbook.pdf"))
    rows = [s for s in sections if s[1]]
    assert len(rows) == 20
    assert rows[0] == (1, HEADING, f"{HEADING} - Supplier: Acme GmbH; Lead time (days): 14; Country: DE")
    assert rows[-1] == (1, HEADING, f"{HEADING} - Supplier: Tatra Bearings; Lead time (days): 33; Country: SK")
    page_text = [s for s in sections if not s[1]]
    assert page_text == [
        (1, "", f"{HEADING}\nOrder early from slow suppliers: the table says how many days each one needs."),
        (2, "", "Returns policy. Goods may be returned within thirty days of delivery."),
    ]  # the cells are in the rows only, not in page 1's text as well


def test_a_table_without_a_heading_above_it_is_titled_by_the_document_and_page(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Rates")
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    with pdf.table() as table:
        for row in (["Shift", "Allowance (EUR)"], ["Night", "300"], ["Weekend", "150"]):
            table.row(row)
    pdf.output(str(tmp_path / "r.pdf"))
    assert [s[2] for s in _load(tmp_path / "r.pdf")] == [
        "Rates page 1 - Shift: Night; Allowance (EUR): 300",
        "Rates page 1 - Shift: Weekend; Allowance (EUR): 150",
    ]


def test_table_cells_count_against_the_files_cell_limit(tmp_path: Path) -> None:
    path = table_pdf(tmp_path / "handbook.pdf")
    with pytest.raises(SkipFile, match=r"more than 30 cells \(ingest.max_table_cells\)"):
        _load(path, ArchiveLimits(max_table_cells=30))


def test_a_file_pdfplumber_cannot_read_costs_only_its_tables(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    finder = TableFinder(tmp_path / "x.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 100, FileBudget())
    with caplog.at_level(logging.DEBUG, logger="ingest.pdftables"):
        assert finder.read(1, "x") is None
        assert finder.read(2, "x") is None  # not tried again
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [f"{tmp_path / 'x.pdf'}: page 1 tables not read"]
    finder.close()


def test_a_table_ruled_only_between_its_columns_stays_text_rather_than_lose_its_outer_columns(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    rows = [
        ("package", "popcon", "size", "description"),
        ("vim", "V:90", "3300", "the editor"),
        ("ed", "V:2", "120", "old"),
    ]
    for r, row in enumerate(rows):
        y = 20 + 8 * r
        for c, text in enumerate(row):
            pdf.text(22 + 40 * c, y + 6, text)
        pdf.line(20, y, 180, y)
    pdf.line(20, 44, 180, 44)
    for x in (60, 100, 140):  # inner rules only: the lines strategy sees the two middle columns alone
        pdf.line(x, 20, x, 44)
    pdf.output(str(tmp_path / "p.pdf"))
    sections = _load(tmp_path / "p.pdf")
    assert len(sections) == 1 and not sections[0][1]
    assert "vim V:90 3300 the editor" in " ".join(sections[0][2].split())


def test_a_page_of_too_many_crossing_rules_is_not_handed_to_pdfplumber(tmp_path: Path) -> None:
    """pdfplumber's lines strategy pairs every horizontal rule with every vertical one and cannot be stopped mid-page:
    a 150 x 150 grid (22,500 crossings, a few hundred paths) stays text; the supplier table's page is still searched."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    from ingest.pdftables import ruled

    pdf = FPDF()
    pdf.add_page()
    pdf.set_line_width(0.1)
    for i in range(150):
        pdf.line(10, 10 + i * 268 / 149, 200, 10 + i * 268 / 149)
        pdf.line(10 + i * 190 / 149, 10, 10 + i * 190 / 149, 278)
    pdf.set_font("helvetica", size=11)
    pdf.text(20, 285, "A page of rules.")
    pdf.output(str(tmp_path / "grid.pdf"))
    grid = pdfium.PdfDocument(str(tmp_path / "grid.pdf"))
    table = pdfium.PdfDocument(str(table_pdf(tmp_path / "table.pdf")))
    try:
        assert not ruled(grid[0])
        assert ruled(table[0])
    finally:
        grid.close()
        table.close()


def test_text_level_with_a_table_beside_it_marks_the_table_open_sided() -> None:
    """A table ruled only between its columns: the lines strategy finds its inner part, and the outer columns' text
    stands level with its rows outside the box found."""
    from ingest.pdftables import _open_sided

    def char(x: float) -> dict[str, object]:
        return {"top": 10.0, "bottom": 12.0, "x0": x, "x1": x + 5, "text": "a"}

    inside, outside = [char(50), char(60)], [char(300), char(310)]
    assert _open_sided(inside + outside, (40, 0, 100, 20))
    assert not _open_sided(inside, (40, 0, 100, 20))
