"""Citation markers: checked while streaming, so a marker that points at no source never reaches the user."""

from __future__ import annotations

import re

from retrieval.text import MARKER, attach_markers, marker_numbers, sentences, strip_markers

_MAX_PENDING = 12  # longest marker we wait for, e.g. "[12, 13, 14]"


class CitationFilter:
    """Feed streamed text; get it back with out-of-range [n] markers removed and the valid ones recorded."""

    def __init__(self, n_sources: int) -> None:
        self._n = n_sources
        self._pending = ""
        self.cited: list[int] = []
        self.removed = 0

    def _clean(self, text: str) -> str:
        def fix(match: re.Match[str]) -> str:
            numbers = [int(x) for x in match.group(1).split(",")]
            valid = [n for n in numbers if 1 <= n <= self._n]
            self.removed += len(numbers) - len(valid)
            for n in valid:
                if n not in self.cited:
                    self.cited.append(n)
            return "".join(f"[{n}]" for n in valid)

        return MARKER.sub(fix, text)

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        # Hold back a possibly unfinished marker at the end.
        if cut != -1 and "]" not in text[cut:] and len(text) - cut <= _MAX_PENDING:
            self._pending = text[cut:]
            text = text[:cut]
        else:
            self._pending = ""
        return self._clean(text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._clean(text)


def claims(text: str) -> list[tuple[str, list[int]]]:
    """(sentence with its markers, source numbers it cites) per sentence; a marker written after the full stop
    ("... a receipt. [1]") belongs to the sentence before it."""
    out = []
    for part in attach_markers(sentences(text)):
        if strip_markers(part):
            out.append((part, list(dict.fromkeys(marker_numbers(part)))))
    return out


def with_markers(sentence: str, markers: str) -> str:
    """'Text.' -> 'Text [1].': markers go before the closing punctuation, as the prompt asks the model to write."""
    body = sentence.rstrip()
    end = len(body)
    while end and body[end - 1] in ".!?":
        end -= 1
    return body[:end] + markers + body[end:]
