"""Logging set-up for entry points only (library code never configures logging)."""

from __future__ import annotations

import contextvars
import json
import logging
import time

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


def configure_logging(verbose: bool = False, fmt: str = "text") -> None:
    """Warnings (or info with verbose) to stderr, one line each (text, or JSON with fmt="json"); noisy
    libraries only at warning."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # also holds back loggers that set themselves to DEBUG after import
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
