"""The ML Anthology co-authorship graph for the collaborator-suggestion benchmark.

Papers are read with the importer's CSL-JSON parser; an author is identified by the
folded "given family" name (the ML Anthology has no person ids, and its venues write
names consistently). Work vectors come from the product's encoder on the product's text
(``work_text``) and are cached under benchmarks/results/ (about 15 minutes for the
45,000 papers up to 2021 on this 2-core machine, once).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from peergraph.ingest.csl import parse_csl_item  # noqa: E402
from peergraph.ingest.records import RecordError  # noqa: E402
from peergraph.search.semantic import work_text  # noqa: E402

SOURCE = REPO.parent / "shared" / "data" / "mlanthology-ml-venues" / "works.csl.json.gz"
CACHE = REPO / "benchmarks" / "results" / "mlanthology-vectors"


@dataclass(frozen=True)
class Paper:
    key: str
    year: int
    title: str
    abstract: str | None
    authors: tuple[str, ...]


def fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def load_papers(path: Path = SOURCE) -> list[Paper]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        items = json.load(handle)
    papers = []
    for item in items:
        record = parse_csl_item(item)
        if isinstance(record, RecordError) or record.year is None:
            continue
        names = []
        for authorship in record.authorships:
            key = fold(authorship.raw_name)
            if key and key not in names:
                names.append(key)
        papers.append(
            Paper(str(item.get("id")), record.year, record.title, record.abstract, tuple(names))
        )
    return papers


def vectors(papers: list[Paper], model: str = "minilm-q8") -> np.ndarray:
    """One L2-normalised row per paper, encoded once and cached by paper key."""
    CACHE.mkdir(parents=True, exist_ok=True)
    keys_file, matrix_file = CACHE / f"{model}.keys.json", CACHE / f"{model}.npy"
    known: dict[str, int] = {}
    matrix = np.zeros((0, 384), dtype=np.float32)
    if keys_file.exists() and matrix_file.exists():
        known = {k: i for i, k in enumerate(json.loads(keys_file.read_text()))}
        matrix = np.load(matrix_file)
    missing = [p for p in papers if p.key not in known]
    if missing:
        from peergraph.search.embeddings import load_encoder

        encoder = load_encoder(model)
        started = time.monotonic()

        def say(done: int, total: int) -> None:
            rate = done / max(time.monotonic() - started, 1e-9)
            print(f"\rencoding {done:,}/{total:,} ({rate:.0f}/s)", end="", file=sys.stderr)

        texts = [work_text(p.title, p.abstract) for p in missing]
        new = encoder.encode(texts, progress=say).astype(np.float32)
        print(file=sys.stderr)
        for p in missing:
            known[p.key] = len(known)
        matrix = np.vstack([matrix, new])
        np.save(matrix_file, matrix)
        keys_file.write_text(json.dumps(sorted(known, key=known.__getitem__)))
    return matrix[[known[p.key] for p in papers]]


if __name__ == "__main__":
    every = load_papers()
    until = int(sys.argv[1]) if len(sys.argv) > 1 else 2021
    chosen = [p for p in every if p.year <= until]
    print(f"{len(every):,} papers, {len(chosen):,} up to {until}", file=sys.stderr)
    print(vectors(chosen).shape)
