"""`python -m eval answers`: does the answer answer the whole question? Measured part by part.

A question set (data/answers/*.jsonl, described in data/answers/README.md) lists questions about one corpus, each
split into the parts a reader expects answered, with the short facts a right answer to each part must state (any of
a few wordings; numbers and word forms normalised, so a right answer in other words still counts) and, for some
parts, the wrong value a careless answer gives instead. The corpus is indexed through the real ingest path into a
cache (data/cache/answers/<corpus>/, reused by later runs) and every question is answered by the real chain, built
as the server builds it (the extractive backend unless --backend says otherwise).

Reported per split (tune, validation, all), overall, per question category and per part kind: questions fully
covered (every answerable part's facts present and every unanswerable part said to be missing), parts covered,
unanswerable questions declined, missing parts named, answers stating a number that none of their cited sources
(nor the question) contains, answers stating a wrong value, words per answer and the latency of each answer.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from configs.errors import ConfigError
from configs.settings import Settings
from eval.quality.answer_facts import earliest, find, normalise, unsupported_numbers
from retrieval.text import content_stems, sentences, strip_markers

Kind = Literal["fact", "procedure", "summary", "comparison", "yesno", "definition", "threshold"]
SPLITS = ("tune", "validation")
# What an answer says when it has nothing for the whole question or for one part of it.
DECLINE = re.compile(
    r"could ?n[o']t find|can ?n[o']t find|did ?n[o']t find|found nothing|find nothing|nothing (about|on)|"
    r"no (answer|information)|not contain an answer|not (been )?found|not covered|no mention",
    re.IGNORECASE,
)


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


# --- scoring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartMatch:
    """How one part fared in one answer."""

    found: int  # fact groups present
    needed: int
    covered: bool
    out_of_order: bool = False  # every step is there, but not in the order the source gives them
    wrong: tuple[str, ...] = ()  # wrong values stated while the right one is missing


def match_part(answer: Sequence[str], part: PartSpec, others: Sequence[PartSpec] = ()) -> PartMatch:
    """Score one answerable part against the normalised answer; `others` are the question's other parts, whose
    right values are never counted as this part's wrong ones."""
    needed = part.min_facts or len(part.facts)
    present = [earliest(answer, group) for group in part.facts]
    found = sum(p is not None for p in present)
    covered = found >= needed
    out_of_order = False
    if covered and part.in_order:
        pos = 0
        for group in part.facts:
            at = earliest(answer, group, pos)
            if at is None:
                out_of_order, covered = True, False
                break
            pos = at + 1
    wrong: tuple[str, ...] = ()
    if not covered:
        theirs = [normalise(alt) for p in others for group in p.facts for alt in group]
        wrong = tuple(
            w
            for w in part.wrong
            if find(answer, normalise(w)) is not None
            and not any(find(t, normalise(w)) is not None or find(normalise(w), t) is not None for t in theirs)
        )
    return PartMatch(found, needed, covered, out_of_order, wrong)


# --- what the answer says -------------------------------------------------------------------------------------


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def answer_parts(answer: Any) -> list[Any]:
    """The answer's own parts (kb.parts), where the chain reports them; [] before it does."""
    return list(getattr(answer, "parts", None) or [])


def _not_found(part: Any) -> bool:
    """A part of the answer reported as not found: status "not found" (kb.parts) or found False (Answer.parts)."""
    status = _field(part, "status")
    if status is not None:
        return str(status).replace("_", " ").lower() == "not found"
    return _field(part, "found") is False


def declined(answer: Any) -> bool:
    """The answer says it could not find an answer: no context at all, the model's refusal, every part reported
    not found, or a decline that cites nothing."""
    from serving.answer.prompts import NO_CONTEXT, REFUSAL

    text = str(answer.text)
    if answer.mode == "no-context" or NO_CONTEXT in text or REFUSAL in text:
        return True
    parts = answer_parts(answer)
    if parts and all(_not_found(p) for p in parts):
        return True
    return not answer.cited and bool(DECLINE.search(text))


def named_missing(answer: Any, part: PartSpec, index: int, n_parts: int) -> bool:
    """The answer says this part was not found: the whole answer declines, its own part for this one is reported
    not found, or a sentence saying something was not found names words of this part."""
    if declined(answer):
        return True
    theirs = answer_parts(answer)
    ours = content_stems(part.text)
    if theirs:
        if len(theirs) == n_parts and _not_found(theirs[index]):
            return True
        if any(_not_found(p) and ours & content_stems(str(_field(p, "text") or "")) for p in theirs):
            return True
    return any(DECLINE.search(s) and ours & content_stems(s) for s in sentences(strip_markers(answer.text)))


