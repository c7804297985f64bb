"""Where ingest's heavy work runs: in this process (the default), or on a Ray cluster.

One pipeline, two executors. The indexer computes the change plan, decides every file's fate in candidate order,
and is the only writer of Chroma, the manifest and the lexical index (ingest/writer.py), whichever executor it
uses. An executor does two things for it: turn candidates into parsed, chunked items (`parse`), and turn chunk
texts into vectors (`embed`).

- LocalExecutor: a background parse thread (ParseStage.stream) and the process's own embedder.
- RayExecutor: parsing and chunking as Ray tasks (a few files per task, a bounded window in flight, results taken
  in submission order), and embedding on a pool of actors that each load the model once (a GPU each when the
  cluster has GPUs). The tasks read the files by path, so every node must see the documents at the same paths
  (a shared or replicated folder), and the model at the configured path. Ray retries a task, and restarts an
  actor, whose worker dies; a retried task returns the same chunks and ids, so nothing is written twice.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from configs.errors import IngestError
from configs.settings import ChunkingSettings, EmbeddingSettings
from ingest.archives import ArchiveLimits
from ingest.discovery import Candidate
from ingest.ocr import OcrOptions
from ingest.parsing import FileParser, Parsed, ParseStage
from retrieval.embeddings import Embedder

logger = logging.getLogger(__name__)

FILES_PER_TASK = 8
TEXTS_PER_CALL = 256


class Executor(Protocol):
    def parse(self, stage: ParseStage, candidates: Sequence[Candidate], indexed: dict[str, str]) -> Iterator[Parsed]:
        """Parsed items in candidate order, each with the plan's decision (stage.settle); indexed maps a path to
        the content hash it is indexed with."""
        ...

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Everything in this process: the parse thread and this embedder."""

    name = "local"

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def parse(self, stage: ParseStage, candidates: Sequence[Candidate], indexed: dict[str, str]) -> Iterator[Parsed]:
        return stage.stream(candidates)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embedder.embed_documents(texts)

    def close(self) -> None:
        pass


# --- Ray ---------------------------------------------------------------------------------------------------------

_WORKER_PARSERS: dict[str, FileParser] = {}


def _worker_parser(
    chunking: ChunkingSettings,
    embedding: EmbeddingSettings,
    cache_dir: str,
    limits: ArchiveLimits,
    ocr: OcrOptions | None = None,
) -> FileParser:
    """One FileParser per worker process and configuration (its chunker counts tokens with the model's
    tokenizer, which is loaded once)."""
    from ingest.chunking import Chunker
    from ingest.formats import default_loaders
    from retrieval.embeddings import build_embedder

    key = f"{chunking.model_dump_json()}|{embedding.model_dump_json()}|{cache_dir}|{limits}|{ocr}"
    parser = _WORKER_PARSERS.get(key)
    if parser is None:
        embedder = build_embedder(embedding, Path(cache_dir))
        parser = FileParser(default_loaders(limits, ocr), Chunker(chunking, embedder, embedder.max_tokens))
        _WORKER_PARSERS[key] = parser
    return parser


def _parse_files(
    candidates: list[Candidate],
    indexed: list[str | None],
    chunking: ChunkingSettings,
    embedding: EmbeddingSettings,
    cache_dir: str,
    limits: ArchiveLimits,
    ocr: OcrOptions | None = None,
) -> list[Parsed]:
    """A Ray task: read, hash, parse and chunk a few files (those whose hash is not the indexed one)."""
    parser = _worker_parser(chunking, embedding, cache_dir, limits, ocr)
    return [parser.parse_unless(c, h) for c, h in zip(candidates, indexed, strict=True)]


