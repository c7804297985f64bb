"""Ingest into a real Chroma (embedded and a `chroma run` server) with the real bundled embedder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.indexer import Indexer, build_indexer
from retrieval.lexical import LexicalIndex
from retrieval.store import ChromaStore
from tests.conftest import PYTHON, SAMPLE, make_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _indexer(index_dir: Path, embedder: Any, **sections: Any) -> Indexer:
    return build_indexer(make_settings(index_dir, **sections), embedder=embedder)


def _state(indexer: Indexer) -> dict[str, Any]:
    """Everything a user could observe about an index, normalised for comparison."""
    coll = indexer.store.collection
    got = coll.get(include=["documents", "metadatas"])
    chroma = {
        i: (d, m["source"], m.get("page"), m["start"], m["chunk_index"])
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }
    lexical = LexicalIndex.load(indexer.index_dir)
    return {
        "chroma": chroma,
        "manifest": indexer.manifest.all_chunk_ids(),
        "files": {p: r.hash for p, r in indexer.manifest.files().items()},
        "lexical": lexical.ids() if lexical else set(),
    }


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "ingest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_cli_indexes_good_files_and_reports_each_bad_one(corpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, expected = corpus
    proc = _cli(str(root), "--index", str(tmp_path / "idx"), "--json")
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    reasons = {str(Path(s["path"]).relative_to(root)): s["reason"] for s in report["skipped"]}
    assert set(reasons) == set(expected)
    for rel, fragment in expected.items():
        assert fragment.lower() in reasons[rel].lower(), (rel, reasons[rel])
    good = sum(1 for p in SAMPLE.rglob("*") if p.is_file()) + 1  # + latin1.txt
    assert report["new"] == good and report["chunks_written"] > good
    assert report["files_seen"] == len(expected) - 2 + good  # unsupported and unreadable files are not "seen"
    for key in (
        "files_seen",
        "new",
        "changed",
        "deleted",
        "unchanged",
        "skipped",
        "chunks_written",
        "chunks_removed",
        "seconds",
    ):
        assert key in report
    # The re-run embeds nothing and still reports the same skipped files.
    again = json.loads(_cli(str(root), "--index", str(tmp_path / "idx"), "--json").stdout.strip().splitlines()[-1])
    assert again["unchanged"] == good and again["chunks_written"] == 0 and len(again["skipped"]) == len(expected)
    listing = _cli("--list", "--index", str(tmp_path / "idx"))
    assert "code-of-conduct.pdf" in listing.stdout and f"{good} files" in listing.stdout


def test_cli_argument_errors() -> None:
    assert _cli("/no/such/folder").returncode == 2
    assert "not found" in _cli("/no/such/folder").stderr
    assert _cli().returncode == 2
    bad = _cli(str(SAMPLE), env={"KB_CHUNKING__MAX_TOKEN": "3"})
    assert bad.returncode == 1 and "unknown key 'chunking.max_token'" in bad.stderr


def test_edits_deletes_moves_and_config_changes(tmp_path: Path, embedder: Any) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    indexer = _indexer(tmp_path / "idx", embedder)
    first = indexer.run([docs])
    assert first.new == 10 and not first.skipped

    (docs / "finance" / "expenses.txt").write_text("Expense Claims\n\nClaims are now paid weekly on Fridays.\n")
    (docs / "it" / "password-faq.txt").unlink()
    (docs / "archive").mkdir()
    (docs / "hr" / "benefits.docx").rename(docs / "archive" / "benefits.docx")
    (docs / "hr" / "new-note.md").write_text("# Office hours\n\nThe office opens at 07:30.\n")
    second = indexer.run([docs])
    assert (second.new, second.changed, second.deleted, second.moved, second.unchanged) == (1, 1, 1, 1, 7)

    state = _state(indexer)
    assert state["chroma"].keys() == state["manifest"] == state["lexical"]
    sources = {v[1] for v in state["chroma"].values()}
    assert str(docs / "it" / "password-faq.txt") not in sources
    assert str(docs / "hr" / "benefits.docx") not in sources
    moved = [
        m for m in indexer.store.collection.get(include=["metadatas"])["metadatas"] if m["filename"] == "benefits.docx"
    ]
    assert moved and all(m["collection"] == "archive" and m.get("tag:archive") for m in moved)
    texts = " ".join(v[0] for v in state["chroma"].values())
    assert "paid weekly on Fridays" in texts and "next monthly salary run" not in texts
    # Moving reused the stored vectors: only the changed and the new file were embedded.
    assert second.chunks_written == len(indexer.manifest.chunk_ids(str(docs / "finance" / "expenses.txt"))) + len(
        indexer.manifest.chunk_ids(str(docs / "hr" / "new-note.md"))
    ) + len(moved)

    # A chunking change re-indexes every file; nothing of the old generation survives.
    rechunked = _indexer(tmp_path / "idx", embedder, chunking={"max_tokens": 64})
    third = rechunked.run([docs])
    assert third.changed == 10 and third.unchanged == 0
    after = _state(rechunked)
    assert after["chroma"].keys() == after["manifest"] == after["lexical"]
    assert not (after["manifest"] & state["manifest"])


def test_renamed_root_folder_is_a_move_not_a_second_copy(tmp_path: Path, embedder: Any) -> None:
    old, other = tmp_path / "kb-2025", tmp_path / "other"
    shutil.copytree(SAMPLE, old)
    shutil.copytree(SAMPLE / "hr", other)
    indexer = _indexer(tmp_path / "idx", embedder)
    indexer.run([old])
    indexer.run([other])
    before = indexer.store.count()
    shutil.rmtree(other)  # gone from disk, but this run is not about its folder: its entries stay
    new = old.rename(tmp_path / "kb-2026")
    report = indexer.run([new])
    assert (report.moved, report.new, report.changed, report.deleted) == (10, 0, 0, 0)
    state = _state(indexer)
    assert state["chroma"].keys() == state["manifest"] == state["lexical"]
    sources = {v[1] for v in state["chroma"].values()}
    assert not any(s.startswith(str(old) + "/") for s in sources)  # no stale copies under the old name
    assert sum(s.startswith(str(other) + "/") for s in sources) > 0
    assert indexer.store.count() == before


def test_a_folder_reached_through_a_symlink_is_indexed_once(tmp_path: Path, embedder: Any) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    (tmp_path / "link").symlink_to(docs, target_is_directory=True)
    indexer = _indexer(tmp_path / "idx", embedder)
    assert indexer.run([docs]).new == 10
    again = indexer.run([tmp_path / "link"])
    assert (again.new, again.unchanged, again.deleted) == (0, 10, 0)
    assert indexer.remove([tmp_path / "link" / "hr"]).deleted == 3


def test_removing_a_folder_from_the_index(tmp_path: Path, embedder: Any) -> None:
    indexer = _indexer(tmp_path / "idx", embedder)
    indexer.run([SAMPLE])
    report = indexer.remove([SAMPLE / "hr"])
    assert report.deleted == 3
    state = _state(indexer)
    assert not any("/hr/" in v[1] for v in state["chroma"].values())
    assert state["chroma"].keys() == state["manifest"] == state["lexical"]


def test_ingest_into_a_chroma_server(tmp_path: Path, embedder: Any, chroma_server: str) -> None:
    indexer = _indexer(tmp_path / "idx", embedder, index={"chroma_url": chroma_server})
    report = indexer.run([SAMPLE])
    assert report.new == 10
    server = make_settings(tmp_path / "idx", index={"chroma_url": chroma_server}).index
    assert ChromaStore(server, tmp_path / "idx").count() == report.chunks_written  # a fresh client sees them
    assert not (tmp_path / "idx" / "chroma").exists()  # vectors went to the server, not an embedded store
    assert indexer.run([SAMPLE]).unchanged == 10


def test_unreachable_chroma_server_is_a_clear_fatal_error(tmp_path: Path) -> None:
    proc = _cli(str(SAMPLE), "--index", str(tmp_path / "idx"), env={"KB_INDEX__CHROMA_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 1
    assert "cannot reach the Chroma server" in proc.stderr and "chroma run" in proc.stderr


def test_a_second_ingest_on_the_same_index_refuses(tmp_path: Path) -> None:
    from ingest.indexer import IndexLock

    (tmp_path / "idx").mkdir()
    with IndexLock(tmp_path / "idx"):
        proc = _cli(str(SAMPLE), "--index", str(tmp_path / "idx"))
    assert proc.returncode == 1 and "is being written by pid" in proc.stderr


def _many_files(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        paras = [
            f"Document {i}, part {j}: " + " ".join(f"fact {i}.{j}.{k} about topic {k % 7}" for k in range(10))
            for j in range(4)
        ]
        (root / f"doc{i:03}.txt").write_text(f"Title {i}\n\n" + "\n\n".join(paras))


def _kill_mid_run(docs: Path, index: Path, env: dict[str, str], delays: tuple[float, ...]) -> list[int]:
    """Start ingest runs and SIGKILL each once it has committed files; the number committed at each kill."""
    committed_at_kill = []
    manifest = index / "manifest.sqlite"
    for delay in delays:
        before = 0
        if manifest.exists():
            with sqlite3.connect(manifest) as db:
                before = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
        proc = subprocess.Popen(
            [PYTHON, "-m", "ingest", str(docs), "--index", str(index)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:  # wait until it has committed something
            if manifest.exists():
                try:
                    with sqlite3.connect(manifest) as db:
                        row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
                        if row and int(row[0]) > before + 1:
                            break
                except sqlite3.Error:
                    pass
            time.sleep(0.05)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            with sqlite3.connect(manifest) as db:
                committed_at_kill.append(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        proc.wait()
    return committed_at_kill


def test_killed_runs_leave_an_index_identical_to_a_clean_run(tmp_path: Path, embedder: Any) -> None:
    docs = tmp_path / "docs"
    _many_files(docs, 60)
    env = {"KB_INGEST__BATCH_CHUNKS": "8"}
    killed = tmp_path / "killed"
    committed_at_kill = _kill_mid_run(docs, killed, env, (0.0, 1.5))
    assert committed_at_kill and min(committed_at_kill) < 60  # at least one kill really landed mid-run
    finish = _cli(str(docs), "--index", str(killed), "--json", env=env)
    assert finish.returncode == 0, finish.stderr
    resumed = _state(_indexer(killed, embedder, ingest={"batch_chunks": 8}))
    clean_indexer = _indexer(tmp_path / "clean", embedder, ingest={"batch_chunks": 8})
    clean_indexer.run([docs])
    clean = _state(clean_indexer)
    assert resumed == clean
    # No chunk of any file is stored twice (under two ids) after the kills and the resumed run.
    places = [(source, index) for _, source, _, _, index in resumed["chroma"].values()]
    assert len(places) == len(set(places)) == len(resumed["manifest"])

    # Incremental runs killed mid-way, over an index whose lexical side is already published: files changed,
    # deleted and added. A reader can still open and search the index left by a kill.
    for i in range(0, 20):
        (docs / f"doc{i:03}.txt").write_text(f"Changed title {i}\n\nA changed body about topic {i % 5}. " * 15)
    for i in range(50, 60):
        (docs / f"doc{i:03}.txt").unlink()
    (docs / "more").mkdir()
    _many_files(docs / "more" / "x", 20)
    assert _kill_mid_run(docs, killed, env, (0.3,))
    left = LexicalIndex.load(killed)
    assert left is not None and left.search("topic", 5)
    finish = _cli(str(docs), "--index", str(killed), "--json", env=env)
    assert finish.returncode == 0, finish.stderr
    clean_indexer.run([docs])
    clean = _state(clean_indexer)
    assert _state(_indexer(killed, embedder, ingest={"batch_chunks": 8})) == clean
    assert clean["lexical"] == clean["manifest"] and len(clean["manifest"]) > 0


def test_links_out_of_the_root_or_into_another_collection_are_not_indexed(tmp_path: Path, embedder: Any) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    secret = tmp_path / "keys.md"
    secret.write_text("# Keys\n\nThe vault key hash is 9f86d081884c7d659a2feaa0c55ad015.\n")
    (docs / "hr" / "keys.md").symlink_to(secret)  # outside every root
    (docs / "hr" / "vpn.html").symlink_to(docs / "it" / "vpn-setup.html")  # another collection's file
    (docs / "hr" / "it").symlink_to(docs / "it", target_is_directory=True)  # another collection's folder
    (docs / "hr" / "leave-copy.md").symlink_to(docs / "hr" / "leave-policy.md")  # its own collection: indexed
    indexer = _indexer(tmp_path / "idx", embedder)
    report = indexer.run([docs])
    reasons = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert "outside the ingest root" in reasons["keys.md"]
    assert "another collection ('it')" in reasons["vpn.html"] and "another collection ('it')" in reasons["it"]
    got = indexer.store.collection.get(include=["documents", "metadatas"])
    assert not any("9f86d081" in d for d in got["documents"])
    hr = {m["relpath"] for m in got["metadatas"] if m["collection"] == "hr"}
    assert hr == {"hr/benefits.docx", "hr/code-of-conduct.pdf", "hr/leave-policy.md", "hr/leave-copy.md"}
    it_sources = {m["source"] for m in got["metadatas"] if m["collection"] == "it"}
    assert all("/docs/it/" in s for s in it_sources) and len(it_sources) == 3


def test_a_batch_is_written_while_the_next_is_embedded_and_a_failed_write_stops_the_run(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes run behind the encoder (one in flight, in order), yet a write that fails still fails the run with its
    own error, nothing after it is written, and the next run ends with the index a clean run builds."""
    from ingest.writer import IndexWriter

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE, docs)
    real_write, real_embed = IndexWriter.write, type(embedder).embed_documents
    events: list[tuple[str, float, float]] = []

    def write(self: IndexWriter, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        if sum(1 for e in events if e[0] == "write") == 2:
            events.append(("write", t0, t0))
            raise OSError("disk full (test)")
        out = real_write(self, *args, **kwargs)
        time.sleep(0.3)  # a slow disk: the next batch's embedding must not wait for it
        events.append(("write", t0, time.perf_counter()))
        return out

    def embed(self: Any, texts: Any) -> Any:
        t0 = time.perf_counter()
        out = real_embed(self, texts)
        events.append(("embed", t0, time.perf_counter()))
        return out

    monkeypatch.setattr(IndexWriter, "write", write)
    monkeypatch.setattr(type(embedder), "embed_documents", embed)
    with pytest.raises(OSError, match="disk full"):
        _indexer(tmp_path / "idx", embedder, ingest={"batch_chunks": 4}).run([docs])
    writes = [e for e in events if e[0] == "write"]
    embeds = [e for e in events if e[0] == "embed"]
    assert len(writes) == 3 and len(embeds) >= 3
    assert embeds[1][1] < writes[0][2]  # the second batch was embedded while the first was being written
    monkeypatch.setattr(IndexWriter, "write", real_write)
    resumed = _indexer(tmp_path / "idx", embedder, ingest={"batch_chunks": 4})
    resumed.run([docs])
    clean = _indexer(tmp_path / "clean", embedder, ingest={"batch_chunks": 4})
    clean.run([docs])
    assert _state(resumed) == _state(clean) and len(_state(clean)["manifest"]) > 0
