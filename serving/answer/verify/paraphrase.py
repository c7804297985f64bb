"""How an answer may word what its source says: numbers written another way ("two weeks" for "14 days", "4MB"
for "four megabytes", "twenty-five" for "25", "1.3 billion") and derived word forms ("European" for "Europe").

`align()` rewrites a claim's tokens into the source's wording wherever the two mean the same, so that the
verifier's checks (a number the sources lack, a name the sources lack, word coverage) compare meanings rather than
spellings. Nothing is aligned that the sources do not state: a wrong number stays wrong in any unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from retrieval.text import Token, stem

# Each way of writing a unit, to (canonical unit, factor): a quantity is compared in its canonical unit.
_UNITS: dict[str, tuple[str, float]] = {}
for _words, _canon, _factor in [
    ("ms msec millisecond milliseconds", "second", 0.001),
    ("s sec secs second seconds", "second", 1.0),
    ("min mins minute minutes", "second", 60.0),
    ("h hr hrs hour hours", "second", 3600.0),
    ("day days", "day", 1.0),
    ("week weeks", "day", 7.0),
    ("fortnight fortnights", "day", 14.0),
    ("month months", "month", 1.0),
    ("year years yr yrs", "month", 12.0),
    ("decade decades", "month", 120.0),
    ("byte bytes", "byte", 1.0),
    ("kb kib kilobyte kilobytes", "byte", 1024.0),
    ("mb mib megabyte megabytes", "byte", 1024.0**2),
    ("gb gib gigabyte gigabytes", "byte", 1024.0**3),
    ("tb tib terabyte terabytes", "byte", 1024.0**4),
    ("mm millimetre millimetres millimeter millimeters", "metre", 0.001),
    ("cm centimetre centimetres centimeter centimeters", "metre", 0.01),
    ("m metre metres meter meters", "metre", 1.0),
    ("km kilometre kilometres kilometer kilometers", "metre", 1000.0),
    ("mg milligram milligrams", "gram", 0.001),
    ("g gram grams", "gram", 1.0),
    ("kg kilogram kilograms", "gram", 1000.0),
    ("percent pct", "percent", 1.0),
]:
    for _w in _words.split():
        _UNITS[_w] = (_canon, _factor)
_MULTIPLIERS = {"hundred", "thousand", "million", "billion", "dozen"}
_TENS = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
_DIGITS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
_FILLER = {"of", "a", "an"}  # "a dozen of", "half a year"
STEM_PREFIX = 5  # shortest shared beginning for two stems to be one word's forms ("europ" / "european")


@dataclass(frozen=True)
class Quantity:
    """A number as stated, with the tokens it spans (number words combined) and its unit, if any."""

    first: int  # index of its first token
    end: int  # index after its last number token
    value: float
    unit: int | None  # index of its unit token

    def canonical(self, toks: list[Token]) -> tuple[float, str] | None:
        if self.unit is None:
            return None
        canon, factor = _UNITS[toks[self.unit].lower]
        return round(self.value * factor, 6), canon


def quantities(toks: list[Token]) -> list[Quantity]:
    """Every number a text states, number words combined ("twenty five" 25, "1.3 billion", "two hundred"), with
    the unit word that follows it ("4MB", "two weeks", "0.9 s")."""
    out: list[Quantity] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.number is None:
            i += 1
            continue
        value, j = t.number, i + 1
        if t.lower in _TENS and j < len(toks) and toks[j].lower in _DIGITS:
            value, j = value + float(toks[j].number or 0), j + 1
        while j < len(toks) and toks[j].lower in _MULTIPLIERS:
            value, j = value * float(toks[j].number or 1), j + 1
        unit = None
        for k in range(j, min(j + 3, len(toks))):
            if toks[k].lower in _UNITS:
                unit = k
                break
            if toks[k].lower not in _FILLER:
                break
        out.append(Quantity(i, j, value, unit))
        i = j
    return out


def align_numbers(claim: list[Token], sources: Iterable[list[Token]]) -> list[Token]:
    """The claim's tokens with each number the sources state in other words rewritten as the sources write it:
    its first token takes the source's number, its unit token the source's unit word, and the number words it
    was combined from are blanked. A number the sources state as written is left alone."""
    src_numbers: set[float] = set()
    by_value: dict[float, tuple[Token, Token | None]] = {}
    by_canon: dict[tuple[float, str], tuple[Token, Token | None]] = {}
    for toks in sources:
        for q in quantities(toks):
            unit_token = toks[q.unit] if q.unit is not None else None
            src_numbers.update(t.number for t in toks[q.first : q.end] if t.number is not None)
            by_value.setdefault(round(q.value, 6), (toks[q.first], unit_token))
            canon = q.canonical(toks)
            if canon is not None:
                by_canon.setdefault(canon, (toks[q.first], unit_token))
    out = list(claim)
    for q in quantities(claim):
        canon = q.canonical(claim)
        match = by_canon.get(canon) if canon is not None else None
        if match is not None:
            number, unit = match
            same_unit = unit is not None and q.unit is not None and unit.lower == claim[q.unit].lower
            if same_unit and number.number == claim[q.first].number and q.end - q.first == 1:
                continue  # written as the sources write it
        elif q.end - q.first == 1 and claim[q.first].number in src_numbers:
            continue
        else:
            match = by_value.get(round(q.value, 6))
            if match is None:
                continue  # a number the sources do not state in any wording: the checks will say so
        number, unit = match
        out[q.first] = replace(claim[q.first], number=number.number, lower=number.lower)
        for k in range(q.first + 1, q.end):
            out[k] = replace(claim[k], number=None, lower="")
        if q.unit is not None and unit is not None:
            out[q.unit] = replace(claim[q.unit], lower=unit.lower)
    return out


class StemIndex:
    """The sources' word stems, to find the source's form of a derived word: "European" for "Europe"."""

    def __init__(self, stems: Iterable[str]) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        for s in sorted(stems):  # sorted: ties between forms go the same way in every process
            if len(s) >= STEM_PREFIX:
                self._by_prefix.setdefault(s[:STEM_PREFIX], []).append(s)

    def find(self, word_stem: str) -> str | None:
        """A source stem that shares its beginning with this one (at least 5 letters and 80% of the shorter)."""
        if len(word_stem) < STEM_PREFIX:
            return None
        best = None
        for s in self._by_prefix.get(word_stem[:STEM_PREFIX], ()):
            shared = _shared_prefix(s, word_stem)
            if shared >= 0.8 * min(len(s), len(word_stem)) and (
                best is None or shared > _shared_prefix(best, word_stem)
            ):
                best = s
        return best


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def align_words(claim: list[Token], have: set[str], index: StemIndex, words: dict[str, str]) -> list[Token]:
    """The claim's tokens with each word the sources lack, but whose derived form they have, written in the
    source's form (`words` maps a source stem to a source word with that stem)."""
    out = []
    for t in claim:
        if t.number is None and t.lower and t.lower.isalpha():
            s = stem(t.lower)
            if s not in have:
                found = index.find(s)
                if found is not None and found in words:
                    t = replace(t, lower=words[found])
        out.append(t)
    return out
