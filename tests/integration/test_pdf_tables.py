"""A PDF with a ruled table, indexed by the CLI: a question about one supplier retrieves that table row with its column
headers and its page number, through /v1/retrieve."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_app
from tests.integration.test_ingest import _cli
from tests.unit.test_pdftables import HEADING, table_pdf

pytestmark = pytest.mark.integration


def test_cli_indexes_a_pdf_table_and_a_row_comes_back_with_its_headers(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    pdf = table_pdf(docs / "handbook.pdf")
    index = tmp_path / "idx"
    proc = _cli(str(docs), "--index", str(index), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["new"] == 1 and not report["skipped"]
    asked = {
        "What is the lead time of Kestrel Optics?": "Supplier: Kestrel Optics; Lead time (days): 23; Country: UK",
        "lead time of Praxiteles Marble": "Supplier: Praxiteles Marble; Lead time (days): 63; Country: GR",
    }
    with start_app(index, tmp_path, llm={"backend": "extractive"}) as app:
        for query, row in asked.items():
            hits = httpx.post(f"{app.url}/v1/retrieve", json={"query": query, "top_k": 3}, timeout=60).json()["hits"]
            top = hits[0]
            assert top["text"] == f"{HEADING} - {row}", (query, top)
            assert top["metadata"]["source"] == str(pdf) and top["metadata"]["page"] == 1
        hits = httpx.post(f"{app.url}/v1/retrieve", json={"query": "returns policy"}, timeout=60).json()["hits"]
        assert hits[0]["metadata"]["page"] == 2 and "thirty days" in hits[0]["text"]
