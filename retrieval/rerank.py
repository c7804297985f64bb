"""Rerankers: the Reranker role, a local sentence-transformers CrossEncoder, and an HTTP reranking endpoint."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from configs.errors import ModelUnavailable
from retrieval.types import Hit

logger = logging.getLogger(__name__)


class Reranker(Protocol):
    """Re-scores (query, passage) pairs; returns the hits best first with the new score."""

    @property
    def name(self) -> str: ...

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]: ...


def _apply(hits: Sequence[Hit], scores: Sequence[float], name: str) -> list[Hit]:
    rescored = [
        replace(h, score=float(s), scores={**h.scores, name: float(s)}) for h, s in zip(hits, scores, strict=True)
    ]
    order = sorted(range(len(rescored)), key=lambda i: -rescored[i].score)
    return [replace(rescored[i], ranks={**rescored[i].ranks, name: r}) for r, i in enumerate(order, start=1)]


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder from a local folder (e.g. the one `make train-reranker` builds)."""

    def __init__(self, path: Path, max_length: int = 256, batch_size: int = 32) -> None:
        self._path = path
        self._max_length = max_length
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "rerank"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if not (self._path / "config.json").exists():
                    raise ModelUnavailable(
                        f"no cross-encoder in {self._path}; run `make train-reranker` or set retrieval.rerank: none"
                    )
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(
                    str(self._path), device="cpu", max_length=self._max_length, local_files_only=True
                )
        return self._model

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        scores = self._load().predict(
            [(query, h.chunk.text) for h in hits], batch_size=self._batch_size, show_progress_bar=False
        )
        return _apply(hits, [float(s) for s in scores], self.name)


class HttpReranker:
    """A reranking endpoint: vLLM / Jina / Cohere style `/rerank` (also accepts TEI's response shape)."""

    def __init__(self, url: str, model: str | None = None, timeout: float = 30.0, api_key: str | None = None) -> None:
        self._url = url
        self._model = model
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    @property
    def name(self) -> str:
        return "rerank"

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        import httpx

        if not hits:
            return []
        texts = [h.chunk.text for h in hits]
        body: dict[str, Any] = {"query": query, "documents": texts, "texts": texts}
        if self._model:
            body["model"] = self._model
        try:
            response = httpx.post(self._url, json=body, timeout=self._timeout, headers=self._headers)
            if response.status_code in (401, 403):
                raise ModelUnavailable(
                    f"reranking endpoint {self._url} refused the request ({response.status_code}); set "
                    "KB_RETRIEVAL__RERANK_API_KEY to a key it accepts"
                )
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ModelUnavailable(
                f"reranking endpoint {self._url} failed ({exc}); check retrieval.rerank_url"
            ) from exc
        results = data["results"] if isinstance(data, dict) else data
        scores = [0.0] * len(hits)
        for item in results:
            scores[int(item["index"])] = float(item.get("relevance_score", item.get("score", 0.0)))
        return _apply(hits, scores, self.name)


class OverlapReranker:
    """Scores a passage by the share of the query's words it contains: the fake for tests of what is built on a
    reranker (blending, the /v1/rerank endpoint), where a trained model takes minutes to make."""

    @property
    def name(self) -> str:
        return "rerank"

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        from retrieval.text import content_stems

        wanted = content_stems(query)
        scores = [len(wanted & content_stems(h.chunk.text)) / max(1, len(wanted)) for h in hits]
        return _apply(hits, scores, self.name)
