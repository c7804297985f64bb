"""The values that pass between stages: frozen dataclasses, no behaviour beyond conversions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Chroma metadata values are scalars; tags are stored as one boolean key per tag so that a tag filter is an
# ordinary equality test in Chroma and in the lexical index alike.
TAG_PREFIX = "tag:"


@dataclass(frozen=True)
class Chunk:
    """A piece of one document, as indexed."""

    id: str
    text: str  # verbatim text of the chunk, a slice of its page/section text
    source: str  # absolute path of the original file
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        """Flat metadata for the stores (Chroma, lexical index)."""
        return {**self.metadata, "source": self.source}

    @classmethod
    def from_record(cls, chunk_id: str, text: str, record: dict[str, Any]) -> Chunk:
        """Inverse of to_record."""
        meta = dict(record)
        source = str(meta.pop("source", ""))
        return cls(id=chunk_id, text=text, source=source, metadata=meta)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its final score and how each retriever ranked it (1-based)."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    scores: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
