"""Spreadsheets, CSV files and the tables inside documents become rows that carry their headers and title."""

from __future__ import annotations

import datetime as dt
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from configs.settings import ChunkingSettings
from ingest.archives import ArchiveLimits
from ingest.chunking import Chunker
from ingest.formats import default_loaders
from ingest.loaders import Document, SkipFile, file_type_of
from ingest.tables import CsvLoader, OdsLoader, XlsxLoader

HEADERS = ["Supplier", "Lead time (days)", "Country"]


def _load(path: Path, limits: ArchiveLimits | None = None) -> Document:
    return default_loaders(limits)[file_type_of(path) or ""].load(path, path.read_bytes())


def _reason(path: Path, limits: ArchiveLimits | None = None) -> str:
    with pytest.raises(SkipFile) as info:
        _load(path, limits)
    return str(info.value)


def _workbook(path: Path, title: str = "Suppliers") -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    book.properties.title = title
    sheet = book.active
    assert sheet is not None
    sheet.title = "Lead times"
    sheet.append(HEADERS)
    sheet.append(["Acme GmbH", 14, "DE"])
    sheet.append(["Bolt Ltd", 21.0, "UK"])
    return book


def test_csv_rows_carry_title_and_headers_whatever_the_dialect_and_encoding(tmp_path: Path) -> None:
    semicolons = tmp_path / "suppliers.csv"
    rows = ["Müller & Söhne;12;DE", "Société Générale d'Équipement;30;FR", "Größe Fabrik;9;AT"]
    text = 'Supplier;Lead time (days);Country\n"Zürich; AG";7;CH\n' + "\n".join(rows) + "\n"
    semicolons.write_bytes(text.encode("cp1252"))
    texts = [s.text for s in _load(semicolons).sections]
    assert texts[:2] == [
        "suppliers - Supplier: Zürich; AG; Lead time (days): 7; Country: CH",
        "suppliers - Supplier: Müller & Söhne; Lead time (days): 12; Country: DE",
    ]
    tabs = tmp_path / "suppliers.tsv"
    tabs.write_text("Supplier\tCountry\n\nAcme GmbH\tDE\n")
    doc = _load(tabs)
    assert doc.file_type == "tsv" and [s.text for s in doc.sections] == ["suppliers - Supplier: Acme GmbH; Country: DE"]


def test_a_table_without_a_header_row_names_its_columns_by_letter(tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_text("1,2.5,2024-01-03\n4,5,\n")
    assert [s.text for s in _load(path).sections] == ["readings - A: 1; B: 2.5; C: 2024-01-03", "readings - A: 4; B: 5"]


def test_empty_and_header_only_csv_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("Supplier,Country\n\n")
    assert "no data rows" in _reason(path)
    path.write_bytes(b"a,b\n\x00\x01")
    assert "binary content" in _reason(path)


def test_xlsx_rows_sheets_dates_and_numbers_read_as_in_the_sheet(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "s.xlsx")
    other = book.create_sheet("Contacts")
    other.append(["Supplier", "Since"])
    other.append(["Acme GmbH", dt.datetime(2021, 3, 1)])
    book.save(tmp_path / "s.xlsx")
    doc = _load(tmp_path / "s.xlsx")
    assert doc.title == "Suppliers" and doc.notes == ()
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Lead times", "Suppliers (sheet Lead times) - Supplier: Acme GmbH; Lead time (days): 14; Country: DE"),
        ("Lead times", "Suppliers (sheet Lead times) - Supplier: Bolt Ltd; Lead time (days): 21; Country: UK"),
        ("Contacts", "Suppliers (sheet Contacts) - Supplier: Acme GmbH; Since: 2021-03-01"),
    ]


def test_hidden_and_empty_sheets_are_left_out_with_a_note(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "s.xlsx")
    secret = book.create_sheet("Margins")
    secret.append(["Supplier", "Margin"])
    secret.append(["Acme GmbH", "41%"])
    secret.sheet_state = "hidden"
    book.create_sheet("Notes")
    book.save(tmp_path / "s.xlsx")
    doc = _load(tmp_path / "s.xlsx")
    assert "Margin" not in " ".join(s.text for s in doc.sections)
    assert doc.notes == ("sheet 'Margins' skipped: hidden sheet", "sheet 'Notes' skipped: no data rows")
    book.remove(book["Lead times"])
    book.save(tmp_path / "s.xlsx")
    assert _reason(tmp_path / "s.xlsx") == (
        "no data in any visible sheet (sheet 'Margins' skipped: hidden sheet; sheet 'Notes' skipped: no data rows)"
    )


