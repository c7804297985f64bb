"""An int8 copy of a sentence-transformers model for any x86 CPU: ONNX export + ONNX Runtime dynamic quantization.

OpenVINO's static int8 (openvino_int8.py) needs VNNI to beat fp32; on an AVX2-only CPU (a 2-core AMD EPYC) it is
slower. ONNX Runtime's dynamic quantization (int8 weights per output channel, activations quantized per batch at
run time, the weight MatMuls only) runs about 2x fp32 PyTorch there, with cosine agreement about 0.99 to fp32. It
needs no calibration, so building it from the local weights takes seconds; it is cached on disk and nothing is
downloaded. Two choices make the 2x (BENCHMARKS.md, 384 SciFact chunks on the AVX2 EPYC): the attention is exported
in its plain ("eager") form, whose graph ONNX Runtime fuses, not as PyTorch's SDPA, whose mask handling exported as
Where/IsNaN nodes took 17% of the time (1.55x -> 1.77x); and calls are small (one text each), which keeps the
activations in cache (1.71x at 32 texts -> 2.07x at 4, 2.10x at 1) and a text's vector independent of its
neighbours. Only the MatMuls with a constant weight are quantized (the attention's own products stay fp32; ONNX
Runtime's dynamic default, stated here so that it stays).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.batching import BatchTokenizer, encode_by_length

logger = logging.getLogger(__name__)

FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
# One text per ONNX Runtime call, whatever embedding.batch_size says: dynamic quantization scales the activations by
# each call's range, so a text encoded beside others got another vector (cosine 0.993 between two batchings, which
# a query, encoded alone, and a Ray ingest, batched otherwise, both saw); alone it is as fast as 4 per call (2.10x
# vs 2.08x torch fp32 at 32) and no padding is computed.
BATCH = 1
_RECIPE = "2"  # bump when the export or quantization below changes: cached copies are then rebuilt


def installed() -> bool:
    """True when onnx (to quantize) and onnxruntime (to run) are installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def probe_speedup(threads: int | None = None, rows: int = 600, rounds: int = 3) -> float:
    """How much faster ONNX Runtime runs the dynamic int8 form than the fp32 form of an encoder layer's weight
    products (384 x 1536 and back, twice) on this CPU: about a second, where exporting the model takes ten or more.
    rows = 600 tokens (four chunks of 150; at 150 rows, one chunk as the encoder now runs it, the ratio was higher
    here: 2.31x against 2.11x). The same quantize_dynamic call as the model's, on a graph of four MatMuls; timed
    alternately, best of `rounds` each, so a job beside this one slows both alike."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    shapes = ((384, 1536), (1536, 384)) * 2
    weights = [
        numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.05, f"w{i}") for i, s in enumerate(shapes)
    ]
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", f"w{i}"], [f"h{i + 1}"]) for i in range(4)]
    graph = helper.make_graph(
        nodes,
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 384])],
        [helper.make_tensor_value_info("h4", TensorProto.FLOAT, ["rows", 384])],
        weights,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or _torch_threads()
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory(prefix="kb-onnx-probe-") as tmp, _quiet_quantizer():
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(fp32))
        quantize_dynamic(fp32, Path(tmp) / "int8.onnx", weight_type=QuantType.QInt8, per_channel=True)
        sessions = {
            kind: ort.InferenceSession(str(Path(tmp) / f"{kind}.onnx"), options, providers=["CPUExecutionProvider"])
            for kind in ("fp32", "int8")
        }
    data = {"x": rng.standard_normal((rows, 384)).astype(np.float32)}
    best = dict.fromkeys(sessions, float("inf"))
    for round_ in range(rounds + 1):
        for kind, session in sessions.items():
            t0 = time.perf_counter()
            session.run(None, data)
            if round_ > 0:  # the first round warms up
                best[kind] = min(best[kind], time.perf_counter() - t0)
    return best["fp32"] / best["int8"]


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


class _QuantizerNote(logging.Filter):
    """Drops ONNX Runtime's 'Please consider to run pre-processing before quantization' note, which it logs on the
    root logger (so on a newcomer's console): pre-processing (shape inference) changes nothing for these graphs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    note = _QuantizerNote()
    logging.getLogger().addFilter(note)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(note)


def _cache_key(model_dir: Path) -> str:
    import onnx
    import onnxruntime
    import torch

    h = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_file()):
        st = (model_dir / name).stat()
        h.update(f"{name}:{st.st_size}".encode())
    h.update(f"{_RECIPE}|{onnx.__version__}|{onnxruntime.__version__}|{torch.__version__}".encode())
    return h.hexdigest()[:16]


