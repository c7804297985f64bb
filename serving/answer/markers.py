"""Citation markers: the [n] an answer writes after a claim to name the numbered source it comes from."""

from __future__ import annotations

import re

# The pattern lives with the tokenizer (retrieval.text blanks markers before reading words and numbers); it is
# exported here so that everything about markers is found in one place.
from retrieval.text import MARKER

__all__ = ["MARKER", "attach_markers", "marker_numbers", "strip_markers"]


def attach_markers(parts: list[str]) -> list[str]:
    """Citation markers written after a full stop ("... a receipt. [1]") belong to the sentence before them."""
    out: list[str] = []
    for part in parts:
        lead = re.match(r"^((?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+)\s*", part)
        if lead and out:
            out[-1] = out[-1] + " " + lead.group(1).strip()
            part = part[lead.end() :]
        if part.strip():
            out.append(part)
    return out


def strip_markers(text: str) -> str:
    """The text without [n] citation markers."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", text)).strip()


def marker_numbers(text: str) -> list[int]:
    """Source numbers cited by [n] markers, in order of appearance (repeats kept)."""
    return [int(x) for m in MARKER.finditer(text) for x in m.group(1).split(",")]
