"""What a running assistant tells its operator: /metrics, a real Prometheus scraping it (Debian's package, started
on loopback by the test), the shipped alert rules and dashboard queries, OTLP traces and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from configs.errors import ModelUnavailable
from eval.bench.loopback import free_port, stop, wait_for_port
from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None, reason="prometheus not installed: run `make prometheus` (make test does)"
)
EXTRACTIVE = {"llm": {"backend": "extractive"}}
QUESTION = "How many days of paid annual leave do employees get?"


def _ask(url: str, question: str = QUESTION, **headers: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": question}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120)


def test_metrics_show_the_stages_and_modes_of_an_answered_question(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        before = httpx.get(f"{app.url}/metrics").text
        assert 'kb_answers_total{mode="extractive"}' not in before
        answered = _ask(app.url, **{"x-request-id": "req-42"})
        assert answered.status_code == 200 and answered.headers["x-request-id"] == "req-42"
        assert len(_ask(app.url, **{"x-request-id": "bad id with spaces"}).headers["x-request-id"]) == 32
        httpx.post(f"{app.url}/v1/retrieve", json={"query": "VPN"})
        scraped = httpx.get(f"{app.url}/metrics")
    assert scraped.status_code == 200 and scraped.headers["cache-control"] == "no-store"
    text = scraped.text
    assert 'kb_answers_total{mode="extractive"} 2.0' in text
    for stage in ("total", "embed_query", "dense", "lexical", "fusion", "extractive"):
        assert f'kb_stage_seconds_bucket{{le="0.005",stage="{stage}"}}' in text, stage
    assert 'kb_stage_seconds_count{stage="embed_query"} 3.0' in text  # two answers and one search
    assert 'kb_stage_seconds_count{stage="read_chunks"} 3.0' in text  # the winners' text read, in both as well
    assert 'route="/v1/chat/completions",status="200"' in text and 'route="/v1/retrieve"' in text
    assert "kb_index_chunks" in text and "kb_index_files" in text and "kb_ingest_runs_total" in text
    assert "annual leave" not in text  # series carry labels, never questions


def test_metrics_token_and_authentication(kb_index: Path, tmp_path: Path) -> None:
    from serving.access.keys import KeyStore

    keys = KeyStore(tmp_path / "auth.sqlite")
    _, key = keys.create("ann", frozenset({"hr-staff"}))
    _, admin = keys.create("ops", frozenset({"admins"}))
    access = {"groups": {"hr-staff": ["hr"], "admins": ["*"]}}
    auth = {"auth": {"keys_db": str(tmp_path / "auth.sqlite")}, "access": access}
    with start_app(kb_index, tmp_path, **auth, **EXTRACTIVE) as app:  # no token: behind the sign-in like the rest
        assert httpx.get(f"{app.url}/metrics").status_code == 401
        # The counts cover every collection: a reader of one collection does not see them, an admin does.
        refused = httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 403 and "kb_index_chunks" not in refused.text
        assert httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    token = {"observability": {"metrics_token": "scrape-secret"}}  # KB_OBSERVABILITY__METRICS_TOKEN
    with start_app(kb_index, tmp_path, **auth, **token, **EXTRACTIVE) as app:
        assert httpx.get(f"{app.url}/metrics").status_code == 401
        wrong = httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {key}"})
        assert wrong.status_code == 401 and "metrics token" in wrong.json()["error"]["message"]
        ok = httpx.get(f"{app.url}/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert ok.status_code == 200 and "kb_index_chunks" in ok.text


def test_ingest_runs_are_counted_by_outcome_and_skip_reason(tmp_path: Path, embedder: Any) -> None:
    from ingest.indexer import build_indexer
    from serving.observability.metrics import IndexCollector, Metrics
    from tests.conftest import SAMPLE, make_settings

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE / "it", docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    index = tmp_path / "index"
    indexer = build_indexer(make_settings(index), embedder=embedder)
    indexer.run([docs])
    (docs / "password-faq.txt").unlink()
    indexer.run([docs])
    indexer.close()
    metrics = Metrics()
    metrics.register_index(IndexCollector(index, lambda: (2, 10)))
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    assert "kb_ingest_runs_total 2.0" in text
    assert 'kb_ingest_files_total{outcome="new"} 3.0' in text and 'kb_ingest_files_total{outcome="deleted"} 1.0' in text
    assert 'kb_ingest_skipped_total{reason="corrupt"} 2.0' in text, text
    assert "broken.pdf" not in (index / "ingest-runs.jsonl").read_text()  # reasons only, no paths


@needs_prometheus
def test_the_shipped_alert_rules_are_valid_and_fire_on_their_test_series() -> None:
    for args in (
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
        ["check", "config", "prometheus.yml"],
    ):
        run = subprocess.run([str(PROMTOOL), *args], cwd=OPS, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr


def _start_prometheus(config: Path, url: str, data: Path) -> subprocess.Popen[bytes]:
    port = int(url.rsplit(":", 1)[1])
    proc = subprocess.Popen(
        [str(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, proc, timeout=60)
    return proc


@needs_prometheus
def test_prometheus_scrapes_the_app_under_load_and_computes_quantiles(kb_index: Path, tmp_path: Path) -> None:
    no_limits = {"limits": {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0}}
    with start_app(kb_index, tmp_path, **no_limits, **EXTRACTIVE) as app:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{OPS / 'alerts.yml'}']\n"
            "scrape_configs:\n"
            f"  - job_name: kb-assistant\n    static_configs: [{{targets: ['127.0.0.1:{app.port}']}}]\n"
        )
        proc = _start_prometheus(config, url, tmp_path / "tsdb")
        try:
            deadline = time.monotonic() + 30  # the first scrape, before the load: rates need a before and after
            while time.monotonic() < deadline:
                up = httpx.get(f"{url}/api/v1/query", params={"query": 'up{job="kb-assistant"}'}).json()
                if up["data"]["result"] and up["data"]["result"][0]["value"][1] == "1":
                    break
                time.sleep(0.5)
            # A short, bounded load: 4 clients, 24 questions and 24 searches.
            questions = [QUESTION, "How do I reset my VPN password?", "What is the hotel limit in Paris?"]

            def client(n: int) -> None:
                for i in range(6):
                    codes.append(_ask(app.url, questions[(n + i) % 3]).status_code)
                    r = httpx.post(f"{app.url}/v1/retrieve", json={"query": questions[i % 3]}, timeout=60)
                    codes.append(r.status_code)

            codes: list[int] = []

            threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
            assert codes == [200] * 48
            time.sleep(3)  # a scrape or two after the load
            p90 = 'histogram_quantile(0.9, sum by (le) (rate(kb_stage_seconds_bucket{stage="total"}[1m])))'
            deadline, value = time.monotonic() + 30, None
            while time.monotonic() < deadline and value is None:
                result = httpx.get(f"{url}/api/v1/query", params={"query": p90}).json()
                assert result["status"] == "success", result
                if result["data"]["result"]:
                    value = float(result["data"]["result"][0]["value"][1])
                else:
                    time.sleep(1)
            assert value is not None and 0 < value < 60, value  # a real P90 answer time, in seconds
            answers = httpx.get(f"{url}/api/v1/query", params={"query": "sum(kb_answers_total)"}).json()
            assert float(answers["data"]["result"][0]["value"][1]) == 24
            # every query of the shipped dashboard is valid PromQL against these series
            dashboard = json.loads((OPS / "grafana-dashboard.json").read_text())
            exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
            for expr in exprs:
                r = httpx.get(f"{url}/api/v1/query", params={"query": expr.replace("$__rate_interval", "1m")})
                assert r.json()["status"] == "success", (expr, r.text)
            stage_p99 = exprs[2].replace("$__rate_interval", "1m")
            stages = httpx.get(f"{url}/api/v1/query", params={"query": stage_p99}).json()["data"]["result"]
            assert {"total", "dense", "lexical"} <= {s["metric"]["stage"] for s in stages}
            rules = httpx.get(f"{url}/api/v1/rules").json()["data"]["groups"][0]["rules"]
            assert len(rules) == 6 and all(r["health"] == "ok" for r in rules), rules
        finally:
            stop(proc)


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: decodes each export request and keeps its spans."""

    spans: list[Any] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                type(self).spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_traces_go_to_the_configured_collector_and_logs_carry_request_and_trace_ids(
    kb_index: Path, tmp_path: Path
) -> None:
    from opentelemetry import trace

    from configs.logs import JsonFormatter
    from serving.llm.fake import ScriptedChatModel

    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    _Collector.spans = []
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)

    class Down(ScriptedChatModel):
        def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
            raise ModelUnavailable("the test's LLM is down")

    obs = {"observability": {"otlp_endpoint": endpoint}}
    try:
        with start_app(kb_index, tmp_path, chat_model=ScriptedChatModel("25 days [1]."), **obs) as app:
            assert _ask(app.url).status_code == 200
        with start_app(kb_index, tmp_path / "down", chat_model=Down("x"), **obs) as app:
            fallback = _ask(app.url)
        trace.get_tracer_provider().force_flush(5000)  # the SDK provider serving set up: export now
    finally:
        logging.getLogger().removeHandler(handler)
        collector.shutdown()
    names = {s.name for s in _Collector.spans}
    assert {"kb.answer", "embed_query", "dense", "lexical", "fusion", "generate"} <= names, names
    assert any(n.startswith("POST /v1/chat/completions") for n in names), names
    answer = next(s for s in _Collector.spans if s.name == "kb.answer")
    attributes = {a.key: a.value for a in answer.attributes}
    assert "kb.total_ms" in attributes and "kb.first_token_ms" in attributes
    assert attributes["kb.mode"].string_value in ("llm", "unverified")  # generated (then verified or not)
    assert not any("annual leave" in str(a.value) for s in _Collector.spans for a in s.attributes)  # no question
    request_span = next(s for s in _Collector.spans if s.name.startswith("POST /v1/chat"))
    assert answer.trace_id == request_span.trace_id  # the stages hang under the request
    # the fallback's warning, logged while serving the second request, names its request and trace
    logged = [json.loads(line) for line in lines.getvalue().splitlines() if "LLM unavailable" in line]
    assert logged and logged[0]["request_id"] == fallback.headers["x-request-id"]
    trace_ids = {s.trace_id.hex() for s in _Collector.spans}
    assert logged[0]["trace_id"] in trace_ids
