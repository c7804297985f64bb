"""`python -m eval extractive`: how good the extractive answer is, on a QA set with reference answers.

For each question (by default the evaluation half of PubMedQA dev, which verifier and reranker training never
see): is the first cited source the gold document, ROUGE-L of the answer against the reference answer, and the
answer's length in words. The extractive answer is what a reader gets without a capable LLM, and whenever an
LLM answer cannot be verified.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from configs.settings import Settings
from eval.answer_metrics import answer_length, first_cited_is_gold, rouge_l
from eval.datasets import Dataset, holdout


def measure(
    settings: Settings, dataset: Dataset, part: str = "eval", progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Mean metrics of the extractive answer over the dataset's questions (part: eval | train | all)."""
    from eval.retrieval_metrics import index_dataset
    from serving.app import Assistant

    index_dir, _ = index_dataset(settings, dataset)
    extractive = settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": "extractive"})})
    assistant = Assistant(extractive, index_dir)
    ids = {i.id for i in dataset.qa} if part == "all" else set(holdout([i.id for i in dataset.qa], part))
    gold, rouge, words = [], [], []
    for item in (i for i in dataset.qa if i.id in ids):
        answer = assistant.chain.answer(item.question)
        hit = first_cited_is_gold(answer, item.gold_docs)
        if hit is not None:
            gold.append(hit)
        if item.reference:
            rouge.append(rouge_l(answer.text, item.reference))
        words.append(answer_length(answer.text))
        if progress:
            progress(1)
    return {
        "questions": len(words),
        "first_cited_is_gold": round(statistics.fmean(gold), 4) if gold else None,
        "rouge_l": round(statistics.fmean(rouge), 4) if rouge else None,
        "words_mean": round(statistics.fmean(words), 1) if words else None,
        "words_median": statistics.median(words) if words else None,
    }
