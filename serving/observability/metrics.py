"""Prometheus metrics for a running assistant (GET /metrics).

One registry per server process: `python -m serving` runs one process (uvicorn, one worker), and Prometheus
scrapes it. Several processes behind a balancer are scraped one by one (each is its own target, labelled by
instance), which keeps every series exact without a shared directory; if PROMETHEUS_MULTIPROC_DIR is set (for a
pre-forking server such as gunicorn), the registry aggregates the processes' files instead, as the
prometheus-client documentation describes.

Stages (kb_stage_seconds{stage}) are the names in an Answer's timings: embed_query, dense, lexical, fusion,
rerank (retrieval), llm_first_token, generate, verify, extractive, and total.
"""

from __future__ import annotations

import re
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.runlog import read_runs
from retrieval.retriever import STAGE_NAMES

# 1 ms .. 60 s, dense enough that P50/P90/P99 interpolate within a few per cent anywhere from 5 ms to 60 s.
BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75,
    1.0, 1.5, 2.5, 3.5, 5.0, 7.5, 10.0, 15.0, 25.0, 40.0, 60.0,
)  # fmt: skip
# Answer.timings_ms key -> stage label.
STAGES = {
    "embed_query": "embed_query",
    "dense": "dense",
    "lexical": "lexical",
    "fusion": "fusion",
    "read_chunks": "read_chunks",
    "rerank": "rerank",
    "first_token": "llm_first_token",  # nosec B105  # a metric name, not a password
    "generate": "generate",
    "verify": "verify",
    "extractive": "extractive",
    "total": "total",
}


def skip_category(reason: str) -> str:
    """A skip reason (free text) -> a small set of label values (so the series stay few)."""
    text = reason.lower()
    for category, words in (
        ("encrypted", ("encrypted", "password")),
        ("too_large", ("larger than", "max_file_mb", "too large")),
        ("empty", ("empty", "no text")),
        ("unsupported", ("unsupported", "not a supported", "mislabelled", "file type")),
        ("unreadable", ("permission", "unreadable", "cannot read", "symlink", "loop")),
        ("corrupt", ("corrupt", "truncated", "invalid", "damaged", "could not parse", "failed")),
    ):
        if any(w in text for w in words):
            return category
    return "other"


class IndexCollector(Collector):
    """At scrape time: the index's size, and what the ingest runs recorded in <index>/ingest-runs.jsonl did
    (runs from the command line are separate processes; the file is how their counts reach the server)."""

    def __init__(self, index_dir: Path, size: Callable[[], tuple[int, int]]) -> None:
        self.index_dir = index_dir
        self.size = size

    def collect(self) -> Iterable[Any]:
        files, chunks = self.size()
        yield GaugeMetricFamily("kb_index_files", "Files in the index", value=files)
        yield GaugeMetricFamily("kb_index_chunks", "Chunks in the index", value=chunks)
        runs = read_runs(self.index_dir)
        outcomes, skips = Tally[str](), Tally[str]()
        for run in runs:
            for outcome, n in run.files.items():
                outcomes[outcome] += n
            for reason in run.skip_reasons:
                skips[skip_category(reason)] += 1
        written = sum(run.chunks_written for run in runs)
        yield CounterMetricFamily("kb_ingest_runs", "Ingest runs on this index", value=len(runs))
        files_total = CounterMetricFamily("kb_ingest_files", "Files handled by ingest runs", labels=["outcome"])
        for outcome, n in sorted(outcomes.items()):
            files_total.add_metric([outcome], n)
        files_total.add_metric(["skipped"], sum(skips.values()))
        yield files_total
        skipped = CounterMetricFamily("kb_ingest_skipped", "Files skipped by ingest runs", labels=["reason"])
        for category, n in sorted(skips.items()):
            skipped.add_metric([category], n)
        yield skipped
        yield CounterMetricFamily("kb_ingest_chunks_written", "Chunks written by ingest runs", value=written)


