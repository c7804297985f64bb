"""The question sets of `python -m eval answers` (data/answers/*.jsonl, described in data/answers/README.md): a
question split into the parts a reader expects answered, each with the short facts a right answer states, and the
rule that splits a set into tune and validation halves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from configs.errors import ConfigError
from eval.quality.answer_facts import normalise

Kind = Literal["fact", "procedure", "summary", "comparison", "yesno", "definition", "threshold"]
SPLITS = ("tune", "validation")


class PartSpec(BaseModel):
    """One thing the question asks, and what a right answer to it states."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    kind: Kind
    facts: tuple[tuple[str, ...], ...] = ()  # each group: any of these wordings must appear
    wrong: tuple[str, ...] = ()  # wordings that state a wrong value for this part
    min_facts: int | None = Field(default=None, ge=1)  # groups needed (summaries); default: all
    ordered: bool | None = None  # groups must appear in this order; default: for procedures
    answerable: bool = True

    @model_validator(mode="after")
    def _facts_match_answerable(self) -> PartSpec:
        if self.answerable and not self.facts:
            raise ValueError(f"part {self.text!r} is answerable but lists no facts")
        if not self.answerable and (self.facts or self.wrong):
            raise ValueError(f"part {self.text!r} is unanswerable and must list no facts")
        if self.min_facts is not None and self.min_facts > len(self.facts):
            raise ValueError(f"part {self.text!r} needs {self.min_facts} facts but lists {len(self.facts)}")
        if any(not alt.strip() or not normalise(alt) for group in self.facts for alt in group):
            raise ValueError(f"part {self.text!r} has an empty fact")
        return self

    @property
    def in_order(self) -> bool:
        return self.kind == "procedure" if self.ordered is None else self.ordered


class QuestionRow(BaseModel):
    """One question of a set (a JSONL row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    question: str
    split: Literal["tune", "validation"]
    corpus: str
    answerable: bool = True
    docs: tuple[str, ...] = ()  # the documents that answer it (relative paths, page names or abstract ids)
    parts: tuple[PartSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _parts_match_answerable(self) -> QuestionRow:
        if not self.answerable and any(p.answerable for p in self.parts):
            raise ValueError(f"{self.id}: an unanswerable question's parts must be unanswerable too")
        if self.answerable and not any(p.answerable for p in self.parts):
            raise ValueError(f"{self.id}: no part is answerable; set answerable: false")
        return self

    @property
    def category(self) -> str:
        """unanswerable, multi (two or more parts), or the kind of its one part: what the split is stratified by."""
        if not self.answerable:
            return "unanswerable"
        return "multi" if len(self.parts) > 1 else self.parts[0].kind


def load_set(path: Path, split: str = "all") -> list[QuestionRow]:
    """The rows of a question set, of one split or all of them."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the question set {path} ({exc}); pass --set data/answers/NAME.jsonl") from exc
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(QuestionRow.model_validate_json(line))
        except ValidationError as exc:
            raise ConfigError(f"{path}:{n}: not a valid question row ({exc.errors()[0]['msg']})") from exc
    return [r for r in rows if split == "all" or r.split == split]


def expected_splits(rows: Sequence[QuestionRow]) -> dict[str, str]:
    """The split rule (data/answers/README.md): within each category, in file order, tune, validation, tune, ..."""
    seen: dict[str, int] = {}
    out = {}
    for row in rows:
        n = seen.get(row.category, 0)
        seen[row.category] = n + 1
        out[row.id] = SPLITS[n % 2]
    return out
