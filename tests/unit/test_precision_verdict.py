"""The embedder's arithmetic for a CPU is measured by one process; the others wait for its verdict."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from retrieval import embeddings


def test_processes_starting_together_share_one_measured_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two timings on a busy machine can disagree (CI had an ingest CLI on int8 while the process beside it chose
    fp32, so one index got two sets of chunk ids): the second caller must wait for and use the first's verdict."""
    calls: list[str] = []

    def measure(*args: Any) -> str:
        known, key, record_path = args[-3:]
        choice = ("int8", "fp32")[len(calls) % 2]  # each fresh measurement disagrees with the previous one
        calls.append(choice)
        time.sleep(0.3)
        known[key] = {"choice": choice}
        record_path.write_text(json.dumps(known))
        return choice

    monkeypatch.setattr(embeddings, "_measure", measure)
    got: list[str] = []

    def run() -> None:
        got.append(embeddings.measured_precision(None, Path("model"), tmp_path, None, 32, ["fp32", "int8"]))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["int8"] and got == ["int8"] * 3


def test_a_cache_that_cannot_be_written_keeps_this_cpus_earlier_verdict_or_fp32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only model cache (a container's) must not stop the embedder from loading when the candidates change
    (an upgrade adds one): the verdict this CPU got before is kept, and with none, fp32."""

    def measure(*args: Any) -> str:
        raise AssertionError("nothing can be measured into a cache that cannot be written")

    monkeypatch.setattr(embeddings, "_measure", measure)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert embeddings.measured_precision(None, Path("model"), blocked / "models", None, 32, ["fp32", "int8"]) == "fp32"
    cache = tmp_path / "cache"
    cache.mkdir()
    from retrieval import openvino_int8

    old = f"{openvino_int8.cpu_signature()}|model|fp32,int8"
    (cache / "precision.json").write_text(json.dumps({old: {"choice": "int8"}}))
    import filelock

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(filelock, "FileLock", refuse)
    assert embeddings.measured_precision(None, Path("model"), cache, None, 32, ["fp32", "int8", "onnx-int8"]) == "int8"


def test_auto_times_onnx_int8_where_onnx_runtime_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's int8 is the arithmetic that is fast without VNNI (2.1x fp32 on an AVX2-only EPYC): auto must
    time it beside the others, and a CPU without it installed times the rest."""
    from configs.settings import EmbeddingSettings

    seen: list[list[str]] = []

    def measured(*args: Any) -> str:
        seen.append(list(args[-1]))
        return "fp32"

    monkeypatch.setattr(embeddings, "measured_precision", measured)
    monkeypatch.setattr(embeddings, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(embeddings.openvino_int8, "installed", lambda: True)
    embedder = embeddings.SentenceTransformerEmbedder(EmbeddingSettings(), tmp_path)
    for onnx in (True, False):
        monkeypatch.setattr(embeddings.onnx_int8, "installed", lambda onnx=onnx: onnx)
        embedder._auto_precision(None, Path("model"))
    assert seen == [["fp32", "int8", "onnx-int8"], ["fp32", "int8"]]
