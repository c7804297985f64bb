"""The ONNX Runtime copy of the embedder: the exported graph computes what sentence-transformers does, its int8
version agrees with fp32, and it is built once per model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import TEST_MODELS, precision_verdict

pytestmark = pytest.mark.integration


def _calibration() -> list[str]:
    from retrieval.openvino_int8 import CALIBRATION

    texts = [t for t in CALIBRATION.read_text(encoding="utf-8").splitlines() if t.strip()][:128]
    return texts + [" ".join(texts[i : i + 30]) for i in (0, 30, 60)]  # longer than max_seq_length: truncated


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random DistilBERT sentence-transformer, a model whose tokenizer makes no token_type_ids, built from
    the bundled model's vocabulary (nothing downloaded)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    from retrieval.embeddings import resolve_model_path

    root = tmp_path_factory.mktemp("distilbert")
    torch.manual_seed(0)
    tokenizer = DistilBertTokenizerFast(vocab_file=str(resolve_model_path("bundled") / "vocab.txt"))
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=64, n_layers=2, n_heads=2, hidden_dim=128)
    DistilBertModel(config).save_pretrained(root / "hf")
    tokenizer.save_pretrained(root / "hf")
    SentenceTransformer(modules=[Transformer(str(root / "hf"), max_seq_length=64), Pooling(64, "mean")]).save(
        str(root / "st")
    )
    return root / "st"


def _st(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def test_the_exported_graph_computes_sentence_transformers_vectors(embedder: Any) -> None:
    """fp32 in ONNX Runtime is the same model: equal vectors, texts past max_seq_length truncated alike, in
    batches that mix lengths (padding); int8 agrees with fp32 as auto requires of it."""
    from retrieval.embeddings import MIN_AGREEMENT, resolve_model_path
    from retrieval.onnx_int8 import OnnxEncoder

    model, model_dir, texts = embedder._load(), resolve_model_path("bundled"), _calibration()
    assert max(len(model.tokenizer(t)["input_ids"]) for t in texts) > model.max_seq_length
    reference = np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True))
    fp32 = OnnxEncoder(model, model_dir, TEST_MODELS, None, quantized=False).encode(texts, 32)
    assert float(np.min(np.sum(reference * fp32, axis=1))) > 0.9999
    int8 = OnnxEncoder(model, model_dir, TEST_MODELS, None).encode(texts, 32)
    assert float(np.mean(np.sum(reference * int8, axis=1))) >= MIN_AGREEMENT


def test_a_model_without_token_type_ids_exports_too(distilbert: Path, tmp_path: Path) -> None:
    from retrieval.onnx_int8 import OnnxEncoder

    model, texts = _st(distilbert), _calibration()[:40] + _calibration()[-1:]
    assert "token_type_ids" not in model.tokenizer(["x"])
    reference = np.asarray(model.encode(texts, batch_size=8, normalize_embeddings=True))
    fp32 = OnnxEncoder(model, distilbert, tmp_path, None, quantized=False).encode(texts, 8)
    assert float(np.min(np.sum(reference * fp32, axis=1))) > 0.9999
    int8 = OnnxEncoder(model, distilbert, tmp_path, None).encode(texts, 8)
    assert int8.shape == reference.shape and np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-3)


def test_the_copy_is_built_once_and_reused(distilbert: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A second encoder (another process, a restart) loads the cached copy: nothing is exported again; copies of
    an older recipe are removed when the new one is built."""
    from retrieval import onnx_int8

    model = _st(distilbert)
    assert not onnx_int8.built(distilbert, tmp_path)
    (tmp_path / f"{distilbert.name}-onnx-0000000000000000").mkdir()  # a copy of an older recipe: removed
    with caplog.at_level(logging.INFO, logger="retrieval.onnx_int8"):
        first = onnx_int8.OnnxEncoder(model, distilbert, tmp_path, None)
        assert [r.message for r in caplog.records if "building" in r.message]
        caplog.clear()
        files = {p.name: p.stat().st_mtime_ns for p in first.path.iterdir()}
        assert onnx_int8.built(distilbert, tmp_path) and set(files) == {onnx_int8.FP32_FILE, onnx_int8.INT8_FILE}
        second = onnx_int8.OnnxEncoder(model, distilbert, tmp_path, None)
        assert not caplog.records, [r.message for r in caplog.records]  # not built, not even half-way
    assert second.path == first.path and {p.name: p.stat().st_mtime_ns for p in second.path.iterdir()} == files
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no half-built folder left behind
    texts = _calibration()[:8]
    assert np.allclose(first.encode(texts, 4), second.encode(texts, 4), atol=1e-5)


