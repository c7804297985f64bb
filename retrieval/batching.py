"""Tokenizing and batching for the exported encoders (OpenVINO, ONNX Runtime) the way sentence-transformers does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class BatchTokenizer:
    """The model's own tokenizer, padded to the longest text and truncated at max_seq_length as
    sentence-transformers does; int64 arrays keyed by input name. Safe to call from several threads."""

    def __init__(self, st_model: Any) -> None:
        self._tokenizer = st_model.tokenizer
        self._max_length = int(st_model.max_seq_length)
        # A fast tokenizer's padding and truncation settings are shared mutable state: calls are serialised (they
        # take milliseconds next to the encoder's hundreds).
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            enc = self._tokenizer(
                list(texts), padding=True, truncation=True, max_length=self._max_length, return_tensors="np"
            )
        return {k: np.asarray(enc[k], dtype=np.int64) for k in INPUTS if k in enc}


def encode_by_length(
    texts: Sequence[str],
    batch_size: int,
    dim: int,
    tokenize: Callable[[Sequence[str]], dict[str, np.ndarray]],
    infer: Callable[[dict[str, np.ndarray]], np.ndarray],
) -> np.ndarray:
    """Vectors in the texts' order, encoded in batches of similar length so padding is minimal (as
    sentence-transformers sorts within one encode call)."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        out[idx] = infer(tokenize([texts[i] for i in idx]))
    return out
