"""What the sources say about a claim: the verifier's evidence, as numbers (features) and decisive findings.

A claim is compared with its sources on what a wrong answer gets wrong: numbers and their units, names,
negation, polar words (more/less, paid/unpaid) and content that appears nowhere in the sources, both against
all the cited text and against the source sentence that matches it best (a right number taken from the wrong
sentence is still wrong). serving/answer/verify/verifier.py weighs the features; the findings decide on their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.text import (
    ANTONYMS,
    NEGATING_PREFIXES,
    NEGATIONS,
    STOPWORDS,
    UNITS,
    Token,
    is_content,
    sentences,
    stem,
    strip_markers,
    tokens,
)
from serving.answer.verify.paraphrase import StemIndex, align_numbers, align_words
from serving.answer.verify.slots import out_of_place

NUMBER_CONTEXT_FLOOR = 0.3

_CLAUSE = re.compile(r";\s+|,\s+(?=(?:and|but|while|whereas|so|although|though|yet)\s)")

FEATURES = (
    "unsupported_share",  # content words of the claim (not from the question) that no source contains
    "window_coverage",  # best share of the claim's words and numbers found in two adjacent source sentences
    "best_sentence_missing_numbers",  # numbers of the claim its best sentence does not state
    "number_binding",  # how well the sentences that state the claim's numbers match the rest of the claim
    "number_context",  # how well the words around each number match the words around it in the sources
    "unit_mismatch",  # a number whose unit differs from the unit the sources give it
    "names_apart",  # the claim's names and numbers never occur together in one source sentence
    "negated_claim",  # the claim negates where the source clause it matches best does not
    "negated_passage",  # the source clause it matches best negates where the claim does not
    "polarity_conflict",  # the claim says "more" / "unpaid" where the source says "less" / "paid"
    "adds_nothing",  # every content word of the claim is already in the question
    "log_words",
    "number_follower",  # share of the claim's numbers followed by what follows them in the sources ("47% of X")
    "name_context",  # how well the words around each name match the words around it in the sources
    "answer_binding",  # a short answer: how well the sentences stating it match the question (vs the best)
)
# Which way each feature may push the score (+1 towards supported, -1 away, 0 either): the fit respects it.
DIRECTION = {
    "unsupported_share": -1,
    "window_coverage": 1,
    "best_sentence_missing_numbers": -1,
    "number_binding": 1,
    "number_context": 1,
    "unit_mismatch": -1,
    "names_apart": -1,
    "negated_claim": -1,
    "negated_passage": -1,
    "polarity_conflict": -1,
    "adds_nothing": 0,
    "log_words": 0,
    "number_follower": 1,
    "name_context": 1,
    "answer_binding": 1,
}
SHORT_ANSWER = 4  # a claim of at most this many content words and numbers besides the question's is a short answer


@dataclass
class _Text:
    """A text analysed once: its tokens, content stems, numbers, and numbers paired with their units."""

    tokens: list[Token]
    stems: set[str]
    numbers: set[float]
    measures: set[tuple[float, str]]

    @classmethod
    def of(cls, text: str) -> _Text:
        return cls.from_tokens(tokens(text))

    @classmethod
    def from_tokens(cls, toks: list[Token]) -> _Text:
        measures = set()
        for i, t in enumerate(toks):
            if t.number is not None:
                for u in toks[i + 1 : i + 4]:
                    if stem(u.lower) in UNITS:
                        measures.add((t.number, stem(u.lower)))
        return cls(
            toks,
            {stem(t.lower) for t in toks if t.number is None and t.lower},
            {t.number for t in toks if t.number is not None},
            measures,
        )

    @property
    def have(self) -> set[str]:
        """Stems and numbers, as one set to compare coverage."""
        return self.stems | {f"#{n}" for n in self.numbers}


def clauses(claim: str) -> list[str]:
    """A sentence cut at semicolons and at ", and" / ", but" ...: each clause is checked on its own, so two true
    statements from two source sentences make a true sentence, and a false half is not hidden by a true one."""
    parts = [p.strip(" ,;") for p in _CLAUSE.split(claim)]
    out: list[str] = []
    for part in parts:
        if out and sum(1 for t in tokens(part) if is_content(t) or t.number is not None) < 2:
            out[-1] = f"{out[-1]}, {part}"
        elif part:
            out.append(part)
    return out or [claim]


def _names(claim: list[Token]) -> list[Token]:
    """Capitalised words inside the sentence: names, places, products, acronyms. The first word is left out (any
    word is capitalised there: "Findings suggest ...", "Mumbai, the capital"); the soft features still weigh it."""
    out = []
    for t in claim[1:]:
        if t.number is not None or len(t.lower) < 2 or not t.capitalised:
            continue
        if t.lower not in STOPWORDS or t.text.isupper():  # "US" and "IT" are names, "The" is not
            out.append(t)
    return out


def _negated(text: str, toks: list[Token]) -> bool:
    """A negation cue; not "No. 19", and not a yes/no that answers a question ("No, ..." / "no")."""
    for i, t in enumerate(toks):
        if not (t.lower in NEGATIONS or t.lower.endswith("n't")):
            continue
        if t.lower == "no":
            after = text[t.start + 2 : t.start + 4].lstrip()
            if (i + 1 < len(toks) and toks[i + 1].number is not None) or (i == 0 and after[:1] in ("", ",", ".", "!")):
                continue
        return True
    return False


def _opposite(word: str, against: set[str]) -> bool:
    """The source says the opposite of this stem: an antonym, or the word without its negating prefix."""
    if ANTONYMS.get(word, set()) & against and word not in against:
        return True
    for prefix in NEGATING_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 3 and word[len(prefix) :] in against:
            return word not in against
    return any(prefix + word in against for prefix in NEGATING_PREFIXES) and word not in against


def _content_stems(t: _Text) -> set[str]:
    return {stem(x.lower) for x in t.tokens if is_content(x)}


# A line that names one setting, option or function, as documentation lists them ("work_mem (integer)"): the
# sentences under it are about that thing, whatever other names they mention.
# (Possessive spaces: a long run of spaces in a document never makes it backtrack.)
_TERM_LINE = re.compile(
    r"^[ \t]*+([A-Za-z][\w.-]*_[\w.-]*|[a-z]+(?:[A-Z][a-z0-9]+)+)[ \t]*+(?:\([^()\n]{1,40}\))?[ \t]*+:?[ \t]*+$",
    re.M,
)
_IDENTIFIER = re.compile(r"(?<![\w.-])([A-Za-z][\w.-]*_[\w.-]*[A-Za-z0-9]|[a-z]+(?:[A-Z][a-z0-9]+)+)(?![\w-])")


def identifiers(text: str) -> set[str]:
    """Names of settings, options, functions and files written as code: "work_mem", "pg_hba.conf", "maxConnections"."""
    return {m.group(1).lower().rstrip(".") for m in _IDENTIFIER.finditer(text)}


def _analyse(source: str) -> list[tuple[str, _Text, str | None]]:
    """A source's sentences, each analysed, with the term it is listed under (see _TERM_LINE); a heading line
    ("VPN Setup Guide > Connecting") or a term line is context for every sentence under it (its words count as said
    there), not a sentence of its own."""
    segments: list[tuple[str | None, str]] = []
    at, term = 0, None
    for m in _TERM_LINE.finditer(source):
        segments.append((term, source[at : m.start()]))
        at, term = m.end(), m.group(1).lower()
    segments.append((term, source[at:]))
    out = []
    heading = None
    for seg_term, text in segments:
        parts = sentences(text)
        first = heading is None and seg_term is None and len(parts) > 1
        if first and parts[0][-1:] not in ".!?:;" and len(parts[0].split()) <= 12:
            heading = _Text.of(parts[0])
            parts = parts[1:]
        context = heading
        if seg_term is not None:
            named = _Text.of(seg_term.replace("_", " ").replace(".", " "))
            context = named if context is None else _merge(context, named)
        for part in parts:
            t = _Text.of(part)
            if context is not None:
                t = _merge(t, context)
            out.append((part, t, seg_term))
    return out


def _term_stems(term: str | None) -> set[str]:
    return {stem(w) for w in re.split(r"[\W_]+", term) if len(w) > 1} if term else set()


def _merge(t: _Text, context: _Text) -> _Text:
    """A sentence with its heading's words and numbers counted as said in it."""
    return _Text(t.tokens, t.stems | context.stems, t.numbers | context.numbers, t.measures | context.measures)


