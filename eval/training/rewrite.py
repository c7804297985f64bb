"""How a language model words an answer taken from a passage, and how such an answer goes plausibly wrong, for the
verifier's training, tuning and validation claims (eval/training/verifier_data.py).

Right: numbers written another way ("14 days" for "two weeks", "four megabytes" for "4MB", "1200" for "1,200"),
a sentence summarised to its main clause, two sentences merged into one. Wrong: a wrong number written another way,
two values swapped between their subjects, two names swapped, a detail the passage never gives.
"""

from __future__ import annotations

import random
import re

from retrieval.text import STOPWORDS

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen \
seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_VALUES = {w: i for i, w in enumerate(_ONES)} | {w: 10 * i for i, w in enumerate(_TENS) if w != "_"}
_UNIT = (
    r"%|percent|weeks?|days?|months?|years?|hours?|minutes?|seconds?|MB|GB|kB|KB|TB|megabytes?|gigabytes?|kilobytes?"
)
_QUANTITY = re.compile(
    rf"(?<![\w.,-])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?|{'|'.join(sorted(_WORD_VALUES, key=len, reverse=True))})"
    rf"(?:-(one|two|three|four|five|six|seven|eight|nine))?(\s?)({_UNIT})?(?![\w-])",
    re.IGNORECASE,
)
_CONVERT = {  # unit -> (other unit, factor): "2 weeks" -> "14 days"
    "week": ("day", 7),
    "hour": ("minute", 60),
    "year": ("month", 12),
    "minute": ("second", 60),
}
_BYTES = {"mb": "megabyte", "gb": "gigabyte", "kb": "kilobyte", "tb": "terabyte"}
_DETAILS = [
    ", but only for new employees",
    ", mainly in rural areas",
    ", especially in young children",
    ", unless a supervisor objects in writing",
    ", and only on weekdays",
    ", as a later review confirmed",
    ", particularly among older women",
    ", which also lowers the overall costs",
    " after a short training course",
    ", in line with national guidelines",
    ", although smokers were excluded",
    ", with the help of an external consultant",
]
_CUT = re.compile(r",\s+(?:which|where|while|whereas|although|though|because|since|as well as|including)\b")
_OPENERS = ["In short, ", "Basically, ", "To sum up, ", "", "", ""]


