"""The verifier's word lists: opposite words, negating prefixes and the units that give a number its meaning."""

from __future__ import annotations

from retrieval.text import stem

# Words whose swap turns a claim into its opposite while keeping every other word in the source.
_POLAR = [
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("higher", "lower"),
    ("more", "less"),
    ("more", "fewer"),
    ("larger", "smaller"),
    ("greater", "smaller"),
    ("above", "below"),
    ("before", "after"),
    ("earlier", "later"),
    ("older", "younger"),
    ("maximum", "minimum"),
    ("first", "last"),
    ("improve", "worsen"),
    ("positive", "negative"),
    ("allow", "forbid"),
    ("allow", "prohibit"),
    ("mandatory", "optional"),
    ("required", "optional"),
    ("always", "never"),
    ("inside", "outside"),
    ("rise", "fall"),
    ("gain", "loss"),
    ("accept", "reject"),
    ("approve", "decline"),
    ("include", "exclude"),
    ("success", "failure"),
    ("full", "partial"),
]
ANTONYMS: dict[str, set[str]] = {}  # stem -> stems of its opposites
for _a, _b in _POLAR:
    ANTONYMS.setdefault(stem(_a), set()).add(stem(_b))
    ANTONYMS.setdefault(stem(_b), set()).add(stem(_a))
NEGATING_PREFIXES = ("un", "in", "im", "non", "dis", "ir", "il")

# Units that give a number its meaning: "6 weeks" is not "6 months", "300 euros per shift" not "per day".
UNITS = frozenset(
    stem(u)
    for u in """second seconds minute minutes hour hours day days week weeks month months year years decade decades
    euro euros eur dollar dollars usd pound pounds percent percentage km kilometre kilometres kilometer kilometers
    mile miles metre metres meter meters kg gram grams mg ml litre litres liter liters character characters word
    words shift shifts night nights person people patient patients employee employees time times""".split()
)
