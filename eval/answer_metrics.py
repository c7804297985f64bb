"""Answer metrics that need no judge LLM: the verifier's faithfulness, citation validity, abstention, length,
gold-source hit. The faithfulness check is the one the answer chain applies at run time
(serving/answer/verify/verifier.py)."""

from __future__ import annotations

from collections.abc import Sequence

from serving.answer.citations import claims
from serving.answer.markers import marker_numbers, strip_markers
from serving.answer.prompts import NO_CONTEXT, REFUSAL
from serving.answer.results import Answer
from serving.answer.verify.verifier import Verifier, check_sentence


def verifier_faithfulness(verifier: Verifier, answer: Answer) -> float | None:
    """Share of the answer's sentences that its sources support, checked as the chain checks them.
    None for an abstention (nothing was claimed)."""
    parts = [sentence for sentence, _ in claims(answer.text)]
    if not parts or abstained(answer):
        return None
    sources = [c.context for c in answer.citations]
    supported = [check_sentence(verifier, s, sources, answer.standalone_question)[0].supported for s in parts]
    return sum(supported) / len(supported)


def citation_validity(verifier: Verifier, answer: Answer) -> float | None:
    """Share of citations ([n] after a sentence) whose source alone supports that sentence.
    None when the answer cites nothing (abstention and faithfulness measure that instead)."""
    checks = []
    by_index = {c.index: c for c in answer.citations}
    for sentence, numbers in claims(answer.text):
        for n in numbers:
            source = by_index.get(n)
            checks.append(
                source is not None
                and verifier.check(strip_markers(sentence), [source.context], answer.standalone_question).supported
            )
    return sum(checks) / len(checks) if checks else None


def generated_supported_share(answer: Answer) -> float | None:
    """Of the sentences the LLM wrote, the share its sources support (the rest was left out of the answer).
    None without an LLM answer."""
    if answer.mode not in ("llm", "unverified"):
        return None
    kept = len(claims(answer.text)) if answer.mode == "llm" else 0
    total = kept + len(answer.removed)
    return kept / total if total else None


def abstained(answer: Answer) -> bool:
    return answer.mode == "no-context" or REFUSAL in answer.text or NO_CONTEXT in answer.text


def answer_length(text: str) -> int:
    return len(strip_markers(text).split())


def gold_hit(answer: Answer, gold_docs: Sequence[str]) -> float | None:
    """1.0 when a gold document is among the answer's sources (by file stem), None without gold labels."""
    if not gold_docs:
        return None
    stems = {c.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0] for c in answer.citations}
    return 1.0 if stems & set(gold_docs) else 0.0


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word stems (longest common subsequence), as in Lin (2004). Written here rather
    than imported: rouge-score would add nltk and absl to the install for these fifteen lines."""
    from retrieval.text import stem, tokens

    a = [stem(t.lower) for t in tokens(strip_markers(candidate))]
    b = [stem(t.lower) for t in tokens(reference)]
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def first_cited_is_gold(answer: Answer, gold_docs: Sequence[str]) -> float | None:
    """1.0 when the first source the answer cites is a gold document (by file stem), None without gold labels."""
    if not gold_docs:
        return None
    cited = marker_numbers(answer.text)
    first = next((c for c in answer.citations if cited and c.index == cited[0]), None)
    return 1.0 if first is not None and first.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0] in gold_docs else 0.0