def spell(n: float) -> str | None:
    """A whole number below 100 in words ("twenty-five"), a round hundred or thousand; None otherwise."""
    if n != int(n) or n < 0:
        return None
    i = int(n)
    if i < 20:
        return _ONES[i]
    if i < 100:
        return _TENS[i // 10] + ("" if i % 10 == 0 else "-" + _ONES[i % 10])
    if i in (100, 1000):
        return "one hundred" if i == 100 else "one thousand"
    return None


def _value(m: re.Match[str]) -> float:
    text = m.group(1).lower()
    if text in _WORD_VALUES:
        return float(_WORD_VALUES[text] + (_WORD_VALUES[m.group(2).lower()] if m.group(2) else 0))
    return float(text.replace(",", ""))


def _unit_word(unit: str, n: float) -> str:
    return unit if n == 1 else unit + "s"


def _write(n: float, unit: str | None, rng: random.Random, *, words: bool) -> str:
    """n (in `unit`, singular or an abbreviation) written as a model might: in words or digits, with the unit."""
    spelled = spell(n) if words else None
    number = spelled or (str(int(n)) if n == int(n) else str(n))
    if unit is None:
        return number
    if unit == "%":
        return f"{number} percent" if rng.random() < 0.7 else f"{number}%"
    if unit.lower() in _BYTES:
        return f"{number} {_unit_word(_BYTES[unit.lower()], n)}"
    return f"{number} {_unit_word(unit, n)}"


def _singular(unit: str) -> str:
    """A unit as _write takes it: "%", an abbreviation ("mb"), or a singular word ("week")."""
    u = unit.lower()
    if u in ("%", "percent"):
        return "%"
    for short, word in _BYTES.items():
        if u in (short, word, word + "s"):
            return short
    return u[:-1] if u.endswith("s") else u


def reword_numbers(sentence: str, rng: random.Random) -> str | None:
    """The sentence with one number written another way, meaning the same: words for digits and back, a unit
    converted ("2 weeks" -> "14 days"), an abbreviation spelled out ("4MB" -> "4 megabytes"), "1,200" -> "1200"."""
    found = [m for m in _QUANTITY.finditer(sentence) if not _is_year_or_list(m, sentence)]
    if not found:
        return None
    m = rng.choice(found)
    n, unit = _value(m), _singular(m.group(4)) if m.group(4) else None
    written_in_words = m.group(1).lower() in _WORD_VALUES
    options = []
    if written_in_words:
        options.append(_write(n, unit, rng, words=False))
    elif spell(n) is not None:
        options.append(_write(n, unit, rng, words=True))
    if unit in _CONVERT:
        other, factor = _CONVERT[unit]
        options.append(_write(n * factor, other, rng, words=False))
    for big, (small, factor) in _CONVERT.items():
        if unit == small and n % factor == 0 and n >= factor:
            options.append(_write(n / factor, big, rng, words=rng.random() < 0.5))
    if unit is not None and (unit.lower() in _BYTES or unit == "%"):
        options.append(_write(n, unit, rng, words=False))
    if "," in m.group(1):
        options.append(_write(n, unit, rng, words=False))
    options = [o for o in options if o.lower() != m.group(0).lower()]
    if not options:
        return None
    return sentence[: m.start()] + rng.choice(options) + sentence[m.end() :]


def _is_year_or_list(m: re.Match[str], sentence: str) -> bool:
    text = m.group(1)
    if text.isdigit() and len(text) == 4 and 1800 <= int(text) <= 2100:
        return True
    return bool(re.match(r"\s*[.)]", sentence[m.end() : m.end() + 2])) and m.start() == 0


def wrong_number(sentence: str, rng: random.Random, doc: str) -> str | None:
    """A number changed to a value the document does not give, written another way ("two weeks" -> "10 days")."""
    found = [m for m in _QUANTITY.finditer(sentence) if not _is_year_or_list(m, sentence)]
    if not found:
        return None
    m = rng.choice(found)
    n, unit = _value(m), _singular(m.group(4)) if m.group(4) else None
    for _ in range(10):
        wrong = max(1.0, n + rng.choice([-2, -1, 1, 2, 3, 5]) if n < 20 else round(n * rng.choice([0.5, 1.5, 2])))
        if unit in _CONVERT and rng.random() < 0.5:
            other, factor = _CONVERT[unit]
            text = _write(wrong * factor, other, rng, words=False)
        else:
            text = _write(wrong, unit, rng, words=rng.random() < 0.5)
        digits = str(int(wrong)) if wrong == int(wrong) else str(wrong)
        if wrong != n and digits not in doc and (spell(wrong) or "#") not in doc.lower():
            return sentence[: m.start()] + text + sentence[m.end() :]
    return None


def swap_values(sentence: str) -> str | None:
    """Two different numbers of one sentence swapped: each value stated for the other's subject."""
    found = [m for m in _QUANTITY.finditer(sentence) if m.group(1)[:1].isdigit() and not _is_year_or_list(m, sentence)]
    pairs = [(a, b) for i, a in enumerate(found) for b in found[i + 1 :] if a.group(1) != b.group(1)]
    if not pairs:
        return None
    a, b = pairs[0]
    return sentence[: a.start(1)] + b.group(1) + sentence[a.end(1) : b.start(1)] + a.group(1) + sentence[b.end(1) :]


_NAME = re.compile(r"(?<![\w-])[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*(?![\w-])")


def swap_names(sentence: str) -> str | None:
    """Two different names of one sentence swapped ("A acquired B" -> "B acquired A"); the first word is left
    out (capitalised anyway)."""
    found = [m for m in _NAME.finditer(sentence) if m.start() > 0 and m.group(0).lower() not in STOPWORDS]
    pairs = [(a, b) for i, a in enumerate(found) for b in found[i + 1 :] if a.group(0) != b.group(0)]
    if not pairs:
        return None
    a, b = pairs[0]
    return sentence[: a.start()] + b.group(0) + sentence[a.end() : b.start()] + a.group(0) + sentence[b.end() :]


def add_detail(sentence: str, rng: random.Random, doc: str) -> str | None:
    """The sentence with a plausible qualifier the document never gives ("..., but only for new employees")."""
    lower = doc.lower()
    fresh = [d for d in _DETAILS if not any(w in lower for w in re.findall(r"[a-z]{5,}", d))]
    if not fresh:
        return None
    return sentence.rstrip(" .") + rng.choice(fresh) + "."


def summarise(sentence: str, rng: random.Random) -> str | None:
    """The sentence cut to its main clause, as a model summarises ("X, which Y" -> "X")."""
    plain = re.sub(r"\s*\([^()]*\)", "", sentence)
    m = _CUT.search(plain)
    if m is None and plain == sentence:
        return None
    head = (plain[: m.start()] if m else plain).rstrip(" ,;:.")
    if len(head.split()) < 6:
        return None
    opener = rng.choice(_OPENERS)
    return (opener + head[0].lower() + head[1:] if opener else head) + "."


def merge(first: str, second: str, rng: random.Random) -> str:
    """Two adjacent sentences told as one, each summarised where it can be."""
    a = summarise(first, rng) or first
    b = summarise(second, rng) or second
    a = re.sub(r"^(?:In short|Basically|To sum up), ", "", a).rstrip(" .")
    b = re.sub(r"^(?:In short|Basically|To sum up), ", "", b).rstrip(" .")
    a = a[0].upper() + a[1:]
    joiner = rng.choice([", and ", "; ", ", while "])
    return a + joiner + (b if b[:2].isupper() else b[0].lower() + b[1:]) + "."
