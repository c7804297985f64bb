"""A scanned PDF and a photo of a notice, ingested by the CLI and found over the HTTP API with page and OCR mark."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_app
from tests.integration.test_ingest import _cli
from tests.unit.test_ocr import blank, encode, scan

pytestmark = pytest.mark.integration

ARCHIVE = ("Old invoices are shredded after", "eleven years by the Leeds depot.")
PARKING = ("Bicycles are parked in the", "cellar behind the green door.")


def test_scans_and_images_are_indexed_by_ocr_and_cited_as_such(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "archive-scan.pdf").write_bytes(encode([blank(), scan(ARCHIVE)], "PDF", resolution=100))
    (docs / "parking-notice.png").write_bytes(encode([scan(PARKING)], "PNG"))
    index = tmp_path / "idx"
    proc = _cli(str(docs), "--index", str(index), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["new"] == 2 and report["skipped"] == []
    assert report["warnings"] == [{"path": str(docs / "archive-scan.pdf"), "warning": "page 1: no text found by OCR"}]
    assert "warning " + str(docs / "archive-scan.pdf") + ": page 1: no text found by OCR" in proc.stderr

    with start_app(index, tmp_path, llm={"backend": "extractive"}) as app:
        hits = httpx.post(
            f"{app.url}/v1/retrieve", json={"query": "when are old invoices shredded"}, timeout=60
        ).json()["hits"]
        top = hits[0]["metadata"]
        assert (Path(top["source"]).name, top["page"], top["ocr"]) == ("archive-scan.pdf", 2, True)
        assert "eleven years" in hits[0]["text"].lower()
        hits = httpx.post(f"{app.url}/v1/retrieve", json={"query": "where are bicycles parked"}, timeout=60).json()[
            "hits"
        ]
        top = hits[0]["metadata"]
        assert (Path(top["source"]).name, top.get("page"), top["ocr"]) == ("parking-notice.png", None, True)
        answer = httpx.post(
            f"{app.url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "When are old invoices shredded?"}]},
            timeout=120,
        ).json()
        first = answer["citations"][0]
        assert (Path(first["source"]).name, first["page"], first["ocr"]) == ("archive-scan.pdf", 2, True)
