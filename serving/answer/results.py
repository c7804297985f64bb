"""What the answer chain gives back: the finished Answer with its parts, the pieces it streams, the per-request
generation settings, and the lines it says when the model's answer cannot be shown or a part found nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from serving.answer.citations import Citation
from serving.answer.grounding import Removed
from serving.answer.markers import marker_numbers
from serving.answer.question import Part
from serving.llm.protocol import TokenUsage

# llm: a verified generated answer; extractive: no LLM configured; fallback: the LLM is unreachable;
# unverified: the LLM answered but none of it is supported, so the sources' sentences are shown instead.
Mode = Literal["llm", "extractive", "fallback", "unverified", "no-context"]
REFUSED_NOTICE = (
    "The language model found no answer in the sources; the sentences of the sources closest to the question "
    "are shown instead."
)
UNVERIFIED_NOTICE = (
    "The generated answer could not be verified against the sources, so the sentences of the sources that "
    "answer the question are shown instead."
)


def cited_numbers(text: str) -> tuple[int, ...]:
    """The source numbers a text cites, in order, once each."""
    return tuple(dict.fromkeys(marker_numbers(text)))


def not_found(part: Part) -> str:
    """The line that says one part of a question found no answer, naming the part."""
    return f'I found nothing in the documents that answers "{part.text.rstrip("?.! ")}".'


@dataclass(frozen=True)
class Answer:
    """A finished answer."""

    question: str
    standalone_question: str
    text: str
    citations: list[Citation]
    cited: list[int]  # source numbers the answer actually cites
    mode: Mode
    model: str
    notice: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    removed: tuple[Removed, ...] = ()  # generated sentences left out because their sources do not support them
    usage: TokenUsage = field(default_factory=TokenUsage)  # tokens the LLM used (rewriting the question included)
    parts: tuple[PartResult, ...] = ()  # what the question asked, part by part, and what answered each


@dataclass(frozen=True)
class PartResult:
    """One part of the question and how it was answered."""

    text: str
    kind: str
    found: bool
    cited: tuple[int, ...] = ()  # the source numbers the answer uses for this part
    filled: bool = False  # answered from the sources' sentences because the generated answer skipped it
    answer: str = ""  # this part's own answer text, where the answer was composed part by part


@dataclass(frozen=True)
class Generation:
    """Per-request generation settings (an API caller's max_tokens and temperature), within the configured ones."""

    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of the answer as it streams (only verified text is ever streamed)."""

    text: str
