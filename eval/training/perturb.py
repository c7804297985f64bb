"""Rewordings and falsifications of a true sentence, for the verifier's training and validation claims: a model's
paraphrases (still supported) and the ways an answer goes wrong (a number, a name or a polarity changed)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from retrieval.text import STOPWORDS

_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w.,]*\d)")
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b([A-Z][a-zA-Z]+(?:[ -][A-Z][a-zA-Z]+)*)\b")
_AUX = re.compile(r"\b(is|are|was|were|can|could|should|will|would|may|might|must|does|did|has|have|had)\b")
_NOT = re.compile(r"\b(is|are|was|were|can|could|should|will|would|may|might|must|do|does|did|has|have|had) not\b")
_NEGATION_DROPS = [
    (re.compile(r"\bcannot\b"), "can"),
    (re.compile(r"\bnever\b"), "always"),
    (re.compile(r"\bno longer\b"), "still"),
    (re.compile(r"\bnot allowed\b"), "allowed"),
    (re.compile(r"^Do not (\w)"), None),
    (re.compile(r"\bno\b(?! \d)"), "some"),
    (re.compile(r"\bwithout\b"), "with"),
]
_SWAPS = {
    "increased": "decreased",
    "decreased": "increased",
    "increase": "decrease",
    "decrease": "increase",
    "increases": "decreases",
    "decreases": "increases",
    "higher": "lower",
    "lower": "higher",
    "more": "less",
    "less": "more",
    "greater": "smaller",
    "smaller": "greater",
    "larger": "smaller",
    "before": "after",
    "after": "before",
    "improved": "worsened",
    "improves": "worsens",
    "reduced": "increased",
    "reduces": "increases",
    "positive": "negative",
    "negative": "positive",
    "positively": "negatively",
    "negatively": "positively",
    "above": "below",
    "below": "above",
    "significant": "insignificant",
    "associated": "unassociated",
    "effective": "ineffective",
    "older": "younger",
    "younger": "older",
    "maximum": "minimum",
    "minimum": "maximum",
    "early": "late",
}


def useful(sentence: str) -> bool:
    return 6 <= len(sentence.split()) <= 60


def _other_number(value: str, rng: random.Random, avoid: set[str]) -> str:
    value = value.replace(",", "")
    n = float(value)
    whole = n == int(n) and "." not in value
    for _ in range(20):
        choice = rng.choice(["near", "double", "digit", "half"])
        if choice == "near":
            m = n + rng.choice([-3, -2, -1, 1, 2, 3, 5, 10]) * (1 if n >= 10 or whole else 0.1)
        elif choice == "double":
            m = n * 2
        elif choice == "half":
            m = n / 2
        else:
            digits = list(value)
            i = rng.randrange(len(digits))
            if digits[i].isdigit():
                digits[i] = str((int(digits[i]) + rng.randint(1, 8)) % 10)
            m = float("".join(digits)) if "".join(digits).replace(".", "").isdigit() else n + 1
        text = str(int(m)) if whole and m == int(m) else f"{m:.{max(1, len(value.partition('.')[2]))}f}"
        if m >= 0 and text != value and text not in avoid:
            return text
    return str(int(n) + 7) if whole else f"{n + 0.7:.1f}"


def names_in(text: str) -> list[str]:
    return [m.group(1) for m in _NAME.finditer(text) if m.group(1).lower() not in STOPWORDS]


def numbers_in(text: str) -> list[str]:
    return [m.group(1) for m in _NUMBER.finditer(text)]


def perturbations(sentence: str, doc: str, rng: random.Random, foreign_names: list[str]) -> Iterator[tuple[str, str]]:
    """(unsupported variant, kind) of a supported sentence."""
    nums = numbers_in(sentence)
    doc_numbers = set(numbers_in(doc))
    if nums:
        value = rng.choice(nums)
        yield sentence.replace(value, _other_number(value, rng, doc_numbers), 1), "number-changed"
        elsewhere = sorted(n for n in doc_numbers if n not in nums)
        if elsewhere:
            yield sentence.replace(value, rng.choice(elsewhere), 1), "number-from-elsewhere"
    names = names_in(sentence)
    if names:
        name = rng.choice(names)
        doc_names = set(names_in(doc))
        outside = [n for n in foreign_names if n not in doc_names and n.lower() not in doc.lower()]
        if outside:
            yield sentence.replace(name, rng.choice(outside), 1), "name-changed"
        inside = sorted(n for n in doc_names if n not in sentence and n.lower() not in sentence.lower())
        if inside:
            yield sentence.replace(name, rng.choice(inside), 1), "name-from-elsewhere"
    drops = [(p, r) for p, r in _NEGATION_DROPS if p.search(sentence)]
    if _NOT.search(sentence):
        yield _NOT.sub(lambda m: m.group(1), sentence, count=1), "negation-removed"
    elif drops:
        pattern, replacement = drops[0]
        if replacement is None:
            yield pattern.sub(lambda m: m.group(1).upper(), sentence, count=1), "negation-removed"
        else:
            yield pattern.sub(replacement, sentence, count=1), "negation-removed"
    elif _AUX.search(sentence):
        yield _AUX.sub(lambda m: m.group(1) + " not", sentence, count=1), "negation-added"
    words = sentence.split(" ")
    polar = [i for i, w in enumerate(words) if w.lower() in _SWAPS]
    if polar:
        i = rng.choice(polar)
        swapped = _SWAPS[words[i].lower()]
        words[i] = swapped.capitalize() if words[i][:1].isupper() else swapped
        yield " ".join(words), "polarity-swapped"


# Rewordings a model makes when it answers from a passage: common synonyms and helper phrases.
_SYNONYMS = [
    (r"\bis required\b", "is needed"),
    (r"\brequired\b", "needed"),
    (r"\bmust\b", "has to"),
    (r"\breceive\b", "get"),
    (r"\breceives\b", "gets"),
    (r"\breceived\b", "got"),
    (r"\bapproximately\b", "about"),
    (r"\bdemonstrated\b", "showed"),
    (r"\bobserved\b", "seen"),
    (r"\bpatients\b", "people"),
    (r"\bperformed\b", "done"),
    (r"\butilized\b", "used"),
    (r"\busing\b", "with"),
    (r"\bprior to\b", "before"),
    (r"\bin order to\b", "to"),
    (r"\bsignificantly\b", "clearly"),
    (r"\bincreased\b", "raised"),
    (r"\bdecreased\b", "lowered"),
    (r"\bsubjects\b", "participants"),
    (r"\bevaluated\b", "assessed"),
    (r"\binvestigated\b", "studied"),
    (r"\bexamined\b", "looked at"),
    (r"\bcompared with\b", "versus"),
    (r"\bresults\b", "findings"),
    (r"\bmethod\b", "approach"),
    (r"\bcommon\b", "frequent"),
    (r"\blarge\b", "big"),
    (r"\bpurchase\b", "buy"),
    (r"\ballowed\b", "permitted"),
    (r"\bbegin\b", "start"),
    (r"\bprovides\b", "offers"),
    (r"\bshould\b", "ought to"),
    (r"\bthe study\b", "the research"),
]
_OPENERS = ["In short, ", "Note that ", "According to the source, ", "Overall, ", "In this study, ", "Specifically, "]


def paraphrase(sentence: str, rng: random.Random) -> str:
    """A rewording such as a model writes: parentheses dropped, a leading phrase cut or an opener added, one
    to three words replaced by synonyms."""
    out = re.sub(r"\s*\([^()]*\)", "", sentence)
    lead = re.match(r"^([^,]{3,40}), (.+)$", out)
    if lead and rng.random() < 0.4 and len(lead.group(2).split()) >= 5:
        out = lead.group(2)[0].upper() + lead.group(2)[1:]
    elif rng.random() < 0.3:
        out = rng.choice(_OPENERS) + out[0].lower() + out[1:]
    swaps = [(p, r) for p, r in _SYNONYMS if re.search(p, out)]
    for pattern, replacement in rng.sample(swaps, min(len(swaps), rng.randint(1, 3))):
        out = re.sub(pattern, replacement, out, count=1)
    return out


def split_clauses(sentence: str) -> list[str]:
    parts = re.split(r", (?:and |but |which |while |whereas )?|; ", sentence)
    return [p.strip().rstrip(".") + "." for p in parts if len(p.split()) >= 5]


def cloze(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    """A question that asks for one number or name of the sentence, and that span as the short answer."""
    spans = numbers_in(sentence) + names_in(sentence)
    if not spans:
        return None
    span = rng.choice(spans)
    question = sentence.replace(span, "what", 1).rstrip(".") + "?"
    return question, span
