"""What in a question's words steers the choice of the answering sentence, beyond its meaning.

Key terms: a name the question asks about (a setting such as `work_mem`, a product such as PgBouncer, an acronym,
a quoted word, a rare proper noun). When one occurs in none of the sources, the sources are about something
else and the nearest sentence would be a wrong answer: the part is not found.

Absent nouns: when two or more of the things a wh-question names ("the mileage allowance for my own car", "the
environment variable that sets ...") occur in none of its sources, the sources are about something else, even where
every name is a common word. One absent noun is not enough: questions name things in words of their own ("a plane",
"the length"); nor are yes/no questions judged so: they state a claim, and sources say claims in words of their own
(PubMedQA's titles: "Storage of vaccines in the community: weak link in the cold chain?").

Thresholds: a rule with cases ("Claims up to 500 euros ... Claims above 500 euros ...") answers an asked amount
("a 700 euro claim") with the case whose condition the amount meets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from retrieval.text import STOPWORDS, Token, stem, tokens
from serving.answer.citations import Citation
from serving.answer.verify.lexicon import UNITS

_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+(?![\w])")
_CAMEL = re.compile(r"\b(?:[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\b")
_QUOTED = re.compile(r"[\"“`]([^\"”`]{2,40})[\"”`]")
# a capitalised word inside a sentence, also before a lower-case compound ("a Zstandard-compressed archive")
_CAPITALISED = re.compile(r"(?<=[\w,;:)] )[A-Z][a-z]{2,}(?:['’]s)?\b(?!\w|-[A-Z])")
# "Git LFS", "Apache JMX": a name with an acronym after it names a product or a component, written that way
_PRODUCT = re.compile(r"(?<=[\w,;:)] )[A-Z][a-z]{2,} [A-Z]{2,6}s?\b(?![-\w])")
_ROMAN = re.compile(r"^(?=[IVXL]{1,5}$)L?X{0,3}(?:IX|IV|V?I{0,3})$")
_ABBREVIATION = re.compile(r"^(?:e\.g|i\.e|etc|vs|a\.m|p\.m)$", re.I)


_ASIDE = re.compile(
    r"\([^()]*\)"  # (maria@example.com, phone ...)
    r"|\S+@\S+|https?://\S+|\+?\d[\d ()-]{6,}\d"  # e-mail addresses, links, phone and card numbers
    r"|\b(?i:i am|i'm|my name is|this is|we are|i work (?:at|for|in|with))\s+(?:[A-Z][\w.'-]*\s*)+",
)
_PREAMBLE = re.compile(r"^.*?:\s*(?=(?:who|whom|whose|what|which|when|where|why|how|is|are|do|does|can)\b)", re.I)


def asked(text: str) -> str:
    """The words that ask, without what the asker says about themselves: 'I am Maria Gonzalez (maria@example.com):
    how many days ...' -> 'how many days ...'."""
    return _ASIDE.sub(" ", _PREAMBLE.sub("", text))


def key_terms(text: str, rare: Callable[[str], bool] = lambda word: False) -> list[str]:
    """The names a question asks about, as written: identifiers (work_mem, pg_stat.max), CamelCase (PgBouncer),
    quoted words, a name with an acronym (Git LFS), and capitalised words inside a sentence-case question that
    `rare` calls rare. Acronyms alone are not among them: sources write them out or abbreviate them differently
    (ECG, electrocardiogram)."""
    text = asked(text)
    found: list[str] = []
    for pattern in (_IDENTIFIER, _CAMEL):
        found += [m.group(0) for m in pattern.finditer(text) if len(m.group(0)) >= 5]
    found += [m.group(1).strip() for m in _QUOTED.finditer(text)]
    found += [m.group(0) for m in _PRODUCT.finditer(text)]
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", text)[1:] if len(w) >= 4]
    capitalised = sum(bool(re.match(r"^[A-Z][a-z'-]+$", w)) for w in words)
    title_case = len(words) >= 4 and capitalised * 2 > len(words)  # "Are Biochemical Markers of Bone ..."
    for m in _CAPITALISED.finditer("" if title_case else text):
        word = re.sub(r"['’]s$", "", m.group(0))
        if word.lower() not in STOPWORDS and rare(word):
            found.append(word)
    out: list[str] = []
    for term in found:
        term = re.sub(r"['’]s$", "", term).strip(".")
        if term in ("I", "OK") or _ROMAN.match(term) or _ABBREVIATION.match(term) or term.isdigit():
            continue
        if term.lower() not in (t.lower() for t in out):
            out.append(term)
    return out


