"""The dense store: the VectorStore role, a Chroma collection (embedded or a `chroma run` server, cosine space),
and an in-memory fake."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from configs.errors import ConfigError, StoreUnavailable
from configs.settings import IndexSettings
from retrieval.filters import Filter
from retrieval.types import Chunk

logger = logging.getLogger(__name__)

EXHAUSTIVE_UP_TO = 400  # a query among at most this many ids compares their vectors one by one


class VectorStore(Protocol):
    """Chunks with their vectors, searchable by cosine similarity under a metadata filter."""

    @property
    def location(self) -> str:
        """Where the vectors live, for messages."""
        ...

    def count(self) -> int: ...

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks with their vectors; writing the same ids again replaces them (idempotent)."""
        ...

    def delete(self, ids: Iterable[str]) -> None: ...

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (ids that are not stored are left out)."""
        ...

    def all_ids(self) -> set[str]: ...

    def query(
        self, vector: np.ndarray, k: int, flt: Filter | None = None, ids: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks that pass the filter (and are among ids, when given), by cosine similarity, best
        first."""
        ...

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ids and similarities of the n nearest chunks, unfiltered, best first (no text or metadata read:
        the cheap first step of a post-filtered search)."""
        ...

    def fetch(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (ids that are not stored are left out)."""
        ...

    def following(self, chunk: Chunk) -> Chunk | None:
        """The chunk after this one in the same version of its file (chunk_index + 1), or None at its end."""
        ...