def model_dir_name(folder: Path) -> str:
    """The model's folder name in the name of a cached copy ('<model>-onnx-<key>')."""
    return folder.name.rsplit("-onnx-", 1)[0]


def model_folder(model_dir: Path, cache_dir: Path) -> Path:
    """Where the ONNX copies (fp32 and int8) of this model are kept."""
    return cache_dir / f"{model_dir.name}-onnx-{_cache_key(model_dir)}"


def built(model_dir: Path, cache_dir: Path) -> bool:
    """Whether the int8 ONNX copy of this model is already in cache_dir."""
    return (model_folder(model_dir, cache_dir) / INT8_FILE).exists()


class OnnxEncoder:
    """Encodes with the exported model in ONNX Runtime (int8 or fp32); tokenization and batching mirror
    sentence-transformers. Safe to call from several threads (an InferenceSession runs concurrent calls)."""

    def __init__(
        self, st_model: Any, model_dir: Path, cache_dir: Path, threads: int | None, quantized: bool = True
    ) -> None:
        import onnxruntime as ort

        self._tokenize = BatchTokenizer(st_model)
        self.path = model_folder(model_dir, cache_dir)
        if not (self.path / INT8_FILE).exists():
            self._build(st_model, self.path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        else:  # as many threads as torch uses (all cores unless embedding.threads says otherwise)
            options.intra_op_num_threads = _torch_threads()
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.path / (INT8_FILE if quantized else FP32_FILE)), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._dim = int(st_model.get_embedding_dimension())

    def _build(self, st_model: Any, target: Path) -> None:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logger.info("building the ONNX int8 embedder once (seconds); cached in %s", target)
        # Two texts of different lengths: the traced graph must keep the attention mask (padding present).
        example = self._tokenize(["an example", "another example text, longer"])
        names = list(example)  # the inputs this model's tokenizer makes (some have no token_type_ids)

        # The plain attention, not SDPA: its exported graph is the one ONNX Runtime fuses (the model object is shared
        # with the fp32 path, so the setting is put back; both compute the same function).
        config: Any = getattr(getattr(st_model[0], "auto_model", None), "config", None)
        attention = getattr(config, "_attn_implementation", None)

        class Wrapped(torch.nn.Module):
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: Any) -> Any:
                out = self.model(dict(zip(names, inputs, strict=True)))["sentence_embedding"]
                return torch.nn.functional.normalize(out, dim=-1)

        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"embedding": {0: "batch"}}
            # The tracer warns that shape checks become constants: each holds for every batch of an encoder.
            if attention is not None:
                config._attn_implementation = "eager"
            try:
                with torch.inference_mode(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        Wrapped(st_model).eval(),
                        tuple(torch.from_numpy(example[n]) for n in names),
                        str(tmp / FP32_FILE),
                        input_names=names,
                        output_names=["embedding"],
                        dynamic_axes=axes,  # type: ignore[arg-type]  # torch's annotation is narrower than it accepts
                        opset_version=17,
                        dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript, not installed
                    )
            finally:
                if attention is not None:
                    config._attn_implementation = attention
            # Per-channel int8 weights on the weight MatMuls only: per-tensor weights were faster (2.4x) but agreed
            # with fp32 at cosine 0.96 only.
            with _quiet_quantizer():
                quantize_dynamic(
                    tmp / FP32_FILE,
                    tmp / INT8_FILE,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    extra_options={"MatMulConstBOnly": True},
                )
            tmp.rename(target)
            for stale in target.parent.glob(f"{model_dir_name(target)}-onnx-*"):  # copies of an older recipe
                if stale != target and ".tmp" not in stale.name:
                    shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            if not (target / INT8_FILE).exists():
                raise
            logger.info("another process built %s first; its copy is identical", target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _infer(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._session.run(None, {k: v for k, v in batch.items() if k in self._inputs})[0])

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Unit vectors, BATCH texts per call (in length order, as sentence-transformers batches)."""
        return encode_by_length(texts, min(batch_size, BATCH), self._dim, self._tokenize, self._infer)