def uncovered(terms: Iterable[str], citations: Sequence[Citation]) -> list[str]:
    """The terms that occur in none of the sources (their text, title, section or file name), as a word."""
    each = [f"{c.relpath}\n{c.title}\n{c.section}\n{c.text}".lower() for c in citations]
    haystack = "\n".join(each)
    missing = []
    for term in terms:
        words = [re.escape(w) for w in re.split(r"[\s_.-]+", term.lower()) if w]
        if not words:
            continue
        pattern = r"(?<![a-z0-9])" + r"[\s_.-]?".join(words) + r"(?:e?s)?(?![a-z0-9])"
        if re.search(pattern, haystack) or _spelled_out(term, haystack):
            continue
        # "zipfile.ZipFile" where the sources say "class ZipFile" on the zipfile module's page; "Northwind VPN" where
        # a source names Northwind and its VPN apart
        if ("." in term or " " in term) and any(
            all(re.search(rf"(?<![a-z0-9]){w}(?![a-z0-9])", one) for w in words) for one in each
        ):
            continue
        missing.append(term)
    return missing


# Nouns that ask or frame rather than name what is asked ("the steps of", "an overview of", "the number of"): no
# source need say them.
FRAMING_NOUNS = frozenset(
    stem(w)
    for w in "default defaults step steps overview summary difference differences way ways number kind type thing "
    "things one ones example examples value values question answer lot bit".split()
)

ABSENT_NOUNS = 2  # this many of a part's nouns in none of its sources: the part is not found


def absent_nouns(nouns: Iterable[str], citations: Sequence[Citation]) -> list[str]:
    """The plain-word nouns (stemmed, framing nouns left out) that occur in none of the sources, their title,
    section or file name: 'Who pays for my home internet?' over a handbook that never mentions either -> [home,
    internet]."""
    said: set[str] = set()
    for c in citations:
        said |= {stem(t.lower) for t in tokens(f"{c.relpath} {c.title} {c.section} {c.text}")}
    # names with dots, digits or dashes (shutil.copy2, SHA-256) are key terms, matched as written by `uncovered`
    stems = dict.fromkeys(stem(w.lower()) for w in nouns if w.isalpha() and w.lower() not in STOPWORDS)
    return [w for w in stems if w and w not in FRAMING_NOUNS and w not in said]


def _spelled_out(term: str, haystack: str) -> bool:
    """An acronym the sources write out: HMO -> 'health maintenance organization'."""
    base = term[:-1] if term.endswith("s") else term
    letters = base if base.isupper() else ""
    if not letters.isalpha() or not 2 <= len(letters) <= 6:
        return False
    pattern = r"\b" + r"\w*[\s-]+(?:(?:of|and|the|for|in|to)[\s-]+)?".join(re.escape(ch.lower()) for ch in letters)
    return re.search(pattern + r"\w*", haystack) is not None


@dataclass(frozen=True)
class Condition:
    """'up to 500 euros' -> Condition('<=', 500.0, 'euro')."""

    op: str  # <, <=, >, >=
    value: float
    unit: str  # stem of the unit word after the number, "" when none

    def holds(self, value: float) -> bool:
        return {
            "<": value < self.value,
            "<=": value <= self.value,
            ">": value > self.value,
            ">=": value >= self.value,
        }[self.op]


