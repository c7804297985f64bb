"""The one writer of the lexical index (retrieval/lexical.py describes the format and the readers): the tantivy
schema, chunks as tantivy documents, the incremental writer the ingest uses and a from-scratch build."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from retrieval.lexical import FOLDER, FORMAT, GENERATION_FILE, LexicalIndex, key_of, published_generation, tokenize
from retrieval.types import TAG_PREFIX

_WRITER_HEAP = 128 * 2**20  # tantivy flushes a segment when its buffer reaches this


def _schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("key", indexed=True, fast=True)
    sb.add_text_field("id", tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("tokens", tokenizer_name="whitespace", index_option="freq")
    for name in ("collection", "file_type", "source", "tag"):
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_float_field("mtime", indexed=True, fast=True)
    sb.add_bytes_field("doc", stored=True)  # {"id", "text", "meta"} as JSON
    return sb.build()


def _documents(rows: Iterable[tuple[str, str, str, Mapping[str, Any]]], batch: int = 2000) -> Iterator[tuple[str, Any]]:
    """(chunk id, tantivy document) for each row; texts are tokenised a batch at a time."""
    rows = iter(rows)
    while True:
        part = list(itertools.islice(rows, batch))
        if not part:
            return
        for (cid, text, _indexed, meta), tokens in zip(part, tokenize([r[2] for r in part]), strict=True):
            yield cid, _document(cid, text, tokens, meta)


def _document(cid: str, text: str, tokens: list[str], meta: Mapping[str, Any]) -> Any:
    import tantivy

    doc = tantivy.Document()
    doc.add_integer("key", key_of(cid))
    doc.add_text("id", cid)
    doc.add_text("tokens", " ".join(tokens))
    for name in ("collection", "file_type", "source"):
        value = meta.get(name)
        if isinstance(value, str) and value:
            doc.add_text(name, value)
    for k, v in meta.items():
        if k.startswith(TAG_PREFIX) and v is True:
            doc.add_text("tag", k[len(TAG_PREFIX) :])
    mtime = meta.get("mtime")
    if isinstance(mtime, int | float) and not isinstance(mtime, bool):
        doc.add_float("mtime", float(mtime))
    doc.add_bytes("doc", json.dumps({"id": cid, "text": text, "meta": dict(meta)}).encode())
    return doc


class LexicalWriter:
    """The one writer of an index's lexical side (the ingest lock keeps it to one process at a time).

    Adds and deletes are buffered in tantivy's writer; `commit(generation)` makes them visible to readers and
    then records the generation."""

    def __init__(self, index_dir: Path) -> None:
        import tantivy

        self.index_dir = index_dir
        folder = index_dir / FOLDER
        if folder.exists() and published_generation(index_dir) is None:  # another format: rebuilt by reconcile
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(_schema(), path=str(folder), reuse=True)
        self._writer = self._index.writer(_WRITER_HEAP, num_threads=1)
        self._dirty = False

    def add(self, rows: Iterable[tuple[str, str, str, Mapping[str, Any]]]) -> int:
        """rows: (chunk id, verbatim text, text to index, metadata); an id already present is replaced."""
        n = 0
        for cid, doc in _documents(rows):
            self._writer.delete_documents_by_term("key", key_of(cid))
            self._writer.add_document(doc)
            n += 1
        self._dirty = self._dirty or n > 0
        return n

    def delete(self, ids: Iterable[str]) -> int:
        n = 0
        for cid in ids:
            self._writer.delete_documents_by_term("key", key_of(cid))
            n += 1
        self._dirty = self._dirty or n > 0
        return n

    def commit(self, generation: int) -> None:
        """Publish what was buffered, then record the generation it corresponds to."""
        if self._dirty:
            self._writer.commit()
            self._writer.garbage_collect_files()
            self._dirty = False
        tmp = self.index_dir / (GENERATION_FILE + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"format": FORMAT, "generation": generation}))
        os.replace(tmp, self.index_dir / GENERATION_FILE)
        for old in [*self.index_dir.glob("bm25-*"), self.index_dir / "bm25.current"]:  # the previous format
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)

    def rollback(self) -> None:
        self._writer.rollback()
        self._dirty = False

    def reconcile(self, owned: Mapping[int, str], rows: Any) -> tuple[int, int]:
        """Make the committed index hold exactly the owned chunks (key -> id); rows(ids) yields the rows of the
        missing ones. Returns (added, deleted)."""
        self.rollback()
        self._index.reload()
        reader = LexicalIndex(self._index, 0)
        present = reader.keys()
        extra = present - owned.keys()
        for key in extra:
            self._writer.delete_documents_by_term("key", key)
        missing = [owned[k] for k in owned.keys() - present]
        added = self.add(rows(missing)) if missing else 0
        self._dirty = self._dirty or bool(extra)
        return added, len(extra)

    def close(self) -> None:
        self._writer.wait_merging_threads()


def build(index_dir: Path, rows: Iterable[tuple[str, str, str, Mapping[str, Any]]], generation: int) -> None:
    """Write a lexical index holding exactly rows, from scratch (benchmarks and tools; ingest is incremental)."""
    shutil.rmtree(index_dir / FOLDER, ignore_errors=True)
    (index_dir / GENERATION_FILE).unlink(missing_ok=True)
    writer = LexicalWriter(index_dir)
    for _cid, doc in _documents(rows):
        writer._writer.add_document(doc)
        writer._dirty = True
    writer.commit(generation)
    writer.close()
