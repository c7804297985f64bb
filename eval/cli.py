"""The command line of `python -m eval`: every subcommand and its arguments (eval/__main__.py runs them)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def parser(description: str | None) -> argparse.ArgumentParser:
    """`python -m eval`'s parser; description: the help text above the commands (eval/__main__.py's docstring)."""
    p = argparse.ArgumentParser(prog="python -m eval", description=description)
    sub = p.add_subparsers(dest="command", required=True)
    # Three groups, added in the order --help lists the commands.
    for cmd in (*_retrieval_commands(sub), *_suite_and_training_commands(sub), *_quality_commands(sub)):
        cmd.add_argument("-v", "--verbose", action="store_true")
    return p


def _retrieval_commands(sub: Any) -> list[argparse.ArgumentParser]:
    """retrieval, tune-fusion and the ingest benchmarks (bench-ingest, -ray, -pdf, -ocr, -tables, -html, -crawl)."""
    r = sub.add_parser("retrieval", help="retrieval metrics of each pipeline variant on a BEIR-layout dataset")
    r.add_argument("--dataset", type=Path, required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    r.add_argument("--split", default="test", help="qrels/<split>.tsv or questions_<split>.jsonl (default: test)")
    r.add_argument("--json", type=Path, help="also write the results as JSON here")
    r.add_argument("--variants", help="comma-separated subset of: bm25,dense,fusion,fusion+rerank,tutorial")
    r.add_argument("--tutorial", action="store_true", help="also measure the LangChain tutorial pipeline")
    r.add_argument("--profile", help="config profile (default: default)")
    r.add_argument("--index", type=Path, help="index directory for the corpus (default: a cache under data/cache)")
    b = sub.add_parser("bench-ingest", help="ingestion throughput on SciFact and Debian docs vs the tutorial")
    b.add_argument("--corpora", default="scifact,debian", help="comma-separated: scifact,debian")
    b.add_argument("--no-tutorial", action="store_true", help="skip the tutorial pipeline (about 5 minutes)")
    b.add_argument("--out", type=Path, default=Path("bench/out/ingest.json"))
    b.add_argument("--profile", help="config profile (default: default)")
    br = sub.add_parser("bench-ray", help="ingest throughput in process and on a loopback Ray cluster of 1 and 2 nodes")
    br.add_argument("--workers", default="1,2", help="comma-separated node counts (default: 1,2)")
    br.add_argument("--docs", type=int, default=1000, help="SciFact documents to ingest (default: 1000)")
    br.add_argument("--out", type=Path, default=Path("bench/out/ray.json"))
    br.add_argument("--profile", help="config profile (default: default)")
    pd = sub.add_parser("bench-pdf", help="PDF text extraction: PDFium (the loader) against pypdf, per file")
    pd.add_argument("folder", type=Path, help="a folder of PDFs (searched recursively)")
    pd.add_argument("--out", type=Path, default=Path("bench/out/pdf.json"))
    pd.add_argument("--profile", help="config profile (default: default)")
    tb = sub.add_parser("bench-tables", help="table-row retrieval (hit@1/hit@5) on a generated XLSX + DOCX table")
    tb.add_argument("--layouts", default="rows,packed,blob", help="comma-separated: rows,packed,blob")
    tb.add_argument("--out", type=Path, default=Path("bench/out/tables.json"))
    tb.add_argument(
        "--html", type=Path, help="also: chunks and tokens of tables as rows vs as text on these HTML pages"
    )
    tb.add_argument("--html-files", type=int, default=150, help="pages sampled from --html (default: 150)")
    tb.add_argument("--profile", help="config profile (default: default)")
    ph = sub.add_parser("bench-html", help="HTML main content against whole pages: chrome-only chunks, chars, pages/s")
    ph.add_argument("folders", type=Path, nargs="+", help="folders of HTML pages (generated manuals)")
    ph.add_argument("--sample", type=int, help="pages per folder, spread evenly (default: all)")
    ph.add_argument("--only", choices=("whole_page", "main_content"), help="one loader (time each in its own run)")
    ph.add_argument("--out", type=Path, default=Path("bench/out/html.json"))
    ph.add_argument("--profile", help="config profile (default: default)")
    pc = sub.add_parser("bench-crawl", help="crawl a folder of HTML served on loopback, twice: pages/s")
    pc.add_argument("folder", type=Path, help="a folder with an index.html (a generated manual)")
    pc.add_argument("--max-pages", type=int, default=150)
    pc.add_argument("--out", type=Path, default=Path("bench/out/crawl.json"))
    pc.add_argument("--profile", help="config profile (default: default)")
    oc = sub.add_parser("bench-ocr", help="OCR engines (RapidOCR, Tesseract) on degraded scans of a real PDF")
    oc.add_argument(
        "pdf", type=Path, nargs="?", help="a born-digital PDF (default: the Debian Reference, fetched once)"
    )
    oc.add_argument("--pages", type=int, default=10, help="pages to scan and read (default: 10)")
    oc.add_argument("--seed", type=int, default=7)
    oc.add_argument("--engines", default="rapidocr,tesseract", help="comma-separated (default: rapidocr,tesseract)")
    oc.add_argument("--render-dpi", default="200", help="PdfLoader render resolutions to try, comma-separated")
    oc.add_argument("--threads", type=int, default=0, help="threads per page (default 0: every core)")
    oc.add_argument("--out", type=Path, default=Path("bench/out/ocr.json"))
    oc.add_argument("--profile", help="config profile (default: default)")
    t = sub.add_parser(
        "tune-fusion",
        help="grid-search fusion on the tune split of one or more corpora (ranked by the least gain over RRF)",
    )
    t.add_argument("--dataset", type=Path, action="append", required=True, help="BEIR-layout folder (repeatable)")
    t.add_argument("--split", default="train")
    t.add_argument("--json", type=Path, help="write every configuration's metrics here")
    t.add_argument("--profile", help="config profile (default: default)")
    t.add_argument("--index", type=Path, help="index directory (one --dataset only; default: a cache under data/cache)")
    mb = sub.add_parser("make-beir", help="write a QA-layout set (PubMedQA) as a BEIR-layout folder, split in halves")
    mb.add_argument("--from", dest="source", type=Path, required=True, help="folder with corpus.jsonl, questions_*")
    mb.add_argument("--out", type=Path, required=True, help="where to write it (e.g. data/cache/pubmedqa-beir)")
    mb.add_argument("--profile", help="config profile (default: default)")
    return [r, b, br, pd, oc, tb, ph, pc, t, mb]


def _suite_and_training_commands(sub: Any) -> list[argparse.ArgumentParser]:
    """nightly, the serving and scale benchmarks, and the reranker and verifier training."""
    n = sub.add_parser("nightly", help="end-to-end evaluation with report, history and regression verdict")
    n.add_argument("--out", type=Path, help="report folder (default: reports/<timestamp>/)")
    n.add_argument("--sample", type=int, help="questions sampled from the QA set (default: eval.qa_sample)")
    n.add_argument("--index", type=Path, help="index for the user QA sets in data/eval (default: index.path)")
    n.add_argument("--profile", help="config profile (default: default)")
    tr = sub.add_parser("train-reranker", help="fine-tune a cross-encoder on SciFact train + PubMedQA (train half)")
    tr.add_argument("--epochs", type=int, default=2)
    tr.add_argument("--lr", type=float, default=5e-5, help="learning rate (default: 5e-5)")
    tr.add_argument("--profile", help="config profile (default: default)")
    bs = sub.add_parser("bench-serving", help="time to first token per backend and API load with 8 clients")
    bs.add_argument("--out", type=Path, default=Path("bench/out/serving.json"))
    bs.add_argument("--profile", help="config profile (default: default)")
    bd = sub.add_parser("bench-doors", help="answer latency through each front door (MCP over HTTP and stdio) vs /v1")
    bd.add_argument("--rounds", type=int, default=3, help="rounds of the 8 questions after a warm-up (default: 3)")
    bd.add_argument("--out", type=Path, default=Path("bench/out/doors.json"))
    bd.add_argument("--profile", help="config profile (default: default)")
    bw = sub.add_parser("bench-watch", help="seconds from a file change to its being searchable, with --watch")
    bw.add_argument("--files", type=int, default=200, help="generated files beside the sample handbook (default: 200)")
    bw.add_argument("--rounds", type=int, default=10, help="add, edit and delete rounds (default: 10)")
    bw.add_argument("--out", type=Path, default=Path("bench/out/watch.json"))
    bw.add_argument("--profile", help="config profile (default: default)")
    sc = sub.add_parser("bench-scale", help="search latency and memory at 5k / 50k / 500k (replicated) chunks")
    sc.add_argument("--sizes", default="5000,50000,500000", help="comma-separated chunk counts")
    sc.add_argument("--out", type=Path, default=Path("bench/out/scale.json"))
    sc.add_argument("--keep", action="store_true", help="keep the built indexes under data/cache/bench")
    sc.add_argument("--profile", help="config profile (default: default)")
    tv = sub.add_parser(
        "train-verifier", help="fit the faithfulness verifier on claims generated from SciFact and PubMedQA"
    )
    tv.add_argument("--scifact", type=Path, help="SciFact folder (default: eval.data_dir/scifact)")
    tv.add_argument("--pubmedqa", type=Path, help="PubMedQA folder (default: eval.data_dir/pubmedqa)")
    tv.add_argument("--out", type=Path, help="model file (default: serving/answer/verify/verifier.json)")
    tv.add_argument("--profile", help="config profile (default: default)")
    return [n, tr, bs, bd, bw, sc, tv]


def _quality_commands(sub: Any) -> list[argparse.ArgumentParser]:
    """The component checks (verifier, extractive, pii, injection, answers), bench-observability and feedback."""
    ve = sub.add_parser("verifier", help="accepted-right / accepted-wrong rates of the verifier on labelled files")
    ve.add_argument("files", type=Path, nargs="+", help="HaluEval QA rows or {question, answer, sources, label} rows")
    ve.add_argument("--baseline", action="store_true", help="also score the word-overlap check it replaced")
    ve.add_argument("--profile", help="config profile (default: default)")
    ex = sub.add_parser("extractive", help="quality of the extractive answer: gold first source, ROUGE-L, length")
    ex.add_argument("--dataset", type=Path, help="QA-layout folder (default: eval.data_dir/pubmedqa)")
    ex.add_argument("--split", default="dev")
    ex.add_argument("--part", choices=["eval", "train", "all"], default="eval", help="half of the questions")
    ex.add_argument("--json", type=Path, help="also write the result here")
    ex.add_argument("--profile", help="config profile (default: default)")
    pi = sub.add_parser("pii", help="precision and recall of the PII redactor per entity type, and its cost")
    pi.add_argument("--data", type=Path, help="labelled sentences (default: data/pii/labelled.jsonl)")
    pi.add_argument("--split", choices=["tune", "validation", "all"], default="all")
    pi.add_argument("--min-score", type=float, help="override privacy.min_score")
    pi.add_argument("--json", type=Path, help="also write the result here")
    pi.add_argument("--profile", help="config profile (default: default)")
    ij = sub.add_parser("injection", help="precision and recall of the document prompt-injection filter, old and new")
    ij.add_argument("--data", type=Path, help="labelled rows (default: data/injection/labelled.jsonl)")
    ij.add_argument("--split", choices=["tune", "validation", "all"], default="all")
    ij.add_argument("--json", type=Path, help="also write the result (with missed and false-alarm texts) here")
    ij.add_argument("--profile", help="config profile (default: default)")
    oc = sub.add_parser("bench-observability", help="/v1/retrieve throughput and p50 with metrics+tracing off/on")
    oc.add_argument("--rounds", type=int, default=3)
    oc.add_argument("--out", type=Path, default=Path("bench/out/observability.json"))
    oc.add_argument("--profile", help="config profile (default: default)")
    fb = sub.add_parser("feedback", help="the review queue of thumbs-down answers, reviews, export, live KPIs")
    fb.add_argument("rest", nargs=argparse.REMAINDER, help="list | review ID ... | dismiss ID | export | kpis")
    fb.add_argument("--profile", help="config profile (default: default)")
    an = sub.add_parser("answers", help="do answers cover every part of a question: facts per part, declines, latency")
    an.add_argument("--set", type=Path, action="append", required=True, help="data/answers/NAME.jsonl (repeatable)")
    an.add_argument("--split", choices=["tune", "validation", "all"], default="all")
    an.add_argument("--backend", choices=["extractive", "auto", "local", "openai"], default="extractive")
    an.add_argument("--json", type=Path, help="also write the figures and every answer here")
    an.add_argument("--profile", help="config profile (default: default)")
    return [ve, ex, pi, ij, oc, fb, an]
