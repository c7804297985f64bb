"""The figures of `python -m eval answers` (per split, question category and part kind), as a dict, as text, and
one answered question described for -v."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from eval.quality.answer_scoring import QuestionResult
from eval.quality.answer_sets import SPLITS


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
