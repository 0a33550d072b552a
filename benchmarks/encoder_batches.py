"""Does a work's vector depend on the works it is encoded with? And what does the batch
size cost?

The int8 encoder quantises activations per run (dynamic quantisation: one scale for the
whole batch tensor), so a text's vector can depend on its batch-mates. This encodes the
same SciFact abstracts twice, in two orders (so every batch holds other texts), at batch
sizes 1, 4 and 16 and 1 and 2 threads, and reports the throughput (median of
``--repeat`` runs, alternating) and the lowest and median cosine between a text's two
vectors. A batch of one makes each vector a function of its own text only, which is what
the Spark pipeline needs to give `peergraph embed`'s vectors (docs/pipeline.md), and
what a query gets (it is always encoded alone).

Run: ``.venv/bin/python benchmarks/encoder_batches.py [--texts 1000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from encoder_throughput import scifact_texts
from peergraph.search.embeddings import MiniLMOnnxEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    corpus = scifact_texts(args.texts)
    order = np.random.default_rng(0).permutation(len(corpus))
    shuffled = [corpus[i] for i in order]
    configs = [(batch, threads) for threads in (1, 2) for batch in (1, 4, 16)]
    encoders = {
        c: MiniLMOnnxEncoder(quantize=args.quantize, batch_size=c[0], threads=c[1]) for c in configs
    }
    for encoder in encoders.values():
        encoder.encode(corpus[:32])  # warm up
    seconds: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    vectors: dict[tuple[int, int], np.ndarray] = {}
    for _ in range(args.repeat):
        for c in configs:
            start = time.perf_counter()
            vectors[c] = encoders[c].encode(corpus)
            seconds[c].append(time.perf_counter() - start)
    print(f"{len(corpus)} SciFact abstracts, {'int8' if args.quantize else 'float32'}")
    print("batch  threads  texts/s  cosine to the same text in another order (min / median)")
    for c in configs:
        again = encoders[c].encode(shuffled)
        cosine = np.einsum("ij,ij->i", vectors[c][order], again)
        rate = len(corpus) / statistics.median(seconds[c])
        print(f"{c[0]:>5}  {c[1]:>7}  {rate:7.1f}  {cosine.min():.5f} / {np.median(cosine):.5f}")


if __name__ == "__main__":
    main()
