"""The answer chain: question (+ history) -> standalone question -> retrieval -> grounded, cited answer."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from configs.errors import ModelUnavailable, RetrievalError
from configs.settings import AnswerSettings, LLMSettings
from retrieval.filters import Filter
from retrieval.retriever import Retriever
from retrieval.types import Hit
from serving.citations import CitationFilter, strip_markers
from serving.llm import ChatModel, Message, complete
from serving.prompts import (
    NO_CONTEXT,
    REFUSAL,
    PromptSource,
    answer_messages,
    condense_messages,
    withhold_instructions,
)

logger = logging.getLogger(__name__)

Mode = Literal["llm", "extractive", "fallback", "no-context"]


@dataclass(frozen=True)
class Citation:
    """A numbered source shown under an answer."""

    index: int
    source: str
    relpath: str
    title: str
    page: int | None
    section: str
    text: str  # the chunk's verbatim text
    start: int  # offsets of the chunk within its page/section text
    end: int
    score: float
    withheld: bool = False  # the passage contained text addressed to the assistant, withheld from the model

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Answer:
    """A finished answer."""

    question: str
    standalone_question: str
    text: str
    citations: list[Citation]
    cited: list[int]  # source numbers the answer actually cites
    mode: Mode
    model: str
    notice: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Delta:
    """A piece of the answer as it streams."""

    text: str


def _citation(number: int, hit: Hit, max_chars: int) -> tuple[Citation, PromptSource]:
    meta = hit.chunk.metadata
    page = meta.get("page")
    section = str(meta.get("section") or "")
    relpath = str(meta.get("relpath") or Path(hit.chunk.source).name)
    text, withheld = withhold_instructions(hit.chunk.text[:max_chars])
    where = f"page {page}" if page else (f"section {section}" if section else "")
    label = f"{relpath}, {where}" if where else relpath
    citation = Citation(
        index=number,
        source=hit.chunk.source,
        relpath=relpath,
        title=str(meta.get("title") or ""),
        page=int(page) if page else None,
        section=section,
        text=hit.chunk.text,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=round(float(hit.score), 4),
        withheld=withheld,
    )
    return citation, PromptSource(number, label, text)


_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n{1,}")


class ExtractiveAnswerer:
    """No LLM: the sentences of the top sources closest to the question (by the embedder), each cited."""

    def __init__(self, embedder: Any, max_sentences: int = 3) -> None:
        self._embedder = embedder
        self._max = max_sentences

    def answer(self, question: str, citations: Sequence[Citation]) -> str:
        candidates: list[tuple[int, int, str]] = []  # (source number, position, sentence)
        for c in citations:
            for pos, sentence in enumerate(s.strip() for s in _SENTENCES.split(c.text)):
                # Sentences addressed to the assistant are never quoted back as an answer.
                if len(sentence.split()) >= 4 and not withhold_instructions(sentence)[1]:
                    candidates.append((c.index, pos, sentence))
        if not candidates:
            return ""
        q = self._embedder.embed_query(question)
        vectors = self._embedder.embed_documents([s for _, _, s in candidates])
        scores = vectors @ q
        best = sorted(np.argsort(-scores)[: self._max].tolist(), key=lambda i: (candidates[i][0], candidates[i][1]))
        return "\n".join(f"- {candidates[i][2]} [{candidates[i][0]}]" for i in best)


def is_refusal(text: str) -> bool:
    return REFUSAL.lower().rstrip(".") in text.lower()


def grounded(text: str, citations: Sequence[Citation], cited: Sequence[int], min_support: float = 0.6) -> bool:
    """True when the answer cites a source and most of its content words occur in the sources it cites."""
    if not cited:
        return False
    words = {w.lower() for w in re.findall(r"[A-Za-z0-9]{3,}", strip_markers(text))}
    if not words:
        return False
    source_words = {w.lower() for c in citations if c.index in cited for w in re.findall(r"[A-Za-z0-9]{3,}", c.text)}
    return len(words & source_words) / len(words) >= min_support


class AnswerChain:
    """Builds answers; one instance serves many requests (stateless between calls)."""

    def __init__(
        self,
        retriever: Retriever,
        chat_model: ChatModel | None,
        extractive: ExtractiveAnswerer,
        answer_settings: AnswerSettings,
        llm_settings: LLMSettings,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.extractive = extractive
        self.settings = answer_settings
        self.llm_settings = llm_settings

    @property
    def backend_name(self) -> str:
        return self.chat_model.name if self.chat_model is not None else "extractive (no LLM)"

    def validate(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise RetrievalError("the question is empty; type a question")
        if len(question) > self.settings.max_question_chars:
            raise RetrievalError(
                f"the question is {len(question):,} characters; keep it under {self.settings.max_question_chars:,}"
            )
        return question

    def standalone(self, question: str, history: Sequence[Message]) -> str:
        """A follow-up rewritten so retrieval can understand it without the conversation."""
        turns = [m for m in history if m.get("role") in ("user", "assistant")][-2 * self.settings.history_turns :]
        if not turns:
            return question
        if self.chat_model is not None:
            try:
                rewritten = complete(self.chat_model, condense_messages(question, turns), 96).strip()
                rewritten = rewritten.splitlines()[0].strip().strip('"') if rewritten else ""
                if 3 <= len(rewritten) <= 2 * len(question) + 200:
                    return rewritten
            except ModelUnavailable:
                pass
        # Without an LLM: carry the previous question's words along for short follow-ups.
        last_user = next((m["content"] for m in reversed(turns) if m["role"] == "user"), "")
        return f"{last_user} {question}" if len(question.split()) < 8 and last_user else question

    def stream(
        self, question: str, history: Sequence[Message] = (), filters: Filter | None = None
    ) -> Iterator[Delta | Answer]:
        """Yields Delta pieces of the (citation-checked) answer, then the finished Answer."""
        t0 = time.perf_counter()
        question = self.validate(question)
        standalone = self.standalone(question, history)
        retrieval = self.retriever.search(standalone, filters, top_k=self.settings.max_sources)
        timings = {"retrieve": retrieval.timings_ms.get("total", 0.0)}
        numbered = [_citation(i, h, self.settings.max_source_chars) for i, h in enumerate(retrieval.hits, start=1)]
        citations = [c for c, _ in numbered]
        if not retrieval.relevant or not citations:
            yield Delta(NO_CONTEXT)
            yield Answer(question, standalone, NO_CONTEXT, [], [], "no-context", self.backend_name, None, timings)
            return
        notice = None
        mode: Mode = "llm"
        text = ""
        checker = CitationFilter(len(citations))
        if self.chat_model is not None:
            messages = answer_messages(self.settings.persona, standalone, [p for _, p in numbered])
            try:
                for piece in self.chat_model.stream(
                    messages, self.llm_settings.max_tokens, self.llm_settings.temperature
                ):
                    out = checker.feed(piece)
                    if out:
                        text += out
                        yield Delta(out)
                tail = checker.flush()
                if tail:
                    text += tail
                    yield Delta(tail)
            except ModelUnavailable as exc:
                if text or not self.llm_settings.fallback_extractive:
                    raise
                logger.warning("LLM unavailable, answering extractively: %s", exc)
                notice = f"The language model is unavailable ({exc}). Showing the most relevant passages instead."
                mode = "fallback"
        if mode == "llm" and text and not is_refusal(text) and not grounded(text, citations, checker.cited):
            # Small local models often answer beside the sources; the reader gets the cited passages too.
            notice = "This answer could not be verified against the sources; the most relevant passages follow."
            extra = self.extractive.answer(standalone, citations)
            if extra:
                extra = "\n\nFrom the sources:\n" + extra
                out = checker.feed(extra) + checker.flush()
                text += out
                yield Delta(out)
        if self.chat_model is None or mode == "fallback":
            mode = "extractive" if self.chat_model is None else "fallback"
            text = self.extractive.answer(standalone, citations)
            checker = CitationFilter(len(citations))
            text = checker.feed(text) + checker.flush()
            yield Delta(text)
        if retrieval.warnings:
            notice = " ".join([*retrieval.warnings, *([notice] if notice else [])])
        timings["total"] = (time.perf_counter() - t0) * 1000
        model = self.backend_name if mode == "llm" else "extractive"
        yield Answer(question, standalone, text.strip(), citations, checker.cited, mode, model, notice, timings)

    def answer(self, question: str, history: Sequence[Message] = (), filters: Filter | None = None) -> Answer:
        """The finished answer (non-streaming)."""
        final = None
        for event in self.stream(question, history, filters):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final
