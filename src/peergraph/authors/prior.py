"""How common a name is in the literature at large: a table shipped with the package.

The store's own name counts (features.NameCounts) say how common a name is *in this
store*. In a small store, or one built around a few names (a gold set, a department's
publication list), every name looks rare or every name looks common, and the model
cannot tell "Lei Wang", who is thousands of people, from "Robert Schreiber", who is a
handful. This table gives it the other view, from a large corpus (the shared corpus, 541,844
authorships; docs/disambiguation-model.md, "name-frequency table"): per first given name
and per family name, the log₂ bin of how many authorships carry it, and of how many
distinct family names go with the first name and distinct first names with the family
name. The second pair counts people rather than papers: a prolific researcher with a
rare name signs hundreds of papers, but "Bengio" goes with 3 first names there and
"Liu" with 1,751. Names seen fewer than MIN_COUNT times are left out: bin 0 means
"rare".

The table is fixed for a given model, so it never makes a rebuild re-cluster anything.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from peergraph.authors.names import first_name

PACKAGED = Path(__file__).with_name("name_prior.json.gz")
FORMAT = "peergraph-name-prior/1"
MIN_COUNT = 4


@dataclass(frozen=True)
class NamePrior:
    first: dict[str, int] = field(default_factory=dict)  # first given name → bin
    family: dict[str, int] = field(default_factory=dict)  # family key → bin
    first_families: dict[str, int] = field(default_factory=dict)  # first → bin of families
    family_firsts: dict[str, int] = field(default_factory=dict)  # family → bin of firsts
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""  # of the table's content: a rebuild with another table is a full one

    def bins(
        self, given: list[tuple[str, ...]], family_keys: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(first, family, first_families, family_firsts) bins per authorship; nan for
        the first-name columns where the first given name is an initial only."""
        firsts = [first_name(g) for g in given]

        def per_first(table: dict[str, int]) -> np.ndarray:
            return np.array([table.get(f, 0) if f else np.nan for f in firsts], np.float32)

        def per_family(table: dict[str, int]) -> np.ndarray:
            return np.array([table.get(k, 0) for k in family_keys], np.float32)

        return (
            per_first(self.first),
            per_family(self.family),
            per_first(self.first_families),
            per_family(self.family_firsts),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "meta": self.meta,
            "first": self.first,
            "family": self.family,
            "first_families": self.first_families,
            "family_firsts": self.family_firsts,
        }


@functools.lru_cache(maxsize=1)
def packaged() -> NamePrior:
    """The table that ships with the package (empty when the file is missing)."""
    return load(PACKAGED) if PACKAGED.exists() else NamePrior()


def load(path: Path) -> NamePrior:
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    return NamePrior(
        data["first"],
        data["family"],
        data["first_families"],
        data["family_firsts"],
        data.get("meta", {}),
        hashlib.sha256(raw).hexdigest()[:12],
    )


def count(engine: Engine) -> NamePrior:
    """The table for a store: its authorships' name keys (``authorship_names``, written
    by a rebuild), counted and binned as the store's own counts are."""
    from peergraph.authors.features import count_bin  # features reads this module

    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM authorship_names")).scalar_one()

        def counted(sql: str) -> dict[str, int]:
            rows = conn.execute(text(sql), {"least": MIN_COUNT}).all()
            bins = count_bin(np.array([n for _key, n in rows], dtype=np.float64))
            return {key: int(b) for (key, _n), b in zip(rows, bins, strict=True)}

        first = counted(
            "SELECT first_name, count(*) FROM authorship_names WHERE first_name != ''"
            " GROUP BY first_name HAVING count(*) >= :least"
        )
        family = counted(
            "SELECT family_key, count(*) FROM authorship_names"
            " GROUP BY family_key HAVING count(*) >= :least"
        )
        first_families = counted(
            "SELECT first_name, count(DISTINCT family_key) FROM authorship_names"
            " WHERE first_name != '' GROUP BY first_name"
            " HAVING count(*) >= :least AND count(DISTINCT family_key) > 1"
        )
        family_firsts = counted(
            "SELECT family_key, count(DISTINCT first_name) FROM authorship_names"
            " WHERE first_name != '' GROUP BY family_key"
            " HAVING count(*) >= :least AND count(DISTINCT first_name) > 1"
        )
    meta = {"authorships": int(total), "min_count": MIN_COUNT}
    return NamePrior(first, family, first_families, family_firsts, meta)


def write(prior: NamePrior, path: Path) -> None:
    payload = json.dumps(prior.as_dict(), separators=(",", ":"), sort_keys=True)
    # mtime 0: the same table gives the same bytes
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(payload.encode("utf-8"))
