"""`python -m eval bench-scale`: how search latency and memory grow with the index (5k / 50k / 500k chunks).

The chunks are the SciFact index's real chunks, replicated: copy i of a chunk gets the id `<id>~i`, a vector
nudged by small Gaussian noise (re-normalised, so the HNSW graph is not full of exact duplicates), and
chunk n of the index is put in collection `part-<n mod 10>`, so a collection filter keeps a tenth of it.
They are written through the same ChromaStore and lexical index (tantivy) code that ingest uses. Each size is then
searched, in a fresh process so that its memory is its own, by the SciFact test queries with the default
pipeline (fusion, no rerank), without a filter, with a collection filter (a tenth of the chunks) and with a
one-file filter (a few chunks).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from configs.settings import PROJECT_ROOT, Settings
from eval.stats import nearest_rank

PARTS = 10  # chunk i is in collection part-<i mod 10>: a collection filter keeps a tenth


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _source(settings: Settings) -> tuple[list[tuple[str, str, str, dict[str, Any]]], np.ndarray]:
    """The SciFact index's chunk rows (id, text, indexed text, metadata) and their vectors."""
    from eval.datasets import load_dataset
    from eval.retrieval_metrics import index_dataset
    from ingest.manifest import Manifest
    from retrieval.store import ChromaStore

    dataset = load_dataset(settings.resolve(settings.eval.data_dir) / "scifact", "test")  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
    index_dir, _ = index_dataset(settings, dataset)
    manifest = Manifest(index_dir / "manifest.sqlite")
    try:
        rows = [(r.id, r.text, r.embed_text, r.record) for r in manifest.chunk_rows()]
    finally:
        manifest.close()
    store = ChromaStore(settings.index.model_copy(update={"chroma_url": None}), index_dir)
    vectors = store.get_vectors([r[0] for r in rows])
    return rows, np.stack([vectors[r[0]] for r in rows])


