"""`python -m eval bench-ray`: ingestion throughput in process and on a Ray cluster of 1 and 2 worker nodes.

Each cluster is started here on loopback (`ray start --head` and `ray start --address`), one CPU per node, one
encoder actor per node; the corpus is the first N SciFact documents, ingested from scratch into a fresh index each
time (embedded Chroma), so every run embeds the same chunks. On one machine the nodes share its cores, so this
measures the overhead and the pipeline, not the scaling a cluster of machines gets: docs/scaling.md has the layout
and expected throughput for N machines from the encoder's measured tokens/s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from configs.settings import PROJECT_ROOT, Settings
from eval.bench.loopback import free_port

RAY = str(Path(sys.executable).parent / "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def _corpus(settings: Settings, n: int, out: Path) -> Path:
    from eval.datasets import load_dataset
    from eval.retrieval_metrics import materialise

    docs = materialise(
        load_dataset(settings.resolve(settings.eval.data_dir) / "scifact", "test"),  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
        settings.resolve(settings.eval.cache_dir),
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in sorted(docs.iterdir())[:n]:
        shutil.copy(f, out / f.name)
    return out


def _ingest(docs: Path, index: Path, extra: list[str]) -> dict[str, Any]:
    shutil.rmtree(index, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(  # nosec B603  # ray's CLI with this benchmark's arguments, no shell
        [sys.executable, "-m", "ingest", str(docs), "--index", str(index), "--json", *extra],
        cwd=PROJECT_ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise RuntimeError(proc.stderr.strip().splitlines()[-1:])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "wall_s": round(wall, 1),
        "run_s": round(report["seconds"], 1),
        "files": report["new"],
        "chunks": report["chunks_written"],
        "tokens": report["tokens_embedded"],
        "docs_per_s": round(report["new"] / wall, 1),
        "tokens_per_s": round(report["tokens_embedded"] / wall),
    }


def main(settings: Settings, workers: list[int], n_docs: int, out: Path, say: Any = print) -> dict[str, Any]:
    bench = settings.resolve(settings.eval.cache_dir) / "bench"
    docs = _corpus(settings, n_docs, bench / "ray-docs")
    results: dict[str, Any] = {"docs": n_docs, "cpu": cpu_description(), "runs": {}}
    say("in process")
    results["runs"]["in-process"] = _ingest(docs, bench / "ray-index", [])
    say(f"  {results['runs']['in-process']}")
    for n in workers:
        port = free_port()
        address = f"127.0.0.1:{port}"
        common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
        try:
            subprocess.run(  # nosec B603  # ray's CLI with this benchmark's arguments, no shell
                [RAY, "start", "--head", "--port", str(port), "--include-dashboard=false", *common],
                env=ENV,
                check=True,
                capture_output=True,
            )
            for _ in range(n - 1):
                subprocess.run([RAY, "start", "--address", address, *common], env=ENV, check=True, capture_output=True)  # nosec B603  # ray's CLI with this benchmark's arguments, no shell
            say(f"ray, {n} node(s)")
            results["runs"][f"ray-{n}-nodes"] = _ingest(docs, bench / "ray-index", ["--ray", address])
            say(f"  {results['runs'][f'ray-{n}-nodes']}")
        finally:
            subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True, check=False)  # nosec B603  # ray's CLI with this benchmark's arguments, no shell
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def cpu_description() -> str:
    """The CPU's model, vector flags and cores, and the embedder arithmetic chosen on it: in every bench result."""
    from configs.loading import load_settings
    from retrieval.embeddings import build_embedder
    from retrieval.openvino_int8 import cpu_signature

    settings = load_settings()
    embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
    precision = getattr(embedder, "precision", "?")
    return f"{cpu_signature()} ({os.cpu_count()} cores); embedder arithmetic: {precision}"