_ANAPHOR = frozenset("it its he his she her they their them this these those".split())
_MONTHS = frozenset("january february march april may june july august september october november december".split())


def _followers(toks: list[Token], i: int, before: bool = True) -> set[str]:
    """The content words right after a number (what it counts: "47% of the detorsion cases"), or right before it
    when nothing follows (and `before`); month names say nothing of what a number is about."""
    after = [stem(t.lower) for t in toks[i + 1 : i + 5] if is_content(t) and t.lower not in _MONTHS][:2]
    if after or not before:
        return set(after)
    return {stem(t.lower) for t in toks[max(0, i - 3) : i] if is_content(t) and t.lower not in _MONTHS}


def _number_followers(claim: list[Token], sources: list[list[Token]]) -> float:
    """Share of the claim's numbers whose followers are the followers of the same number somewhere in the
    sources: a value moved to another subject of the same sentence ("47% of A and 94% of B" swapped) fails."""
    checked = bound = 0
    for i, t in enumerate(claim):
        if t.number is None:
            continue
        mine = _followers(claim, i)
        if not mine:
            continue
        checked += 1
        bound += any(
            s.number == t.number and mine & _followers(toks, j) for toks in sources for j, s in enumerate(toks)
        )
    return bound / checked if checked else 1.0


def _clause_followers(toks: list[Token], text: str, i: int) -> set[str]:
    """The first two content words after a number or a name within its clause (up to a comma, a semicolon or a
    bracket), the rest of a name left out."""
    out: list[str] = []
    end = toks[i].start + len(toks[i].text)
    for t in toks[i + 1 : i + 12]:
        if re.search(r"[,;:()\[\]]", text[end : t.start]):
            break
        end = t.start + len(t.text)
        if is_content(t) and t.lower not in _MONTHS and not t.capitalised:
            out.append(stem(t.lower))
        if len(out) == 2:
            break
    return set(out)