def build(
    settings: Settings,
    source: tuple[list[tuple[str, str, str, dict[str, Any]]], np.ndarray],
    size: int,
    out: Path,
    say: Any,
) -> dict[str, Any]:
    """Write an index of `size` replicas of the source chunks into out; returns build timings and disk use."""
    from retrieval import lexical_writer
    from retrieval.store import ChromaStore
    from retrieval.types import Chunk

    rows, vectors = source
    rng = np.random.default_rng(size)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    store = ChromaStore(settings.index.model_copy(update={"chroma_url": None, "path": out}), out)
    t0 = time.perf_counter()
    batch = 5000
    lexical_rows: list[tuple[str, str, str, dict[str, Any]]] = []
    for start in range(0, size, batch):
        idx = np.arange(start, min(size, start + batch))
        src, copy = idx % len(rows), idx // len(rows)
        noisy = vectors[src] + rng.normal(0, 0.01, size=(len(idx), vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        chunks = []
        for i, s, c in zip(idx, src, copy, strict=True):
            cid, text, indexed, meta = rows[s]
            record = {**meta, "collection": f"part-{i % PARTS}", "source": f"{meta.get('source', cid)}~{c}"}
            chunk = Chunk.from_record(f"{cid}~{c}", text, record)
            chunks.append(chunk)
            lexical_rows.append((chunk.id, text, indexed, chunk.to_record()))
        store.upsert(chunks, noisy)
        say(f"  {size:,}: {min(size, start + batch):,} chunks written to Chroma")
    chroma_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    lexical_writer.build(out, lexical_rows, generation=1)
    bm25_s = time.perf_counter() - t1
    return {
        "chunks": size,
        "chroma_write_s": round(chroma_s, 1),
        "bm25_build_s": round(bm25_s, 1),
        "disk_mb": round(_du(out) / 2**20, 1),
    }


def _memory_mb() -> dict[str, float]:
    """This process's resident and peak memory. Read from /proc, since getrusage's ru_maxrss survives exec
    and would report the parent's peak (the build) in the measuring child."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": out.get("VmRSS", 0.0), "peak_rss_mb": out.get("VmHWM", 0.0)}


def measure(settings: Settings, index_dir: Path, queries: list[str], chroma_url: str | None = None) -> dict[str, Any]:
    """Search latency (p50/p95, per stage) and this process's memory; run in a fresh process per size."""
    from retrieval.filters import Filter
    from retrieval.retriever import build_retriever

    before = _memory_mb()["rss_mb"]
    cfg = settings.model_copy(
        update={
            "index": settings.index.model_copy(update={"path": index_dir, "chroma_url": chroma_url}),
            "retrieval": settings.retrieval.model_copy(update={"rerank": "none"}),
        }
    )
    t0 = time.perf_counter()
    retriever = build_retriever(cfg, index_dir)
    retriever.search("warm up the embedder, Chroma and the BM25 index")
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {"load_s": round(load_s, 1)}
    lexical = retriever.lexical
    one_file = lexical.facets()["source"][0] if lexical is not None else "none"
    for name, flt in (
        ("unfiltered", None),
        ("filtered", Filter.parse({"collections": ["part-3"]})),
        ("filtered_one_file", Filter.parse({"sources": [one_file]})),
    ):
        totals: list[float] = []
        stages: dict[str, list[float]] = {}
        for q in queries:
            result = retriever.search(q, flt)
            totals.append(result.timings_ms["total"])
            for stage in ("embed", "dense", "bm25"):
                stages.setdefault(stage, []).append(result.timings_ms.get(stage, 0.0))
            if flt is not None:
                assert all(flt.matches(h.chunk.to_record()) for h in result.hits)
        out[name] = {
            "p50_ms": nearest_rank(totals, 0.5),
            "p95_ms": nearest_rank(totals, 0.95),
            **{f"{s}_p50_ms": round(statistics.median(v), 1) for s, v in stages.items()},
        }
    out.update(_memory_mb())
    out["rss_before_load_mb"] = before  # the interpreter and settings, before any model or index is loaded
    return out


def _search_in_child(index_dir: Path, queries: list[str], chroma_url: str | None = None) -> dict[str, Any]:
    """measure() in a fresh process, so that the memory it reports is the search's own."""
    proc = subprocess.run(  # nosec B603  # this benchmark's own commands, no shell
        [sys.executable, "-m", "eval.bench.bench_scale", str(index_dir), *([chroma_url] if chroma_url else [])],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"measuring {index_dir} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(proc.stdout))


def _measure_with_server(index_dir: Path, queries: list[str]) -> dict[str, Any]:
    """Search latency and memory of a search process whose vectors are in a `chroma run` server (and the
    server's own resident memory)."""
    from eval.bench.loopback import free_port, stop, wait_for_port

    port = free_port()
    server = subprocess.Popen(  # nosec B603  # this benchmark's own commands, no shell
        [
            str(Path(sys.executable).parent / "chroma"),
            "run",
            "--path",
            str(index_dir / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server, timeout=300)
        measured = _search_in_child(index_dir, queries, f"http://127.0.0.1:{port}")
        status = Path(f"/proc/{server.pid}/status").read_text().splitlines()
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        measured["chroma_server_rss_mb"] = round(rss / 1024, 1)
        return measured
    finally:
        stop(server)


def main(settings: Settings, sizes: list[int], out_json: Path, keep: bool, say: Any = print) -> dict[str, Any]:
    from eval.bench.bench_ray import cpu_description
    from eval.datasets import load_dataset

    dataset = load_dataset(settings.resolve(settings.eval.data_dir) / "scifact", "test")  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
    queries = [dataset.queries[q] for q in sorted(dataset.qrels)]
    results: dict[str, Any] = {"queries": len(queries), "cpu": cpu_description(), "sizes": {}}
    source = _source(settings)
    for size in sizes:
        index_dir = settings.resolve(settings.eval.cache_dir) / "bench" / f"scale-{size}"
        say(f"building {size:,} chunks in {index_dir}")
        built = build(settings, source, size, index_dir, say)
        say(f"  built: {built}")
        measured = _search_in_child(index_dir, queries)
        say(f"  searched: {measured}")
        results["sizes"][str(size)] = {**built, **measured}
        if size == max(sizes):  # the same index behind a `chroma run` server: the search process's own memory
            results["sizes"][str(size)]["chroma_server"] = _measure_with_server(index_dir, queries)
            say(f"  with a Chroma server: {results['sizes'][str(size)]['chroma_server']}")
        if not keep:
            shutil.rmtree(index_dir, ignore_errors=True)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":  # the per-size measuring process
    from configs.loading import load_settings, offline_environment

    offline_environment()
    url = sys.argv[2] if len(sys.argv) > 2 else None
    print(json.dumps(measure(load_settings(), Path(sys.argv[1]), json.loads(sys.stdin.read()), url)))
