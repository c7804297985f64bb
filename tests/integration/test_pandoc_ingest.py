"""EPUB, ODT and RTF end to end: indexed by the CLI and found through /v1/retrieve with their table rows' headers;
and an uploaded EPUB, parsed in the upload sandbox (its address-space limit holds for pandoc too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.access.identity import LOCAL
from tests.integration.conftest import start_app
from tests.integration.test_ingest import _cli
from tests.integration.test_upload_limits import _assistant
from tests.unit.test_pandoc import write

pytestmark = pytest.mark.integration


def test_cli_indexes_epub_odt_and_rtf_and_finds_their_rows_and_text(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for fmt in ("epub", "odt", "rtf"):  # the same handbook in each format: each copy's row must be found
        (docs / f"purchasing.{fmt}").write_bytes(write(tmp_path, fmt).read_bytes())
    index = tmp_path / "idx"
    proc = _cli(str(docs), "--index", str(index), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["new"] == 3 and not report["skipped"], report
    with start_app(index, tmp_path, llm={"backend": "extractive"}) as app:
        hits = httpx.post(
            f"{app.url}/v1/retrieve", json={"query": "lead time of Kestrel Optics", "top_k": 3}, timeout=60
        ).json()["hits"]
        row = "Lead times - Supplier: Kestrel Optics; Lead time (days): 23; Country: UK"
        assert [h["text"] for h in hits] == [row] * 3
        assert {Path(h["metadata"]["source"]).suffix for h in hits} == {".epub", ".odt", ".rtf"}
        hits = httpx.post(
            f"{app.url}/v1/retrieve", json={"query": "how many quotes for orders above 2,000 euros"}, timeout=60
        ).json()["hits"]
        assert "need a second quote" in hits[0]["text"], hits[0]


def test_an_uploaded_epub_is_parsed_in_the_sandbox_and_answers(tmp_path: Path, embedder: Any) -> None:
    assistant = _assistant(tmp_path, embedder)
    (tmp_path / "in").mkdir()
    book = write(tmp_path / "in", "epub")
    message = assistant.ingest_upload([book], "purchasing", LOCAL)
    assert "Indexed 1 file(s) into **purchasing**" in message, message
    answer = assistant.chain.answer("What do orders above 2,000 euros need?")
    assert "second quote" in answer.text and answer.citations[0].relpath == "handbook.epub", answer
