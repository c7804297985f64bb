"""A folder of a CSV, a workbook, a DOCX with a table and an e-mail, indexed by the CLI: a question about one row
retrieves that row with its column headers, through /v1/retrieve."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import httpx
import openpyxl
import pytest

from tests.integration.conftest import start_app
from tests.integration.test_ingest import _cli

pytestmark = pytest.mark.integration


def _folder(root: Path) -> Path:
    import docx

    docs = root / "docs" / "purchasing"
    docs.mkdir(parents=True)
    (docs / "carriers.csv").write_text(
        "Carrier;Route;Transit time (days)\nNordfrakt AS;Oslo-Hamburg;3\nIberia Cargo SL;Madrid-Lyon;2\n"
    )
    book = openpyxl.Workbook()
    book.properties.title = "Suppliers"
    sheet = book.active
    assert sheet is not None
    sheet.title = "Lead times"
    sheet.append(["Supplier", "Lead time (days)", "Country"])
    for row in (["Acme GmbH", 14, "DE"], ["Bolt Ltd", 21, "UK"], ["Cerulean Oy", 35, "FI"]):
        sheet.append(row)
    hidden = book.create_sheet("Margins")
    hidden.append(["Supplier", "Margin"])
    hidden.append(["Bolt Ltd", "41%"])
    hidden.sheet_state = "hidden"
    book.save(docs / "suppliers.xlsx")
    document = docx.Document()
    document.add_heading("Facilities handbook", 1)
    document.add_heading("Maintenance contracts", 2)
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ["Equipment", "Vendor", "Renewal date"], strict=True):
        cell.text = text
    for values in (["Forklift B7", "Liftcare", "2027-03-14"], ["Chiller A2", "Thermatic", "2027-09-30"]):
        for cell, text in zip(table.add_row().cells, values, strict=True):
            cell.text = text
    document.save(str(docs / "facilities.docx"))
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "anna@example.com", "purchasing@example.com", "Packaging prices"
    msg["Date"] = "Tue, 01 Sep 2026 09:30:00 +0200"
    msg.set_content("New packaging prices attached.")
    msg.add_attachment(
        b"Item,Price (EUR)\nPallet wrap,18.40\nCorner board,0.35\n", "text", "csv", filename="prices.csv"
    )
    (docs / "packaging.eml").write_bytes(msg.as_bytes())
    return root / "docs"


def test_cli_indexes_tables_and_a_row_comes_back_with_its_headers(tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    index = tmp_path / "idx"
    proc = _cli(str(docs), "--index", str(index), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["new"] == 4 and not report["skipped"]
    assert [n["note"] for n in report["notes"]] == ["sheet 'Margins' skipped: hidden sheet"]
    asked = {
        "What is the lead time of Bolt Ltd?": (
            "suppliers.xlsx",
            "Suppliers (sheet Lead times) - Supplier: Bolt Ltd; Lead time (days): 21; Country: UK",
        ),
        "transit time Nordfrakt AS": ("carriers.csv", "carriers - Carrier: Nordfrakt AS; Route: Oslo-Hamburg; "),
        "When does the Chiller A2 contract renew?": (
            "facilities.docx",
            "Maintenance contracts - Equipment: Chiller A2; Vendor: Thermatic; Renewal date: 2027-09-30",
        ),
        "price of corner board": ("packaging.eml", "prices - Item: Corner board; Price (EUR): 0.35"),
    }
    with start_app(index, tmp_path, llm={"backend": "extractive"}) as app:
        for query, (filename, row) in asked.items():
            hits = httpx.post(f"{app.url}/v1/retrieve", json={"query": query, "top_k": 3}, timeout=60).json()["hits"]
            top = hits[0]
            assert top["metadata"]["filename"] == filename and top["text"].startswith(row), (query, top)
            assert top["metadata"]["source"] == str(docs / "purchasing" / filename)
        margins = httpx.post(f"{app.url}/v1/retrieve", json={"query": "Margin of Bolt Ltd"}, timeout=60).json()
        assert not any("41%" in h["text"] for h in margins["hits"])  # the hidden sheet was not indexed