def test_the_graph_is_the_one_onnx_runtime_runs_fast(
    embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attention is exported in its plain form (no Where/IsNaN mask handling of PyTorch's SDPA, which cost 17%
    of the time), the model the fp32 path uses keeps its own attention, and only weight products are int8 (the
    attention's query-key and probability-value products stay fp32)."""
    from collections import Counter

    import onnx
    import torch

    from retrieval.embeddings import resolve_model_path
    from retrieval.onnx_int8 import FP32_FILE, INT8_FILE, OnnxEncoder

    model = embedder._load()
    before = model[0].auto_model.config._attn_implementation
    export = torch.onnx.export

    def failing(*args: Any, **kwargs: Any) -> None:
        assert model[0].auto_model.config._attn_implementation == "eager"
        raise RuntimeError("the exporter failed (test)")

    monkeypatch.setattr(torch.onnx, "export", failing)
    with pytest.raises(RuntimeError, match="exporter failed"):
        OnnxEncoder(model, resolve_model_path("bundled"), tmp_path, None)
    assert model[0].auto_model.config._attn_implementation == before  # put back, even when the export fails
    monkeypatch.setattr(torch.onnx, "export", export)
    encoder = OnnxEncoder(model, resolve_model_path("bundled"), tmp_path, None)  # built here, not reused
    assert model[0].auto_model.config._attn_implementation == before
    ops = Counter(n.op_type for n in onnx.load(str(encoder.path / FP32_FILE)).graph.node)
    assert ops["IsNaN"] == 0 and ops["Where"] < ops["Softmax"], ops  # SDPA: one Where and IsNaN per layer
    int8 = onnx.load(str(encoder.path / INT8_FILE))
    weights = {i.name for i in int8.graph.initializer}
    quantized = [n for n in int8.graph.node if n.op_type in ("DynamicQuantizeMatMul", "MatMulInteger")]
    plain = [n for n in int8.graph.node if n.op_type == "MatMul"]
    assert quantized and all(n.input[1] in weights for n in quantized)
    assert len(plain) >= 2 and not any(n.input[1] in weights for n in plain)


def test_auto_builds_the_onnx_copy_only_where_its_products_are_faster(
    embedder: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A one-second probe of int8 against fp32 products in ONNX Runtime decides whether the model is exported at
    all; where it is, auto times it against fp32 on the calibration texts and keeps what is faster and agrees.
    ONNX Runtime's note about pre-processing, logged on the root logger, does not reach the console."""
    from retrieval import onnx_int8
    from retrieval.embeddings import MIN_AGREEMENT, MIN_SPEEDUP, measured_precision, resolve_model_path

    model_dir = resolve_model_path("bundled")
    with caplog.at_level(logging.INFO):
        choice = measured_precision(embedder._load(), model_dir, tmp_path, None, 32, ["fp32", "onnx-int8"])
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]
    entry = precision_verdict(tmp_path, model_dir, ["fp32", "onnx-int8"])
    probe = entry["onnx-int8_probe"]
    assert 0.2 < probe < 20 and entry["choice"] == choice
    assert onnx_int8.built(model_dir, tmp_path) == (probe >= MIN_SPEEDUP), entry
    if probe < MIN_SPEEDUP:
        assert choice == "fp32" and entry["seconds"] == {}
    else:
        seconds, agreement = entry["seconds"], entry["agreement"]
        fits = seconds["fp32"] / seconds["onnx-int8"] >= MIN_SPEEDUP and agreement["onnx-int8"] >= MIN_AGREEMENT
        assert choice == ("onnx-int8" if fits else "fp32"), entry


def test_a_texts_vector_does_not_depend_on_what_is_encoded_beside_it(embedder: Any) -> None:
    """Dynamic quantization scales activations by each call's range: a text batched with longer ones got a vector
    at cosine 0.993 to itself encoded alone (a query is encoded alone; Ray batches otherwise than one process)."""
    from retrieval.embeddings import resolve_model_path
    from retrieval.onnx_int8 import OnnxEncoder

    encoder = OnnxEncoder(embedder._load(), resolve_model_path("bundled"), TEST_MODELS, None)
    texts = _calibration()
    alone = encoder.encode(texts[:1], 32)[0]
    crowded = encoder.encode([texts[0], *texts[-3:], *texts[1:12]], 32)[0]
    assert float(alone @ crowded) > 0.99999
