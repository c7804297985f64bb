"""The answer chain: question (+ history) -> standalone question -> retrieval -> a verified, cited answer.

A generated answer reaches the reader one verified sentence at a time: each sentence is checked against the
sources it cites as soon as it is complete (serving/answer/grounding.py); a sentence the sources do not support is left
out of the answer and kept aside. When nothing supported remains, the extractive answer takes over.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from configs.errors import InvalidRequest, ModelUnavailable
from configs.settings import AnswerSettings, LLMSettings
from retrieval.filters import EVERYTHING, Filter, Scope
from retrieval.retriever import Retrieval, Retriever
from retrieval.text import content_stems, marker_numbers
from serving.answer.citations import CitationFilter
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.grounding import Grounder, Removed, SentenceBuffer
from serving.answer.passages import run_on
from serving.answer.prompts import NO_CONTEXT, PromptSource, answer_messages, condense_messages
from serving.answer.question import Part, parts
from serving.answer.sources import Citation, number_hits
from serving.answer.verify.verifier import Verifier
from serving.llm.protocol import ChatModel, Message, Usage, complete

logger = logging.getLogger(__name__)
_TRACER = trace.get_tracer("kb.serving")

# llm: a verified generated answer; extractive: no LLM configured; fallback: the LLM is unreachable;
# unverified: the LLM answered but none of it is supported, so the sources' sentences are shown instead.
Mode = Literal["llm", "extractive", "fallback", "unverified", "no-context"]
REFUSED_NOTICE = (
    "The language model found no answer in the sources; the sentences of the sources closest to the question "
    "are shown instead."
)
UNVERIFIED_NOTICE = (
    "The generated answer could not be verified against the sources, so the sentences of the sources that "
    "answer the question are shown instead."
)


# Answer.timings_ms names for the retriever's stages.
RETRIEVAL_STAGES = {"embed_query": "embed", "dense": "dense", "lexical": "bm25", "fusion": "fusion", "rerank": "rerank"}


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(marker_numbers(text)))


def not_found(part: Part) -> str:
    """The line that says one part of a question found no answer, naming the part."""
    return f'I found nothing in the documents that answers "{part.text.rstrip("?.! ")}".'


def recent_turns(history: Sequence[Message], max_turns: int, max_tokens: int) -> list[Message]:
    """The conversation the follow-up rewrite sees: the most recent user/assistant messages, newest first, while
    they fit in max_tokens (estimated as 1.3 tokens a word, each message cut to 500 characters as the prompt
    shows it) and at most max_turns question-answer pairs; older turns are dropped. Nothing is lost by the drop:
    each turn was itself answered from a rewritten, self-contained question, so the recent turns carry the
    topic forward."""
    messages = [m for m in history if m.get("role") in ("user", "assistant")][-2 * max_turns :] if max_turns else []
    kept: list[Message] = []
    used = 0.0
    for m in reversed(messages):
        cost = 1.3 * len(str(m.get("content", ""))[:500].split()) + 4  # + the role line
        if kept and used + cost > max_tokens:
            break
        kept.append(m)
        used += cost
    return kept[::-1]


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
    removed: tuple[Removed, ...] = ()  # generated sentences left out because their sources do not support them
    usage: Usage = field(default_factory=Usage)  # tokens the LLM used (rewriting the question included)
    parts: tuple[PartResult, ...] = ()  # what the question asked, part by part, and what answered each


@dataclass(frozen=True)
class PartResult:
    """One part of the question and how it was answered."""

    text: str
    kind: str
    found: bool
    cited: tuple[int, ...] = ()  # the source numbers the answer uses for this part
    filled: bool = False  # answered from the sources' sentences because the generated answer skipped it
    answer: str = ""  # this part's own answer text, where the answer was composed part by part


@dataclass(frozen=True)
class Generation:
    """Per-request generation settings (an API caller's max_tokens and temperature), within the configured ones."""

    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of the answer as it streams (only verified text is ever streamed)."""

    text: str


class AnswerChain:
    """Builds answers; one instance serves many requests (stateless between calls)."""

    def __init__(
        self,
        retriever: Retriever,
        chat_model: ChatModel | None,
        extractive: ExtractiveAnswerer,
        verifier: Verifier,
        answer_settings: AnswerSettings,
        llm_settings: LLMSettings,
        backend_reason: str = "",
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.extractive = extractive
        self.verifier = verifier
        self.settings = answer_settings
        self.llm_settings = llm_settings
        self.backend_reason = backend_reason

    @property
    def backend_name(self) -> str:
        return self.chat_model.name if self.chat_model is not None else "extractive (no LLM)"

    def validate(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise InvalidRequest("the question is empty; type a question")
        if len(question) > self.settings.max_question_chars:
            raise InvalidRequest(
                f"the question is {len(question):,} characters; keep it under {self.settings.max_question_chars:,}"
            )
        return question

    def standalone(self, question: str, history: Sequence[Message], usage: Usage | None = None) -> str:
        """A follow-up rewritten so retrieval can understand it without the conversation."""
        turns = recent_turns(history, self.settings.history_turns, self.settings.history_tokens)
        if not turns:
            return question
        if self.chat_model is not None:
            try:
                rewritten = complete(self.chat_model, condense_messages(question, turns), 96, 0.0, usage).strip()
                rewritten = rewritten.splitlines()[0].strip().strip('"') if rewritten else ""
                if 3 <= len(rewritten) <= 2 * len(question) + 200:
                    return rewritten
            except ModelUnavailable:
                pass
        # Without an LLM: carry the previous question's words along for short follow-ups.
        last_user = next((m["content"] for m in reversed(turns) if m["role"] == "user"), "")
        return f"{last_user} {question}" if len(question.split()) < 8 and last_user else question

    def stream(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: Filter | None = None,
        generation: Generation | None = None,
        scope: Scope = EVERYTHING,
    ) -> Iterator[Delta | Answer]:
        """Yields Delta pieces of the verified answer, then the finished Answer; sources come only from the
        collections the scope allows. Traced as a `kb.answer` span with the stages as child spans and the
        timings, mode and token counts as attributes (never the question)."""
        span = _TRACER.start_span("kb.answer")
        final: Answer | None = None
        try:
            for event in self._stream(question, history, filters, generation, scope, span):
                if isinstance(event, Answer):
                    final = event
                yield event
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            if final is not None:
                span.set_attribute("kb.mode", final.mode)
                span.set_attribute("kb.model", final.model)
                span.set_attribute("kb.sources", len(final.citations))
                span.set_attribute("kb.unsupported_sentences", len(final.removed))
                span.set_attribute("kb.tokens_in", final.usage.prompt_tokens)
                span.set_attribute("kb.tokens_out", final.usage.completion_tokens)
                for key, ms in final.timings_ms.items():
                    span.set_attribute(f"kb.{key}_ms", round(ms, 3))
            span.end()

    def _stream(
        self,
        question: str,
        history: Sequence[Message],
        filters: Filter | None,
        generation: Generation | None,
        scope: Scope,
        span: trace.Span,
    ) -> Iterator[Delta | Answer]:
        t0 = time.perf_counter()
        question = self.validate(question)
        usage = Usage()
        # The answer's span is current only around calls that do not yield (a generator may resume elsewhere).
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            standalone = self.standalone(question, history, usage)
            asked = parts(standalone)
            retrieval, per_part = self._search(standalone, asked, filters, scope)
        finally:
            otel_context.detach(token)
        timings = {"retrieve": retrieval.timings_ms.get("total", 0.0)}
        # The retrieval stages, under the names the metrics use (kb_stage_seconds{stage=...}).
        for ours, theirs in RETRIEVAL_STAGES.items():
            if theirs in retrieval.timings_ms:
                timings[ours] = retrieval.timings_ms[theirs]
        # a passage cut inside a list its colon introduced is read on into the next passage of its file
        hits = run_on(retrieval.hits, self.retriever.store.following)
        numbered = number_hits(hits, self.settings.max_source_chars)
        citations = [c for c, _ in numbered]
        if not retrieval.relevant or not citations:
            yield Delta(NO_CONTEXT)
            missing = tuple(PartResult(p.text, p.kind, False) for p in asked)
            yield Answer(
                question, standalone, NO_CONTEXT, [], [], "no-context", self.backend_name, None, timings, (), usage,
                missing,
            )  # fmt: skip
            return
        notice: str | None = None
        mode: Mode = "llm" if self.chat_model is not None else "extractive"
        text = ""
        removed: tuple[Removed, ...] = ()
        if self.chat_model is not None:
            grounder = Grounder(self.verifier, standalone, citations)
            generating = _TRACER.start_span("generate", context=trace.set_span_in_context(span))
            try:
                for delta in self._generate(standalone, numbered, grounder, timings, t0, generation, usage, asked):
                    text += delta
                    yield Delta(delta)
            except ModelUnavailable as exc:
                generating.set_status(Status(StatusCode.ERROR, "llm unavailable"))
                if text or not self.llm_settings.fallback_extractive:
                    raise
                logger.warning("LLM unavailable, answering extractively: %s", exc)
                notice = f"The language model is unavailable ({exc}). Showing the most relevant passages instead."
                mode = "fallback"
            finally:
                for key in ("first_token", "verify"):
                    if key in timings:
                        generating.set_attribute(f"kb.{key}_ms", round(timings[key], 3))
                generating.end()
            removed = tuple(grounder.removed)
            if mode == "llm" and not grounder.kept:
                # Nothing verified: the sources' own sentences instead. A refusal is said as such: the retrieved
                # passages cleared the relevance floor, so the reader may still find the answer in them.
                mode, notice = "unverified", REFUSED_NOTICE if grounder.refused else UNVERIFIED_NOTICE
            elif mode == "llm" and removed:
                n = len(removed)
                notice = (
                    f"{n} statement{'s' if n > 1 else ''} of the generated answer "
                    f"{'were' if n > 1 else 'was'} left out because the sources do not support "
                    f"{'them' if n > 1 else 'it'}."
                )
        answered: tuple[PartResult, ...] = ()
        if mode in ("extractive", "fallback", "unverified"):
            t1 = time.perf_counter()
            text, answered = self._extract(standalone, asked, per_part, citations)
            timings["extractive"] = (time.perf_counter() - t1) * 1000
            if not any(p.found for p in answered):
                text = NO_CONTEXT
            yield Delta(text)
        elif len(asked) > 1:
            # The model must not silently answer less than the sources' sentences would: a part its verified answer
            # does not cover is answered from the sources, marked as such.
            t1 = time.perf_counter()
            added, answered = self._cover(text, asked, per_part, citations)
            if added:
                text += added
                yield Delta(added)
            timings["coverage"] = (time.perf_counter() - t1) * 1000
        else:
            answered = (PartResult(asked[0].text, asked[0].kind, bool(text.strip()), _numbers(text)),)
        if retrieval.warnings:
            notice = " ".join([*retrieval.warnings, *([notice] if notice else [])])
        timings["total"] = (time.perf_counter() - t0) * 1000
        model = self.backend_name if mode == "llm" else "extractive"
        cited = list(dict.fromkeys(n for n in marker_numbers(text) if 1 <= n <= len(citations)))
        yield Answer(
            question, standalone, text.strip(), citations, cited, mode, model, notice, timings, removed, usage, answered
        )

    def _cover(
        self, text: str, asked: Sequence[Part], per_part: Sequence[set[int]], citations: Sequence[Citation]
    ) -> tuple[str, tuple[PartResult, ...]]:
        """What to add to the verified generated answer, and how each part was answered. A part is covered by a
        sentence citing one of the part's own sources and sharing a word with the part or with the sources' answer
        to it; the others are answered from the sources (marked) or named as not found."""
        said = [s for s in re.split(r"(?<=[.!?\]])\s+", text) if s.strip()]
        results, fills = [], []
        for part, numbers in zip(asked, per_part, strict=True):
            own = [c for c in citations if c.index in numbers]
            checker = CitationFilter(len(citations))
            extract = (checker.feed(self.extractive.answer_part(part, own)) + checker.flush()).strip() if own else ""
            wanted = content_stems(part.text) | content_stems(extract)
            covering = [s for s in said if set(marker_numbers(s)) & numbers and content_stems(s) & wanted]
            if covering:
                results.append(PartResult(part.text, part.kind, True, _numbers(" ".join(covering))))
            elif extract:
                fills.append(f'From the sources, on "{part.text.rstrip("?.! ")}": {extract}')
                results.append(PartResult(part.text, part.kind, True, _numbers(extract), True, extract))
            else:
                fills.append(not_found(part))
                results.append(PartResult(part.text, part.kind, False))
        return ("\n\n" + "\n\n".join(fills)) if fills else "", tuple(results)

    def _search(
        self, standalone: str, asked: Sequence[Part], filters: Filter | None, scope: Scope
    ) -> tuple[Retrieval, list[set[int]]]:
        """One search for a simple question; for a question of several parts, one per part, merged (each part's
        best hits first, in turn) so that a part answered in another document is found. Returns the merged
        retrieval and, per part, the source numbers (1-based) its own search found."""
        k = self.settings.max_sources
        if len(asked) <= 1:
            retrieval = self.retriever.search(standalone, filters, top_k=k, scope=scope)
            return retrieval, [set(range(1, len(retrieval.hits) + 1))]
        searches = [self.retriever.search(p.query, filters, top_k=k, scope=scope) for p in asked]
        cap = k + 2 * (len(asked) - 1)
        hits, where, per_part = [], {}, [set() for _ in asked]  # type: ignore[var-annotated]
        for rank in range(k):
            for i, found in enumerate(searches):
                if rank >= len(found.hits) or not found.relevant:
                    continue
                hit = found.hits[rank]
                key = hit.chunk.id
                if key not in where:
                    if len(hits) == cap:
                        continue
                    hits.append(hit)
                    where[key] = len(hits)
                per_part[i].add(where[key])
        timings: dict[str, float] = {}
        for found in searches:
            for stage, ms in found.timings_ms.items():
                timings[stage] = timings.get(stage, 0.0) + ms
        warnings = tuple(dict.fromkeys(w for found in searches for w in found.warnings))
        return Retrieval(hits, any(f.relevant for f in searches), timings, warnings), per_part

    def _extract(
        self, standalone: str, asked: Sequence[Part], per_part: Sequence[set[int]], citations: Sequence[Citation]
    ) -> tuple[str, tuple[PartResult, ...]]:
        """The extractive answer, part by part in the question's order; a part nothing answers is named."""
        if len(asked) <= 1:
            checker = CitationFilter(len(citations))
            text = checker.feed(self.extractive.answer(standalone, citations)) + checker.flush()
            kind = asked[0].kind if asked else "fact"
            return text, (PartResult(standalone, kind, bool(text.strip()), _numbers(text)),)
        lines: list[str] = []
        results = []
        for part, numbers in zip(asked, per_part, strict=True):
            own = [c for c in citations if c.index in numbers]
            checker = CitationFilter(len(citations))
            text = (checker.feed(self.extractive.answer_part(part, own)) + checker.flush()).strip() if own else ""
            if text in lines and not content_stems(part.text) & content_stems(text):
                text = ""  # the sentences that answer an earlier part, sharing no word with this one: not an answer
            shown = text or not_found(part)
            if shown not in lines:
                lines.append(shown)
            results.append(PartResult(part.text, part.kind, bool(text), _numbers(text), False, shown))
        return "\n\n".join(lines), tuple(results)

    def _generate(
        self,
        question: str,
        numbered: list[tuple[Citation, PromptSource]],
        grounder: Grounder,
        timings: dict[str, float],
        t0: float,
        generation: Generation | None,
        usage: Usage,
        asked: Sequence[Part] = (),
    ) -> Iterator[str]:
        """The model's answer, streamed sentence by sentence as each one passes verification."""
        assert self.chat_model is not None
        named = [p.text for p in asked]
        messages = answer_messages(self.settings.persona, question, [p for _, p in numbered], parts=named)
        checker = CitationFilter(len(numbered))
        buffer = SentenceBuffer()
        verify_ms = 0.0
        t_gen = time.perf_counter()
        shown = False

        def checked(parts: list[tuple[str, str]]) -> Iterator[str]:
            nonlocal verify_ms, shown
            for sep, sentence in parts:
                t = time.perf_counter()
                out = grounder.check(sentence)
                verify_ms += (time.perf_counter() - t) * 1000
                if out:
                    yield (sep if shown else "") + out
                    shown = True

        limit = self.settings.stop_after_unsupported
        options = generation or Generation()
        max_tokens = options.max_tokens or self.llm_settings.max_tokens
        temperature = self.llm_settings.temperature if options.temperature is None else options.temperature
        pieces = self.chat_model.stream(messages, max_tokens, temperature, usage)
        try:
            for piece in pieces:
                if "first_token" not in timings:
                    timings["first_token"] = (time.perf_counter() - t0) * 1000
                yield from checked(buffer.feed(checker.feed(piece)))
                if limit and not shown and len(grounder.removed) >= limit:
                    # The model is answering beside its sources: stop paying for text that will be disowned.
                    timings["stopped_early"] = 1.0
                    break
            else:
                yield from checked(buffer.feed(checker.flush()) + buffer.flush())
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # ends the generation (llama.cpp) or the HTTP stream (OpenAI-compatible server)
        timings["generate"] = (time.perf_counter() - t_gen) * 1000 - verify_ms
        timings["verify"] = verify_ms

    def answer(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: Filter | None = None,
        generation: Generation | None = None,
        scope: Scope = EVERYTHING,
    ) -> Answer:
        """The finished answer (non-streaming)."""
        final = None
        for event in self.stream(question, history, filters, generation, scope):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final
