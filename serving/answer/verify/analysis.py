"""Claims and sources read once for the verifier: tokens, content stems, numbers with their units, a source's
sentences with the heading or term they are listed under, a sentence's clauses, its names, negation and polar words.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from retrieval.text import NEGATIONS, STOPWORDS, Token, is_content, sentences, stem, tokens
from serving.answer.verify.lexicon import ANTONYMS, NEGATING_PREFIXES, UNITS

_CLAUSE = re.compile(r";\s+|,\s+(?=(?:and|but|while|whereas|so|although|though|yet)\s)")


@dataclass
class Text:
    """A text analysed once: its tokens, content stems, numbers, and numbers paired with their units."""

    tokens: list[Token]
    stems: set[str]
    numbers: set[float]
    measures: set[tuple[float, str]]

    @classmethod
    def of(cls, text: str) -> Text:
        return cls.from_tokens(tokens(text))

    @classmethod
    def from_tokens(cls, toks: list[Token]) -> Text:
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


# One sentence of a source, analysed, with the term it is listed under (see _TERM_LINE).
Sentence = tuple[str, Text, str | None]


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


def name_tokens(claim: list[Token]) -> list[Token]:
    """Capitalised words inside the sentence: names, places, products, acronyms. The first word is left out (any
    word is capitalised there: "Findings suggest ...", "Mumbai, the capital"); the soft features still weigh it."""
    out = []
    for t in claim[1:]:
        if t.number is not None or len(t.lower) < 2 or not t.capitalised:
            continue
        if t.lower not in STOPWORDS or t.text.isupper():  # "US" and "IT" are names, "The" is not
            out.append(t)
    return out


def negated(text: str, toks: list[Token]) -> bool:
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


def opposite(word: str, against: set[str]) -> bool:
    """The source says the opposite of this stem: an antonym, or the word without its negating prefix."""
    if ANTONYMS.get(word, set()) & against and word not in against:
        return True
    for prefix in NEGATING_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 3 and word[len(prefix) :] in against:
            return word not in against
    return any(prefix + word in against for prefix in NEGATING_PREFIXES) and word not in against


def content_stems(t: Text) -> set[str]:
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


def analyse(source: str) -> list[Sentence]:
    """A source's sentences, each analysed, with the term it is listed under (see _TERM_LINE); a heading line
    ("VPN Setup Guide > Connecting") or a term line is context for every sentence under it (its words count as said
    there), not a sentence of its own. Read once per source text: every claim of an answer is checked against the
    same sources, each alone and together (the Text objects are shared, so they are never modified)."""
    return list(_analysed(source))


@functools.lru_cache(maxsize=4096)
def _analysed(source: str) -> tuple[Sentence, ...]:
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
            heading = Text.of(parts[0])
            parts = parts[1:]
        context = heading
        if seg_term is not None:
            named = Text.of(seg_term.replace("_", " ").replace(".", " "))
            context = named if context is None else _merge(context, named)
        for part in parts:
            t = Text.of(part)
            if context is not None:
                t = _merge(t, context)
            out.append((part, t, seg_term))
    return tuple(out)


def term_stems(term: str | None) -> set[str]:
    return {stem(w) for w in re.split(r"[\W_]+", term) if len(w) > 1} if term else set()


def _merge(t: Text, context: Text) -> Text:
    """A sentence with its heading's words and numbers counted as said in it."""
    return Text(t.tokens, t.stems | context.stems, t.numbers | context.numbers, t.measures | context.measures)