def cited_texts(answer: Any) -> list[str]:
    """The texts of the sources the answer cites (all of its sources when it cites none), with the title and
    section each sits under: an answer may quote a heading ("base64 — Base16, Base32, Base64, Base85 ...")."""
    citations = list(answer.citations)
    chosen = [citations[n - 1] for n in answer.cited if 1 <= n <= len(citations)]
    return [
        "\n".join(filter(None, (getattr(c, "title", ""), getattr(c, "section", ""), c.text)))
        for c in (chosen or citations)
    ]


@dataclass
class QuestionResult:
    """One question answered and scored."""

    id: str
    split: str
    category: str
    question: str
    answer: str
    mode: str
    ms: float
    words: int
    parts: list[dict[str, Any]] = field(default_factory=list)  # per part: text, kind, status, found, missing...
    covered: bool = False  # every answerable part covered and every unanswerable part said to be missing
    declined: bool = False
    unsupported_numbers: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def score(row: QuestionRow, answer: Any, ms: float) -> QuestionResult:
    """Score one answer (an Answer of serving.answer.chain, or anything with its fields)."""
    text = str(answer.text)
    words = normalise(text)
    result = QuestionResult(
        row.id,
        row.split,
        row.category,
        row.question,
        text,
        str(answer.mode),
        round(ms, 1),
        len(strip_markers(text).split()),
        declined=declined(answer),
        unsupported_numbers=unsupported_numbers(text, cited_texts(answer), row.question),
        sources=[c.relpath for c in answer.citations],
    )
    shown: list[str] | None = None  # the sources shown with the answer, normalised once when a part is missed
    for i, part in enumerate(row.parts):
        entry: dict[str, Any] = {"text": part.text, "kind": part.kind, "answerable": part.answerable}
        if part.answerable:
            m = match_part(words, part, [p for p in row.parts if p is not part])
            entry.update(
                covered=m.covered,
                found=m.found,
                needed=m.needed,
                out_of_order=m.out_of_order,
                wrong=list(m.wrong),
                missing=[g[0] for g in part.facts if earliest(words, g) is None],
            )
            if not m.covered:
                entry["named_missing"] = named_missing(answer, part, i, len(row.parts))
                # Was it there to be taken? Separates choosing the wrong sentence from retrieving the wrong passage.
                shown = shown if shown is not None else normalise("\n".join(c.text for c in answer.citations))
                entry["in_sources"] = match_part(shown, part.model_copy(update={"ordered": False})).covered
            result.wrong += list(m.wrong)
        else:
            entry["covered"] = entry["named_missing"] = named_missing(answer, part, i, len(row.parts))
        result.parts.append(entry)
    result.covered = all(p["covered"] for p in result.parts)
    return result


