"""The answer chain's modes with fakes only (fake embedder, in-memory store, scripted model): fast and exact.
The same behaviour with real models and servers is tested in tests/integration/test_verified_answers.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from configs.errors import ModelUnavailable
from configs.settings import AnswerSettings, LLMSettings, RetrievalSettings
from retrieval import lexical_writer
from retrieval.embeddings import FakeEmbedder
from retrieval.retriever import Retriever
from retrieval.store import InMemoryStore
from retrieval.types import Chunk, ChunkMeta
from serving.answer.chain import AnswerChain
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.results import Delta
from serving.answer.verify.verifier import FeatureVerifier
from serving.llm.fake import ScriptedChatModel
from serving.llm.protocol import Message, TokenUsage

DOCS = {
    "hotels": (
        "Travel Policy",
        "Hotels",
        "The hotel limit is 150 euros per night in most cities and 220 euros per "
        "night in London, Paris and Zurich. Breakfast is included in the limit.",
    ),
    "leave": (
        "Leave Policy",
        "Leave Policy",
        "Every full-time employee gets 25 days of paid annual leave per calendar year.",
    ),
    "vpn": (
        "VPN Setup Guide",
        "Connecting",
        "The VPN connection times out after 12 hours and must then be activated again.",
    ),
}
PARIS = "What is the hotel limit per night in Paris?"


@pytest.fixture
def retriever(tmp_path: Path) -> Retriever:
    embedder, store = FakeEmbedder(), InMemoryStore()
    chunks = [
        Chunk(key, text, f"/kb/{key}.md", ChunkMeta(relpath=f"{key}.md", title=title, section=section, collection="kb"))
        for key, (title, section, text) in DOCS.items()
    ]
    store.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
    rows = [(c.id, c.text, f"{c.meta.title} {c.text}", c.to_record()) for c in chunks]
    lexical_writer.build(tmp_path, rows, generation=1)
    return Retriever(RetrievalSettings(min_dense_score=0.3, lexical_floor=0.5), embedder, store, tmp_path)


def _chain(retriever: Retriever, model: object | None) -> AnswerChain:
    return AnswerChain(
        retriever,
        model,
        ExtractiveAnswerer(FakeEmbedder()),
        FeatureVerifier(),
        AnswerSettings(),
        LLMSettings(),  # type: ignore[arg-type]
    )


def test_a_supported_answer_streams_sentence_by_sentence(retriever: Retriever) -> None:
    reply = "The limit in Paris is 220 euros per night [1]. Breakfast is included in the limit [1]."
    events = list(_chain(retriever, ScriptedChatModel(reply, piece=3)).stream(PARIS))
    deltas = [e.text for e in events if isinstance(e, Delta)]
    answer = events[-1]
    assert len(deltas) == 2 and "".join(deltas) == answer.text  # whole sentences, never a fragment
    assert answer.mode == "llm" and answer.cited == [1] and not answer.removed and answer.notice is None
    assert answer.usage.completion_tokens == len(reply.split())


def test_a_wrong_number_is_removed_and_the_rest_kept(retriever: Retriever) -> None:
    reply = "The limit in Paris is 250 euros per night [1]. Breakfast is included in the limit [1]."
    answer = _chain(retriever, ScriptedChatModel(reply)).answer(PARIS)
    assert answer.text == "Breakfast is included in the limit [1]."
    assert answer.removed[0].text.startswith("The limit in Paris is 250") and "left out" in (answer.notice or "")


def test_nothing_supported_means_the_sources_speak(retriever: Retriever) -> None:
    answer = _chain(retriever, ScriptedChatModel("Hotels are free for employees [1].")).answer(PARIS)
    assert answer.mode == "unverified" and "220 euros" in answer.text.splitlines()[0]


def test_without_a_model_the_answer_is_extractive(retriever: Retriever) -> None:
    answer = _chain(retriever, None).answer(PARIS)
    assert answer.mode == "extractive" and "220 euros" in answer.text and answer.cited == [1]


class _Down:
    name = "down"

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: TokenUsage | None = None
    ) -> Iterator[str]:
        raise ModelUnavailable("cannot reach the LLM server at http://127.0.0.1:9/v1")
        yield ""  # pragma: no cover - a generator that fails on first use


def test_a_model_that_is_down_falls_back_and_says_so(retriever: Retriever) -> None:
    answer = _chain(retriever, _Down()).answer(PARIS)
    assert answer.mode == "fallback" and "unavailable" in (answer.notice or "") and "220 euros" in answer.text


def test_a_question_nothing_answers_gets_no_guess(retriever: Retriever) -> None:
    model = ScriptedChatModel("Tungsten boils at 5,930 kelvin [1].")
    answer = _chain(retriever, model).answer("boiling point tungsten kelvin")
    assert answer.mode == "no-context" and "could not find" in answer.text and model.calls == []


def test_empty_and_oversized_questions_are_refused_with_a_reason(retriever: Retriever) -> None:
    from configs.errors import InvalidRequest

    chain = _chain(retriever, None)
    with pytest.raises(InvalidRequest, match="empty"):
        chain.answer("   ")
    with pytest.raises(InvalidRequest, match="keep it under"):
        chain.answer("why? " * 2000)


def test_follow_ups_see_the_most_recent_turns_that_fit_the_token_budget() -> None:
    from serving.answer.chain import recent_turns

    history = []
    for n in range(5):
        history += [{"role": "user", "content": f"question {n} " + "word " * 40},
                    {"role": "assistant", "content": f"answer {n} " + "word " * 40}]  # fmt: skip
    kept = recent_turns(history, max_turns=3, max_tokens=10_000)
    assert [m["content"].split()[1] for m in kept] == ["2", "2", "3", "3", "4", "4"]  # at most 3 pairs
    kept = recent_turns(history, max_turns=3, max_tokens=150)  # each message is about 57 tokens
    assert [m["content"].split()[:2] for m in kept] == [["question", "4"], ["answer", "4"]]
    assert recent_turns(history, 0, 600) == []
    huge = [{"role": "user", "content": "x " * 5000}]
    assert recent_turns(huge, 3, 50) == huge  # the newest message is always kept (the prompt cuts it to 500 chars)
    assert recent_turns([{"role": "system", "content": "s"}, *history[-2:]], 3, 600) == history[-2:]


# --- questions of several parts (issue 22) -------------------------------------------------------------------

TWO_PARTS = "What is the hotel limit per night in Paris, and how many days of paid annual leave do employees get?"


def test_each_part_is_retrieved_and_answered_in_the_order_asked(retriever: Retriever) -> None:
    answer = _chain(retriever, None).answer(TWO_PARTS)
    first, second = answer.text.split("\n\n")
    assert "220 euros" in first and "25 days" in second  # the leave policy is found though the hotel part leads
    assert [(p.kind, p.found) for p in answer.parts] == [("fact", True), ("fact", True)]
    assert answer.parts[1].text == "How many days of paid annual leave do employees get?"
    by_number = {c.index: c.relpath for c in answer.citations}
    assert [by_number[n] for p in answer.parts for n in p.cited] == ["hotels.md", "leave.md"]


def test_a_part_nothing_answers_is_named_not_dropped(retriever: Retriever) -> None:
    answer = _chain(retriever, None).answer(
        "What is the hotel limit in Paris and what is the boiling point of tungsten?"
    )
    assert "220 euros" in answer.text
    assert 'I found nothing in the documents that answers "What is the boiling point of tungsten"' in answer.text
    assert [p.found for p in answer.parts] == [True, False]


def test_a_part_the_model_skipped_is_answered_from_the_sources_and_marked(retriever: Retriever) -> None:
    def reply(messages: Sequence[Message]) -> str:
        prompt = str(messages[-1]["content"])
        assert "answer each of them, in this order" in prompt and "2. How many days" in prompt
        number = prompt.index("220 euros")
        return f"The limit in Paris is 220 euros per night [{prompt[:number].count('<source id=')}]."

    answer = _chain(retriever, ScriptedChatModel(reply)).answer(TWO_PARTS)
    assert answer.mode == "llm" and answer.text.startswith("The limit in Paris is 220 euros")
    assert 'From the sources, on "How many days of paid annual leave do employees get":' in answer.text
    assert "25 days" in answer.text
    assert [(p.found, p.filled) for p in answer.parts] == [(True, False), (True, True)]
