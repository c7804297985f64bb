"""Matching short facts in an answer, whatever its wording, and finding numbers its sources do not state."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from retrieval.text import numbers, stem, tokens
from serving.answer.markers import MARKER, strip_markers

_UNITS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_UNITS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80"})
_UNITS.update({"ninety": "90"})
_ORDINALS = {
    w: f"{i}th"
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split(), start=1
    )
}
_TOKEN = re.compile(r"[a-z0-9]+(?:[._'][a-z0-9]+)*|[-+/=<>%&|~^$#@]")


def _canonical(token: str) -> str:
    if token in _UNITS:
        return _UNITS[token]
    if token in _ORDINALS:
        return _ORDINALS[token]
    if re.fullmatch(r"\d+(st|nd|rd|th)", token):
        return re.sub(r"(st|nd|rd)$", "th", token)
    if re.fullmatch(r"\d+\.\d+", token):
        return token.rstrip("0").rstrip(".")  # 5.0 = 5, 2.90 = 2.9
    if re.fullmatch(r"[a-z']+", token):
        return stem(token)
    return token


def normalise(text: str) -> list[str]:
    """Words and symbols of a text, compared case-insensitively: stems, digits for number words ("five" = "5",
    "fourth" = "4th"), "14-character" = "14 characters", "80%" = "80 percent", "1,500" = "1500", "€45" = "45
    euros"; punctuation and citation markers dropped."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = MARKER.sub(" ", t).replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"€\s*(\d[\d,.]*)", r"\1 euros", t)
    t = re.sub(r"(\d)\s*%", r"\1 percent", t)
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)
    t = re.sub(r"(?<=[a-z0-9])-(?=[a-z0-9])", " ", t)
    t = re.sub(r"'s\b", "", t)
    out: list[str] = []
    for tok in _TOKEN.findall(t):
        if "." in tok and re.search(r"[a-z]", tok):  # "subprocess.calledprocesserror" names calledprocesserror
            for i, piece in enumerate(tok.split(".")):
                out += ["."] * bool(i) + [_canonical(piece)]
        else:
            out.append(_canonical(tok))
    return out


def find(haystack: Sequence[str], needle: Sequence[str], start: int = 0) -> int | None:
    """Index of the first occurrence of needle as consecutive tokens of haystack at or after start."""
    n = len(needle)
    if not n:
        return None
    for i in range(start, len(haystack) - n + 1):
        if haystack[i : i + n] == list(needle):
            return i
    return None


def earliest(answer: Sequence[str], group: Sequence[str], start: int = 0) -> int | None:
    """Where the first of a group's wordings to occur in the normalised answer begins (at or after start)."""
    found = [p for p in (find(answer, normalise(alt), start) for alt in group) if p is not None]
    return min(found) if found else None


_LIST_ITEM = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)


def unsupported_numbers(text: str, sources: Iterable[str], question: str) -> list[str]:
    """Numbers written in digits in the answer that neither its sources nor the question state (list item numbers
    and citation markers are not statements)."""
    allowed = numbers(question)
    for s in sources:
        allowed |= numbers(s)
    body = _LIST_ITEM.sub(" ", strip_markers(text))
    return [t.text for t in tokens(body) if t.text[:1].isdigit() and t.number is not None and t.number not in allowed]
