"""Evaluation datasets read in place from their folders: BEIR layout, and QA layout (PubMedQA as a RAG set)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from configs.errors import KBError
from configs.settings import PROJECT_ROOT


@dataclass(frozen=True)
class QAItem:
    """A question with optional reference answer and gold documents."""

    id: str
    question: str
    reference: str | None = None
    gold_docs: tuple[str, ...] = ()


@dataclass
class Dataset:
    """A corpus, its queries and relevance judgements (query id -> doc id -> grade)."""

    name: str
    root: Path
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    qa: list[QAItem] = field(default_factory=list)

    def corpus(self) -> Iterator[tuple[str, str, str]]:
        """(doc id, title, text) for every document, streamed from corpus.jsonl."""
        with open(self.root / "corpus.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                yield str(row["_id"]), str(row.get("title") or ""), str(row.get("text") or "")

    def corpus_size(self) -> int:
        """Documents in corpus.jsonl (counted by lines, without parsing them)."""
        with open(self.root / "corpus.jsonl", "rb") as fh:
            return sum(1 for line in fh if line.strip())

    def fingerprint(self) -> str:
        """Identifies the data by content, so cached indexes and run comparisons survive a copy of the folder."""
        h = hashlib.sha256()
        for p in sorted(self.root.rglob("*")):
            if p.is_file():
                h.update(f"{p.relative_to(self.root)}\0".encode())
                with p.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
        return h.hexdigest()[:12]


def load_dataset(root: Path, split: str = "test") -> Dataset:
    """BEIR layout (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) or QA layout (questions_SPLIT.jsonl)."""
    root = root.expanduser().resolve()
    if not (root / "corpus.jsonl").exists():
        raise KBError(f"{root} has no corpus.jsonl; pass a BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/)")
    qrels_file = root / "qrels" / f"{split}.tsv"
    if qrels_file.exists():
        qrels: dict[str, dict[str, int]] = {}
        with open(qrels_file, encoding="utf-8") as fh:
            next(fh)  # header
            for line in fh:
                parts = line.strip().split("\t")
                if len(parts) >= 3 and int(parts[2]) > 0:
                    qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        queries = {}
        with open(root / "queries.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    queries[str(row["_id"])] = str(row["text"])
        return Dataset(root.name, root, split, queries, qrels)
    candidates = sorted(root.glob("questions_*.jsonl"))
    qa_file = root / f"questions_{split}.jsonl"
    if not qa_file.exists():
        if split == "test" and len(candidates) == 1:
            qa_file = candidates[0]
        else:
            found = ", ".join(p.name for p in candidates) or "none"
            raise KBError(f"{root} has no qrels/{split}.tsv or questions_{split}.jsonl (found: {found}); pick --split")
    items = []
    with open(qa_file, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            gold = row.get("gold_doc")
            golds = tuple(gold) if isinstance(gold, list) else ((str(gold),) if gold else ())
            items.append(QAItem(str(row["_id"]), str(row["question"]), row.get("reference_answer"), golds))
    return Dataset(
        root.name,
        root,
        qa_file.stem.removeprefix("questions_"),
        {i.id: i.question for i in items},
        {i.id: {g: 1 for g in i.gold_docs} for i in items if i.gold_docs},
        qa=items,
    )


def holdout(ids: list[str], part: str, fraction: float = 0.5) -> list[str]:
    """Deterministic split by hash: 'train' and 'eval' halves never overlap (reranker training vs reporting)."""

    def bucket(i: str) -> float:
        return int(hashlib.sha256(i.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    return [i for i in ids if (bucket(i) < fraction) == (part == "train")]


def sample(items: list[str], n: int | None, seed: int) -> list[str]:
    """A seeded sample (all when n is None or larger than the list)."""
    if n is None or n >= len(items):
        return list(items)
    return sorted(random.Random(seed).sample(items, n))  # nosec B311  # seeded for a reproducible sample, not a secret


def dataset_spec(spec: str) -> tuple[Path, str]:
    """'path:split' (path relative to the project root) -> (folder, split)."""
    path, _, split = spec.rpartition(":") if ":" in spec else (spec, "", "test")
    resolved = Path(path) if Path(path).is_absolute() else PROJECT_ROOT / path
    return resolved, split or "test"


def user_qa_items(pattern: str) -> list[QAItem]:
    """Your own QA sets (JSON lines {question, reference?, gold_sources?}) matched by a glob under the project."""
    items = []
    base = Path(pattern)
    paths = sorted(base.parent.glob(base.name)) if base.is_absolute() else sorted(PROJECT_ROOT.glob(pattern))
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                question = str(row["question"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise KBError(f"{path}:{n + 1}: each line must be JSON with a 'question' ({exc})") from exc
            gold = row.get("gold_sources") or []
            items.append(
                QAItem(f"{path.stem}:{n + 1}", question, row.get("reference"), tuple(Path(g).stem for g in gold))
            )
    return items


def make_beir(src: Path, out: Path, fraction: float = 0.5) -> dict[str, int]:
    """A QA-layout folder (corpus.jsonl, questions_*.jsonl with gold_doc) written out in BEIR layout: queries are the
    questions, qrels each question's gold documents, split by `holdout` into qrels/train.tsv (tune half),
    qrels/test.tsv (validation half) and qrels/all.tsv. Written under `out` (a cache folder, not the repository)."""
    src = src.expanduser().resolve()
    questions = sorted(src.glob("questions_*.jsonl"))
    if not (src / "corpus.jsonl").exists() or not questions:
        raise KBError(f"{src} needs corpus.jsonl and questions_*.jsonl (QA layout, e.g. ../shared/data/pubmedqa)")
    items = [i for path in questions for i in load_dataset(src, path.stem.removeprefix("questions_")).qa]
    judged = [i for i in items if i.gold_docs]
    if not judged:
        raise KBError(f"{src}: no question has a gold_doc; nothing to judge retrieval by")
    out = out.expanduser().resolve()
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(src / "corpus.jsonl", encoding="utf-8") as fh, open(out / "corpus.jsonl", "w", encoding="utf-8") as dst:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                dst.write(json.dumps({"_id": str(row["_id"]), "title": row.get("title") or "", "text": row["text"]}))
                dst.write("\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as fh:
        for item in judged:
            fh.write(json.dumps({"_id": item.id, "text": item.question, "metadata": {}}) + "\n")
    ids = [i.id for i in judged]
    parts = {"train": set(holdout(ids, "train", fraction)), "test": set(holdout(ids, "eval", fraction))}
    parts["all"] = set(ids)
    for split, chosen in parts.items():
        with open(out / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            for item in judged:
                if item.id in chosen:
                    fh.writelines(f"{item.id}\t{doc}\t1\n" for doc in item.gold_docs)
    return {split: len(chosen) for split, chosen in parts.items()}
