"""Extractive answers: the sentences of the retrieved sources that answer the question, each cited, no LLM.

They are the answer when no language model is configured, and the fallback when the model is down or its
answer cannot be verified, so the first line must answer the question: the sentence that states the answer,
not the passage's heading. Sentences are scored by embedding similarity to the question plus the share of the
question's words they contain, each word weighted by how rare it is among the candidate sentences, with a bonus
for a number when the question asks for an amount or a time and for the answer under an FAQ question that asks
what the reader asks (close in meaning, or sharing most words); duplicates (overlapping chunks) are dropped,
and a sentence that opens with a reference to the one before it ("It", "This", "They") brings that sentence along.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.text import content_stems, numbers, sentences
from serving.citations import with_markers
from serving.prompts import withhold_instructions
from serving.question import Part
from serving.sources import Citation

_QUANTITY = re.compile(
    r"\b(how (many|much|long|often|far|soon|old|large|big|high)|when|what time|what year|what date|which year|"
    r"limit|maximum|minimum|price|cost|deadline|percent|rate|number of|amount)\b",
    re.IGNORECASE,
)
_ANAPHOR = re.compile(r"^(it|its|this|these|they|their|that|those|such|he|she|then|however|also|in addition)\b", re.I)
LEXICAL_WEIGHT = 0.6  # with rarity weighting; chosen on PubMedQA train + handbook questions (BENCHMARKS.md)
NUMBER_BONUS = 0.1
RANK_PENALTY = 0.02
MARGIN = 0.15  # a further sentence must score within this of the best one
FAQ_BONUS = 0.8  # for the answer under an FAQ question that matches the user's question
FAQ_MIN_SIMILARITY = 0.55  # an FAQ question this close in meaning (MiniLM cosine) asks what the reader asks...
FAQ_TIE = 0.05  # ...when no other FAQ question among the sources is closer by more than this


@dataclass(frozen=True)
class _Candidate:
    source: int  # citation number
    position: int  # sentence position within the passage
    text: str
    stems: frozenset[str]
    asked: str = ""  # the FAQ question this sentence answers, if it follows one


def _is_heading(sentence: str, citation: Citation) -> bool:
    if sentence.rstrip()[-1:] in ".!?;:" and len(sentence.split()) > 3:
        return False
    words = sentence.split()
    return len(words) <= 8 or sentence.strip() in (citation.title, citation.section)


def _candidates(citations: Sequence[Citation]) -> list[_Candidate]:
    out, seen = [], set()
    for c in citations:
        asked, asked_at = "", -9
        for position, sentence in enumerate(sentences(c.text)):
            sentence = " ".join(sentence.split())
            if sentence.endswith("?"):
                asked, asked_at = sentence, position
            key = sentence.lower()
            if (
                len(sentence.split()) < 4
                or key in seen
                or _is_heading(sentence, c)
                or sentence.endswith("?")  # an FAQ's question, not its answer
                or withhold_instructions(sentence)[1]  # text addressed to the assistant is never quoted as an answer
            ):
                continue
            seen.add(key)
            answers = asked if position - asked_at <= 2 else ""
            out.append(_Candidate(c.index, position, sentence, frozenset(content_stems(sentence)), answers))
    return out


def _idf(candidates: Sequence[_Candidate]) -> Callable[[str], float]:
    """How rare a word is among the candidate sentences: a word every sentence shares ("vpn" in the VPN guide)
    says little about which sentence answers."""
    df = Counter(s for c in candidates for s in c.stems)
    n = len(candidates)
    return lambda stem: math.log(1.0 + n / max(0.5, df.get(stem, 0)))


def _faq_matches(
    candidates: Sequence[_Candidate], question: str, embedder: Embedder, q_vector: np.ndarray
) -> dict[str, float]:
    """How much each FAQ question among the candidates is the reader's question (0 to 1): by meaning, when it is
    the closest FAQ question and close enough, else by shared words (Jaccard, counted from one half)."""
    asked = sorted({c.asked for c in candidates if c.asked})
    if not asked:
        return {}
    similarity = embedder.embed_documents(asked) @ q_vector
    best = float(similarity.max())
    q_stems = content_stems(question)
    out = {}
    for text, sim in zip(asked, similarity, strict=True):
        stems = content_stems(text)
        share = len(stems & q_stems) / max(1, len(stems | q_stems))
        by_meaning = float(sim) if sim >= FAQ_MIN_SIMILARITY and sim >= best - FAQ_TIE else 0.0
        out[text] = max(by_meaning, share if share >= 0.5 else 0.0)
    return out


def _near_duplicate(a: _Candidate, b: _Candidate) -> bool:
    if not a.stems or not b.stems:
        return a.text == b.text
    return len(a.stems & b.stems) / len(a.stems | b.stems) >= 0.6


class ExtractiveAnswerer:
    """No LLM: the best-answering sentences of the top sources, best first, each cited."""

    def __init__(self, embedder: Embedder, max_sentences: int = 3) -> None:
        self._embedder = embedder
        self._max = max_sentences

    def answer(self, question: str, citations: Sequence[Citation]) -> str:
        candidates = _candidates(citations)
        if not candidates:
            return ""
        q_stems = content_stems(question)
        wants_number = bool(_QUANTITY.search(question))
        q_vector = self._embedder.embed_query(question)
        similarity = self._embedder.embed_documents([c.text for c in candidates]) @ q_vector
        idf = _idf(candidates)
        asked_weight = sum(idf(s) for s in q_stems) or 1.0
        faq = _faq_matches(candidates, question, self._embedder, q_vector)
        rank = {c.index: i for i, c in enumerate(citations)}
        scores = np.asarray(
            [
                float(similarity[i])
                + LEXICAL_WEIGHT * sum(idf(s) for s in c.stems & q_stems) / asked_weight
                + (NUMBER_BONUS if wants_number and numbers(c.text) else 0.0)
                + FAQ_BONUS * faq.get(c.asked, 0.0)
                - RANK_PENALTY * rank.get(c.source, 0)
                for i, c in enumerate(candidates)
            ]
        )
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        chosen: list[int] = []
        for i in order:
            if len(chosen) == self._max or scores[i] < scores[order[0]] - MARGIN:
                break
            if any(_near_duplicate(candidates[i], candidates[j]) for j in chosen):
                continue
            chosen.append(i)
        lines = []
        for i in chosen:
            c = candidates[i]
            marker = f" [{c.source}]"
            line = with_markers(c.text, marker)
            if _ANAPHOR.match(c.text):
                before = next((p for p in candidates if p.source == c.source and p.position == c.position - 1), None)
                if before is not None and candidates.index(before) not in chosen:
                    line = f"{with_markers(before.text, marker)} {line}"
            lines.append(line)
        return "\n".join(lines)

    def answer_part(self, part: Part, citations: Sequence[Citation]) -> str:
        """The cited sentences that answer one part of a question, from the given sources; "" when none does."""
        return self.answer(part.text if part.query == part.text else part.query, citations)
