"""Evaluating disambiguation against labelled authorships: B³ and pairwise P/R/F1.

B³ (Bagga & Baldwin 1998): for each labelled item, precision = |its predicted cluster ∩
its gold class| / |its predicted cluster| and recall = the same over |its gold class|,
both counted over labelled items only, averaged over items. Pairwise: precision and
recall of "same person" decisions over all pairs of labelled items.
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from peergraph.ingest.normalize import normalize_openalex_id


@dataclass
class Scores:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def b_cubed(predicted: Mapping[Any, Any], gold: Mapping[Any, Any]) -> Scores:
    items = [i for i in gold if i in predicted]
    if not items:
        return Scores(0.0, 0.0)
    pred_groups: dict[Any, set[Any]] = defaultdict(set)
    gold_groups: dict[Any, set[Any]] = defaultdict(set)
    for item in items:
        pred_groups[predicted[item]].add(item)
        gold_groups[gold[item]].add(item)
    precision = recall = 0.0
    for item in items:
        mine, truth = pred_groups[predicted[item]], gold_groups[gold[item]]
        both = len(mine & truth)
        precision += both / len(mine)
        recall += both / len(truth)
    return Scores(precision / len(items), recall / len(items))


def pairwise(predicted: Mapping[Any, Any], gold: Mapping[Any, Any]) -> Scores:
    items = [i for i in gold if i in predicted]
    pred_sizes = Counter(predicted[i] for i in items)
    gold_sizes = Counter(gold[i] for i in items)
    both_sizes = Counter((predicted[i], gold[i]) for i in items)

    def pairs(counts: Counter[Any]) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    true_pairs = pairs(both_sizes)
    pred_pairs, gold_pairs = pairs(pred_sizes), pairs(gold_sizes)
    return Scores(
        true_pairs / pred_pairs if pred_pairs else 1.0,
        true_pairs / gold_pairs if gold_pairs else 1.0,
    )


def read_gold(path: Path) -> dict[tuple[str, int], str]:
    """GOLD.tsv: header ``record_id  author_index  person_id``."""
    gold: dict[tuple[str, int], str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"record_id", "author_index", "person_id"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            record_id = row["record_id"] or ""
            # OpenAlex records are keyed by their short id (W123) in provenance
            record_id = normalize_openalex_id(record_id) or record_id
            try:
                gold[(record_id, int(row["author_index"]))] = row["person_id"]
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: bad author_index") from exc
    return gold


@dataclass
class Evaluation:
    labelled: int
    matched: int
    b3: Scores
    pairs: Scores
    worst_blocks: list[tuple[str, int, float]] = field(default_factory=list)  # key, n, B³ F1
    seconds: float = 0.0


def load_labelled(works_file: Path, gold_file: Path) -> tuple[Any, dict[int, str], int]:
    """Import ``works_file`` into a throw-away store and load its corpus; the gold as
    corpus row → person, and how many gold items were found (two gold records of one
    merged work share a row)."""
    from peergraph.authors.services import load_corpus
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.ingest.models import Provenance
    from peergraph.settings import Settings

    gold = read_gold(gold_file)
    with tempfile.TemporaryDirectory() as folder:
        engine = create_db_engine(Settings.for_data_dir(Path(folder)))
        migrate(engine)
        for target in expand_paths([works_file]):
            import_file(engine, target)
        with engine.connect() as conn:
            loaded = load_corpus(conn)
            work_of_key = dict(
                conn.execute(
                    select(Provenance.record_key, Provenance.entity_id).where(
                        Provenance.entity_type == "work"
                    )
                ).all()
            )
        engine.dispose()
    row_of = {
        (int(loaded.work_ids[w]), int(p)): i
        for i, (w, p) in enumerate(zip(loaded.corpus.work_rows, loaded.positions, strict=True))
    }
    rows: dict[int, str] = {}
    found = 0
    for item, person in gold.items():
        work_id = work_of_key.get(item[0])
        row = row_of.get((work_id, item[1])) if work_id is not None else None
        if row is not None:
            found += 1
            rows[row] = person
    return loaded, rows, found


def evaluate_file(
    works_file: Path,
    gold_file: Path,
    *,
    use_upstream_ids: bool = True,
    use_orcids: bool = True,
    model_path: Path | None = None,
) -> Evaluation:
    """Import ``works_file`` into a throw-away store, disambiguate, score against gold."""
    import time

    from peergraph.authors.disambiguation import cluster
    from peergraph.authors.model import load

    labelled = len(read_gold(gold_file))
    loaded, gold, found = load_labelled(works_file, gold_file)
    if not use_orcids:
        loaded.corpus.orcids = [None] * len(loaded.corpus.orcids)
    started = time.perf_counter()
    result = cluster(
        loaded.corpus, model=load(model_path), use_upstream_ids=use_upstream_ids, explain=False
    )
    seconds = time.perf_counter() - started
    predicted = {row: int(result.labels[row]) for row in gold}
    by_block: dict[str, list[int]] = defaultdict(list)
    for row in gold:
        by_block[loaded.corpus.blocks[row]].append(row)
    worst = sorted(
        (
            (
                key,
                len(rows),
                b_cubed({r: predicted[r] for r in rows}, {r: gold[r] for r in rows}).f1,
            )
            for key, rows in by_block.items()
        ),
        key=lambda t: (t[2], -t[1]),
    )
    return Evaluation(
        labelled=labelled,
        matched=found,
        b3=b_cubed(predicted, gold),
        pairs=pairwise(predicted, gold),
        worst_blocks=[w for w in worst if w[2] < 1.0][:10],
        seconds=seconds,
    )
