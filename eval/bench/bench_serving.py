"""`python -m eval bench-serving`: time to first token and total latency per LLM backend, and API throughput
with 8 concurrent clients (bounded in count and time, loopback only)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from configs.settings import PROJECT_ROOT, Settings
from eval.stats import nearest_rank

QUESTION = "How many days of paid annual leave do employees get?"
QUESTIONS = [
    QUESTION,
    "When does the VPN connection time out?",
    "How long must passwords be?",
    "What is the hotel limit in Paris?",
    "When do new engineers join the on-call rotation?",
    "Who approves expense claims above 500 euros?",
    "How long is parental leave for partners?",
    "What happens after a release rollback?",
]


def _ttft(settings: Settings, index: Path, runs: int = 5) -> dict[str, Any]:
    """Median time to the first text the reader sees and to the finished answer. With an LLM the first text is
    its first verified sentence; the model's own first token and the verification time are reported too."""
    from serving.answer.results import Answer, Delta
    from serving.app import Assistant

    assistant = Assistant(settings, index)
    assistant.chain.answer("warm up: what is the leave policy?")
    firsts, totals, model_firsts, verify, modes = [], [], [], [], []
    # A different question each time: llama.cpp reuses the KV cache of an identical prompt, which would hide
    # the prompt-processing time a real new question pays.
    for question in QUESTIONS[:runs]:
        t0 = time.perf_counter()
        first = None
        for event in assistant.chain.stream(question):
            if isinstance(event, Delta) and first is None:
                first = time.perf_counter() - t0
            if isinstance(event, Answer):
                modes.append(event.mode)
                if "first_token" in event.timings_ms:
                    model_firsts.append(event.timings_ms["first_token"])
                verify.append(event.timings_ms.get("verify", 0.0))
        totals.append(time.perf_counter() - t0)
        firsts.append(first or totals[-1])
    return {
        "backend": assistant.chain.backend_name,
        "ttft_ms": round(statistics.median(firsts) * 1000, 1),
        "total_ms": round(statistics.median(totals) * 1000, 1),
        "model_first_token_ms": round(statistics.median(model_firsts), 1) if model_firsts else None,
        "verify_ms": round(statistics.median(verify), 1),
        "verify_max_ms": round(max(verify), 1),
        "modes": modes,
    }


def _load(url: str, path: str, body_of: Any, clients: int = 8, requests: int = 160, limit_s: float = 180) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + limit_s
    counter = iter(range(requests))

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                t0 = time.perf_counter()
                r = client.post(url + path, json=body_of(n))
                dt = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(dt)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:100]}")

    httpx.post(url + path, json=body_of(0), timeout=300)  # warm-up: the app loads its models lazily
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(worker)
    wall = time.perf_counter() - t0
    return {
        "path": path,
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "req_per_s": round(len(latencies) / wall, 2),
        "p50_ms": nearest_rank(latencies, 0.5),
        "p95_ms": nearest_rank(latencies, 0.95),
        "error_samples": errors[:3],
    }


# The load is one client address: the per-address rate limits would turn most of it into 429s.
NO_LIMITS = {
    "KB_LIMITS__REQUESTS_PER_MINUTE": "0",
    "KB_LIMITS__ANSWERS_PER_DAY": "0",
    "KB_LIMITS__CONCURRENT_ANSWERS": "0",
}


def main(settings: Settings, out: Path) -> dict[str, Any]:
    from eval.bench.loopback import free_port, start_llama_server, stop, wait_for_port
    from ingest.indexer import build_indexer
    from serving.llm.llamacpp import bundled_gguf

    index = settings.resolve(settings.eval.cache_dir) / "bench" / "sample-index"
    build_indexer(settings, index_dir=index).run([PROJECT_ROOT / "data" / "sample"])
    results: dict[str, Any] = {"ttft": []}
    for backend in ("extractive", "local", "auto"):
        tuned = settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": backend})})
        results["ttft"].append(_ttft(tuned, index))
        print(json.dumps(results["ttft"][-1]), file=sys.stderr)
    server, base_url = start_llama_server(str(bundled_gguf()), sys.executable)
    try:
        tuned = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"backend": "openai", "base_url": base_url})}
        )
        results["ttft"].append(_ttft(tuned, index))
        print(json.dumps(results["ttft"][-1]), file=sys.stderr)
    finally:
        stop(server)
    # API throughput: the app in a subprocess, extractive backend (the LLM's own speed is measured above).
    app_port = free_port()
    app = subprocess.Popen(  # nosec B603  # this benchmark's own server command, no shell
        [sys.executable, "-m", "serving", "--index", str(index), "--port", str(app_port), "--backend", "extractive"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **NO_LIMITS},
    )
    try:
        wait_for_port(app_port, app, 120)
        url = f"http://127.0.0.1:{app_port}"
        results["api"] = [
            _load(url, "/v1/retrieve", lambda n: {"query": QUESTIONS[n % len(QUESTIONS)], "top_k": 8}),
            _load(
                url,
                "/v1/chat/completions",
                lambda n: {"messages": [{"role": "user", "content": QUESTIONS[n % len(QUESTIONS)]}]},
            ),
        ]
    finally:
        stop(app)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results


def observability_cost(settings: Settings, out: Path, rounds: int = 3) -> dict[str, Any]:
    """/v1/retrieve under the 8-client load with metrics and tracing off and on, alternating (off, on, off, on,
    ...) so that drift of the machine hits both alike; the medians of the rounds are compared."""
    from eval.bench.loopback import free_port, stop, wait_for_port
    from ingest.indexer import build_indexer

    index = settings.resolve(settings.eval.cache_dir) / "bench" / "sample-index"
    build_indexer(settings, index_dir=index).run([PROJECT_ROOT / "data" / "sample"])
    variants = {
        "off": {"KB_OBSERVABILITY__METRICS": "false", "KB_OBSERVABILITY__TRACING": "false"},
        "on": {"KB_OBSERVABILITY__METRICS": "true", "KB_OBSERVABILITY__TRACING": "true"},
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, env in variants.items():
            port = free_port()
            app = subprocess.Popen(  # nosec B603  # this benchmark's own server command, no shell
                [sys.executable, "-m", "serving", "--index", str(index), "--port", str(port), "--backend",
                 "extractive"],
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **NO_LIMITS, **env},
            )  # fmt: skip
            try:
                wait_for_port(port, app, 120)
                body = lambda n: {"query": QUESTIONS[n % len(QUESTIONS)], "top_k": 8}  # noqa: E731
                _load(f"http://127.0.0.1:{port}", "/v1/retrieve", body, requests=80)  # warm caches and JIT paths
                runs[name].append(_load(f"http://127.0.0.1:{port}", "/v1/retrieve", body))
                print(name, json.dumps(runs[name][-1]), file=sys.stderr)
            finally:
                stop(app)
    summary: dict[str, Any] = {"rounds": rounds, "runs": runs}
    for name in variants:
        summary[name] = {
            "req_per_s": statistics.median(r["req_per_s"] for r in runs[name]),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs[name]),
        }
    off, on = summary["off"], summary["on"]
    summary["throughput_cost_pct"] = round(100 * (off["req_per_s"] - on["req_per_s"]) / off["req_per_s"], 2)
    summary["p50_cost_pct"] = round(100 * (on["p50_ms"] - off["p50_ms"]) / off["p50_ms"], 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    return summary