class _Encoder:
    """A Ray actor: one embedder, loaded once, encoding batches of texts."""

    def __init__(self, embedding: EmbeddingSettings, cache_dir: str) -> None:
        from retrieval.embeddings import build_embedder

        self._embedder = build_embedder(embedding, Path(cache_dir))
        self._embedder.embed_query("warm up")

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embedder.embed_documents(texts)


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with what to do, when nothing listens at the address (Ray itself waits minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise IngestError(f"Ray address {address!r} is not HOST:PORT (e.g. 127.0.0.1:6379, as `ray start` prints)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise IngestError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with `ray start --head` or "
            "unset --ray / ingest.ray_address"
        ) from exc


class RayExecutor:
    """Parse tasks and an encoder actor pool on the Ray cluster at `address`."""

    name = "ray"

    def __init__(
        self,
        address: str,
        chunking: ChunkingSettings,
        embedding: EmbeddingSettings,
        cache_dir: Path,
        actors: int = 0,
        limits: ArchiveLimits | None = None,
        ocr: OcrOptions | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise IngestError("ingest.ray_address is set but Ray is not installed; run `make setup`") from exc
        import configs
        import ingest
        import retrieval

        _probe(address)
        self._ray = ray
        self._chunking = chunking
        self._embedding = embedding
        self._limits = limits or ArchiveLimits()
        self._ocr = ocr
        self._cache_dir = str(cache_dir.resolve())
        env = {
            k: os.environ[k]
            for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY")
            if k in os.environ
        }
        try:
            ray.init(
                address=address,
                runtime_env={"py_modules": [configs, ingest, retrieval], "env_vars": env},
                logging_level=logging.WARNING,
                log_to_driver=False,
                include_dashboard=False,
            )
        except Exception as exc:  # ConnectionError, or Ray's own when nothing listens at the address
            raise IngestError(
                f"cannot join the Ray cluster at {address} ({type(exc).__name__}: {str(exc)[:160]}); start it with "
                "`ray start --head` or unset --ray / ingest.ray_address"
            ) from exc
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        n = actors or (gpus if gpus else max(1, len([n for n in ray.nodes() if n.get("Alive")])))
        # Encoders reserve no CPU (they share the nodes' cores with the parse tasks, as in one process) and are
        # spread over the nodes: an encoder reserving a CPU starves the tasks that feed it wherever a node has
        # no whole CPU left (a deadlock, seen with one-CPU nodes).
        options: dict[str, Any] = {
            "num_cpus": 0,
            "scheduling_strategy": "SPREAD",
            "max_restarts": 3,
            "max_task_retries": 3,
        }
        embedding_for_actor = embedding
        if gpus:
            options["num_gpus"] = 1
            precision = embedding.precision if embedding.precision in ("auto", "fp32", "bf16") else "fp32"
            if precision != embedding.precision:
                logger.warning(
                    "the GPU encoders compute fp32 vectors, but this index is labelled %s (this machine's arithmetic): "
                    "set embedding.precision: fp32 when ingesting on a GPU cluster",
                    embedding.precision,
                )
            embedding_for_actor = embedding.model_copy(update={"device": "cuda", "precision": precision})
        actor_class = ray.remote(**options)(_Encoder)
        self._actors: list[Any] = [actor_class.remote(embedding_for_actor, self._cache_dir) for _ in range(n)]
        self._task = ray.remote(num_cpus=1, max_retries=3)(_parse_files)
        self._window = max(2, 2 * cpus)
        logger.info("ray: %d encoder actor(s), %d CPU(s), %d GPU(s) in the cluster", n, cpus, gpus)

    def parse(self, stage: ParseStage, candidates: Sequence[Candidate], indexed: dict[str, str]) -> Iterator[Parsed]:
        ray = self._ray
        batches = [list(candidates[i : i + FILES_PER_TASK]) for i in range(0, len(candidates), FILES_PER_TASK)]
        pending: deque[Any] = deque()
        submitted = 0
        while submitted < len(batches) or pending:
            while submitted < len(batches) and len(pending) < self._window:
                batch = batches[submitted]
                hashes = [indexed.get(str(c.path)) for c in batch]
                args = (batch, hashes, self._chunking, self._embedding, self._cache_dir, self._limits, self._ocr)
                pending.append(self._task.remote(*args))  # type: ignore[call-arg]  # Ray types at most 5 arguments
                submitted += 1
            for item in ray.get(pending.popleft()):
                yield stage.settle(item)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        ray = self._ray
        parts = [texts[i : i + TEXTS_PER_CALL] for i in range(0, len(texts), TEXTS_PER_CALL)]
        refs = [self._actors[i % len(self._actors)].embed.remote(part) for i, part in enumerate(parts)]
        return np.concatenate(ray.get(refs), axis=0)

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._ray.shutdown()
