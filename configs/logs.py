"""Logging set-up for entry points only (library code never configures logging)."""

from __future__ import annotations

import logging

# Libraries that log chatter at INFO/DEBUG on their own loggers (bm25s even forces DEBUG on itself).
_NOISY = ("bm25s", "chromadb", "httpx", "unstructured", "sentence_transformers", "urllib3", "gradio")


def configure_logging(verbose: bool = False) -> None:
    """Warnings (or info with verbose) to stderr, one line each; noisy libraries only at warning."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # also holds back loggers that set themselves to DEBUG after import
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
