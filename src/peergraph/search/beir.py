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
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from peergraph.search import keyword
from peergraph.search.metrics import mrr_at_k, ndcg_at_k, recall_at_k

MODES = ("keyword", "semantic", "hybrid")


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


def evaluate(folder: Path, *, split: str = "train", mode: str = "keyword") -> BeirResult:
    if mode not in MODES:
        raise BeirError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode != "keyword":
        raise BeirError(f"mode {mode!r} needs the embedding index, which is not built yet")
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries: dict[str, str] = {}
    with _open(_find(folder, "queries.jsonl")) as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                if item["_id"] in qrels:
                    queries[item["_id"]] = item.get("text", "")
    conn = sqlite3.connect(":memory:")
    started = time.perf_counter()
    keyword.create_document_index(conn)
    documents = 0
    with _open(_find(folder, "corpus.jsonl")) as handle:
        batch = []
        for line in handle:
            if not line.strip():
                continue
            doc = json.loads(line)
            batch.append((str(doc["_id"]), doc.get("title") or "", doc.get("text") or ""))
            if len(batch) == 5000:
                conn.executemany("INSERT INTO docs_fts VALUES (?, ?, ?)", batch)
                documents += len(batch)
                batch = []
        conn.executemany("INSERT INTO docs_fts VALUES (?, ?, ?)", batch)
        documents += len(batch)
    conn.execute("INSERT INTO docs_fts(docs_fts) VALUES ('optimize')")
    index_seconds = time.perf_counter() - started

    ndcg, recall, mrr = [], [], []
    started = time.perf_counter()
    for query_id, text in queries.items():
        ranking = [doc for doc, _ in keyword.search_documents(conn, text, k=100)]
        judged = qrels[query_id]
        ndcg.append(ndcg_at_k(ranking, judged, 10))
        recall.append(recall_at_k(ranking, judged, 100))
        mrr.append(mrr_at_k(ranking, judged, 10))
    seconds = time.perf_counter() - started
    conn.close()
    n = max(len(queries), 1)
    return BeirResult(
        mode=mode,
        split=split,
        documents=documents,
        queries=len(queries),
        ndcg_at_10=statistics.fmean(ndcg) if ndcg else 0.0,
        recall_at_100=statistics.fmean(recall) if recall else 0.0,
        mrr_at_10=statistics.fmean(mrr) if mrr else 0.0,
        queries_per_second=n / seconds if seconds else 0.0,
        index_seconds=index_seconds,
    )