class ChromaStore:
    """Vectors and chunk text in Chroma; we always pass our own vectors (Chroma's default embedder downloads)."""

    def __init__(self, settings: IndexSettings, path: Path) -> None:
        self._settings = settings
        self._path = path
        self._collection: Any = None

    @property
    def location(self) -> str:
        """Where the vectors live, for messages."""
        return self._settings.chroma_url or str(self._path / "chroma")

    def _client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self._settings.chroma_url
        if url:
            from urllib.parse import urlparse

            parsed = urlparse(url)
            if not parsed.hostname:
                raise ConfigError(f"index.chroma_url {url!r} is not a URL like http://127.0.0.1:8000")
            try:
                client = chromadb.HttpClient(
                    host=parsed.hostname,
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            except Exception as exc:
                raise StoreUnavailable(
                    f"cannot reach the Chroma server at {url} ({type(exc).__name__}); start it with "
                    f"`chroma run --path DIR --host 127.0.0.1 --port N` or unset index.chroma_url"
                ) from exc
            return client
        (self._path / "chroma").mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self._path / "chroma"), settings=chroma_settings)

    @property
    def collection(self) -> Any:
        """The Chroma collection, opened once (created on first use, cosine space, no embedding function)."""
        if self._collection is None:
            client = self._client()
            self._collection = client.get_or_create_collection(
                name=self._settings.collection,
                metadata={"hnsw:space": "cosine"},
                embedding_function=None,
            )
            self._max_batch = int(client.get_max_batch_size())
        return self._collection

    def count(self) -> int:
        return int(self.collection.count())

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks with their vectors; ids are deterministic, so re-writing is idempotent."""
        collection = self.collection
        for start in range(0, len(chunks), self._max_batch):
            part = chunks[start : start + self._max_batch]
            collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + len(part)],
                documents=[c.text for c in part],
                metadatas=[c.to_record() for c in part],
            )

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        collection = self.collection
        for start in range(0, len(ids), self._max_batch):
            collection.delete(ids=ids[start : start + self._max_batch])

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (used to move a renamed file without re-embedding it)."""
        out: dict[str, np.ndarray] = {}
        collection = self.collection  # opens the client, which also sets _max_batch
        for start in range(0, len(ids), self._max_batch):
            got = collection.get(ids=list(ids[start : start + self._max_batch]), include=["embeddings"])
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True):
                out[cid] = np.asarray(vec, dtype=np.float32)
        return out

    def all_ids(self) -> set[str]:
        """Every id in the collection (used to find orphans after a crash)."""
        ids: set[str] = set()
        offset = 0
        collection = self.collection
        while True:
            got = collection.get(include=[], limit=self._max_batch, offset=offset)
            ids.update(got["ids"])
            if len(got["ids"]) < self._max_batch:
                return ids
            offset += self._max_batch

    def query(
        self, vector: np.ndarray, k: int, flt: Filter | None = None, ids: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (1 - cosine distance), best first. Among a few ids, exhaustively
        over their stored vectors: HNSW with an allow-list of a handful of ids wanders the whole graph (290 ms at
        500k chunks for 50 ids, 45 ms for 1,000, 18 ms for 5,000)."""
        collection = self.collection
        if ids is not None and len(ids) <= EXHAUSTIVE_UP_TO:
            return self._exhaustive(vector, k, flt, ids)
        n = min(k, collection.count() if ids is None else len(ids))
        if n == 0:
            return []
        where = flt.to_where() if flt is not None else None
        res = collection.query(
            query_embeddings=[vector],
            n_results=n,
            where=where,
            ids=list(ids) if ids is not None else None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (Chunk.from_record(cid, doc, dict(meta or {})), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    def _exhaustive(
        self, vector: np.ndarray, k: int, flt: Filter | None, ids: Sequence[str]
    ) -> list[tuple[Chunk, float]]:
        stored = self.get_vectors(ids)
        if not stored:
            return []
        order = list(stored)
        matrix = np.stack([stored[i] for i in order])
        q = np.asarray(vector, dtype=np.float32)
        sims = matrix @ q / np.maximum(np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(q)), 1e-12)
        ranked = sorted(zip(order, sims.tolist(), strict=True), key=lambda x: (-x[1], x[0]))
        if flt is None:
            ranked = ranked[:k]
        chunks = self.fetch([cid for cid, _ in ranked])
        hits = [(chunks[cid], s) for cid, s in ranked if cid in chunks]
        return [(c, s) for c, s in hits if flt is None or flt.matches(c.to_record())][:k]

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        collection = self.collection
        n = min(n, collection.count())
        if n <= 0:
            return []
        res = collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def fetch(self, ids: Sequence[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        collection = self.collection
        for start in range(0, len(ids), self._max_batch):
            got = collection.get(ids=list(ids[start : start + self._max_batch]), include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out[cid] = Chunk.from_record(cid, doc, dict(meta or {}))
        return out

    def following(self, chunk: Chunk) -> Chunk | None:
        where = {
            "$and": [
                {"source": chunk.source},
                {"content_hash": chunk.meta.content_hash},
                {"chunk_index": chunk.meta.chunk_index + 1},
            ]
        }
        got = self.collection.get(where=where, limit=1, include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return Chunk.from_record(got["ids"][0], got["documents"][0], dict(got["metadatas"][0] or {}))


class InMemoryStore:
    """Vectors in a dict, searched exhaustively: the fake for tests of everything that reads or writes a store."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, dict[str, Any], np.ndarray]] = {}

    @property
    def location(self) -> str:
        return "memory"

    def count(self) -> int:
        return len(self._rows)

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for chunk, vector in zip(chunks, vectors, strict=True):
            self._rows[chunk.id] = (chunk.text, chunk.to_record(), np.asarray(vector, dtype=np.float32))

    def delete(self, ids: Iterable[str]) -> None:
        for cid in ids:
            self._rows.pop(cid, None)

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {cid: self._rows[cid][2] for cid in ids if cid in self._rows}

    def all_ids(self) -> set[str]:
        return set(self._rows)

    def query(
        self, vector: np.ndarray, k: int, flt: Filter | None = None, ids: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        allowed = None if ids is None else set(ids)
        scored = [
            (self._cosine(v, vector), cid)
            for cid, (_, record, v) in self._rows.items()
            if (flt is None or flt.matches(record)) and (allowed is None or cid in allowed)
        ]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [(Chunk.from_record(cid, self._rows[cid][0], self._rows[cid][1]), s) for s, cid in scored[:k]]

    @staticmethod
    def _cosine(v: np.ndarray, q: np.ndarray) -> float:
        return float(v @ q) / max(1e-12, float(np.linalg.norm(v) * np.linalg.norm(q)))

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        scored = sorted(
            ((self._cosine(v, vector), cid) for cid, (_, _, v) in self._rows.items()), key=lambda x: (-x[0], x[1])
        )
        return [(cid, s) for s, cid in scored[:n]]

    def fetch(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {cid: Chunk.from_record(cid, self._rows[cid][0], self._rows[cid][1]) for cid in ids if cid in self._rows}

    def following(self, chunk: Chunk) -> Chunk | None:
        for cid, (text, record, _) in self._rows.items():
            if (
                record.get("source") == chunk.source
                and record.get("content_hash") == chunk.meta.content_hash
                and record.get("chunk_index") == chunk.meta.chunk_index + 1
            ):
                return Chunk.from_record(cid, text, record)
        return None
