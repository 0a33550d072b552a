"""The shared corpus replicated N times, for the pipeline's scale-up (docs/scale.md).

The CSL-JSON collections (the ML and ACL anthologies: 93 % of the corpus's records) are
written ``--times`` times into ``--out``, each replica a file of its own in which every
record is a different work with partly different people:

- the record id and DOI get a replica suffix, so no identifier is shared;
- the title gets a replica marker ("… (part 3)"), so no title + year + first-author key is
  shared either and every replica's records are new works;
- each author keeps the family name (so name blocks grow N times, as "Wang, W." grows in
  the real record) and, in every replica after the first, half the authors (chosen by a
  stable hash of the replica, record and position) get another given name of the same
  initial drawn from the corpus, so a block holds people who share a name and people
  who do not.

The OpenAlex and arXiv samples are not replicated (they are 7 % of the records and need
format-specific rewriting); `stages.py --sources DIR` reads the folder.

    .venv/bin/python benchmarks/scale/replicate.py --times 10 --out /tmp/replicated
"""

from __future__ import annotations

import argparse
import gzip
import json
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
COLLECTIONS = (
    SHARED / "mlanthology-ml-venues" / "works.csl.json.gz",
    SHARED / "acl-anthology-2019" / "works.csl.json.gz",
)


def stable(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode("utf-8"))


def given_names(items: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Spelt-out given names of the corpus by initial, each once, in a stable order."""
    by_initial: dict[str, set[str]] = defaultdict(set)
    for item in items:
        for author in item.get("author") or []:
            given = (author.get("given") or "").strip()
            if len(given) > 2 and given[0].isalpha():
                by_initial[given[0].upper()].add(given)
    return {initial: sorted(names) for initial, names in by_initial.items()}


def replica(items: list[dict[str, Any]], r: int, names: dict[str, list[str]]) -> list[Any]:
    if r == 0:
        return items
    out = []
    for number, item in enumerate(items):
        copy = json.loads(json.dumps(item))
        copy["id"] = f"{item.get('id', number)}-r{r}"
        if copy.get("DOI"):
            copy["DOI"] = f"{copy['DOI']}.r{r}"
        for key in ("URL", "arxiv", "ARXIV"):
            copy.pop(key, None)
        copy["title"] = f"{item.get('title', '')} (part {r + 1})"
        for position, author in enumerate(copy.get("author") or []):
            given = (author.get("given") or "").strip()
            if not given or stable(r, number, position) % 2:
                continue
            pool = names.get(given[0].upper())
            if pool:
                author["given"] = pool[stable("name", r, number, position) % len(pool)]
        out.append(copy)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for source in COLLECTIONS:
        with gzip.open(source, "rt", encoding="utf-8") as f:
            items = json.load(f)
        names = given_names(items)
        for r in range(args.times):
            target = args.out / f"{source.parent.name}-r{r:02}.csl.json.gz"
            with gzip.open(target, "wt", encoding="utf-8", compresslevel=3) as f:
                json.dump(replica(items, r, names), f)
            print(f"{target}: {len(items):,} records")


if __name__ == "__main__":
    main()