class Metrics:
    """The assistant's series, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None, multiprocess: bool = False) -> None:
        """multiprocess: aggregate a pre-forking server's processes (PROMETHEUS_MULTIPROC_DIR is set)."""
        if registry is None:
            registry = CollectorRegistry()
            if multiprocess:
                from prometheus_client.multiprocess import MultiProcessCollector

                MultiProcessCollector(registry)
        self.registry = registry
        r = registry
        self.http = Histogram(
            "kb_http_request_seconds", "HTTP request latency", ["route", "method", "status"], registry=r,
            buckets=BUCKETS,
        )  # fmt: skip
        self.stage = Histogram("kb_stage_seconds", "Time per answer stage", ["stage"], registry=r, buckets=BUCKETS)
        self.answers = Counter("kb_answers", "Answers by how they were made", ["mode"], registry=r)
        self.tokens = Counter("kb_llm_tokens", "LLM tokens", ["direction"], registry=r)
        self.feedback = Counter("kb_feedback", "Feedback on answers", ["rating"], registry=r)
        self.unsupported = Counter(
            "kb_verification_failures", "Generated sentences left out as unsupported by their sources", registry=r
        )
        self.unverified = Counter(
            "kb_unverified_answers", "Generated answers with no verified sentence (extractive shown)", registry=r
        )
        self.errors = Counter("kb_errors", "Model errors by component", ["component"], registry=r)
        self.doors = Histogram(
            "kb_door_seconds", "Answers and searches through a front door (mcp, slack, teams)", ["door", "kind"],
            registry=r, buckets=BUCKETS,
        )  # fmt: skip

    def register_index(self, collector: Collector) -> None:
        self.registry.register(collector)

    def answered(self, answer: Any) -> None:
        """One finished answer (serving.answer.results.Answer)."""
        self.answers.labels(answer.mode).inc()
        for key, stage in STAGES.items():
            if key in answer.timings_ms:
                self.stage.labels(stage).observe(answer.timings_ms[key] / 1000)
        usage = answer.usage
        if usage.prompt_tokens or usage.completion_tokens:
            self.tokens.labels("in").inc(usage.prompt_tokens)
            self.tokens.labels("out").inc(usage.completion_tokens)
        if answer.removed:
            self.unsupported.inc(len(answer.removed))
        if answer.mode == "unverified":
            self.unverified.inc()
        if answer.mode == "fallback":
            self.errors.labels("llm").inc()
        if answer.notice and "reranker is unavailable" in answer.notice:
            self.errors.labels("reranker").inc()

    def searched(self, timings_ms: dict[str, float], warnings: Iterable[str]) -> None:
        """A /v1/retrieve search (retriever timing names)."""
        for key, stage in STAGE_NAMES.items():
            if key in timings_ms:
                self.stage.labels(stage).observe(timings_ms[key] / 1000)
        if any("reranker is unavailable" in w for w in warnings):
            self.errors.labels("reranker").inc()

    def through(self, door: str, kind: str, seconds: float) -> None:
        """One answer (kind "ask") or search through a front door, and how long it took."""
        self.doors.labels(door, kind).observe(seconds)

    def rated(self, rating: int) -> None:
        self.feedback.labels({1: "up", -1: "down"}.get(rating, "comment")).inc()


_ID = re.compile(r"/[0-9a-f]{16,}|/\d+")


def route_of(scope: Scope) -> str:
    """The route's template (never the raw path: one series per route, not per URL)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path and not isinstance(route, Mount):
        return path
    raw = scope.get("path", "")
    if raw.startswith("/gradio_api/"):
        return "/gradio_api/*"
    if raw.startswith(("/assets/", "/static/", "/file=")):
        return "/static/*"
    return _ID.sub("/{id}", raw) if raw in ("/", "/login", "/logout", "/metrics") else "other"


class HttpMetrics:
    """ASGI middleware: latency of every HTTP request by route, method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.http.labels(route_of(scope), scope.get("method", "GET"), str(status[0])).observe(
                time.perf_counter() - started
            )
