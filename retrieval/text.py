"""Text helpers shared by every stage: one sentence splitter, one word tokenizer, stop words, stems, numbers."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Function words, question words and fillers: never evidence that a claim is (or is not) in a source.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can cannot could couldn't did didn't do does doesn't doing don't down during each
    either few for from further had hadn't has hasn't have haven't having he her here hers herself him himself his
    how however i if in into is isn't it it's its itself just let me more most must my myself neither nor of off
    on once only or other ought our ours ourselves out over own per same shall she should shouldn't so some such
    than that that's the their theirs them themselves then there there's these they this those through thus to
    too under until up upon us very via was wasn't we were weren't what when where whether which while who whom
    whose why will with within without would wouldn't yes yet you your yours yourself yourselves
    according answer answers based document documents mentioned question questions source sources stated states
    says said text""".split()
)
NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor cannot without isn't aren't wasn't weren't doesn't don't didn't "
    "won't wouldn't can't couldn't shouldn't hasn't haven't hadn't mustn't".split()
)
_NUMBER_WORDS = {
    w: float(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90})
_NUMBER_WORDS.update({"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "dozen": 12, "half": 0.5})
_ORDINALS = {
    w: float(i)
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
        "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split(),
        start=1,
    )
}
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs dr mr mrs ms prof no nos fig figs al approx inc ltd co st jr sr dept min max vol ca cf resp "
    "u.s u.k jan feb mar apr jun jul aug sep sept oct nov dec".split()
)

WORD = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[^\W\d_]+(?:['’][^\W\d_]+)*")
# A citation marker "[1]" or "[2, 3]": the tokenizer blanks it so its digits are never read as a number the text
# states. Defined here, below serving, for that reason; serving.answer.markers holds the helpers built on it.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# A sentence ends at . ! ? (and closing quotes) before a space, before a capitalised word glued to it (text
# concatenated without spaces: "in 1987.Hot Rod is"), or at a line break.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|(?<=[a-z0-9\"”)])[.!?](?=[A-Z][a-z])|\n")


@dataclass(frozen=True)
class Token:
    """One word or number of a text."""

    text: str  # as written
    lower: str
    start: int
    number: float | None  # the value when the token is a number (digits, number word or ordinal)

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split after . ! ? followed by space (not after an abbreviation, an initial
    or inside a number) and at line breaks; whitespace is trimmed from each span."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        if m.group(0) == "\n" and not _line_break_ends_sentence(text, start, m.start()):
            continue
        if m.group(0) != "\n":
            before = text[start : m.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue  # "e.g. the", "Lendley C. Black"
            line_start = text.rfind("\n", 0, m.start()) + 1
            if re.fullmatch(r"\s*[-*•]?\s*\d{1,2}", text[max(start, line_start) : m.start()]):
                continue  # a numbered list item: "1. Book the trip"
            rest = text[end:].lstrip()
            if rest[:1].islower():
                continue  # a full stop inside a sentence ("approx. 5", "vs. them")
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


_BULLET = re.compile(r"\s*(?:[-*•]|\d{1,2}[.)])\s")


def _line_break_ends_sentence(text: str, start: int, at: int) -> bool:
    """A line break ends a sentence after a blank line, a heading (a short line) or terminal punctuation, or
    before a list item or a capitalised line; not inside a paragraph wrapped by a PDF."""
    line = text[max(start, text.rfind("\n", start, at) + 1) : at].strip()
    after = text[at + 1 :]
    nxt = after.lstrip(" \t")
    if not line or not nxt or nxt.startswith("\n") or _BULLET.match(after):
        return True
    if not (nxt[:1].isupper() or nxt[:1].isdigit() or nxt[:1] in "\"'([*#|>"):
        return False
    return line[-1] in ".!?:;" or len(line.split()) <= 8


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))


def sentences(text: str) -> list[str]:
    """The sentences of a text (see sentence_spans)."""
    return [text[a:b] for a, b in sentence_spans(text)]


_ORDINAL_SUFFIX = re.compile(r"(st|nd|rd|th)$")
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")


@functools.lru_cache(maxsize=100_000)
def _number(token: str) -> float | None:
    lower = token.lower()
    if lower[:1].isdigit():
        digits = _ORDINAL_SUFFIX.sub("", lower)
        if _THOUSANDS.fullmatch(digits):
            digits = digits.replace(",", "")
        try:
            return float(digits.replace(",", "."))
        except ValueError:
            return None
    return _NUMBER_WORDS.get(lower, _ORDINALS.get(lower))


def tokens(text: str) -> list[Token]:
    """Words and numbers with offsets; possessive 's is dropped from the word."""
    out = []
    for m in WORD.finditer(MARKER.sub(lambda mm: " " * len(mm.group(0)), text)):
        word = m.group(0)
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        out.append(Token(word, word.lower(), m.start(), _number(word)))
    return out


@functools.lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball (English) stem of a lower-cased word: the same stemmer as the lexical index."""
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


_NOT_CONTENT = STOPWORDS | NEGATIONS


def is_content(token: Token) -> bool:
    """A word that carries meaning: not a stop word, a negation or a single letter."""
    return token.number is None and len(token.lower) > 1 and token.lower not in _NOT_CONTENT


def content_stems(text: str) -> set[str]:
    """Stems of the content words of a text."""
    return {stem(t.lower) for t in tokens(text) if is_content(t)}


def numbers(text: str) -> set[float]:
    """Every number a text states (digits, number words, ordinals)."""
    return {t.number for t in tokens(text) if t.number is not None}
