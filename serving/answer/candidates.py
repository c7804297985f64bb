"""The candidate sentences of the retrieved sources for an extractive answer: each read in its context
(serving/answer/passages.py), with the FAQ question it answers, and the scores a part gives them (Scoring).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.text import content_stems
from serving.answer.blocks import RENDERED_ROW
from serving.answer.citations import Citation
from serving.answer.passages import Sentence, read
from serving.answer.prompts import withhold_instructions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    sentence: Sentence
    citation: Citation
    asked: str = ""  # the FAQ question this sentence answers, if it follows one

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def reading(self) -> str:
        """What is embedded: the sentence with the block its colon brings, a row with its header. (Not its heading:
        that makes every sentence of a section alike, and the heading's words count in the lexical score.)"""
        s = self.sentence
        text = s.text
        if s.role == "row":
            text = f"{s.header} {s.text}"
        elif s.block and s.role != "item" and not s.intro:  # it introduces the block
            text = " ".join((s.referent, s.text, *s.block)).strip()
        return text

    @property
    def stems(self) -> frozenset[str]:
        """The sentence's words; a table row's include its header's (the row means them)."""
        s = self.sentence
        stems = s.stems | content_stems(s.header) if s.header else s.stems
        # an identifier's words count too: "max_workers" speaks of workers, "ensure_ascii" of ASCII
        if "_" in s.text:
            stems = stems | content_stems(" ".join(re.findall(r"(?<=\w)_(?=\w)|[^_]+", s.text)).replace("_", " "))
        return stems

    @property
    def order(self) -> tuple[str, int, int, int]:
        """Reading order within its document."""
        c = self.citation
        return (c.relpath, c.page or 0, c.chunk, c.start + self.sentence.offset)


def candidates_of(citations: Sequence[Citation]) -> list[Candidate]:
    out, seen = [], set()
    for c in citations:
        neighbours = [o for o in citations if o.relpath == c.relpath and o is not c]
        asked, asked_at = "", -9
        sentences = read(c, neighbours)
        # "I've made a mistake in the last commit. How do I change it?": an FAQ question is its whole paragraph up
        # to the question mark, and none of it is an answer
        asking = {
            s.position
            for q in sentences
            if q.text.endswith("?")
            for s in sentences
            if s.paragraph == q.paragraph and s.position <= q.position and s.role == "prose"
        }
        for s in sentences:
            if s.text.endswith("?"):
                asked = " ".join(
                    o.text
                    for o in sentences
                    if o.position in asking and o.paragraph == s.paragraph and o.position <= s.position
                )
                asked_at = s.position
            key = s.text.lower()
            if (
                s.position in asking
                or s.role not in ("prose", "item", "row")
                or (len(s.text.split()) < 4 and not (s.block and s.text.endswith(":")))
                or (s.role == "row" and not s.header and not RENDERED_ROW.match(s.text))  # a header row alone
                or s.fragment
                or key in seen
                or s.text.endswith("?")  # an FAQ's question, not its answer
                or withhold_instructions(s.text)[1]  # text addressed to the assistant is never quoted as an answer
            ):
                continue
            seen.add(key)
            answers = asked if s.position - asked_at <= 2 else ""
            out.append(Candidate(s, c, answers))
    return out


def rarity(candidates: Sequence[Candidate]) -> Callable[[str], float]:
    """How rare a word is among the candidate sentences (and their headings): a word every sentence shares
    ("vpn" in the VPN guide) says little about which sentence answers."""
    df = Counter(s for c in candidates for s in c.stems)
    n = len(candidates)
    return lambda stem: math.log(1.0 + n / max(0.5, df.get(stem, 0)))


def faq_matches(
    candidates: Sequence[Candidate], question: str, embedder: Embedder, q_vector: np.ndarray
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


def near_duplicate(a: Candidate, b: Candidate) -> bool:
    x, y = a.sentence.stems, b.sentence.stems
    if not x or not y:
        return a.text == b.text
    return len(x & y) / len(x | y) >= 0.6


@dataclass(frozen=True)
class Scoring:
    scores: np.ndarray
    asked: frozenset[str]  # the part's content stems
    terms: tuple[str, ...]  # its key terms
    q_vector: np.ndarray  # the part's embedding
    steps: tuple[bool, ...]  # for a procedure: which candidates are steps
    weights: dict[str, float]  # the part's words: its own count 1, those borrowed from the part it leans on less
    idf: Callable[[str], float]
    wants_value: bool = False  # the part asks for an amount, a default, a limit
    faq: dict[str, float] = field(default_factory=dict)  # how much each FAQ question among them asks the part


FAQ_MIN_SIMILARITY = 0.55  # an FAQ question this close in meaning (MiniLM cosine) asks what the reader asks...

FAQ_TIE = 0.05  # ...when no other FAQ question among the sources is closer by more than this