def test_formulas_read_as_the_values_last_computed(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "f.xlsx")
    sheet = book["Lead times"]
    sheet["D1"] = "Weeks"
    sheet["D2"] = "=B2/7"
    book.save(tmp_path / "f.xlsx")
    # openpyxl computes nothing; a spreadsheet program stores each formula's value beside it: do what it does.
    with zipfile.ZipFile(tmp_path / "f.xlsx") as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = re.sub(r"<f>B2/7</f><v\s*/?>(</v>)?", "<f>B2/7</f><v>2</v>", sheet_xml).encode()
    with zipfile.ZipFile(tmp_path / "f.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    text = _load(tmp_path / "f.xlsx").sections[0].text
    assert text.endswith("Country: DE; Weeks: 2") and "B2/7" not in text


def test_cell_limit_and_zip_bombs_refuse_a_workbook(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "s.xlsx")
    book.save(tmp_path / "s.xlsx")
    assert "more than 5 cells (ingest.max_table_cells)" in _reason(
        tmp_path / "s.xlsx", ArchiveLimits(max_table_cells=5)
    )
    assert len(_load(tmp_path / "s.xlsx", ArchiveLimits(max_table_cells=9)).sections) == 2
    big = tmp_path / "big.csv"
    big.write_text("a,b\n" + "1,2\n" * 100)
    assert "more than 100 cells" in _reason(big, ArchiveLimits(max_table_cells=100))
    # A sheet that unpacks to 300 MB of rows from under a megabyte is refused before openpyxl opens it.
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        parts = {n: z.read(n) for n in z.namelist()}
    row = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
    with zipfile.ZipFile(tmp_path / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                z.writestr(name, data)
        with z.open("xl/worksheets/sheet1.xml", "w") as out:
            out.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for _ in range(300):
                out.write(row * 1000)
            out.write(b"</sheetData></worksheet>")
    assert (tmp_path / "bomb.xlsx").stat().st_size < 2_000_000
    assert "decompression bomb" in _reason(tmp_path / "bomb.xlsx")
    (tmp_path / "fake.xlsx").write_bytes(b"Supplier,Country\n")
    assert "not a valid XLSX" in _reason(tmp_path / "fake.xlsx")


def _ods(path: Path, sheets: str, styles: str = "") -> Path:
    """A minimal OpenDocument spreadsheet, as LibreOffice writes its content.xml."""
    ns = " ".join(
        f'xmlns:{p}="urn:oasis:names:tc:opendocument:xmlns:{p}:1.0"' for p in ("office", "table", "text", "style")
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr(
            "content.xml",
            f'<?xml version="1.0"?><office:document-content {ns}>{styles}<office:body><office:spreadsheet>'
            f"{sheets}</office:spreadsheet></office:body></office:document-content>",
        )
    return path


def _cell(text: str, value: str = "", repeat: int = 1) -> str:
    kind = f'office:value-type="float" office:value="{value}"' if value else 'office:value-type="string"'
    rep = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-cell {kind}{rep}><text:p>{text}</text:p></table:table-cell>"


def test_ods_sheets_hidden_sheets_formulas_and_repeats(tmp_path: Path) -> None:
    empty_tail = '<table:table-cell table:number-columns-repeated="16000"/>'
    styles = (
        '<office:automatic-styles><style:style style:name="ta2" style:family="table">'
        '<style:table-properties table:display="false"/></style:style></office:automatic-styles>'
    )
    visible = (
        '<table:table table:name="Lead times">'
        f"<table:table-row>{_cell('Supplier')}{_cell('Lead time (days)')}{empty_tail}</table:table-row>"
        f'<table:table-row>{_cell("Acme GmbH")}<table:table-cell table:formula="of:=[.C2]*2" '
        f'office:value-type="float" office:value="14"><text:p>14</text:p></table:table-cell>{empty_tail}'
        "</table:table-row>"
        '<table:table-row table:number-rows-repeated="1048000"><table:table-cell/></table:table-row>'
        "</table:table>"
    )
    hidden = f'<table:table table:name="Margins" table:style-name="ta2"><table:table-row>{_cell("x")}</table:table-row>'
    hidden += f"<table:table-row>{_cell('y')}</table:table-row></table:table>"
    path = _ods(tmp_path / "suppliers.ods", visible + hidden, styles)
    doc = OdsLoader().load(path, path.read_bytes())
    assert [s.text for s in doc.sections] == [
        "suppliers (sheet Lead times) - Supplier: Acme GmbH; Lead time (days): 14"
    ]
    assert doc.notes == ("sheet 'Margins' skipped: hidden sheet",)
    wide = f"<table:table table:name='S'><table:table-row>{_cell('a', repeat=600)}</table:table-row></table:table>"
    assert "ingest.max_table_cells" in _reason(_ods(tmp_path / "wide.ods", wide), ArchiveLimits(max_table_cells=500))
    laughs = tmp_path / "laughs.ods"
    with zipfile.ZipFile(laughs, "w") as z:
        z.writestr("content.xml", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]><d>&a;&a;</d>')
    assert "cannot parse ODS (EntitiesForbidden" in _reason(laughs)


def test_every_chunk_of_a_long_sheet_is_one_whole_row_under_its_title(tmp_path: Path, embedder: Any) -> None:
    book = _workbook(tmp_path / "s.xlsx")
    sheet = book["Lead times"]
    for i in range(300):
        sheet.append([f"Supplier number {i}", i % 60, "DE"])
    sheet.append(["Wide GmbH", 3, " ".join(f"note{i}" for i in range(400))])  # one row longer than a chunk
    book.save(tmp_path / "s.xlsx")
    doc = _load(tmp_path / "s.xlsx")
    pieces = Chunker(ChunkingSettings(max_tokens=64), embedder, embedder.max_tokens).split(doc)
    rows = [p for p in pieces if "Wide GmbH" not in p.text and "note" not in p.text]
    assert len(rows) == 302
    for piece in rows:
        assert piece.text.startswith("Suppliers (sheet Lead times) - Supplier: ")
        assert piece.text.count("Supplier: ") == 1 and re.search(r"Country: (DE|UK)$", piece.text)
        assert piece.embed_text == piece.text  # the title is already in the text: not embedded twice
    wide = [p for p in pieces if p not in rows]
    assert len(wide) > 1 and all(p.embed_text.startswith("Suppliers > Lead times\n") for p in wide[1:])
    assert all(embedder.count_tokens(p.embed_text) <= 64 for p in pieces)


def test_a_docx_table_row_carries_its_headers_and_the_heading_above_it(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Supplier handbook", 1)
    document.add_paragraph("How we buy.")
    document.add_heading("Lead times", 2)
    table = document.add_table(rows=3, cols=3)
    for r, values in enumerate([HEADERS, ["Acme GmbH", "14", "DE"], ["Bolt Ltd", "21", "UK"]]):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    document.add_paragraph("Ask purchasing for exceptions.")
    document.save(str(tmp_path / "h.docx"))
    doc = _load(tmp_path / "h.docx")
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Supplier handbook", "Supplier handbook\n\nHow we buy."),
        ("Supplier handbook > Lead times", "Lead times - Supplier: Acme GmbH; Lead time (days): 14; Country: DE"),
        ("Supplier handbook > Lead times", "Lead times - Supplier: Bolt Ltd; Lead time (days): 21; Country: UK"),
        ("Supplier handbook > Lead times", "Ask purchasing for exceptions."),
    ]


def test_slide_and_markdown_tables_keep_their_rows_and_the_slide_number(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Welcome"
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Shift allowances"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([("Shift", "Allowance (EUR)"), ("Night", "300"), ("Weekend", "150")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.save(str(tmp_path / "d.pptx"))
    rows = [(s.page, s.text) for s in _load(tmp_path / "d.pptx").sections if " - " in s.text]
    assert rows == [
        (2, "Shift allowances - Shift: Night; Allowance (EUR): 300"),
        (2, "Shift allowances - Shift: Weekend; Allowance (EUR): 150"),
    ]
    table_md = "| Shift | Allowance (EUR) |\n|---|---|\n| Night | 300 |\n| Weekend | 150 |\n"
    (tmp_path / "s.md").write_text(f"# Shifts\n\n{table_md}\n# Navigation\n\n| Prev | Next |\n|---|---|\n| a | b |\n")
    assert [s.text for s in _load(tmp_path / "s.md").sections] == [
        "Shifts - Shift: Night; Allowance (EUR): 300",
        "Shifts - Shift: Weekend; Allowance (EUR): 150",
        "Navigation\n\nPrev Next a b",  # one row: a navigation bar more often than a table
    ]


def test_html_tables_use_th_headers_and_captions_and_layout_tables_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_text(
        "<html><body><h1>Prices</h1><table><caption>Price list 2026</caption><tr><th>Item</th><th>2026</th></tr>"
        "<tr><td>Widget</td><td>4.50</td></tr><tr><td colspan='2'>Gadget</td></tr></table>"
        "<table><tr><td>Only one column of layout text here.</td></tr><tr><td>More layout.</td></tr></table>"
        "</body></html>"
    )
    texts = [s.text for s in _load(path).sections]
    assert "Price list 2026 - Item: Widget; 2026: 4.50" in texts
    assert "Price list 2026 - Item: Gadget" in texts  # unstructured keeps a merged cell once
    assert any("Only one column of layout text here." in t and ": " not in t for t in texts)


def test_loaders_are_registered_by_extension() -> None:
    loaders = default_loaders()
    assert isinstance(loaders["csv"], CsvLoader) and isinstance(loaders["xlsx"], XlsxLoader)
    assert {file_type_of(Path(f"a.{e}")) for e in ("csv", "TSV", "xlsx", "ods", "eml")} == {
        "csv",
        "tsv",
        "xlsx",
        "ods",
        "eml",
    }


def test_rendered_text_is_held_to_max_unpacked_mb_however_a_small_file_repeats_it(tmp_path: Path) -> None:
    half_mb = ArchiveLimits(max_unpacked_mb=0.5)
    word = "word " * 400  # 2000 characters, a full cell
    rows = f'<table:table-row table:number-rows-repeated="{{n}}">{_cell(word)}</table:table-row>'
    sheet = f"<table:table table:name='S'><table:table-row>{_cell('Note')}</table:table-row>{rows}</table:table>"
    assert len(_load(_ods(tmp_path / "ok.ods", sheet.format(n=200)), half_mb).sections) == 200
    bomb = _ods(tmp_path / "bomb.ods", sheet.format(n=100_000))  # 200 MB of rows from 3 kB (uncompressed)
    assert bomb.stat().st_size < 4000
    assert _reason(bomb, half_mb) == (
        "ODS gives more than 0.5 MB of text (ingest.max_unpacked_mb); split the file or raise the limit"
    )
    # XLSX: one shared string of 2000 characters read into 2000 cells from a 70 kB sheet.
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    strings = f'<sst xmlns="{main}"><si><t>Note</t></si><si><t>{word}</t></si></sst>'
    cells = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>{int(r > 1)}</v></c></row>' for r in range(1, 2002))
    _workbook(tmp_path / "s.xlsx").save(tmp_path / "s.xlsx")
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        parts = {n: z.read(n).decode() for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = f'<worksheet xmlns="{main}"><sheetData>{cells}</sheetData></worksheet>'
    parts["xl/sharedStrings.xml"] = strings
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        "</Relationships>",
        '<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    with zipfile.ZipFile(tmp_path / "shared.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    assert "more than 0.5 MB of text (ingest.max_unpacked_mb)" in _reason(tmp_path / "shared.xlsx", half_mb)
    assert len(_load(tmp_path / "shared.xlsx").sections) == 2000
    # A long header is repeated beside every value: what rendering adds is counted too.
    headers = ",".join(f"{i}{'h' * 1999}" for i in range(10))
    (tmp_path / "wide.csv").write_text(headers + "\n" + "1,2,3,4,5,6,7,8,9,10\n" * 40)
    assert "more than 0.5 MB of text" in _reason(tmp_path / "wide.csv", half_mb)
    assert len(_load(tmp_path / "wide.csv", ArchiveLimits(max_unpacked_mb=1)).sections) == 40


def test_a_malformed_ods_repeat_count_reads_as_one(tmp_path: Path) -> None:
    bad = '<table:table-cell table:number-columns-repeated="2x" office:value-type="string"><text:p>14</text:p>'
    sheet = (
        f"<table:table table:name='S'><table:table-row>{_cell('Supplier')}{_cell('Days')}</table:table-row>"
        f"<table:table-row table:number-rows-repeated='-3'>{_cell('Acme')}{bad}</table:table-cell></table:table-row>"
        "</table:table>"
    )
    doc = _load(_ods(tmp_path / "odd.ods", sheet))
    assert [s.text for s in doc.sections] == ["odd (sheet S) - Supplier: Acme; Days: 14"]


def test_a_crafted_csv_cannot_stall_the_dialect_sniffer(tmp_path: Path) -> None:
    # csv.Sniffer is quadratic in its sample on this input (64 KiB took 43 s): only the file's start is sniffed.
    (tmp_path / "q.csv").write_bytes(b"Name,Note\n" + b',"a' * 22_000)
    done = threading.Event()
    rows: list[int] = []

    def load() -> None:
        try:
            rows.append(len(_load(tmp_path / "q.csv").sections))
        finally:
            done.set()

    threading.Thread(target=load, daemon=True).start()
    assert done.wait(30), "sniffing the CSV dialect did not finish in 30 s"
    assert rows == [1]
