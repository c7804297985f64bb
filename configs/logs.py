"""Logging set-up for entry points only (library code never configures logging)."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from pathlib import Path

from configs.settings import PROJECT_ROOT

# Libraries that log chatter at INFO/DEBUG on their own loggers (bm25s even forces DEBUG on itself).
_NOISY = ("bm25s", "chromadb", "httpx", "unstructured", "sentence_transformers", "urllib3", "gradio")


# The HTTP request being served (set by the server's middleware; copied into worker threads with the context).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("kb_request_id", default=None)


def _trace_id() -> str | None:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id and trace_id (when in a request)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
            "trace_id": _trace_id(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


# Our own packages: what they log at warning is for the person at the console. Libraries' warnings (deprecations,
# tracer notes) go to the log file only, unless they are errors.
_OURS = ("configs", "retrieval", "ingest", "serving", "eval", "__main__")


def log_file() -> Path:
    """Where library warnings go: KB_OBSERVABILITY__LOG_FILE (relative to the checkout), else data/logs/kb.log."""
    return PROJECT_ROOT / Path(os.environ.get("KB_OBSERVABILITY__LOG_FILE") or "data/logs/kb.log")


class _Console(logging.Filter):
    """Holds back libraries' warnings only: their info (uvicorn's access log with -v) and errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        return record.name.split(".", 1)[0] in _OURS


def configure_logging(verbose: bool = False, fmt: str = "text") -> None:
    """Our warnings (or info with verbose) to stderr, one line each (text, or JSON with fmt="json"); libraries'
    warnings, and Python warnings (deprecations, TracerWarnings), to the log file (see log_file), with their errors
    also on stderr; noisy libraries only at warning."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(level)  # also holds back loggers that set themselves to DEBUG after import
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
        console = type(handler) is logging.StreamHandler  # basicConfig's own (not a test harness's capture)
        if console and not any(isinstance(f, _Console) for f in handler.filters):
            handler.addFilter(_Console())
    path = log_file()
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve() for h in root.handlers):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(path, encoding="utf-8", delay=True)
        except OSError:  # a read-only checkout: library warnings are then dropped, never the console's lines
            to_file = None
        if to_file is not None:
            to_file.setLevel(logging.WARNING)
            to_file.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_FILE_FORMAT))
            root.addHandler(to_file)
    logging.captureWarnings(True)  # warnings.warn(...) -> the "py.warnings" logger -> the file
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


_FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
