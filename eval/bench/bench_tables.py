"""`python -m eval bench-tables`: does a question about one table row retrieve that row?

A generated corpus (nothing large is committed; the same seed writes the same files): suppliers.xlsx, a workbook
"Suppliers" whose sheet "Lead times" has 160 rows, and maintenance.docx, prose around a 70-row table of contracts,
beside the sample knowledge base (data/sample) as distractors. Twenty questions each ask for one value of one row
("What is the lead time of Kovarin Metals Oy?"), five more ask which row has given values ("Which metals supplier
in FI has a lead time of 8 days?"). A hit is a retrieved chunk that holds the whole row asked about
(as the layout writes it): lenient to a layout that packs several rows into a chunk. For the shipped layout, each
question is also answered by the extractive backend: is the asked row the answer's first line?

Each layout is indexed with the real Indexer and searched with the real Retriever (fusion as configured, and BM25
and dense alone): 'rows' is the loader's (one row per chunk, 'Title - Header: value; ...'); 'packed' puts as many
such rows as fit about 700 characters in a chunk under one title line; 'blob' is what a table was before
(unstructured's Table text: every cell joined by spaces, cut by the chunker wherever the budget ends).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.settings import Settings

SUPPLIERS, CONTRACTS, SEED = 160, 70, 7
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
_START = ["Kov", "Bren", "Alt", "Mar", "Sol", "Vel", "Dor", "Hal", "Nor", "Ost", "Tar", "Lun", "Fen", "Gar", "Ris"]
_END = ["arin", "ex", "ora", "tek", "wick", "berg", "ano", "ello", "mont", "ridge", "stad", "ova"]
_TRADE = ["Metals", "Plastics", "Logistics", "Components", "Textiles", "Chemicals", "Electronics", "Packaging"]
_FORM = {"DE": "GmbH", "UK": "Ltd", "FR": "SA", "FI": "Oy", "NL": "BV", "US": "Inc", "IT": "SpA", "PL": "Sp. z o.o."}
_MACHINES = ["Forklift", "Compressor", "Chiller", "Press", "Conveyor", "Boiler", "Generator", "Lathe", "Crane"]
SUPPLIER_HEADERS = ("Supplier", "Country", "Category", "Lead time (days)", "Unit price (EUR)", "Minimum order")
CONTRACT_HEADERS = ("Equipment", "Vendor", "Contract no.", "Renewal date", "Annual fee (EUR)")
_VENDORS = ["Servitec", "Maintix", "ProCare Industrial", "Hydrosafe", "Voltserve", "Liftcare", "Thermatic"]


@dataclass(frozen=True)
class Question:
    text: str
    headers: tuple[str, ...]
    cells: tuple[str, ...]  # the expected row, as the loader shows its cells

    def found_in(self, text: str) -> bool:
        """The chunk holds the whole row: as the loader renders it, or (blob) its cells in a run."""
        rendered = "; ".join(f"{h}: {v}" for h, v in zip(self.headers, self.cells, strict=True) if v)
        return rendered in text or " ".join(c for c in self.cells if c) in text


def _suppliers(rng: random.Random) -> list[list[Any]]:
    names: set[str] = set()
    rows: list[list[Any]] = []
    while len(rows) < SUPPLIERS:
        country = rng.choice(sorted(_FORM))
        trade = rng.choice(_TRADE)
        name = f"{rng.choice(_START)}{rng.choice(_END)} {trade} {_FORM[country]}"
        if name in names:
            continue
        names.add(name)
        rows.append(
            [
                name,
                country,
                trade,
                rng.randint(3, 90),
                round(rng.uniform(0.2, 400), 2),
                rng.choice([50, 100, 250, 500, 1000]),
            ]
        )
    return rows


def _contracts(rng: random.Random) -> list[list[str]]:
    rows: list[list[str]] = []
    seen: set[str] = set()
    while len(rows) < CONTRACTS:
        equipment = f"{rng.choice(_MACHINES)} {rng.choice('ABCDEFGH')}{rng.randint(1, 40)}"
        if equipment in seen:
            continue
        seen.add(equipment)
        renewal = f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        number = f"MC-{rng.randint(1000, 9999)}"
        rows.append([equipment, rng.choice(_VENDORS), number, renewal, str(rng.randint(5, 120) * 100)])
    return rows


def write_corpus(folder: Path, seed: int = SEED) -> list[Question]:
    """Write the corpus under folder and return the questions about it."""
    import docx
    import openpyxl

    rng = random.Random(seed)  # noqa: S311 - test data, not security  # nosec B311
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SAMPLE, folder / "sample", dirs_exist_ok=True)
    suppliers = _suppliers(rng)
    book = openpyxl.Workbook()
    book.properties.title = "Suppliers"
    sheet = book.active
    assert sheet is not None
    sheet.title = "Lead times"
    sheet.append(list(SUPPLIER_HEADERS))
    for row in suppliers:
        sheet.append(row)
    (folder / "purchasing").mkdir(exist_ok=True)
    book.save(folder / "purchasing" / "suppliers.xlsx")

    contracts = _contracts(rng)
    document = docx.Document()
    document.add_heading("Facilities handbook", 1)
    document.add_paragraph(
        "Facilities keeps the plant running. Report a breakdown to the facilities desk, which calls the vendor that "
        "holds the maintenance contract for the machine. Contracts renew automatically unless cancelled 60 days "
        "before the renewal date."
    )
    document.add_heading("Maintenance contracts", 2)
    table = document.add_table(rows=1, cols=5)
    for cell, text in zip(table.rows[0].cells, CONTRACT_HEADERS, strict=True):
        cell.text = text
    for row in contracts:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    document.add_heading("Spare parts", 2)
    document.add_paragraph("Spare parts are ordered through purchasing; keep two filters per chiller in stock.")
    document.save(str(folder / "purchasing" / "maintenance.docx"))

    questions = []
    picks = random.Random(seed + 1)  # noqa: S311  # nosec B311
    templates: list[tuple[str, int]] = [
        ("What is the lead time of {0}?", 3),
        ("How many days does {0} need to deliver an order?", 3),
        ("What does {0} charge per unit?", 4),
        ("Which country is {0} based in?", 1),
        ("What is the minimum order quantity at {0}?", 5),
        ("lead time {0}", 3),
    ]
    from ingest.tables import cell_text

    for i, row in enumerate(picks.sample(suppliers, 12)):
        template, _ = templates[i % len(templates)]
        questions.append(Question(template.format(row[0]), SUPPLIER_HEADERS, tuple(cell_text(v) for v in row)))
    # The other way round: the row is found by its values, not by a name (only combinations one row has).
    combos: dict[tuple[str, str, int], list[list[Any]]] = {}
    for row in suppliers:
        combos.setdefault((row[1], row[2], row[3]), []).append(row)
    unique = [rows[0] for rows in combos.values() if len(rows) == 1]
    for row in picks.sample(unique, 5):
        text = f"Which {row[2].lower()} supplier in {row[1]} has a lead time of {row[3]} days?"
        questions.append(Question(text, SUPPLIER_HEADERS, tuple(cell_text(v) for v in row)))
    contract_templates: list[tuple[str, int, int]] = [  # (question, key column, value column)
        ("When does the maintenance contract for {0} renew?", 0, 3),
        ("Who maintains the {0}?", 0, 1),
        ("What is the annual fee of maintenance contract {0}?", 2, 4),
        ("Which equipment does contract {0} cover?", 2, 0),
    ]
    for i, row in enumerate(picks.sample(contracts, 8)):
        template, key, _ = contract_templates[i % len(contract_templates)]
        questions.append(Question(template.format(row[key]), CONTRACT_HEADERS, tuple(row)))
    return questions


def _packed(table: Any, heading: str = "", page: int | None = None, limit: int = 700) -> list[Any]:
    from ingest.loaders import Section
    from ingest.tables import render_row

    bare = type(table)("", table.headers, table.rows)
    sections: list[Section] = []
    lines: list[str] = []
    for row in table.rows:
        line = render_row(bare, row)
        if lines and sum(len(x) + 1 for x in lines) + len(line) > limit:
            sections.append(Section("\n".join([table.title, *lines]), page=page, heading=heading))
            lines = []
        lines.append(line)
    if lines:
        sections.append(Section("\n".join([table.title, *lines]), page=page, heading=heading))
    return sections


def _blob(table: Any, heading: str = "", page: int | None = None) -> list[Any]:
    from ingest.loaders import Section

    cells = [c for row in (table.headers, *table.rows) for c in row if c]
    return [Section(" ".join(cells), page=page, heading=heading)]


LAYOUTS: dict[str, Callable[..., list[Any]] | None] = {"rows": None, "packed": _packed, "blob": _blob}


@contextmanager
def _layout(name: str) -> Iterator[None]:
    import ingest.tables as tables

    original = tables.table_sections
    replacement = LAYOUTS[name]
    if replacement is not None:
        tables.table_sections = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        tables.table_sections = original  # type: ignore[assignment]


def measure(
    settings: Settings, embedder: Any, layout: str, docs: Path, questions: list[Question], work: Path
) -> dict[str, Any]:
    from eval.retrieval_metrics import make_retriever
    from ingest.indexer import build_indexer

    index_dir = work / f"index-{layout}"
    t0 = time.perf_counter()
    with _layout(layout):
        indexer = build_indexer(settings, index_dir=index_dir, embedder=embedder)
        try:
            report = indexer.run([docs])
        finally:
            indexer.close()
    seconds = time.perf_counter() - t0
    retriever = make_retriever(settings, index_dir, embedder)
    out: dict[str, Any] = {
        "chunks": report.chunks_written,
        "tokens_embedded": report.tokens_embedded,
        "ingest_seconds": round(seconds, 1),
    }
    for fusion in (settings.retrieval.fusion, "bm25", "dense"):
        ranks = []
        for q in questions:
            hits = retriever.search(q.text, top_k=10, fusion=fusion).hits  # type: ignore[arg-type]
            ranks.append(next((i + 1 for i, h in enumerate(hits) if q.found_in(h.chunk.text)), None))
        n = len(questions)
        out[fusion] = {
            "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
            "mrr@10": round(sum(1 / r for r in ranks if r) / n, 3),
            "missed": [q.text for q, r in zip(questions, ranks, strict=True) if r is None or r > 5],
        }
    if layout == "rows":
        best = retriever.search(questions[0].text, top_k=1).hits
        out["example"] = {"question": questions[0].text, "top_hit": best[0].chunk.text if best else None}
        out["answers"] = answered(settings, index_dir, questions)
    return out


def answered(settings: Settings, index_dir: Path, questions: list[Question]) -> dict[str, Any]:
    """The extractive answer to each question: does its first line quote the row asked about?"""
    from serving.answer.markers import strip_markers
    from serving.app import Assistant

    index = settings.index.model_copy(update={"path": index_dir, "chroma_url": None})
    llm = settings.llm.model_copy(update={"backend": "extractive"})
    assistant = Assistant(settings.model_copy(update={"index": index, "llm": llm}), index_dir)
    right, other, missed = 0, [], []
    for q in questions:
        text = strip_markers(assistant.chain.answer(q.text).text)
        first = text.splitlines()[0] if text.strip() else ""
        if q.found_in(first):
            right += 1
        elif " - " in first and ": " in first:
            other.append({"question": q.text, "answer": first})
        else:
            missed.append({"question": q.text, "answer": first})
    n = len(questions)
    return {"row_first": round(right / n, 3), "other_row": other, "no_row": missed}


def html_cost(settings: Settings, folder: Path, files: int, seed: int = 3) -> dict[str, Any]:
    """What rows cost on real HTML (e.g. the PostgreSQL manual, `apt-get download postgresql-doc-15`): chunks and
    tokens of a random sample of pages with tables as rows against tables as text (parsing and chunking only)."""
    import ingest.tables as tables
    from ingest.chunking import Chunker
    from ingest.formats import default_loaders
    from ingest.loaders import SkipFile
    from retrieval.embeddings import build_embedder

    embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
    chunker = Chunker(settings.chunking, embedder, embedder.max_tokens)
    pages = sorted(folder.rglob("*.htm*"))
    random.Random(seed).shuffle(pages)  # noqa: S311  # nosec B311
    pages = pages[:files]
    loader = default_loaders()["html"]
    original = tables.element_rows
    out: dict[str, Any] = {"pages": len(pages)}
    for name in ("text", "rows"):
        tables.element_rows = original if name == "rows" else (lambda *_a, **_k: [])  # type: ignore[assignment]
        chunks = tokens = 0
        try:
            for page in pages:
                try:
                    pieces = chunker.split(loader.load(page, page.read_bytes()))
                except SkipFile:
                    continue
                chunks += len(pieces)
                tokens += sum(p.tokens for p in pieces)
        finally:
            tables.element_rows = original  # type: ignore[assignment]
        out[name] = {"chunks": chunks, "tokens": tokens}
    return out


def main(
    settings: Settings, out: Path, layouts: list[str], html: Path | None = None, html_files: int = 150
) -> dict[str, Any]:
    from retrieval.embeddings import build_embedder

    embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
    embedder.embed_query("warm up")  # the model loads before anything is timed
    work = Path(tempfile.mkdtemp(prefix="kb-bench-tables-"))
    try:
        questions = write_corpus(work / "docs")
        from ingest.formats import default_loaders

        warm = work / "docs" / "purchasing" / "maintenance.docx"  # unstructured imports its parsers on first use
        default_loaders()["docx"].load(warm, warm.read_bytes())
        result: dict[str, Any] = {"questions": len(questions), "suppliers": SUPPLIERS, "contracts": CONTRACTS}
        for layout in layouts:
            result[layout] = measure(settings, embedder, layout, work / "docs", questions, work)
        if html is not None:
            result["html"] = html_cost(settings, html, html_files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result