def _swapped(claim: list[Token], text: str, sources: list[tuple[list[Token], str]], keys: set[str]) -> list[str]:
    """Numbers and names of the claim that the sources give to another subject of the same sentence: what follows
    it in the claim follows a different number (name) there, and never this one ("47% of A and 94% of B" told as
    "94% of A"; "A acquired B" told as "B acquired A")."""

    def key(t: Token) -> str:
        return f"#{t.number}" if t.number is not None else stem(t.lower)

    def kind(t: Token) -> bool:
        return t.number is not None

    out = []
    for i, t in enumerate(claim):
        if key(t) not in keys:
            continue
        mine = _clause_followers(claim, text, i)
        if not mine:
            continue
        own = other = told = False
        for toks, sentence in sources:
            if not any(key(s) == key(t) for s in toks):
                continue
            for j, s in enumerate(toks):
                name = s.capitalised and j > 0 and s.lower not in STOPWORDS
                if kind(s) != kind(t) or not (kind(s) or name):
                    continue
                theirs = _clause_followers(toks, sentence, j)
                told = told or (key(s) == key(t) and bool(theirs))
                if mine & theirs:
                    own = own or key(s) == key(t)
                    other = other or key(s) != key(t)
        if other and told and not own:  # a source that says nothing after it leaves the question open
            out.append(t.text)
    return out


def _name_contexts(claim: list[Token], names: list[Token], sources: list[list[Token]], skip: set[str]) -> float:
    """For the claim's names (not the question's), the lowest share of their neighbouring words that a source
    sentence naming them also has: a name moved into another statement ("founded by Nutella") fails."""
    scores = []
    positions = {id(t): i for i, t in enumerate(claim)}
    for name in names:
        key = stem(name.lower)
        if key in skip:
            continue
        i = positions[id(name)]
        around = _near(claim, i, 4) - {key}
        around -= {stem(t.lower) for t in names}
        if not around:
            continue
        best = 0.0
        for toks in sources:  # the whole sentence that names it: a reworded claim may reorder its words
            if any(s.number is None and stem(s.lower) == key for s in toks):
                best = max(best, len(around & {stem(s.lower) for s in toks if is_content(s)}) / len(around))
        scores.append(best)
    return min(scores, default=1.0)


