"""`python -m eval bench-ingest`: ingestion throughput on real corpora, against the raw embedder and the tutorial.

Corpora: SciFact (5,183 abstracts written as text files) and a mixed corpus of real Debian documentation
(PostgreSQL HTML, R manuals as PDF, Debian Reference converted to DOCX with pandoc), fetched with
`apt-get download` + `dpkg -x` (no install). Each run is a fresh index in a subprocess, timed end to end with
its peak RSS.
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
from eval.datasets import load_dataset
from eval.retrieval_metrics import materialise

PACKAGES = {"postgresql-doc-15": "html", "r-doc-pdf": "pdf", "debian-reference-en": "docx"}


def _run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) of this one child (os.wait4), its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # nosec B603  # the benchmark's own command, no shell
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return wall, int(usage.ru_maxrss // 1024), out


def fetch_debian_corpus(cache: Path) -> Path:
    """HTML, PDF and DOCX from Debian documentation packages (downloaded once into data/cache)."""
    debian = cache / "debian-docs"
    done = debian / "complete"
    if done.exists():
        return debian / "docs"
    raw = debian / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if not list(raw.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=raw, check=True)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
        deb = next(raw.glob(f"{pkg}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(raw / pkg)], check=True)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
    docs = debian / "docs"
    (docs / "html").mkdir(parents=True, exist_ok=True)
    (docs / "pdf").mkdir(parents=True, exist_ok=True)
    (docs / "docx").mkdir(parents=True, exist_ok=True)
    for f in (raw / "postgresql-doc-15").rglob("*.html"):
        shutil.copy(f, docs / "html" / f.name)
    for f in (raw / "r-doc-pdf").rglob("*.pdf"):
        shutil.copy(f, docs / "pdf" / f.name)
    if shutil.which("pandoc") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "pandoc"], check=True, stdout=subprocess.DEVNULL)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
    for f in sorted((raw / "debian-reference-en").rglob("*.html")):
        target = docs / "docx" / (f.stem + ".docx")
        subprocess.run(["pandoc", str(f), "-o", str(target)], check=True, stderr=subprocess.DEVNULL)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
    done.write_text("ok")
    return docs


def _raw_encode_seconds(settings: Settings, index_dir: Path) -> tuple[float, int]:
    """Encode the exact texts the ingest embedded, with the same embedder and nothing else."""
    import sqlite3

    from retrieval.embeddings import build_embedder

    with sqlite3.connect(index_dir / "manifest.sqlite") as db:
        texts = [r[0] for r in db.execute("SELECT embed_text FROM chunks")]
    embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
    embedder.embed_query("warm up")
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    return time.perf_counter() - t0, len(texts)


def bench_ours(settings: Settings, name: str, docs: Path, bench: Path) -> dict[str, Any]:
    index = bench / f"{name}-index"
    shutil.rmtree(index, ignore_errors=True)
    wall, rss, out = _run([sys.executable, "-m", "ingest", str(docs), "--index", str(index), "--json"])
    report = json.loads(out.strip().splitlines()[-1])
    rewall, _, reout = _run([sys.executable, "-m", "ingest", str(docs), "--index", str(index), "--json"])
    rerun = json.loads(reout.strip().splitlines()[-1])
    encode_s, n_texts = _raw_encode_seconds(settings, index)
    files = report["new"]
    seconds = report["seconds"]
    return {
        "files": files,
        "skipped": len(report["skipped"]),
        "tokens_embedded": report["tokens_embedded"],
        "embed_seconds": round(report["embed_seconds"], 1),
        "pages": report["pages"],
        "chunks": report["chunks_written"],
        "wall_seconds": round(wall, 1),
        "run_seconds": round(seconds, 1),
        "docs_per_s": round(files / wall, 1),
        "pages_per_s": round(report["pages"] / wall, 1),
        "chunks_per_s": round(report["chunks_written"] / wall, 1),
        "peak_rss_mb": rss,
        "raw_encode_seconds": round(encode_s, 1),
        "raw_encode_chunks_per_s": round(n_texts / encode_s, 1),
        "throughput_vs_raw_encoder": round(encode_s / wall, 3),
        "throughput_vs_raw_encoder_in_run": round(encode_s / seconds, 3),
        "rerun_wall_seconds": round(rewall, 2),
        "rerun_run_seconds": round(rerun["seconds"], 2),
        "rerun_embedded_chunks": rerun["chunks_written"],
        "rerun_fraction_of_first": round(rewall / wall, 4),
    }


def bench_tutorial(docs: Path, bench: Path, glob: str = "**/*.txt") -> dict[str, Any]:
    persist = bench / "tutorial-index"
    shutil.rmtree(persist, ignore_errors=True)
    code = (
        "import json,sys; from pathlib import Path; from configs.loading import offline_environment; "
        "offline_environment(); from eval.baseline import build_tutorial_index; "
        f"print(json.dumps(build_tutorial_index(Path({str(docs)!r}), Path({str(persist)!r}), {glob!r})))"
    )
    wall, rss, out = _run([sys.executable, "-c", code])
    stats = json.loads(out.strip().splitlines()[-1])
    stats.update(
        wall_seconds=round(wall, 1),
        docs_per_s=round(stats["docs"] / wall, 1),
        chunks_per_s=round(stats["chunks"] / wall, 1),
        peak_rss_mb=rss,
    )
    return stats


def main(settings: Settings, corpora: list[str], out: Path, tutorial: bool = True) -> dict[str, Any]:
    cache = settings.resolve(settings.eval.cache_dir)
    bench = cache / "bench"
    from eval.bench.bench_ray import cpu_description

    results: dict[str, Any] = {"cpu": cpu_description()}
    if "scifact" in corpora:
        docs = materialise(load_dataset(settings.resolve(settings.eval.data_dir) / "scifact"), cache)  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
        results["scifact"] = {"ours": bench_ours(settings, "scifact", docs, bench)}
        print(json.dumps(results["scifact"], indent=1), file=sys.stderr)
        if tutorial:
            results["scifact"]["tutorial"] = bench_tutorial(docs, bench)
            ours, tut = results["scifact"]["ours"], results["scifact"]["tutorial"]
            results["scifact"]["speedup_docs_per_s"] = round(ours["docs_per_s"] / tut["docs_per_s"], 2)
    if "debian" in corpora:
        results["debian"] = {"ours": bench_ours(settings, "debian", fetch_debian_corpus(cache), bench)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results
