import sqlite3
from pathlib import Path

import pytest

from ingest.manifest import ChunkRow, FileRecord, Manifest
from retrieval.types import ChunkMeta


def _rec(path: str, h: str) -> FileRecord:
    return FileRecord(path, h, "fp", 10, 1.0, "txt", 1, 10, 2)


def _rows(path: str, ids: list[str]) -> list[ChunkRow]:
    return [ChunkRow(i, path, n, f"text {i}", f"text {i}", ChunkMeta()) for n, i in enumerate(ids)]


def test_replacing_a_file_returns_only_ids_that_disappeared(tmp_path: Path) -> None:
    m = Manifest(tmp_path / "m.sqlite")
    assert m.commit_files([_rec("/a", "h1")], _rows("/a", ["x", "y"])) == []
    garbage = m.commit_files([_rec("/a", "h2")], _rows("/a", ["y", "z"]))
    assert garbage == ["x"]
    assert m.chunk_ids("/a") == ["y", "z"]
    assert ("x", "del") in m.pending()


def test_removal_and_generation(tmp_path: Path) -> None:
    m = Manifest(tmp_path / "m.sqlite")
    m.commit_files([_rec("/a", "h1"), _rec("/b", "h2")], _rows("/a", ["a1"]) + _rows("/b", ["b1"]))
    gen = m.generation()
    assert m.commit_files([], [], ["/a"]) == ["a1"]
    assert m.generation() == gen + 1
    assert set(m.files()) == {"/b"}
    assert m.all_chunk_ids() == {"b1"}


def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    m = Manifest(tmp_path / "m.sqlite")
    m.commit_files([_rec("/a", "h1")], _rows("/a", ["a1"]))
    generation = m.generation()
    # Replacing /a deletes its rows inside the transaction, then the file row violates NOT NULL (hash): the
    # deletes must be rolled back with it.
    with pytest.raises(sqlite3.IntegrityError):
        m.commit_files([_rec("/a", None)], _rows("/a", ["a2"]))  # type: ignore[arg-type]
    assert set(m.files()) == {"/a"} and m.all_chunk_ids() == {"a1"} and m.chunk_ids("/a") == ["a1"]
    assert m.generation() == generation and m.pending() == []
