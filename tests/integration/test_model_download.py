"""`make model` against a loopback server that serves files the way the Hugging Face hub does.

The hub answers /{repo}/resolve/{revision}/{file} with a redirect to its CDN on another host, carrying the
commit, the file's ETag and size in headers; huggingface_hub reads those and downloads from the CDN. Here the
"CDN" is the same server under the name localhost (another host name, so the client treats it as the hub does).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from configs.errors import ModelUnavailable
from serving.llm.download import ModelSpec, install
from tests.conftest import PYTHON

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
REVISION = "85553858e3522ce5b531285b2202bdb40fab1624"
PAYLOAD = os.urandom(300_000)


class Hub:
    """A loopback hub: mode 'ok', 'truncated' (the CDN closes the connection halfway) or 'other-bytes'."""

    def __init__(self) -> None:
        self.mode = "ok"
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                return PAYLOAD if hub.mode != "other-bytes" else bytes(reversed(PAYLOAD))

            def _resolve(self) -> None:
                body = self._body()
                sha = hashlib.sha256(body).hexdigest()
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{hub.port}/cdn/{sha}")
                self.send_header("X-Repo-Commit", REVISION)
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(body)))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                if "/resolve/" in self.path:
                    self._resolve()
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(self._body())))
                    self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                if "/resolve/" in self.path:
                    self._resolve()
                    return
                body = self._body()
                start = int(self.headers.get("Range", "bytes=0-").split("=")[1].split("-")[0] or 0)
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.end_headers()
                if hub.mode == "truncated":
                    self.wfile.write(body[start : start + 1000])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make model` runs in a process of its own with HF_HUB_OFFLINE=0; in this process other tests imported
    huggingface_hub offline, and it reads the variable once, at import."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


SPEC = ModelSpec(
    name="test-model",
    repo="example/Test-GGUF",
    revision=REVISION,
    filename="test-model.Q4.gguf",
    sha256=hashlib.sha256(PAYLOAD).hexdigest(),
    size="300 kB",
    licence="CC0",
    about="random bytes",
)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_verified_download_is_installed_and_marked(hub: Hub, tmp_path: Path) -> None:
    path = install(SPEC, tmp_path / "models", endpoint=hub.url)
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path / "models") == ["test-model.Q4.gguf", "test-model.Q4.gguf.sha256"]
    from serving.llm.backends import installed_gguf

    assert installed_gguf(tmp_path / "models") == path  # `llm.backend: auto` will answer with it
    assert install(SPEC, tmp_path / "models", endpoint="http://127.0.0.1:9") == path  # installed: no network needed


@pytest.mark.parametrize(
    ("mode", "endpoint", "message"),
    [
        ("truncated", None, "run `make model` again"),
        ("other-bytes", None, "checksum mismatch"),
        ("ok", "http://127.0.0.1:9", "cannot reach http://127.0.0.1:9"),
    ],
)
def test_a_failed_download_leaves_nothing_behind(
    hub: Hub, tmp_path: Path, mode: str, endpoint: str | None, message: str
) -> None:
    hub.mode = mode
    with pytest.raises(ModelUnavailable, match=message.replace("`", ".").replace("(", ".")) as info:
        install(SPEC, tmp_path / "models", endpoint=endpoint or hub.url)
    assert "\n" not in str(info.value)
    assert _leftovers(tmp_path / "models") == []


def test_a_stale_partial_file_is_never_used(hub: Hub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / SPEC.filename).write_bytes(PAYLOAD[:1000])  # a file without its checksum marker: not installed
    from serving.llm.backends import installed_gguf

    assert installed_gguf(models) is None
    hub.mode = "other-bytes"
    with pytest.raises(ModelUnavailable):
        install(SPEC, models, endpoint=hub.url)
    assert installed_gguf(models) is None


def test_make_model_without_network_prints_one_line_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "KB_LLM__MODEL_DIR": str(tmp_path / "models")}
    env.pop("HF_HUB_OFFLINE", None)
    out = subprocess.run([PYTHON, "-m", "serving", "model"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach http://127.0.0.1:9" in errors[0] and "make model" in errors[0]
    assert _leftovers(tmp_path / "models") == []
    listed = subprocess.run(
        [PYTHON, "-m", "serving", "model", "--list"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert "qwen2.5-1.5b-instruct" in listed.stdout and "Apache-2.0" in listed.stdout


def test_the_catalogue_pins_a_revision_and_a_checksum() -> None:
    from serving.llm.download import CATALOGUE, RECOMMENDED

    spec = CATALOGUE[RECOMMENDED]
    assert len(spec.revision) == 40 and len(spec.sha256) == 64 and spec.licence.startswith("Apache-2.0")
    assert replace(spec, name="x").sha256 == spec.sha256