# --- the report -----------------------------------------------------------------------------------------------


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summarise(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The figures of one group of answered questions."""
    answerable = [r for r in results if r.category != "unanswerable"]
    unanswerable = [r for r in results if r.category == "unanswerable"]
    parts = [p for r in answerable for p in r.parts if p["answerable"]]
    missed = [p for r in results for p in r.parts if not p["covered"]]
    ms = [r.ms for r in results]
    words = [r.words for r in answerable]
    out: dict[str, Any] = {
        "questions": len(results),
        "fully_covered": _share(sum(r.covered for r in answerable), len(answerable)),
        "answerable_questions": len(answerable),
        "parts": len(parts),
        "parts_covered": _share(sum(p["covered"] for p in parts), len(parts)),
        "missing_parts_named": _share(sum(bool(p.get("named_missing")) for p in missed), len(missed)),
        "missing_parts": len(missed),
        # answerable parts missed although the sources shown with the answer state their facts
        "missed_parts_in_sources": sum(bool(p.get("in_sources")) for p in parts if not p["covered"]),
        "unanswerable": len(unanswerable),
        "unanswerable_declined": _share(sum(r.declined for r in unanswerable), len(unanswerable)),
        "answers_with_unsupported_number": sum(bool(r.unsupported_numbers) for r in results),
        "answers_with_wrong_value": sum(bool(r.wrong) for r in results),
        "words_mean": round(statistics.fmean(words), 1) if words else None,
        "words_median": statistics.median(words) if words else None,
        "latency_p50_ms": _pct(ms, 0.5),
        "latency_p95_ms": _pct(ms, 0.95),
    }
    by_category: dict[str, Any] = {}
    for cat in sorted({r.category for r in results}):
        group = [r for r in results if r.category == cat]
        key = "declined" if cat == "unanswerable" else "fully_covered"
        hits = sum(r.declined if cat == "unanswerable" else r.covered for r in group)
        by_category[cat] = {"questions": len(group), key: _share(hits, len(group))}
    by_kind: dict[str, Any] = {}
    for kind in sorted({p["kind"] for p in parts}):
        of_kind = [p for p in parts if p["kind"] == kind]
        by_kind[kind] = {"parts": len(of_kind), "covered": _share(sum(p["covered"] for p in of_kind), len(of_kind))}
    out["by_category"] = by_category
    out["by_part_kind"] = by_kind
    return out


def report(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Figures per split and for all questions together."""
    out = {s: summarise([r for r in results if r.split == s]) for s in SPLITS if any(r.split == s for r in results)}
    if len(out) > 1:
        out["all"] = summarise(results)
    return out


def table(name: str, figures: dict[str, Any]) -> str:
    """The report as lines of text, one block per split."""
    lines = []
    for split, f in figures.items():
        lines.append(
            f"{name} [{split}] {f['questions']} questions: fully covered {_fmt(f['fully_covered'])} of "
            f"{f['answerable_questions']}, parts covered {_fmt(f['parts_covered'])} of {f['parts']}, missing parts "
            f"named {_fmt(f['missing_parts_named'])} of {f['missing_parts']} (answerable from the shown sources: "
            f"{f['missed_parts_in_sources']}), unanswerable declined "
            f"{_fmt(f['unanswerable_declined'])} of {f['unanswerable']}; answers with an unsupported number "
            f"{f['answers_with_unsupported_number']}, with a wrong value {f['answers_with_wrong_value']}; "
            f"{f['words_mean']} words per answer (mean); latency p50 {f['latency_p50_ms']} ms, "
            f"p95 {f['latency_p95_ms']} ms"
        )
        cats = ", ".join(
            f"{c} {_fmt(v.get('fully_covered', v.get('declined')))} of {v['questions']}"
            for c, v in f["by_category"].items()
        )
        kinds = ", ".join(f"{k} {_fmt(v['covered'])} of {v['parts']}" for k, v in f["by_part_kind"].items())
        lines.append(f"  by question: {cats}")
        lines.append(f"  parts covered by kind: {kinds}")
    return "\n".join(lines)


def _fmt(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def describe(result: QuestionResult) -> str:
    """One question, its answer and what it missed (for -v)."""
    head = f"[{result.id} {result.split} {result.category}] {'COVERED' if result.covered else 'MISSED'}"
    lines = [head, f"Q: {result.question}", "A: " + result.answer.replace("\n", "\n   ")]
    for p in result.parts:
        if p["covered"]:
            continue
        if not p["answerable"]:
            lines.append(f"  - not said to be missing: {p['text']!r}")
            continue
        how = "out of order" if p.get("out_of_order") else f"missing {p['missing']}"
        named = ", named as missing" if p.get("named_missing") else ""
        there = ", in the shown sources" if p.get("in_sources") else ""
        lines.append(f"  - part {p['text']!r} ({p['kind']}): {how}{named}{there}")
    for label, values in (("wrong value", result.wrong), ("unsupported number", result.unsupported_numbers)):
        if values:
            lines.append(f"  - {label}: {', '.join(values)}")
    return "\n".join(lines)


# --- the run --------------------------------------------------------------------------------------------------


def measure(
    settings: Settings,
    rows: Sequence[QuestionRow],
    index_dir: Path,
    backend: str = "extractive",
    progress: Callable[[int], None] | None = None,
) -> list[QuestionResult]:
    """Answer every question with the chain the server builds, and score the answers."""
    from eval.quality.answer_corpora import pointed
    from serving.app import Assistant

    assistant = Assistant(pointed(settings, index_dir, backend), index_dir)
    if rows:
        assistant.chain.answer(rows[0].question)  # loads the models, so that the first latency is a real one
    results = []
    for row in rows:
        t0 = time.perf_counter()
        answer = assistant.chain.answer(row.question)
        results.append(score(row, answer, (time.perf_counter() - t0) * 1000))
        if progress:
            progress(1)
    return results


def as_json(results: Sequence[QuestionResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


def main(
    settings: Settings, sets: Sequence[Path], split: str, backend: str, json_path: Path | None, verbose: bool
) -> int:
    """`python -m eval answers`: the figures of each set as text (and all of it as JSON in json_path)."""
    from configs.progress import progress_bar
    from eval.quality.answer_corpora import index_corpus

    out: dict[str, Any] = {}
    for path in sets:
        rows = load_set(path, split)
        corpora = sorted({r.corpus for r in rows})
        if len(corpora) != 1:
            raise ConfigError(f"{path} names {len(corpora)} corpora ({', '.join(corpora)}); keep one per set")
        with progress_bar(f"index {corpora[0]}", "file") as progress:
            index_dir, about = index_corpus(settings, corpora[0], progress)
        with progress_bar(path.stem, "q") as progress:
            progress("total", len(rows))
            results = measure(settings, rows, index_dir, backend, lambda n: progress("q", n))
        figures = report(results)
        if verbose:
            for r in results:
                print(describe(r), end="\n\n")
        print(table(path.stem, figures))
        out[path.stem] = {
            "set": str(path),
            "backend": backend,
            **about,
            "figures": figures,
            "questions": as_json(results),
        }
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    return 0
