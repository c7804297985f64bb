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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from configs.errors import ConfigError
from configs.settings import Settings
from eval.quality.answer_report import describe, report, table
from eval.quality.answer_scoring import QuestionResult, score
from eval.quality.answer_sets import QuestionRow, load_set


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
