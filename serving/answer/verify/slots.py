"""Values and names in each other's places: "4 to 6 weeks" told as "6 to 4 weeks", "36 of 46 patients" as "46 of
36 patients", "from August 2003 to February 2004" as "from February 2003 to August 2004".

Every word and every number of such a claim is in its source sentence, so word coverage and the number checks
accept it; what differs is where each value sits. A value's place is read from its neighbours: the nearest content
word or number on each side, once over the whole sentence and once with bracketed asides left out (a model drops
"(68%)" when it rewords). A value is in its place when the claim gives it a neighbour that a source sentence gives
it too; it is misplaced when it has none of its own neighbours there but those of another value or name of the
claim that the same sentence states (a value moved together with its subject, "220 euros in London", keeps a
neighbour and stays in its place).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.text import STOPWORDS, Token, is_content, stem
from serving.answer.verify.paraphrase import quantities

_START, _END = "^", "$"  # the neighbours of a word at either end of its sentence


def _key(t: Token) -> str:
    return f"#{t.number}" if t.number is not None else stem(t.lower)


@dataclass(frozen=True)
class _Sequence:
    """A sentence's words in order, as keys (numbers as "#value", words as stems), with what each word is."""

    keys: list[str]
    texts: list[str]
    content: list[bool]  # a content word or a number: a neighbour that says something
    slot: list[bool]  # a number or a name: what a claim can put in the wrong place
    aside: list[bool]  # inside brackets

    @classmethod
    def of(cls, toks: Sequence[Token], text: str) -> _Sequence:
        """A number written in several words ("twenty-five", "one hundred") is one value, as the claim's
        aligned numbers are; the blanked words of an aligned claim are left out."""
        inner = {k for q in quantities(list(toks)) for k in range(q.first + 1, q.end)}
        keys: list[str] = []
        texts: list[str] = []
        content: list[bool] = []
        slot: list[bool] = []
        aside: list[bool] = []
        depth, at = 0, 0
        for i, t in enumerate(toks):
            for ch in text[at : t.start]:
                depth = depth + 1 if ch in "([" else max(0, depth - 1) if ch in ")]" else depth
            at = t.start
            if not t.lower or i in inner:
                continue
            name = bool(keys) and t.capitalised and len(t.lower) > 1 and (t.lower not in STOPWORDS or t.text.isupper())
            keys.append(_key(t))
            texts.append(t.text)
            content.append(t.number is not None or is_content(t))
            slot.append(t.number is not None or name)
            aside.append(depth > 0)
        return cls(keys, texts, content, slot, aside)

    def sides(self, i: int) -> set[tuple[str, str, bool]]:
        """The nearest content word or number before and after word i: over the whole sentence, and (flagged
        True) with bracketed asides left out."""
        out = set()
        for plain in (False, True):
            if plain and self.aside[i]:
                continue

            def counts(j: int, plain: bool = plain) -> bool:
                return self.content[j] and not (plain and self.aside[j])

            left = next((self.keys[j] for j in range(i - 1, -1, -1) if counts(j)), _START)
            right = next((self.keys[j] for j in range(i + 1, len(self.keys)) if counts(j)), _END)
            out.add((left, right, plain))
        return out


def _meet(claim: set[tuple[str, str, bool]], source: set[tuple[str, str, bool]]) -> bool:
    """The claim gives a word one of the neighbours the source gives it; the claim's reading without asides is
    compared only with the source's reading without asides (a claim that keeps an aside is compared whole)."""
    return any((c[0] == s[0] or c[1] == s[1]) and not (c[2] and not s[2]) for c in claim for s in source)


def out_of_place(claim: Sequence[Token], claim_text: str, sources: Sequence[tuple[Sequence[Token], str]]) -> list[str]:
    """The claim's values and names that sit in the place a source sentence gives another of the claim's values
    or names of the same kind (a number for a number, a name for a name), and nowhere in their own. `claim` holds
    the claim's tokens aligned to the sources' wording (serving/answer/verify/paraphrase.py); `sources` each
    sentence's tokens and text. Empty when the claim has fewer than two values and names, or when every one keeps
    a neighbour."""
    mine = _Sequence.of(claim, claim_text)
    slots = {k for k, s in zip(mine.keys, mine.slot, strict=True) if s}
    if len(slots) < 2:
        return []
    around: dict[str, set[tuple[str, str, bool]]] = {}
    shown: dict[str, str] = {}
    for i, k in enumerate(mine.keys):
        if mine.slot[i]:
            around.setdefault(k, set()).update(mine.sides(i))
            shown.setdefault(k, mine.texts[i])
    stating = [_Sequence.of(toks, text) for toks, text in sources if any(_key(t) in slots for t in toks)]
    out = []
    for key, near in around.items():
        places = [(seq, j) for seq in stating for j, k in enumerate(seq.keys) if k == key]
        if not places or any(_meet(near, seq.sides(j)) for seq, j in places):
            continue
        number = key.startswith("#")
        for seq in {id(seq): seq for seq, _ in places}.values():
            others = (
                j
                for j, k in enumerate(seq.keys)
                if k != key and k in slots and seq.slot[j] and k.startswith("#") == number
            )
            if any(_meet(near, seq.sides(j)) for j in others):
                out.append(shown[key])
                break
    return out
