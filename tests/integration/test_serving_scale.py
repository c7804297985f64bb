"""Serving scales out: two `python -m serving` processes read one index (a `chroma run` server for vectors, the
on-disk lexical index) while an ingest writes it, and both see each new generation without a restart."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from eval.bench.loopback import free_port, stop, wait_for_port
from tests.conftest import PYTHON, SAMPLE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _retrieve(port: int, query: str, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"query": query, "top_k": 3}
    if filters:
        body["filters"] = filters
    response = httpx.post(f"http://127.0.0.1:{port}/v1/retrieve", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return list(response.json()["hits"])


def _ingest(docs: Path, index: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "ingest", str(docs), "--index", str(index)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_two_servers_pick_up_each_ingest_without_a_restart(chroma_server: str, tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    shutil.copytree(SAMPLE, docs)
    env = {**os.environ, "KB_INDEX__CHROMA_URL": chroma_server, "ANONYMIZED_TELEMETRY": "False"}
    _ingest(docs, index, env)
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [PYTHON, "-m", "serving", "--index", str(index), "--port", str(p), "--backend", "extractive"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_for_port(port, proc, timeout=240)
        question = "When does the quokka migration move the wiki?"
        for port in ports:
            assert not any("quokka" in h["text"] for h in _retrieve(port, question))

        # A new file (and a removed one) while both servers run.
        (docs / "it" / "quokka.md").write_text(
            "# Quokka\n\nThe quokka migration moves the wiki to the new server in May."
        )
        removed = next((docs / "hr").glob("*.pdf"))
        removed.unlink()
        _ingest(docs, index, env)
        for port in ports:
            for filters in (None, {"collections": ["it"]}):
                hits = _retrieve(port, question, filters)
                assert hits and hits[0]["metadata"]["source"].endswith("quokka.md"), (port, filters, hits[:1])
                assert "bm25" in hits[0]["ranks"]  # found by the lexical index too, not only by Chroma
            gone = httpx.get(f"http://127.0.0.1:{port}/v1/files", params={"source": str(removed)}, timeout=60)
            assert gone.status_code == 404
            assert all(h["metadata"]["source"] != str(removed) for h in _retrieve(port, removed.stem))
    finally:
        for proc in procs:
            stop(proc)
