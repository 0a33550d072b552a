"""``peergraph eval beir``: retrieval quality on any BEIR-layout folder.

Layout: ``corpus.jsonl[.gz]`` ({"_id", "title", "text"}), ``queries.jsonl`` ({"_id",
"text"}), ``qrels/<split>.tsv`` (header ``query-id corpus-id score``).
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from peergraph.search import keyword
from peergraph.search.embeddings import zscore_fusion
from peergraph.search.metrics import mrr_at_k, ndcg_at_k, recall_at_k

MODES = ("keyword", "semantic", "hybrid")
CANDIDATES = 1000  # per engine, before fusion


class BeirError(ValueError):
    pass


@dataclass
class BeirResult:
    mode: str
    split: str
    documents: int
    queries: int
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    queries_per_second: float
    index_seconds: float


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise BeirError(f"{folder}: no {name} or {name}.gz")


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with _open(path) as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if header[:2] != ["query-id", "corpus-id"]:
            raise BeirError(f"{path}: expected the header 'query-id corpus-id score'")
        for line_no, line in enumerate(handle, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                if line.strip():
                    raise BeirError(f"{path}, line {line_no}: expected three columns")
                continue
            try:
                qrels[parts[0]][parts[1]] = int(parts[2])
            except ValueError as exc:
                raise BeirError(f"{path}, line {line_no}: score is not an integer") from exc
    return dict(qrels)


def read_corpus(folder: Path) -> list[tuple[str, str, str]]:
    """(id, title, text) of each document of a BEIR corpus, in its order."""
    documents = []
    with _open(_find(folder, "corpus.jsonl")) as handle:
        for line in handle:
            if line.strip():
                doc = json.loads(line)
                documents.append((str(doc["_id"]), doc.get("title") or "", doc.get("text") or ""))
    return documents


def corpus_texts(documents: list[tuple[str, str, str]]) -> list[str]:
    """What the encoder reads of each document: its title and text."""
    return [f"{title}. {body}" for _, title, body in documents]


def evaluate(
    folder: Path,
    *,
    split: str = "train",
    mode: str = "keyword",
    progress: Callable[[int, int], None] | None = None,
) -> BeirResult:
    return evaluate_modes(folder, split=split, modes=(mode,), progress=progress)[0]


def evaluate_modes(
    folder: Path,
    *,
    split: str = "train",
    modes: tuple[str, ...] = ("keyword",),
    progress: Callable[[int, int], None] | None = None,
    doc_vectors: np.ndarray | None = None,
) -> list[BeirResult]:
    """Index the corpus once and score every requested mode on the same queries.
    ``doc_vectors``: the corpus's vectors, in its order, when the caller has them."""
    for mode in modes:
        if mode not in MODES:
            raise BeirError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries: dict[str, str] = {}
    with _open(_find(folder, "queries.jsonl")) as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                if item["_id"] in qrels:
                    queries[item["_id"]] = item.get("text", "")
    documents = read_corpus(folder)

    conn = sqlite3.connect(":memory:")
    started = time.perf_counter()
    keyword.create_document_index(conn)
    conn.executemany("INSERT INTO docs_fts VALUES (?, ?, ?)", documents)
    conn.execute("INSERT INTO docs_fts(docs_fts) VALUES ('optimize')")
    keyword_seconds = time.perf_counter() - started

    dense_seconds = 0.0
    encoder = None
    if any(m in ("semantic", "hybrid") for m in modes):
        from peergraph.search.embeddings import load_encoder

        encoder = load_encoder()
        if doc_vectors is None:
            started = time.perf_counter()
            doc_vectors = encoder.encode(corpus_texts(documents), progress=progress)
            dense_seconds = time.perf_counter() - started
        elif len(doc_vectors) != len(documents):
            raise BeirError(f"{len(doc_vectors)} vectors for {len(documents)} documents")
    doc_ids = [d[0] for d in documents]

    # each query's keyword run, once for the keyword and the hybrid mode, with its time,
    # which both modes' queries per second include
    keyword_runs: dict[str, tuple[list[tuple[str, float]], float]] = {}

    def keyword_run(query_id: str) -> tuple[list[tuple[str, float]], float]:
        if query_id not in keyword_runs:
            began = time.perf_counter()
            found = keyword.search_documents(conn, queries[query_id], k=CANDIDATES)
            keyword_runs[query_id] = (found, time.perf_counter() - began)
        return keyword_runs[query_id]

    results = []
    for mode in modes:
        ndcg, recall, mrr = [], [], []
        started = time.perf_counter()
        reused = 0.0  # seconds of keyword runs done for an earlier mode
        query_ids = list(queries)
        dense: dict[str, list[tuple[str, float]]] = {}
        if mode != "keyword" and encoder is not None and doc_vectors is not None:
            vectors = encoder.encode([queries[q] for q in query_ids])
            scores = vectors @ doc_vectors.T
            top = np.argsort(-scores, axis=1)[:, :CANDIDATES]
            dense = {
                q: [(doc_ids[i], float(scores[n, i])) for i in row]
                for n, (q, row) in enumerate(zip(query_ids, top, strict=True))
            }
        for query_id in query_ids:
            if mode == "semantic":
                ranking = [doc for doc, _ in dense[query_id][:100]]
            else:
                cached = query_id in keyword_runs
                lexical, took = keyword_run(query_id)
                reused += took if cached else 0.0
                if mode == "keyword":
                    ranking = [doc for doc, _ in lexical[:100]]
                else:
                    ranking = zscore_fusion([lexical, dense[query_id]])[:100]
            judged = qrels[query_id]
            ndcg.append(ndcg_at_k(ranking, judged, 10))
            recall.append(recall_at_k(ranking, judged, 100))
            mrr.append(mrr_at_k(ranking, judged, 10))
        seconds = time.perf_counter() - started + reused
        build = keyword_seconds + (dense_seconds if mode != "keyword" else 0.0)
        results.append(
            BeirResult(
                mode=mode,
                split=split,
                documents=len(documents),
                queries=len(queries),
                ndcg_at_10=statistics.fmean(ndcg) if ndcg else 0.0,
                recall_at_100=statistics.fmean(recall) if recall else 0.0,
                mrr_at_10=statistics.fmean(mrr) if mrr else 0.0,
                queries_per_second=len(queries) / seconds if seconds else 0.0,
                index_seconds=build,
            )
        )
    conn.close()
    return results
