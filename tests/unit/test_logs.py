"""The console shows our own warnings and everyone's errors; libraries' warnings go to the log file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_ROOT, PYTHON

SCRIPT = """
import logging, warnings
from configs.logs import configure_logging
configure_logging()
logging.getLogger("ingest.indexer").warning("our own warning")
logging.getLogger("sentence_transformers.base.model").warning("a library's deprecation note")
warnings.warn("a TracerWarning-like note", FutureWarning)
logging.getLogger("chromadb").error("a library's error")
logging.getLogger().setLevel(logging.INFO)
for handler in logging.getLogger().handlers:
    handler.setLevel(logging.INFO)
logging.getLogger("uvicorn.access").info("GET /v1/files HTTP/1.1 404")  # what -v shows of a server
"""


def test_library_warnings_go_to_the_log_file_and_ours_to_the_console(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "kb.log"
    done = subprocess.run(
        [PYTHON, "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        env={**os.environ, "KB_OBSERVABILITY__LOG_FILE": str(log)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    console = done.stderr
    assert "our own warning" in console and "a library's error" in console and "GET /v1/files" in console
    assert "deprecation note" not in console and "TracerWarning-like" not in console
    logged = log.read_text()
    assert "a library's deprecation note" in logged and "TracerWarning-like" in logged
