"""Which model answers: the configured backend, or for `llm.backend: auto` the best one this machine can reach."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from configs.settings import LLMSettings
from serving.llm.llamacpp import LlamaCppChatModel
from serving.llm.openai_compatible import OpenAIChatModel
from serving.llm.protocol import ChatModel


@dataclass(frozen=True)
class Backend:
    """The answering model chosen from settings, and why (shown on the page and in /v1/health)."""

    model: ChatModel | None  # None: extractive answers, no LLM
    kind: str  # openai | local | extractive
    reason: str


def openai_server_answers(base_url: str, api_key: str | None, timeout: float) -> bool:
    """True when an OpenAI-compatible server lists its models at base_url (vLLM, llama.cpp, Ollama)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=timeout)
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    return response.status_code == 200 and isinstance(data, dict) and isinstance(data.get("data"), list)


def installed_gguf(model_dir: Path) -> Path | None:
    """A GGUF that `make model` downloaded and verified (its checksum file is written last)."""
    verified = sorted(model_dir.glob("*.gguf.sha256")) if model_dir.is_dir() else []
    for marker in verified:
        gguf = marker.with_suffix("")
        if gguf.is_file():
            return gguf
    return None


def choose_backend(settings: LLMSettings, model_dir: Path) -> Backend:
    """The configured backend; for `auto`: a reachable OpenAI-compatible server, else a capable local GGUF
    (llm.gguf, or the one `make model` installs), else extractive answers. The bundled 135M model is never
    chosen automatically: measured on the sample handbook, most of its sentences are wrong (BENCHMARKS.md)."""
    url = settings.base_url
    if settings.backend == "openai":
        return Backend(OpenAIChatModel(settings), "openai", f"configured: llm.backend openai at {url}")
    if settings.backend == "local":
        model = LlamaCppChatModel(settings)
        return Backend(model, "local", f"configured: llm.backend local ({model.path.name})")
    if settings.backend == "extractive":
        return Backend(None, "extractive", "configured: llm.backend extractive (no LLM)")
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if openai_server_answers(url, key, settings.probe_timeout_s):
        return Backend(OpenAIChatModel(settings), "openai", f"auto: an OpenAI-compatible server answers at {url}")
    explicit = settings.gguf if settings.gguf != "bundled" else None
    gguf = Path(explicit).expanduser() if explicit else installed_gguf(model_dir)
    if gguf is not None and gguf.is_file():
        how = "llm.gguf" if explicit else "installed by `make model`"
        if importlib.util.find_spec("llama_cpp") is not None:
            return Backend(LlamaCppChatModel(settings, gguf), "local", f"auto: local model {gguf.name} ({how})")
        return Backend(
            None,
            "extractive",
            f"auto: no LLM server at {url}, and local model {gguf.name} ({how}) needs llama-cpp-python, which is "
            "not installed (`make setup-llm`), so answers quote the sources",
        )
    return Backend(
        None,
        "extractive",
        f"auto: no LLM server at {url} and no local model installed, so answers quote the sources; "
        "`make model` installs a local model, or start vLLM / Ollama / llama.cpp's server at llm.base_url",
    )
