"""A sentence folded to plain lower-case Latin before the injection patterns read it: NFKC, invisible and bidi
controls removed, Cyrillic, Greek and Armenian look-alikes mapped to the Latin letters they imitate, accents, leet
digits and letter-spacing undone, markup and quoted examples set aside; and whether any of that disguised it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Letters of other scripts drawn like Latin ones (a subset of Unicode's confusables.txt: the Cyrillic, Greek and
# Armenian letters a reader cannot tell apart from Latin in running text).
_CONFUSABLES = str.maketrans(
    {
        **dict(zip("аеорсхуіѕјԁһӏԛԝɡ", "aeopcxyisjdhlqwg", strict=True)),
        **dict(zip("АВСЕНІЈКМОРЅТХҮ", "ABCEHIJKMOPSTXY", strict=True)),
        **dict(zip("αεοιικνρτυχωϲ", "aeoiikvptuxwc", strict=True)),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        **dict(zip("օսհոաց", "ouhnwg", strict=True)),
        "ı": "i",
        "ɑ": "a",
        "ǀ": "l",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "`": "'",
        "´": "'",
    }
)
_LATIN = re.compile(r"[a-zA-Z]")
_OTHER_LOOKALIKE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0530-\u058f]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_INVISIBLE_INSIDE_WORD = re.compile(r"\w[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+\w")
_HIDDEN_MARKUP = re.compile(
    r"<!--|\[//\]:\s*#|\[comment\]:|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|<\w+[^>]*\shidden\b"
    r"|aria-hidden|color\s*:\s*(?:#fff\b|#ffffff|white)",
    re.IGNORECASE,
)
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_TOKEN = re.compile(r"(?<![\w.])[a-z0134578@$]*[a-z][a-z0134578@$]*(?![\w])")
# Letters spaced out with one separator ("i g n o r e", "f-o-r-g-e-t", "i_g_n_o_r_e"); words keep another one.
_SPACED = re.compile(r"(?<![a-z0-9])[a-z]([ .\-*·|_/])[a-z](?:\1[a-z])+(?![a-z0-9])")
# Comment and tag syntax around hidden text: what it says is scored as if it were plain.
_MARKUP = re.compile(r"<!--|-->|<[a-z/][^>]*>|\[//\]: ?# ?\(?|\[comment\]: ?<> ?\(?")
# A phrase quoted as an example ("attackers write 'ignore previous instructions'") is mentioned, not used.
_MENTION = re.compile(
    r"\b((?:write|writes|wrote|type|types|phrases?|such as|like|e\.g\.,?|called|named|words?|strings?|text) ?:? ?)"
    r"(['\"])[^'\"]{3,80}\2"
)
_EMPHASIS = re.compile(r"(?<!\w)[*~]+|[*~]+(?!\w)|(?<![\w])_+|_+(?![\w])")


@dataclass(frozen=True)
class Folded:
    """A sentence folded for matching, and whether it was disguised (look-alikes, invisible or spaced letters)."""

    text: str
    squashed: str  # letters only, when letter-spacing was undone (else "")
    disguised: bool


def fold(sentence: str) -> Folded:
    """Plain lower-case Latin text for the injection patterns."""
    disguised = bool(_INVISIBLE_INSIDE_WORD.search(sentence) or _HIDDEN_MARKUP.search(sentence))
    text = unicodedata.normalize("NFKC", sentence)
    disguised |= text != sentence and any(c.isalpha() for c in set(sentence) - set(text))  # full-width, math letters
    text = "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in "\u034f\u115f\u1160\u3164\uffa0")
    disguised |= any(_LATIN.search(w) and _OTHER_LOOKALIKE.search(w) for w in _WORD.findall(text))
    text = text.translate(_CONFUSABLES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()

    def unleet(m: re.Match[str]) -> str:
        nonlocal disguised
        token = m.group(0)
        digits = sum(c in "0134578@$" for c in token)
        if digits == 0 or len(token) < 3:
            return token
        disguised |= digits >= 2
        return token.translate(_LEET)

    text = _LEET_TOKEN.sub(unleet, text)
    squashed = ""
    if _SPACED.search(text):
        text = _SPACED.sub(lambda m: " " + re.sub(r"[^a-z]", "", m.group(0)) + " ", text)
        squashed = re.sub(r"[^a-z]", "", text)
        disguised = True
    text = _MENTION.sub(r"\1\2…\2", _EMPHASIS.sub("", _MARKUP.sub(" ", text)))
    return Folded(re.sub(r"\s+", " ", text).strip(), squashed, disguised)
