"""Grounding a streamed answer: cut it into sentences as they complete and check each against its sources.

A sentence the verifier accepts is shown (with a citation added when the model gave none); one it rejects is
taken out of the answer and kept aside, with the reasons, for the page to offer as unverified text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from retrieval.text import content_stems, is_content, sentence_spans, stem, tokens
from serving.answer.citations import Citation, with_markers
from serving.answer.markers import marker_numbers, strip_markers
from serving.answer.prompts import REFUSAL
from serving.answer.verify.verifier import Verifier, check_sentence

_ONLY_MARKERS = re.compile(r"^(?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s*)+$")
_LEADING_MARKERS = re.compile(r"^((?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s*)+)")


def is_refusal(text: str) -> bool:
    """The model's own 'the documents do not contain an answer'."""
    return REFUSAL.lower().rstrip(".") in text.lower()


class SentenceBuffer:
    """Feed streamed text; get back each sentence once it is complete (the next one has begun), with the
    separator that preceded it ("\\n" for a new line or list item, " " otherwise). Markers written after a full
    stop ("... a receipt. [1] Next") stay with their sentence."""

    def __init__(self) -> None:
        self._buf = ""
        self._started = False

    def feed(self, text: str) -> list[tuple[str, str]]:
        self._buf += text
        return self._take(final=False)

    def flush(self) -> list[tuple[str, str]]:
        return self._take(final=True)

    def _take(self, final: bool) -> list[tuple[str, str]]:
        pieces: list[list[Any]] = []  # [separator before it, text, end offset in the buffer]
        prev_end = 0
        for a, b in sentence_spans(self._buf):
            piece = self._buf[a:b]
            sep = self._buf[prev_end:a]
            lead = _LEADING_MARKERS.match(piece)
            if lead and pieces:
                pieces[-1][1] += " " + lead.group(1).strip()
                pieces[-1][2] = a + lead.end()
                piece, a = piece[lead.end() :], a + lead.end()
            if piece.strip():
                pieces.append([sep, piece, b])
            prev_end = b
        # Unless the stream is over, the last sentence may still grow (or gain markers): it stays buffered.
        done = pieces if final else pieces[:-1]
        if final:
            self._buf = ""
        elif done:
            self._buf = self._buf[done[-1][2] :]
        out: list[tuple[str, str]] = []
        for sep, piece, _end in done:
            separator = "" if not self._started else ("\n" if "\n" in sep else " ")
            self._started = True
            out.append((separator, piece.strip()))
        return out


@dataclass(frozen=True)
class Removed:
    """A sentence of the generated answer that its sources do not support."""

    text: str
    reasons: tuple[str, ...]
    score: float


class Grounder:
    """Checks the sentences of one answer against its numbered sources."""

    def __init__(self, verifier: Verifier, question: str, citations: Sequence[Citation]) -> None:
        self._verifier = verifier
        self._question = question
        self._citations = list(citations)
        # Words that state nothing by themselves: the question's and the sources' titles and sections.
        headings = " ".join(f"{c.title} {c.section} {c.relpath}" for c in citations)
        self._echo = content_stems(f"{question} {headings}")
        self.removed: list[Removed] = []
        self.kept = 0
        self.refused = False

    def check(self, sentence: str) -> str | None:
        """The sentence as it may be shown (cited), or None when it was removed."""
        plain = strip_markers(sentence)
        if not plain or _ONLY_MARKERS.match(sentence.strip()):
            return None
        if is_refusal(plain):
            self.refused = True
            return None  # the chain says so in its notice, and shows the closest passages instead
        said = {stem(t.lower) for t in tokens(plain) if is_content(t)} | {
            f"#{t.number}" for t in tokens(plain) if t.number is not None
        }
        if len(said - self._echo) < 2:
            # "1.", "Sources:", "Devices", the question or a heading repeated: nothing a reader could check.
            return None
        verdict, supporting = check_sentence(
            self._verifier, sentence, [c.context for c in self._citations], self._question
        )
        if not verdict.supported:
            self.removed.append(Removed(plain, verdict.reasons, verdict.score))
            return None
        self.kept += 1
        lead = _LEADING_MARKERS.match(sentence)
        if lead:  # "[1] Text." -> "Text [1]."
            sentence = with_markers(sentence[lead.end() :], " " + lead.group(1).strip())
        if supporting != [i for i in dict.fromkeys(marker_numbers(sentence)) if 1 <= i <= len(self._citations)]:
            # Uncited, or cited the wrong source: the reader is shown the source that supports it.
            sentence = with_markers(plain, "".join(f" [{i}]" for i in supporting))
        return sentence
