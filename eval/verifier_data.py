"""Labelled claims for training and validating the faithfulness verifier, generated from the evaluation data.

Supported claims: a source sentence or one of its clauses, a short answer span with a question that asks for it,
SciFact claims labelled SUPPORT against their abstract, PubMedQA conclusions against their abstract.
Unsupported claims: the same sentences with a number, a name or the polarity changed (also to a value that occurs
elsewhere in the same source), a sentence of a similar but different document, SciFact claims labelled
CONTRADICT, and short answers taken from another document or from the wrong sentence.

Train and validation never share a document: SciFact claims of the train qrels and the training half of
PubMedQA train; SciFact test claims and the evaluation half of PubMedQA validate. Everything is seeded.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from eval.datasets import holdout
from retrieval.text import STOPWORDS, sentences

_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w.,]*\d)")
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b([A-Z][a-zA-Z]+(?:[ -][A-Z][a-zA-Z]+)*)\b")
_AUX = re.compile(r"\b(is|are|was|were|can|could|should|will|would|may|might|must|does|did|has|have|had)\b")
_NOT = re.compile(r"\b(is|are|was|were|can|could|should|will|would|may|might|must|do|does|did|has|have|had) not\b")
_NEGATION_DROPS = [
    (re.compile(r"\bcannot\b"), "can"),
    (re.compile(r"\bnever\b"), "always"),
    (re.compile(r"\bno longer\b"), "still"),
    (re.compile(r"\bnot allowed\b"), "allowed"),
    (re.compile(r"^Do not (\w)"), None),
    (re.compile(r"\bno\b(?! \d)"), "some"),
    (re.compile(r"\bwithout\b"), "with"),
]
_SWAPS = {
    "increased": "decreased",
    "decreased": "increased",
    "increase": "decrease",
    "decrease": "increase",
    "increases": "decreases",
    "decreases": "increases",
    "higher": "lower",
    "lower": "higher",
    "more": "less",
    "less": "more",
    "greater": "smaller",
    "smaller": "greater",
    "larger": "smaller",
    "before": "after",
    "after": "before",
    "improved": "worsened",
    "improves": "worsens",
    "reduced": "increased",
    "reduces": "increases",
    "positive": "negative",
    "negative": "positive",
    "positively": "negatively",
    "negatively": "positively",
    "above": "below",
    "below": "above",
    "significant": "insignificant",
    "associated": "unassociated",
    "effective": "ineffective",
    "older": "younger",
    "younger": "older",
    "maximum": "minimum",
    "minimum": "maximum",
    "early": "late",
}


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


def _useful(sentence: str) -> bool:
    return 6 <= len(sentence.split()) <= 60


def _other_number(value: str, rng: random.Random, avoid: set[str]) -> str:
    value = value.replace(",", "")
    n = float(value)
    whole = n == int(n) and "." not in value
    for _ in range(20):
        choice = rng.choice(["near", "double", "digit", "half"])
        if choice == "near":
            m = n + rng.choice([-3, -2, -1, 1, 2, 3, 5, 10]) * (1 if n >= 10 or whole else 0.1)
        elif choice == "double":
            m = n * 2
        elif choice == "half":
            m = n / 2
        else:
            digits = list(value)
            i = rng.randrange(len(digits))
            if digits[i].isdigit():
                digits[i] = str((int(digits[i]) + rng.randint(1, 8)) % 10)
            m = float("".join(digits)) if "".join(digits).replace(".", "").isdigit() else n + 1
        text = str(int(m)) if whole and m == int(m) else f"{m:.{max(1, len(value.partition('.')[2]))}f}"
        if m >= 0 and text != value and text not in avoid:
            return text
    return str(int(n) + 7) if whole else f"{n + 0.7:.1f}"


def _names_in(text: str) -> list[str]:
    return [m.group(1) for m in _NAME.finditer(text) if m.group(1).lower() not in STOPWORDS]


def _numbers_in(text: str) -> list[str]:
    return [m.group(1) for m in _NUMBER.finditer(text)]


def perturbations(sentence: str, doc: str, rng: random.Random, foreign_names: list[str]) -> Iterator[tuple[str, str]]:
    """(unsupported variant, kind) of a supported sentence."""
    nums = _numbers_in(sentence)
    doc_numbers = set(_numbers_in(doc))
    if nums:
        value = rng.choice(nums)
        yield sentence.replace(value, _other_number(value, rng, doc_numbers), 1), "number-changed"
        elsewhere = sorted(n for n in doc_numbers if n not in nums)
        if elsewhere:
            yield sentence.replace(value, rng.choice(elsewhere), 1), "number-from-elsewhere"
    names = _names_in(sentence)
    if names:
        name = rng.choice(names)
        doc_names = set(_names_in(doc))
        outside = [n for n in foreign_names if n not in doc_names and n.lower() not in doc.lower()]
        if outside:
            yield sentence.replace(name, rng.choice(outside), 1), "name-changed"
        inside = sorted(n for n in doc_names if n not in sentence and n.lower() not in sentence.lower())
        if inside:
            yield sentence.replace(name, rng.choice(inside), 1), "name-from-elsewhere"
    drops = [(p, r) for p, r in _NEGATION_DROPS if p.search(sentence)]
    if _NOT.search(sentence):
        yield _NOT.sub(lambda m: m.group(1), sentence, count=1), "negation-removed"
    elif drops:
        pattern, replacement = drops[0]
        if replacement is None:
            yield pattern.sub(lambda m: m.group(1).upper(), sentence, count=1), "negation-removed"
        else:
            yield pattern.sub(replacement, sentence, count=1), "negation-removed"
    elif _AUX.search(sentence):
        yield _AUX.sub(lambda m: m.group(1) + " not", sentence, count=1), "negation-added"
    words = sentence.split(" ")
    polar = [i for i, w in enumerate(words) if w.lower() in _SWAPS]
    if polar:
        i = rng.choice(polar)
        swapped = _SWAPS[words[i].lower()]
        words[i] = swapped.capitalize() if words[i][:1].isupper() else swapped
        yield " ".join(words), "polarity-swapped"


# Rewordings a model makes when it answers from a passage: common synonyms and helper phrases.
_SYNONYMS = [
    (r"\bis required\b", "is needed"),
    (r"\brequired\b", "needed"),
    (r"\bmust\b", "has to"),
    (r"\breceive\b", "get"),
    (r"\breceives\b", "gets"),
    (r"\breceived\b", "got"),
    (r"\bapproximately\b", "about"),
    (r"\bdemonstrated\b", "showed"),
    (r"\bobserved\b", "seen"),
    (r"\bpatients\b", "people"),
    (r"\bperformed\b", "done"),
    (r"\butilized\b", "used"),
    (r"\busing\b", "with"),
    (r"\bprior to\b", "before"),
    (r"\bin order to\b", "to"),
    (r"\bsignificantly\b", "clearly"),
    (r"\bincreased\b", "raised"),
    (r"\bdecreased\b", "lowered"),
    (r"\bsubjects\b", "participants"),
    (r"\bevaluated\b", "assessed"),
    (r"\binvestigated\b", "studied"),
    (r"\bexamined\b", "looked at"),
    (r"\bcompared with\b", "versus"),
    (r"\bresults\b", "findings"),
    (r"\bmethod\b", "approach"),
    (r"\bcommon\b", "frequent"),
    (r"\blarge\b", "big"),
    (r"\bpurchase\b", "buy"),
    (r"\ballowed\b", "permitted"),
    (r"\bbegin\b", "start"),
    (r"\bprovides\b", "offers"),
    (r"\bshould\b", "ought to"),
    (r"\bthe study\b", "the research"),
]
_OPENERS = ["In short, ", "Note that ", "According to the source, ", "Overall, ", "In this study, ", "Specifically, "]


def paraphrase(sentence: str, rng: random.Random) -> str:
    """A rewording such as a model writes: parentheses dropped, a leading phrase cut or an opener added, one
    to three words replaced by synonyms."""
    out = re.sub(r"\s*\([^()]*\)", "", sentence)
    lead = re.match(r"^([^,]{3,40}), (.+)$", out)
    if lead and rng.random() < 0.4 and len(lead.group(2).split()) >= 5:
        out = lead.group(2)[0].upper() + lead.group(2)[1:]
    elif rng.random() < 0.3:
        out = rng.choice(_OPENERS) + out[0].lower() + out[1:]
    swaps = [(p, r) for p, r in _SYNONYMS if re.search(p, out)]
    for pattern, replacement in rng.sample(swaps, min(len(swaps), rng.randint(1, 3))):
        out = re.sub(pattern, replacement, out, count=1)
    return out


def _clauses(sentence: str) -> list[str]:
    parts = re.split(r", (?:and |but |which |while |whereas )?|; ", sentence)
    return [p.strip().rstrip(".") + "." for p in parts if len(p.split()) >= 5]


def _cloze(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    """A question that asks for one number or name of the sentence, and that span as the short answer."""
    spans = _numbers_in(sentence) + _names_in(sentence)
    if not spans:
        return None
    span = rng.choice(spans)
    question = sentence.replace(span, "what", 1).rstrip(".") + "?"
    return question, span


def _neighbours(docs: dict[str, str], ids: list[str]) -> dict[str, str]:
    """For each document, the most similar other document by BM25 (a 'retrieved but different' source)."""
    import bm25s

    from retrieval.lexical import _stemmer, tokenize

    texts = [docs[i] for i in ids]
    index = bm25s.BM25()
    index.index(tokenize(texts, _stemmer()), show_progress=False)
    found, _ = index.retrieve(tokenize([t[:1000] for t in texts], _stemmer()), k=2, show_progress=False)
    return {ids[i]: ids[int(row[1]) if int(row[0]) == i else int(row[0])] for i, row in enumerate(found)}


def generate(scifact: Path, pubmedqa: Path, part: str, seed: int = 13, per_doc: int = 2) -> list[Example]:
    """Examples for 'train' or 'validation' (disjoint documents)."""
    rng = random.Random(f"{seed}:{part}")
    out: list[Example] = []
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
    ids = sorted(docs)
    near = _neighbours(docs, ids)
    foreign = sorted({n for i in rng.sample(ids, min(len(ids), 300)) for n in _names_in(docs[i])})
    questions = {f"pq:{r['gold_doc']}": r["question"] for r in pq_rows}

    for doc_id in ids:
        doc = docs[doc_id]
        question = questions.get(doc_id, "")
        sents = [s for s in sentences(doc) if _useful(s)]
        if not sents:
            continue
        for sentence in rng.sample(sents, min(per_doc, len(sents))):
            q = question if rng.random() < 0.5 else ""
            out.append(Example(q, sentence, (doc,), 1, "source-sentence", doc_id))
            reworded = paraphrase(sentence, rng)
            if reworded != sentence:
                out.append(Example(q, reworded, (doc,), 1, "reworded-sentence", doc_id))
            clauses = _clauses(sentence)
            if clauses:
                out.append(Example(q, rng.choice(clauses), (doc,), 1, "clause", doc_id))
            following = sents[sents.index(sentence) + 1] if sents.index(sentence) + 1 < len(sents) else None
            if following is not None and rng.random() < 0.5:
                # Two adjacent sentences told as one, as a model summarises: "X, and y" / "X; y" / "X, y".
                joiner = rng.choice([", and ", "; ", ", "])
                fused = sentence.rstrip(".") + joiner + following[0].lower() + following[1:]
                out.append(Example(q, paraphrase(fused, rng), (doc,), 1, "fused-sentences", doc_id))
            base = reworded if rng.random() < 0.5 else sentence
            for variant, kind in perturbations(base, doc, rng, foreign):
                if variant != base:
                    out.append(Example(q, variant, (doc,), 0, kind, doc_id))
            cloze = _cloze(sentence, rng)
            if cloze is not None:
                cq, span = cloze
                out.append(Example(cq, span, (doc,), 1, "short-answer", doc_id))
                others = [s for s in _numbers_in(doc) + _names_in(doc) if s not in sentence and s != span]
                if others:
                    out.append(Example(cq, rng.choice(others), (doc,), 0, "short-answer-wrong-slot", doc_id))
                wrong = _names_in(docs[near[doc_id]]) + _numbers_in(docs[near[doc_id]])
                wrong = [w for w in wrong if w.lower() not in doc.lower()]
                if wrong:
                    out.append(Example(cq, rng.choice(wrong), (doc,), 0, "short-answer-other-doc", doc_id))
        other = [s for s in sentences(docs[near[doc_id]]) if _useful(s)]
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
            if _useful(sentence):
                out.append(Example(row["question"], sentence, (docs[doc_id],), 1, "conclusion", doc_id))
    return out


def save(examples: list[Example], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps(asdict(e)) + "\n")
