"""Incremental runs (``peergraph pipeline … --since DIR``): the name blocks a run must
cluster again after a previous run, by the rules of the single-machine incremental
rebuild (authors/changes.py), written as joins.

The run reads the previous run's files first (the same files, in the same order, by
SHA-256) and then the new ones. Work ids are the ranks of the works' first records in
reading order, so every work the previous run wrote keeps its id and every authorship
its id (work id × 2²⁰ + position). A block's records depend only on its family's
papers and on a few store-wide name counts (docs/disambiguation.md §7), so a block is
clustered again when:

1. it has an authorship on a work that a record of a new file created or enriched
   (before or after: the previous run's name keys of those works count too);
2. a name count that its pairs read moved across a split of the model
   (``authors.changes.crossed``): first names, family names, full names, and co-author
   keys that two of its authorships sign with;
3. one of its papers has a co-author who signs a changed work next to an authorship of
   the same family (the family's co-author co-occurrence moved);
4. the store's verified claims it is clustered with changed since the previous run;
5. a claimant's verified claims hold authorships in it and in a block already chosen
   (one claimant's group is clustered whole).

Every other block keeps the previous run's ``author_clusters`` rows as they are, and the
result equals a full run over the same files (tests/integration/
test_pipeline_incremental.py; the whole corpus: benchmarks/scale/incremental.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from peergraph.authors import ownership
from peergraph.authors.changes import crossed, grown
from peergraph.authors.features import count_bin
from peergraph.authors.model import PairModel

RUN_SCHEMA = "mode string, model string, files int, blocks long, authorships long, reasons string"
# (kind of count as authors/changes.py names it, the names it is counted by, its column)
COUNTS = (
    ("first", ("first",), "c_first"),
    ("first_families", ("first",), "c_first_families"),
    ("family", ("family",), "c_family"),
    ("family_firsts", ("family",), "c_family_firsts"),
    ("full", ("first", "family"), "c_full"),
    ("coauthor", ("key",), "c_key"),
)


class SinceRefused(ValueError):
    """The previous run cannot be continued: what differs, in words."""


@dataclass(frozen=True)
class Since:
    """The previous run an incremental run continues."""

    path: Path
    files: list[tuple[int, str, str]]  # (index, format, SHA-256), in reading order
    model: str

    @classmethod
    def of(cls, spark: Any, path: Path, model: str) -> Since:
        """The previous output at ``path``; refused when it is not a whole run with
        author records, or was clustered with another model."""
        path = path.resolve()
        if not path.is_dir():
            raise SinceRefused(f"{path}: no such folder (the previous run's output)")
        missing = [
            t
            for t in ("run", "files", "authorship_names", "author_clusters")
            if not (path / t).is_dir()
        ]
        if missing:
            raise SinceRefused(
                f"{path} is not the output of a run with author records"
                f" (no {', '.join(missing)} table): run the pipeline in full once"
            )
        run = spark.read.parquet(str(path / "run")).first()
        if run is None or run["model"] != model:
            raise SinceRefused(
                f"{path} was clustered with another model ({run['model'] if run else 'none'};"
                f" this one is {model}): run the pipeline in full"
            )
        files = sorted(
            (r["file"], r["format"], r["sha256"])
            for r in spark.read.parquet(str(path / "files")).collect()
        )
        return cls(path, files, model)

    def check(self, files: list[tuple[int, str, str | None]]) -> None:
        """This run's files (index, format, SHA-256) must start with the previous run's."""
        now = sorted(files)
        for i, before in enumerate(self.files):
            if i >= len(now) or now[i] != before:
                found = "nothing" if i >= len(now) else f"{now[i][1]} file {now[i][2]}"
                raise SinceRefused(
                    f"the previous run's file {before[0]} ({before[1]}, SHA-256 {before[2]})"
                    f" is not this run's file {before[0]} ({found}): an incremental run"
                    " reads the previous run's files first, in the same order, then the new"
                    " ones"
                )


@dataclass
class Plan:
    """The blocks to cluster again, and how many each rule added (for the report)."""

    blocks: set[str] = field(default_factory=set)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, blocks: set[str]) -> None:
        self.reasons[reason] = len(blocks - self.blocks)
        self.blocks |= blocks


def plan(
    spark: Any,
    since: Since,
    names: Any,
    changed: Any,
    claims: list[ownership.Claim],
    model: PairModel,
) -> Plan:
    """The blocks to cluster again. ``names``: this run's ``authorship_names`` (a
    DataFrame: ``pipeline.authors.NAMES_SCHEMA`` and the counts); ``changed``: a DataFrame of the
    ``work_id`` of every work a record of a new file created or enriched; ``claims``: the
    claims this run clusters with."""
    from pyspark.sql import functions as F

    before = spark.read.parquet(str(since.path / "authorship_names"))
    result = Plan()

    def blocks(frame: Any) -> set[str]:
        return {r[0] for r in frame.select("block").distinct().collect()}

    # 1. authorships on changed works, as they are and as they were
    now_on = names.join(changed, "work_id")
    then_on = before.join(changed, "work_id")
    result.add("changed authorships", blocks(now_on) | blocks(then_on))

    # 2. name counts that crossed a split of the model
    moved: dict[str, set[Any]] = {}
    for kind, keys, column in COUNTS:

        def side(frame: Any, alias: str, keys: tuple[str, ...] = keys, column: str = column) -> Any:
            if "first" in keys:
                frame = frame.where(F.col("first") != "")
            return frame.select(*keys, F.col(column).alias(alias)).distinct()

        differ = (
            side(before, "before")
            .join(side(names, "after"), list(keys), "full_outer")
            .where(F.coalesce("before", F.lit(0)) != F.coalesce("after", F.lit(0)))
        )
        for row in differ.collect():
            was, now = count_bin(np.array([row["before"] or 0, row["after"] or 0]))
            if crossed(kind, float(was), float(now), model):
                name = tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]
                moved.setdefault(kind, set()).add(name)
    for reason, frame in _crossing(spark, names, moved).items():
        result.add(f"name counts crossing a split of the model: {reason}", blocks(frame))

    # 4. claims that are not the ones the previous run clustered with
    gone = _claims_changed(spark, since, claims)
    if gone:
        ids = spark.createDataFrame([(a,) for a in sorted(gone)], "id long")
        result.add(
            "claims and corrections", blocks(names.join(ids, "id")) | blocks(before.join(ids, "id"))
        )

    # 3. co-authors' co-authors: the family's co-occurrence of the changed works' names
    result.add("co-authors' co-authors changed", blocks(_hops(names, now_on, then_on)))

    # 5. one claimant's group is clustered whole
    result.add("claim groups kept whole", _claim_closure(spark, names, claims, result.blocks))
    return result


def _crossing(spark: Any, names: Any, moved: dict[str, set[Any]]) -> dict[str, Any]:
    """Per kind, the authorships whose blocks read a count in ``moved``
    (``authors.changes._crossing_blocks``)."""
    from pyspark.sql import functions as F

    out: dict[str, Any] = {}

    def listed(values: set[Any], schema: str) -> Any:
        rows = [v if isinstance(v, tuple) else (v,) for v in sorted(values)]
        return F.broadcast(spark.createDataFrame(rows, schema))

    firsts = moved.get("first", set()) | moved.get("first_families", set())
    if firsts:
        out["first names"] = names.join(listed(firsts, "first string"), "first")
    families = moved.get("family", set()) | moved.get("family_firsts", set())
    if families:
        out["family names"] = names.join(listed(families, "family string"), "family")
    if moved.get("full"):
        out["full names"] = names.join(
            listed(moved["full"], "first string, family string"), ["first", "family"]
        )
    if moved.get("coauthor"):
        # blocks where two authorships sign a paper with one of these co-author keys
        other = names.join(listed(moved["coauthor"], "key string"), "key").select(
            F.col("id").alias("other"), "work_id", F.col("key").alias("shared")
        )
        out["shared co-authors"] = (
            names.join(other, "work_id")
            .where(F.col("id") != F.col("other"))
            .groupBy("block", "shared")
            .agg(F.countDistinct("id").alias("n"))
            .where(F.col("n") > 1)
        )
    return out


def _hops(names: Any, now_on: Any, then_on: Any) -> Any:
    """Authorships of a family on a paper that a co-author of a changed work of that
    family also signs (``authors.changes._hop_blocks``). ``then_on``: the previous run's
    rows of the changed works; those that are gone or differ count as well."""
    from pyspark.sql import functions as F

    columns = ["id", "work_id", "block", "first", "family", "key"]
    gone = then_on.select(*columns).subtract(now_on.select(*columns))
    rows = now_on.select("id", "work_id", "scope", "key").unionByName(
        gone.join(then_on.select("id", "scope"), "id").select(
            (-1 - F.col("id")).alias("id"), "work_id", "scope", "key"
        )
    )
    a, b = rows.alias("a"), rows.alias("b")
    pairs = (
        a.join(b, (F.col("a.work_id") == F.col("b.work_id")) & (F.col("a.id") != F.col("b.id")))
        .select(F.col("a.scope").alias("hop_scope"), F.col("b.key").alias("hop_key"))
        .distinct()
    )
    other = names.select(
        F.col("id").alias("other"),
        F.col("work_id").alias("other_work"),
        F.col("key").alias("hop_key"),
    ).join(pairs, "hop_key")
    return names.join(
        other,
        (F.col("work_id") == F.col("other_work"))
        & (F.col("id") != F.col("other"))
        & (F.col("scope") == F.col("hop_scope")),
    )


def _claims_changed(spark: Any, since: Since, claims: list[ownership.Claim]) -> set[int]:
    """Authorships of the claims that differ between the previous run and this one."""

    def key(
        claimant: str, covered: Any, not_mine: Any
    ) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        return claimant, tuple(sorted(covered or ())), tuple(sorted(not_mine or ()))

    then = set()
    if (since.path / "claims").is_dir():
        then = {
            key(r["claimant"], r["authorships"], r["not_mine"])
            for r in spark.read.parquet(str(since.path / "claims")).collect()
        }
    now = {key(c.claimant, c.authorships, c.not_mine) for c in claims}
    return {a for _, covered, not_mine in then ^ now for a in (*covered, *not_mine)}


def _claim_closure(
    spark: Any, names: Any, claims: list[ownership.Claim], chosen: set[str]
) -> set[str]:
    """Blocks of every claimant's claims that have an authorship in ``chosen``, and so on
    (``authors.changes._claim_closure``)."""
    if not claims:
        return set()
    wanted = sorted({a for c in claims for a in (*c.authorships, *c.not_mine)})
    ids = spark.createDataFrame([(a,) for a in wanted], "id long")
    block_of = dict(names.join(ids, "id").select("id", "block").collect())
    per_claimant: dict[str, set[str]] = {}
    for c in claims:
        per_claimant.setdefault(c.claimant, set()).update(
            block_of[a] for a in (*c.authorships, *c.not_mine) if a in block_of
        )
    return grown(per_claimant.values(), chosen)


def run_row(
    mode: str, model: str, files: int, plan: Plan | None, authorships: int
) -> tuple[Any, ...]:
    """The one row of the output's ``run`` table."""
    blocks = None if plan is None else len(plan.blocks)
    reasons = None if plan is None else json.dumps(plan.reasons)
    return mode, model, files, blocks, authorships, reasons