_OPS = [
    (r"up to|at most|no more than|not more than|a maximum of|maximum of|not exceeding", "<="),
    (r"under|below|less than|fewer than|lower than|shorter than", "<"),
    (r"at least|a minimum of|minimum of|no less than|not less than|from", ">="),
    (r"more than|over|above|exceeding|exceeds?|greater than|higher than|longer than", ">"),
]
_BEFORE = re.compile(
    r"\b(" + "|".join(p for p, _ in _OPS) + r")\s+(?:the\s+|a\s+|an\s+)?(?:[€$£]\s?)?(?=[\w€$£])", re.I
)
_AFTER = re.compile(r"\s+(or|and)\s+(more|over|above|higher|greater|less|fewer|under|below|lower)\b", re.I)
_TIME = frozenset(stem(w) for w in "second minute hour day week month year decade".split())
_OP_OF = [(re.compile(rf"^(?:{p})$", re.I), op) for p, op in _OPS]


def conditions(text: str) -> list[Condition]:
    """The numeric conditions a sentence states: 'up to 500 euros', 'above 500', 'from the fourth day',
    '14 characters or more'."""
    out: list[Condition] = []
    toks = tokens(text)
    for m in _BEFORE.finditer(text):
        after = [t for t in toks if t.start >= m.end()][:3]
        following = after[1:]
        if after and after[0].number is not None and after[0].start - m.end() <= 3:
            words = " ".join(m.group(1).lower().split())
            op = next(o for rx, o in _OP_OF if rx.match(words))
            unit = _unit(following)
            if words == "over" and unit in _TIME:  # "over 15 years": a duration, not a threshold
                continue
            out.append(Condition(op, after[0].number, unit))
    for i, t in enumerate(toks):
        if t.number is None:
            continue
        rest = text[t.start + len(t.text) :]
        unit = _unit(toks[i + 1 : i + 2])
        if unit:
            rest = rest.split(toks[i + 1].text, 1)[-1]
        m2 = _AFTER.match(rest)
        if m2:
            word = m2.group(2).lower()
            op = ">=" if word in ("more", "over", "above", "higher", "greater") else "<="
            out.append(Condition(op, t.number, unit))
    return out


def _unit(toks: Sequence[Token]) -> str:
    """The unit among the (up to two) words after a number: '500 euros', 'the fourth consecutive day'."""
    for t in toks[:2]:
        if t.number is not None:
            break
        if stem(t.lower) in UNITS:
            return stem(t.lower)
    return ""


def asked_values(text: str) -> list[tuple[float, str]]:
    """The amounts a question asks about, with their unit: 'a 700 euro claim' -> [(700, 'euro')]; an amount the
    question itself bounds ('claims above 500 euros') stands for a value just inside its bound."""
    bounded = {(c.value, c.unit): c for c in conditions(text)}
    out = []
    toks = tokens(text)
    for i, t in enumerate(toks):
        if t.number is None or (t.lower.endswith(("st", "nd", "rd", "th")) and not t.lower[:1].isdigit()):
            continue
        unit = _unit(toks[i + 1 : i + 3])
        cond = bounded.get((t.number, unit))
        value = t.number
        if cond is not None:
            nudge = max(abs(value) * 1e-6, 1e-6)
            value = {"<": value - nudge, ">": value + nudge}.get(cond.op, value)
        out.append((value, unit))
    return out


def applies(sentence_conditions: Sequence[Condition], asked: Sequence[tuple[float, str]]) -> bool | None:
    """Whether a sentence's conditions hold for an asked amount of the same unit (euros, days, characters): True
    when one holds, False when all that compare fail, None when none compares."""
    verdict: bool | None = None
    for cond in sentence_conditions:
        for value, unit in asked:
            if not unit or cond.unit != unit:
                continue
            if cond.holds(value):
                return True
            verdict = False
    return verdict
