"""The answer chain: question (+ history) -> standalone question -> retrieval -> a verified, cited answer.

A generated answer reaches the reader one verified sentence at a time: each sentence is checked against the
sources it cites as soon as it is complete (serving/answer/grounding.py); a sentence the sources do not support is left
out of the answer and kept aside. When nothing supported remains, the extractive answer takes over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from configs.errors import InvalidRequest, ModelUnavailable
from configs.settings import AnswerSettings, LLMSettings
from retrieval.filters import EVERYTHING, Filter, Scope
from retrieval.retriever import STAGE_NAMES, Retriever
from serving.answer.blocks import run_on
from serving.answer.by_parts import cover_parts, extract_parts, search_parts
from serving.answer.citations import Citation, CitationFilter
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.grounding import Grounder, Removed, SentenceBuffer
from serving.answer.markers import marker_numbers
from serving.answer.prompts import NO_CONTEXT, PromptSource, answer_messages, condense_messages
from serving.answer.question import Part, parts
from serving.answer.results import (
    REFUSED_NOTICE,
    UNVERIFIED_NOTICE,
    Answer,
    Delta,
    Generation,
    Mode,
    PartResult,
    cited_numbers,
)
from serving.answer.sources import number_hits
from serving.answer.verify.verifier import Verifier
from serving.llm.protocol import ChatModel, Message, TokenUsage, complete

logger = logging.getLogger(__name__)
_TRACER = trace.get_tracer("kb.serving")


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

    def standalone(self, question: str, history: Sequence[Message], usage: TokenUsage | None = None) -> str:
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
        usage = TokenUsage()
        # The answer's span is current only around calls that do not yield (a generator may resume elsewhere).
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            standalone = self.standalone(question, history, usage)
            asked = parts(standalone)
            retrieval, per_part = search_parts(
                self.retriever, self.settings.max_sources, standalone, asked, filters, scope
            )
        finally:
            otel_context.detach(token)
        timings = {"retrieve": retrieval.timings_ms.get("total", 0.0)}
        # The retrieval stages, under the names the metrics use (kb_stage_seconds{stage=...}).
        for theirs, ours in STAGE_NAMES.items():
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
            text, mode, notice, removed = yield from self._generated(
                standalone, numbered, timings, t0, generation, usage, asked, span
            )
        answered: tuple[PartResult, ...] = ()
        if mode in ("extractive", "fallback", "unverified"):
            t1 = time.perf_counter()
            text, answered = extract_parts(self.extractive, standalone, asked, per_part, citations)
            timings["extractive"] = (time.perf_counter() - t1) * 1000
            if not any(p.found for p in answered):
                text = NO_CONTEXT
            yield Delta(text)
        elif len(asked) > 1:
            # The model must not silently answer less than the sources' sentences would: a part its verified answer
            # does not cover is answered from the sources, marked as such.
            t1 = time.perf_counter()
            added, answered = cover_parts(self.extractive, text, asked, per_part, citations)
            if added:
                text += added
                yield Delta(added)
            timings["coverage"] = (time.perf_counter() - t1) * 1000
        else:
            answered = (PartResult(asked[0].text, asked[0].kind, bool(text.strip()), cited_numbers(text)),)
        if retrieval.warnings:
            notice = " ".join([*retrieval.warnings, *([notice] if notice else [])])
        timings["total"] = (time.perf_counter() - t0) * 1000
        model = self.backend_name if mode == "llm" else "extractive"
        cited = list(dict.fromkeys(n for n in marker_numbers(text) if 1 <= n <= len(citations)))
        yield Answer(
            question, standalone, text.strip(), citations, cited, mode, model, notice, timings, removed, usage, answered
        )

    def _generated(
        self,
        standalone: str,
        numbered: list[tuple[Citation, PromptSource]],
        timings: dict[str, float],
        t0: float,
        generation: Generation | None,
        usage: TokenUsage,
        asked: Sequence[Part],
        span: trace.Span,
    ) -> Generator[Delta, None, tuple[str, Mode, str | None, tuple[Removed, ...]]]:
        """The model's verified answer as it streams; then its text, the mode it ended in (llm, or fallback when
        the model was unreachable, or unverified when nothing it said is supported), the notice for the reader
        and the sentences left out."""
        text = ""
        mode: Mode = "llm"
        notice: str | None = None
        citations = [c for c, _ in numbered]
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
        return text, mode, notice, removed

    def _generate(
        self,
        question: str,
        numbered: list[tuple[Citation, PromptSource]],
        grounder: Grounder,
        timings: dict[str, float],
        t0: float,
        generation: Generation | None,
        usage: TokenUsage,
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
