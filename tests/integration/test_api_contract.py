"""The API against its own description: schemathesis generates requests from /v1/openapi.json (valid and invalid
ones, every method) and runs all its checks on the responses (`make test-api` runs more examples)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import PYTHON
from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ST = Path(PYTHON).parent / "st"
NO_LIMITS = {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0}  # the fuzzer is one fast client


def test_the_api_conforms_to_its_openapi_description(kb_index: Path, tmp_path: Path) -> None:
    examples = os.environ.get("KB_TEST_API_EXAMPLES", "25")
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}, limits=NO_LIMITS) as app:
        spec = httpx.get(f"{app.url}/v1/openapi.json").json()
        for path, methods in spec["paths"].items():
            for method, op in methods.items():
                assert "400" in op["responses"] or method == "get", (path, method)  # errors are declared
                if method == "post":
                    assert "requestBody" in op, (path, method)  # bodies are declared
        run = subprocess.run(
            [str(ST), "--config-file", str(ROOT / "tests" / "schemathesis.toml"), "run", f"{app.url}/v1/openapi.json"]
            + ["--checks", "all", "--max-examples", examples, "--phases", "examples,coverage,fuzzing"]
            + ["--seed", "1", "--workers", "1", "--no-color"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_undeclared_methods_and_paths_answer_in_the_api_error_shape(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}, limits=NO_LIMITS) as app:
        trace = httpx.request("TRACE", f"{app.url}/v1/retrieve")
        assert trace.status_code == 405 and trace.headers["allow"] == "POST" and "error" in trace.json()
        query = httpx.request("QUERY", f"{app.url}/v1/health")
        assert query.status_code == 405 and "GET" in query.headers["allow"]
        assert httpx.post(f"{app.url}/v1/health").status_code == 405
        missing = httpx.get(f"{app.url}/v1/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
