"""Distributed ingestion on a real Ray cluster on loopback (`ray start --head` plus one worker node, bounded CPUs),
writing to a real `chroma run` server: the index equals the one the in-process path builds, and a worker killed
mid-run leaves it consistent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.bench.loopback import free_port
from retrieval.lexical import LexicalIndex
from tests.conftest import PYTHON, SAMPLE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(PYTHON).parent / "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "ANONYMIZED_TELEMETRY": "False"}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node (2 CPUs) and a worker node (1 CPU) on this machine; yields the address to join."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    head = [RAY, "start", "--head", "--port", str(port), "--num-cpus", "2", "--include-dashboard=false", *common]
    worker = [RAY, "start", "--address", address, "--num-cpus", "1", *common]
    try:
        subprocess.run(head, env=ENV, check=True, capture_output=True, timeout=120)
        subprocess.run(worker, env=ENV, check=True, capture_output=True, timeout=120)
        yield address
    finally:
        subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True, timeout=120)


def _docs(root: Path, n: int) -> Path:
    shutil.copytree(SAMPLE, root)
    for i in range(n):
        paras = [
            f"Report {i}, part {j}: " + " ".join(f"finding {i}.{j}.{k} on topic {k % 9}" for k in range(12))
            for j in range(3)
        ]
        (root / "reports").mkdir(exist_ok=True)
        (root / "reports" / f"r{i:03}.txt").write_text(f"Report {i}\n\n" + "\n\n".join(paras))
    return root


def _ingest(
    docs: Path, index: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "ingest", str(docs), "--index", str(index), "--json", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**ENV, **(env or {})},
    )


def _state(index: Path, chroma_url: str | None) -> dict[str, Any]:
    """Chroma ids and vectors, the manifest's chunks and files, and the lexical index's ids."""
    import chromadb
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # another process wrote the embedded store since it was last opened
    client = (
        chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
        if chroma_url
        else (chromadb.PersistentClient(path=str(index / "chroma")))
    )
    got = client.get_collection("knowledge_base").get(include=["embeddings", "metadatas"])
    with sqlite3.connect(index / "manifest.sqlite") as db:
        chunks = sorted(db.execute("SELECT id, path, seq, text, embed_text FROM chunks").fetchall())
        files = sorted(db.execute("SELECT path, hash, fingerprint, n_chunks FROM files").fetchall())
    lexical = LexicalIndex.load(index)
    return {
        "chroma": dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True)),
        "sources": {i: m["source"] for i, m in zip(got["ids"], got["metadatas"], strict=True)},
        "chunks": chunks,
        "files": files,
        "lexical": lexical.ids() if lexical else set(),
    }


def _same_index(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert set(a["chroma"]) == set(b["chroma"]) == {c[0] for c in a["chunks"]} == a["lexical"] == b["lexical"]
    assert a["chunks"] == b["chunks"] and a["files"] == b["files"] and a["sources"] == b["sources"]
    for cid, vector in a["chroma"].items():  # batches differ between executors, so bf16 padding may too
        assert float(vector @ b["chroma"][cid]) > 0.999


def test_ray_ingest_builds_the_same_index_as_the_in_process_path(
    ray_cluster: str, chroma_server: str, tmp_path: Path
) -> None:
    docs = _docs(tmp_path / "docs", 40)
    ray_env = {"KB_INDEX__CHROMA_URL": chroma_server}
    remote = _ingest(docs, tmp_path / "ray-index", "--ray", ray_cluster, env=ray_env)
    assert remote.returncode == 0, remote.stderr[-2000:]
    report = json.loads(remote.stdout.strip().splitlines()[-1])
    assert report["new"] == report["files_seen"] > 40 and report["chunks_written"] > 40 and not report["skipped"]

    # Incremental through Ray too: a changed, a deleted and a new file.
    (docs / "reports" / "r001.txt").write_text("Report 1, rewritten: the topic changed entirely.")
    (docs / "reports" / "r002.txt").unlink()
    (docs / "reports" / "new.md").write_text("# New\n\nA new report about caching.")
    again = _ingest(docs, tmp_path / "ray-index", "--ray", ray_cluster, env=ray_env)
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = json.loads(again.stdout.strip().splitlines()[-1])
    assert (rerun["new"], rerun["changed"], rerun["deleted"]) == (1, 1, 1)
    assert rerun["unchanged"] == report["files_seen"] - 2
    # What the two Ray runs left (the first run's chunks of the unchanged files included) is exactly the index the
    # in-process path builds of the same files in one run.
    local = _ingest(docs, tmp_path / "local-index")
    assert local.returncode == 0, local.stderr[-2000:]
    _same_index(_state(tmp_path / "ray-index", chroma_server), _state(tmp_path / "local-index", None))


def test_a_worker_killed_mid_run_leaves_the_index_consistent(
    ray_cluster: str, chroma_server: str, tmp_path: Path
) -> None:
    docs = _docs(tmp_path / "docs", 48)
    env = {**ENV, "KB_INDEX__CHROMA_URL": chroma_server, "KB_INGEST__BATCH_CHUNKS": "16"}
    index = tmp_path / "ray-index"
    proc = subprocess.Popen(
        [PYTHON, "-m", "ingest", str(docs), "--index", str(index), "--json", "--ray", ray_cluster],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    killed = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not killed:
        # Once files are committed, kill every Ray worker process (parse tasks, encoder actors, idle workers).
        manifest = index / "manifest.sqlite"
        try:
            with sqlite3.connect(manifest) as db:
                committed = db.execute("SELECT COUNT(*) FROM files").fetchone()[0] if manifest.exists() else 0
        except sqlite3.Error:
            committed = 0
        if committed:
            pids = subprocess.run(
                ["pgrep", "-f", "^ray::(_Encoder|_parse_files|IDLE)"], capture_output=True, text=True
            ).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        time.sleep(0.2)
    out, _ = proc.communicate(timeout=600)
    assert killed, "no Ray worker was running while the ingest had committed files"
    # Ray retries the tasks and restarts the actors, so the run may finish; if it failed, a re-run finishes it.
    finish = _ingest(docs, index, "--ray", ray_cluster, env={"KB_INDEX__CHROMA_URL": chroma_server})
    assert finish.returncode == 0, finish.stderr[-2000:]
    rerun = json.loads(finish.stdout.strip().splitlines()[-1])
    if proc.returncode == 0:
        assert rerun["unchanged"] == rerun["files_seen"] and rerun["chunks_written"] == 0
    local = _ingest(docs, tmp_path / "local-index")
    assert local.returncode == 0, local.stderr[-2000:]
    _same_index(_state(index, chroma_server), _state(tmp_path / "local-index", None))


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _ingest(SAMPLE, tmp_path / "index", "--ray", f"127.0.0.1:{free_port()}")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: no Ray cluster answers at 127.0.0.1:")
    assert not (tmp_path / "index" / "manifest.sqlite").exists()