def _answer_binding(novel: set[str], question: _Text, sents: list[_Text], per_source_sizes: list[int]) -> float:
    """For a short answer, how well the sentences that state it (with the one before when they start with a pronoun)
    match the question, against
    the best match anywhere: the right value from the wrong sentence ("a doctor's note: 10:00") scores low."""
    asked = {s for s in question.stems if s not in STOPWORDS} | {f"#{n}" for n in question.numbers}
    if not asked or not novel:
        return 1.0
    windows, pairs, offset = [], [], 0
    for size in per_source_sizes:
        for i in range(size):
            have = sents[offset + i].have
            if i and _ANAPHOR & {t.lower for t in sents[offset + i].tokens[:8]}:
                have = have | sents[offset + i - 1].have  # "It was founded in 1946": the sentence before names "it"
            windows.append((sents[offset + i].have, have))
            if i:
                before = windows[-2]
                pairs.append((before[0] | windows[-1][0], before[1] | have))
        offset += size
    best = max((len(asked & have) for _, have in windows), default=0)
    if best == 0:
        return 1.0
    # The sentence that states the answer; or, when no one sentence does, two adjacent ones ("above 500 euros your
    # manager and also Finance approve" told from "up to 500 euros: your manager" and "above: also Finance").
    stating_in = [have for own, have in windows if novel <= own] or [have for own, have in pairs if novel <= own]
    stating = max((len(asked & have) for have in stating_in), default=0)
    # The shortfall as a share of the question: a multi-hop question that no sentence matches well loses little
    # when its answer's sentence matches a little less; a value from the wrong sentence of a close match loses much.
    return min(1.0, 1.0 - (best - stating) / len(asked))


def _near(toks: list[Token], i: int, reach: int) -> set[str]:
    return {stem(t.lower) for t in toks[max(0, i - reach) : i + reach + 1] if is_content(t)}


def _number_contexts(
    claim: list[Token], sources: list[tuple[list[Token], set[str]]], reach: int = 4
) -> dict[float, float]:
    """For each number of the claim, the share of its neighbouring words that also neighbour the same number in
    a source ("the fourth day of sick leave" vs "the first day of illness"); the term a sentence is listed under
    neighbours every number in it ("work_mem (integer) ... The default is four megabytes")."""
    scores: dict[float, float] = {}
    for i, t in enumerate(claim):
        if t.number is None:
            continue
        around = _near(claim, i, reach)
        if not around:
            continue
        best = 0.0
        for toks, context in sources:
            for j, s in enumerate(toks):
                if s.number == t.number:
                    best = max(best, len(around & (_near(toks, j, reach + 1) | context)) / len(around))
        scores[t.number] = min(best, scores.get(t.number, 1.0))
    return scores


def _other_subject(claim: _Text, question: str, per_source: list[list[tuple[str, _Text, str | None]]]) -> str | None:
    """A value the sources state only for another setting than the one the question names: asked for work_mem's
    default, "The default value is 2.0" under hash_mem_multiplier is not an answer, even though it mentions
    work_mem. A sentence's subject is the term it is listed under, else the identifiers it names; a sentence that
    names none says nothing about its subject, and the check stays silent."""
    asked = identifiers(question)
    if not asked:
        return None
    for n in sorted(claim.numbers):
        subjects: set[str | None] = set()
        for group in per_source:
            for text, t, term in group:
                if any(x.number == n for x in t.tokens):
                    subjects.update({term} if term else identifiers(text) or {None})
        if subjects and None not in subjects and not subjects & asked:
            named = ", ".join(sorted(x for x in subjects if x))
            return f"{_fmt(n)} is stated for {named}, not for {', '.join(sorted(asked))}"
    return None


