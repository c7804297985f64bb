"""BM25 over the same chunks as the dense store (bm25s + English stemming), persisted beside the index.

Each ingest that changes the manifest rebuilds it once and publishes it atomically under a generation number:
a new folder `bm25-<gen>/` is written, then the pointer file `bm25.current` is replaced. Readers load
whatever the pointer names, so a crash mid-build never leaves a half-written index in use.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.filters import Filter, MetadataColumns
from retrieval.types import Chunk

logger = logging.getLogger(__name__)

POINTER = "bm25.current"


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str], stemmer: Any) -> list[list[str]]:
    """Lower-cased, English stop words removed, Snowball-stemmed tokens (the same for corpus and queries)."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)


class LexicalIndex:
    """A loaded BM25 index with its chunks' ids, texts and metadata."""

    def __init__(self, retriever: Any, ids: list[str], texts: list[str], metas: list[dict[str, Any]], generation: int):
        self._bm25 = retriever
        self.ids = ids
        self.texts = texts
        self.metas = metas
        self.generation = generation
        self.columns = MetadataColumns(metas)
        self._stemmer = _stemmer()
        self._vocab = set(retriever.vocab_dict) if retriever is not None else set()

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, rows: Iterable[tuple[str, str, str, Mapping[str, Any]]], generation: int) -> LexicalIndex:
        """rows: (chunk id, verbatim text, text to index, metadata)."""
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        indexed: list[str] = []
        metas: list[dict[str, Any]] = []
        for cid, text, index_text, meta in rows:
            ids.append(cid)
            texts.append(text)
            indexed.append(index_text)
            metas.append(dict(meta))
        retriever = None
        if ids:
            retriever = bm25s.BM25()
            retriever.index(tokenize(indexed, _stemmer()), show_progress=False)
        return cls(retriever, ids, texts, metas, generation)

    def save(self, index_dir: Path) -> None:
        """Write bm25-<generation>/ and switch the pointer to it atomically; older generations are removed."""
        target = index_dir / f"bm25-{self.generation}"
        tmp = index_dir / f"bm25-{self.generation}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp), show_progress=False)
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for cid, text, meta in zip(self.ids, self.texts, self.metas, strict=True):
                fh.write(json.dumps({"id": cid, "text": text, "meta": meta}) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        pointer_tmp = index_dir / (POINTER + ".tmp")
        pointer_tmp.write_text(json.dumps({"dir": target.name, "generation": self.generation}))
        os.replace(pointer_tmp, index_dir / POINTER)
        for old in index_dir.glob("bm25-*"):
            if old.name != target.name:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def published_generation(index_dir: Path) -> int | None:
        """Generation of the published index, or None when there is none."""
        try:
            return int(json.loads((index_dir / POINTER).read_text())["generation"])
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def load(cls, index_dir: Path) -> LexicalIndex | None:
        """The published index, or None when no ingest has published one yet."""
        import bm25s

        try:
            pointer = json.loads((index_dir / POINTER).read_text())
        except (OSError, ValueError):
            return None
        folder = index_dir / pointer["dir"]
        ids, texts, metas = [], [], []
        with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                ids.append(row["id"])
                texts.append(row["text"])
                metas.append(row["meta"])
        retriever = bm25s.BM25.load(str(folder), mmap=False) if ids else None
        return cls(retriever, ids, texts, metas, int(pointer["generation"]))

    def search(self, query: str, k: int, flt: Filter | None = None) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25 score (only positive scores), restricted to the filter, best first."""
        if self._bm25 is None or not query.strip():
            return []
        tokens = [t for t in tokenize([query], self._stemmer)[0] if t in self._vocab]
        if not tokens:
            return []
        mask = None
        if flt is not None and not flt.is_empty():
            mask = self.columns.mask(flt)
            if not mask.any():
                return []
        k = min(k, len(self.ids))
        docs, scores = self._bm25.retrieve(
            [tokens], k=k, show_progress=False, weight_mask=None if mask is None else mask.astype(np.float32)
        )
        out = []
        for ix, score in zip(docs[0], scores[0], strict=True):
            ix = int(ix)
            if score <= 0 or (mask is not None and not mask[ix]):
                continue
            out.append((Chunk.from_record(self.ids[ix], self.texts[ix], self.metas[ix]), float(score)))
        return out
