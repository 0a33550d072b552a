"""Citation counts: stored from OpenAlex with their source and date, summed into a
record's total and h-index, shown with their source, and absent where no source gives
them; references and the works that cite a work, on its page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app
from peergraph.works.models import Work
from peergraph.works.services import h_index


@pytest.mark.parametrize(
    ("counts", "h"),
    [([], 0), ([0, 0], 0), ([10], 1), ([3, 0, 6, 1, 5], 3), ([100] * 4, 4), ([1, 1, 1], 1)],
)
def test_h_index(counts, h):
    assert h_index(counts) == h


def openalex_works(folder: Path) -> Path:
    """Three works by one author, with OpenAlex counts; the third cites the first."""

    def work(n: int, cited: int, refs: list[str]) -> dict:  # type: ignore[type-arg]
        return {
            "id": f"https://openalex.org/W90000{n}",
            "title": f"Counting citations, part {n}",
            "publication_year": 2020 + n,
            "type": "article",
            "cited_by_count": cited,
            "updated_date": "2024-06-30T10:00:00",
            "referenced_works": refs,
            "authorships": [
                {"author_position": "first", "raw_author_name": "Carla Counter", "author": {}},
                {"author_position": "last", "raw_author_name": "Dan Tally", "author": {}},
            ],
        }

    path = folder / "cited.jsonl"
    rows = [
        work(1, 12, []),
        work(2, 3, ["https://openalex.org/W42"]),
        work(3, 7, ["https://openalex.org/W900001", "https://openalex.org/W42"]),
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_counts_are_stored_summed_and_shown_with_their_source(
    settings, engine, test_data, tmp_path
):
    import_file(engine, ImportTarget(openalex_works(tmp_path), "openalex-jsonl"))
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    with Session(engine) as session:
        first = session.scalars(select(Work).where(Work.title.endswith("part 1"))).one()
        assert (first.cited_by_count, first.cited_by_source, first.cited_by_date) == (
            12,
            "OpenAlex",
            "2024-06-30",
        )
        carla = session.scalars(
            select(AuthorRecord.id).where(AuthorRecord.display_name == "Carla Counter")
        ).one()
        radford = session.scalars(
            select(AuthorRecord.id).where(AuthorRecord.display_name == "Alec Radford")
        ).one()
        third = session.scalars(select(Work.id).where(Work.title.endswith("part 3"))).one()
    with TestClient(create_app(settings)) as client:
        page = client.get(f"/researchers/{carla}").text
        assert "Cited by <strong>22</strong> · h-index <strong>3</strong>" in page
        assert "from OpenAlex's counts as of 2024-06-30, for 3 of 3 works" in page
        assert "cited by 12" in page
        by_count = client.get(f"/researchers/{carla}", params={"sort": "cited"}).text
        assert by_count.index("part 1") < by_count.index("part 3") < by_count.index("part 2")
        plain = client.get(f"/researchers/{radford}").text  # CSL data: no counts
        assert "No citation counts: the sources of these works give none" in plain
        work = client.get(f"/works/{third}").text
        assert "Cited by <strong>7</strong>" in work and "as OpenAlex counted on 2024-06-30" in work
        assert "References (2)" in work and "Counting citations, part 1</a>" in work
        assert "(not in this graph)" in work
        cited = client.get(f"/works/{third - 2}").text
        assert "Cited by, in this graph (1)" in cited