def features(
    claim: str, sources: Sequence[str], question: str = "", alone: bool = True
) -> tuple[dict[str, float], list[str]]:
    """The verifier's feature vector for one clause, and what a hard check found wrong with it.

    Hard findings (a number or a name that no source contains) make a claim unsupported whatever the model
    says: the question does not count as evidence for them, so a leading question cannot smuggle a number in.
    `alone` is False for a clause of a longer sentence: it is not a short answer to the question, whatever its length
    ("Gifts over 75 euros must be declined; meals during business meetings are allowed").
    """
    claim = strip_markers(claim)
    q = _Text.of(question)
    per_source = [_analyse(source) for source in sources]
    sents = [t for group in per_source for _, t, _ in group]
    src_stems: set[str] = set().union(*(t.stems for t in sents)) if sents else set()
    src_numbers: set[float] = set().union(*(t.numbers for t in sents)) if sents else set()
    # The claim in the sources' wording where it means the same: "14 days" for "two weeks", "European" for "Europe".
    words = {stem(t.lower): t.lower for s in sents for t in s.tokens if t.number is None and t.lower.isalpha()}
    aligned = align_numbers(tokens(claim), [t.tokens for t in sents])
    c = _Text.from_tokens(align_words(aligned, src_stems, StemIndex(src_stems), words))
    content = [t for t in c.tokens if is_content(t)]
    claim_stems = {stem(t.lower) for t in content}
    novel = [t for t in content if stem(t.lower) not in q.stems]
    missing = [t for t in novel if stem(t.lower) not in src_stems]
    names = _names(c.tokens)
    missing_names = sorted({t.text for t in names if stem(t.lower) not in src_stems})
    missing_numbers = sorted(n for n in c.numbers if n not in src_numbers)

    wanted = claim_stems | {f"#{n}" for n in c.numbers}

    def cover(have: set[str]) -> float:
        return len(wanted & have) / max(1, len(wanted))

    haves = [t.have for t in sents]
    best_i = max(range(len(sents)), key=lambda i: cover(haves[i]), default=-1)
    best = sents[best_i] if best_i >= 0 else _Text.of("")
    sentence_cover = cover(haves[best_i]) if best_i >= 0 else 0.0
    window_cover, offset = sentence_cover, 0
    for group in per_source:
        for i in range(len(group) - 1):
            window_cover = max(window_cover, cover(haves[offset + i] | haves[offset + i + 1]))
        offset += len(group)
    # A number is bound to the claim when a sentence stating it also states the rest of the claim: "a doctor's
    # note from the first day" is unbound when "first day" belongs to another rule than the doctor's note.
    # The ratio compares the best sentence that states the number with the best sentence overall, so a claim
    # told from two sentences keeps its numbers bound while a number lifted from an unrelated rule does not.
    binding = [
        max((cover(h) for t, h in zip(sents, haves, strict=True) if n in t.numbers), default=0.0)
        / max(sentence_cover, 1e-9)
        for n in c.numbers
    ]
    terms = [_term_stems(term) for group in per_source for _, _, term in group]
    contexts = _number_contexts(c.tokens, list(zip([t.tokens for t in sents], terms, strict=True)))
    src_measures = set().union(*(t.measures for t in sents)) if sents else set()
    unit_mismatch = [
        (n, u) for n, u in c.measures if n in src_numbers and (n, u) not in src_measures and u not in q.stems
    ]
    # Names and numbers that no single source sentence mentions together: "Hot Rod was founded in 1987" when
    # 1987 is the founding year of the other magazine.
    keys = {stem(t.lower) for t in names} | {f"#{n}" for n in c.numbers}
    apart = len(keys) >= 2 and not any(keys <= h for h in haves)
    # A short answer ("1928", "Arthur's Magazine") says nothing of its subject: the question does.
    answer = {stem(t.lower) for t in novel} | {f"#{n}" for n in c.numbers if n not in q.numbers}
    short = 0 < len(answer) <= SHORT_ANSWER and bool(question) and alone
    # Negation is judged against the source clause that matches the claim best ("Shared accounts are not allowed;
    # every person uses their own account" holds a negated clause and a plain one); among equally good
    # clauses a plain one wins, so a claim is only contradicted when its best match says the opposite.
    claim_neg = _negated(claim, c.tokens)
    best_clause_neg, best_shared = False, -1.0
    for group in per_source:
        for s, _, _ in group:
            for part in clauses(s):
                p = _Text.of(part)
                shared = len(_content_stems(p) & claim_stems) / max(1, len(claim_stems))
                neg = _negated(part, p.tokens)
                if shared > best_shared or (shared == best_shared and best_clause_neg and not neg):
                    best_shared, best_clause_neg = shared, neg
    contradicted = best_clause_neg and not claim_neg and best_shared * len(claim_stems) >= 2
    polarity = any(_opposite(s, best.stems) for s in claim_stems if s not in q.stems)
    values = {
        "unsupported_share": len(missing) / max(1, len(novel)),
        "window_coverage": window_cover,
        "best_sentence_missing_numbers": float(min(3, sum(1 for n in c.numbers if n not in best.numbers))),
        "number_binding": min(1.0, min(binding, default=1.0)),
        "number_context": min(contexts.values(), default=1.0),
        "unit_mismatch": float(min(2, len(unit_mismatch))),
        "names_apart": float(apart),
        "number_follower": _number_followers(c.tokens, [t.tokens for t in sents]),
        "name_context": _name_contexts(c.tokens, names, [t.tokens for t in sents], q.stems),
        "answer_binding": _answer_binding(answer, q, sents, [len(g) for g in per_source]) if short else 1.0,
        "negated_claim": float(claim_neg and not best_clause_neg and best_shared > 0),
        "negated_passage": float(contradicted),
        "polarity_conflict": float(polarity),
        "adds_nothing": float(not novel and not c.numbers),
        "log_words": math.log1p(len(content)),
        "sentence_coverage": sentence_cover,  # not weighed by the model: the yes/no check reads it
    }
    findings = []
    if missing_numbers:
        findings.append("numbers not in the sources: " + ", ".join(_fmt(n) for n in missing_numbers))
    if missing_names:
        findings.append("names not in the sources: " + ", ".join(missing_names))
    # A number the sources state, but of something else: below this share of shared neighbouring words, 0.6% of
    # supported and 60% of number-swapped validation claims fall (eval/training/train_verifier.py reports it).
    misplaced = sorted(n for n, share in contexts.items() if share < NUMBER_CONTEXT_FLOOR and n not in missing_numbers)
    if misplaced:
        findings.append("numbers the sources state about something else: " + ", ".join(_fmt(n) for n in misplaced))
    texts = [(t.tokens, part) for group in per_source for part, t, _ in group]
    swappable = {f"#{n}" for n in c.numbers if n not in missing_numbers}
    swappable |= {stem(t.lower) for t in names if t.text not in missing_names}
    swapped = _swapped(c.tokens, claim, texts, swappable)
    if swapped:
        findings.append("values or names the sources give to another subject: " + ", ".join(swapped))
    crossed = out_of_place(c.tokens, claim, texts)
    if crossed:  # "6 to 4 weeks" for "4 to 6 weeks": 1 of 12,486 right claims of the train and tune splits
        findings.append("values or names in each other's places in the source: " + ", ".join(crossed))
    if contradicted:  # the best-matching source clause negates what the claim affirms: 1% of right claims
        findings.append("the source says the opposite: its matching clause is negated")
    elsewhere = _other_subject(c, question, per_source) if not missing_numbers else None
    if elsewhere:
        findings.append("a value of another subject than the one asked: " + elsewhere)
    return values, findings


def explain(values: dict[str, float]) -> list[str]:
    """Reasons a reader understands, for a claim the model rejected."""
    out = []
    if values["best_sentence_missing_numbers"] or values["number_binding"] < 0.5:
        out.append("its numbers belong to another statement of the source")
    if values["unit_mismatch"]:
        out.append("a number has another unit in the source")
    if values["names_apart"]:
        out.append("the source never mentions its names and numbers together")
    if values["negated_claim"] or values["negated_passage"]:
        out.append("the source says the opposite (negation)")
    if values["polarity_conflict"]:
        out.append("the source says the opposite (e.g. more/less)")
    if values["unsupported_share"] > 0:
        out.append(f"{values['unsupported_share']:.0%} of its words are not in the sources")
    return out or ["too little of it is in the sources"]


def _fmt(n: float) -> str:
    return str(int(n)) if n == int(n) else str(n)
