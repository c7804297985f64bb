"""Configuration: one typed Settings object loaded from configs/<profile>.yaml plus KB_* env overrides."""

from configs.errors import ConfigError, IndexBusy, IngestError, KBError, ModelUnavailable, RetrievalError
from configs.settings import (
    AnswerSettings,
    ChunkingSettings,
    EmbeddingSettings,
    EvalSettings,
    IndexSettings,
    IngestSettings,
    LLMSettings,
    RetrievalSettings,
    ServingSettings,
    Settings,
    load_settings,
    offline_environment,
)

__all__ = [
    "AnswerSettings",
    "LLMSettings",
    "ServingSettings",
    "ChunkingSettings",
    "ConfigError",
    "EmbeddingSettings",
    "EvalSettings",
    "IndexBusy",
    "IndexSettings",
    "IngestError",
    "IngestSettings",
    "KBError",
    "ModelUnavailable",
    "RetrievalError",
    "RetrievalSettings",
    "Settings",
    "load_settings",
    "offline_environment",
]
