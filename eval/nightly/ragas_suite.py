"""Ragas behind a narrow wrapper, so nothing else depends on its API churn.

Faithfulness and answer relevancy for every row; context precision and context recall only where a reference
answer exists. The judge is configured, never implied: an OpenAI-compatible endpoint (vLLM in production,
JSON output requested where the server supports it) or the local llama.cpp model. A score the judge failed to
produce (unparsable output, timeout) is returned as None and counted, never as 0 and never dropped.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from configs.settings import EvalSettings, LLMSettings, Settings

logger = logging.getLogger(__name__)

METRICS_ALWAYS = ("faithfulness", "answer_relevancy")
_LOCAL_JUDGE_LOCK = threading.RLock()
METRICS_WITH_REFERENCE = ("context_precision", "context_recall")


@dataclass(frozen=True)
class QARow:
    """One answered question for the judge."""

    question: str
    answer: str
    contexts: list[str]
    reference: str | None = None


def _patch_ragas_import() -> None:
    """ragas 0.4.3 imports langchain_community.chat_models.vertexai, which current langchain-community removed
    (ragas issues #2745, #2995). Register a stand-in module before the import; ragas never uses it here."""
    name = "langchain_community.chat_models.vertexai"
    if name in sys.modules:
        return
    try:
        __import__(name)
    except ImportError:
        stub = types.ModuleType(name)

        class ChatVertexAI:  # noqa: D401 - placeholder type for ragas' isinstance checks
            """Unused placeholder."""

        stub.ChatVertexAI = ChatVertexAI  # type: ignore[attr-defined]
        sys.modules[name] = stub


def judge_name(judge: EvalSettings) -> str:
    if judge.judge_backend == "openai":
        return f"openai:{judge.judge_model or '?'}@{judge.judge_base_url}"
    return f"local:{judge.judge_gguf}"


_SCHEMA_MARK = "as specified in JSON Schema:\n"


def output_schema(messages: Sequence[Any]) -> dict[str, Any] | None:
    """The JSON Schema that a ragas prompt asks for (ragas writes it into the prompt text), or None."""
    decoder = json.JSONDecoder()
    for message in messages:
        text = message.content if isinstance(message.content, str) else ""
        at = text.rfind(_SCHEMA_MARK)
        if at >= 0:
            try:
                schema, _ = decoder.raw_decode(text, at + len(_SCHEMA_MARK))
            except ValueError:
                return None
            return _non_empty_lists(schema) if isinstance(schema, dict) else None
    return None


def _non_empty_lists(schema: Any) -> Any:
    """Bounds that small judges need: every array has 1 to 12 items (an answer has at least one statement, and
    `[]` cannot be scored) and every string at most 400 characters (they otherwise ramble inside a string
    until max_tokens and the JSON never closes)."""
    if isinstance(schema, dict):
        out = {k: _non_empty_lists(v) for k, v in schema.items()}
        if out.get("type") == "array":
            out.setdefault("minItems", 1)
            out.setdefault("maxItems", 12)
        if out.get("type") == "string":
            out.setdefault("maxLength", 400)
        return out
    if isinstance(schema, list):
        return [_non_empty_lists(v) for v in schema]
    return schema


def _judge_llm(judge: EvalSettings, llm: LLMSettings) -> Any:
    """The judge as a LangChain chat model. With judge_json, each call is constrained to the JSON Schema that
    the ragas prompt asks for (guided decoding on vLLM, a grammar on llama.cpp): small judges then always
    return parsable output, where free text failed for 8 of 8 scores with the bundled 135M model."""
    if judge.judge_backend == "openai":
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        class SchemaChatOpenAI(ChatOpenAI):
            def _with_schema(self, messages: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
                schema = output_schema(messages) if judge.judge_json else None
                if schema is not None:
                    spec = {"name": "ragas_output", "schema": schema, "strict": False}
                    kwargs = {**kwargs, "response_format": {"type": "json_schema", "json_schema": spec}}
                return kwargs

            def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
                return super()._generate(messages, *args, **self._with_schema(messages, kwargs))

            async def _agenerate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
                return await super()._agenerate(messages, *args, **self._with_schema(messages, kwargs))

        key = llm.api_key if llm.api_key else SecretStr("not-needed")
        return SchemaChatOpenAI(
            base_url=judge.judge_base_url,
            model=judge.judge_model or "default",
            api_key=key,
            temperature=0.0,
            timeout=judge.judge_timeout_s,
            max_retries=1,
        )
    from langchain_community.chat_models import ChatLlamaCpp

    from serving.llm.llamacpp import bundled_gguf

    class SerialChatLlamaCpp(ChatLlamaCpp):
        """One generation at a time, each constrained to the prompt's JSON Schema. ragas abandons a job on
        timeout while its thread keeps generating; a second call into the same llama context then aborts the
        process (seen: SIGABRT in ggml), hence the lock."""

        def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
            schema = output_schema(messages) if judge.judge_json else None
            if schema is not None:
                kwargs = {**kwargs, "response_format": {"type": "json_object", "schema": schema}}
            with _LOCAL_JUDGE_LOCK:  # re-entrant: _generate may call _stream in the same thread
                return super()._generate(messages, *args, **kwargs)

    path = str(bundled_gguf()) if judge.judge_gguf == "bundled" else judge.judge_gguf
    return SerialChatLlamaCpp(
        model_path=path, n_ctx=4096, temperature=0.0, max_tokens=512, verbose=False, use_mmap=False
    )


def _clean(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


class RagasSuite:
    """Scores QARows; returns per-metric lists aligned with the rows (None = not applicable or judge failed)."""

    def __init__(self, judge: EvalSettings, llm: LLMSettings) -> None:
        self._judge = judge
        self._llm_settings = llm

    @property
    def name(self) -> str:
        return judge_name(self._judge)

    def score(self, rows: Sequence[QARow]) -> dict[str, list[float | None]]:
        _patch_ragas_import()
        from ragas import EvaluationDataset, RunConfig, evaluate
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import Faithfulness, LLMContextPrecisionWithReference, LLMContextRecall, ResponseRelevancy

        llm = LangchainLLMWrapper(_judge_llm(self._judge, self._llm_settings))
        from eval.baseline import langchain_embeddings

        emb = LangchainEmbeddingsWrapper(langchain_embeddings())
        local = self._judge.judge_backend != "openai"
        config = RunConfig(timeout=int(self._judge.judge_timeout_s), max_retries=1, max_workers=1 if local else 4)
        out: dict[str, list[float | None]] = {m: [None] * len(rows) for m in METRICS_ALWAYS + METRICS_WITH_REFERENCE}
        groups = [
            ([i for i, r in enumerate(rows)], [Faithfulness(), ResponseRelevancy(strictness=1)], False),
            (
                [i for i, r in enumerate(rows) if r.reference],
                [LLMContextPrecisionWithReference(), LLMContextRecall()],
                True,
            ),
        ]
        for indices, metrics, with_reference in groups:
            if not indices:
                continue
            samples = [
                {
                    "user_input": rows[i].question,
                    "response": rows[i].answer,
                    "retrieved_contexts": rows[i].contexts,
                    **({"reference": rows[i].reference} if with_reference else {}),
                }
                for i in indices
            ]
            result = evaluate(
                EvaluationDataset.from_list(samples),
                metrics=metrics,
                llm=llm,
                embeddings=emb,
                run_config=config,
                raise_exceptions=False,
                show_progress=False,
            )
            frame = result.to_pandas()  # type: ignore[union-attr]  # not an Executor: return_executor=False
            for metric in metrics:
                column = metric.name
                key = {"llm_context_precision_with_reference": "context_precision"}.get(column, column)
                if column not in frame:
                    continue
                for pos, i in enumerate(indices):
                    out[key][i] = _clean(frame[column].iloc[pos])
        return out


@dataclass(frozen=True)
class RagasJudge:
    """Whether Ragas runs tonight, with which judge, or why not."""

    backend: str  # openai | local | skipped
    name: str
    eval_settings: EvalSettings


def choose_ragas_judge(settings: Settings) -> RagasJudge:
    """eval.judge_backend: auto = a judge server answering at judge_base_url, else a capable local GGUF
    (eval.judge_gguf, or the one `make model` installed), else skipped. The bundled 135M model is never a
    judge: it produced no correct score in any test (BENCHMARKS.md)."""
    from serving.llm.backends import installed_gguf, openai_server_answers

    cfg = settings.eval
    key = settings.llm.api_key.get_secret_value() if settings.llm.api_key else None
    if cfg.judge_backend == "none":
        return RagasJudge("skipped", "skipped: eval.judge_backend is none", cfg)
    if cfg.judge_backend in ("openai", "auto") and (
        cfg.judge_backend == "openai" or openai_server_answers(cfg.judge_base_url, key, settings.llm.probe_timeout_s)
    ):
        if not openai_server_answers(cfg.judge_base_url, key, settings.llm.probe_timeout_s):
            return RagasJudge("skipped", f"skipped: no judge server answers at {cfg.judge_base_url}", cfg)
        return RagasJudge("openai", judge_name(cfg), cfg)
    gguf = cfg.judge_gguf if cfg.judge_gguf != "bundled" else None
    if gguf is None and cfg.judge_backend == "auto":
        found = installed_gguf(settings.resolve(settings.llm.model_dir))
        gguf = str(found) if found else None
    if gguf is None:
        why = (
            "the bundled 135M model cannot judge"
            if cfg.judge_backend == "local"
            else f"no judge server at {cfg.judge_base_url} and no capable local model installed"
        )
        return RagasJudge(
            "skipped",
            f"skipped: {why}; set eval.judge_backend: openai (e.g. vLLM) or eval.judge_gguf, or run `make model`",
            cfg,
        )
    local = cfg.model_copy(update={"judge_backend": "local", "judge_gguf": gguf})
    return RagasJudge("local", judge_name(local), local)
