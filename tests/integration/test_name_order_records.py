"""A Chinese name printed either way round by a source that prints names as one string
("Zhang Wei" / "Wei Zhang") ends up in one record; a structured source's order is kept."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord, AuthorshipLink
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.works.models import Authorship


def work(n: int, title: str, printed: str) -> dict:
    def author(name: str) -> dict:
        return {"author": {"display_name": name}, "raw_author_name": name}

    return {
        "id": f"https://openalex.org/W900000000{n}",
        "display_name": title,
        "publication_year": 2019 + n,
        "type": "article",
        "authorships": [author(printed), author("Yoshua Bengio"), author("Aaron Courville")],
    }


def test_both_printed_orders_of_a_chinese_name_are_one_record(engine, tmp_path):
    path = tmp_path / "works.jsonl"
    works = [
        work(1, "Deep generative models of molecular graphs", "Zhang Wei"),
        work(2, "Generative models of molecular graphs with deep attention", "Wei Zhang"),
    ]
    path.write_text("".join(json.dumps(w) + "\n" for w in works), encoding="utf-8")
    import_file(engine, ImportTarget(path, "openalex-jsonl"))
    rebuild(engine)
    with Session(engine) as session:
        printed = session.execute(
            select(Authorship.raw_name, Authorship.order_guessed, AuthorshipLink.record_id)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(Authorship.position == 0)
            .order_by(Authorship.id)
        ).all()
        assert [(raw, guessed) for raw, guessed, _ in printed] == [
            ("Zhang Wei", True),
            ("Wei Zhang", True),
        ]
        assert printed[0].record_id == printed[1].record_id
        record = session.get(AuthorRecord, printed[0].record_id)
        assert record.works_count == 2


def test_a_structured_source_keeps_its_order(engine, tmp_path):
    path = tmp_path / "works.csl.json"
    people = [{"given": "Zhang", "family": "Wei"}, {"given": "Wei", "family": "Zhang"}]
    path.write_text(
        json.dumps(
            [
                {"id": f"w{k}", "type": "article", "title": f"Paper {k}", "author": [person]}
                for k, person in enumerate(people)
            ]
        ),
        encoding="utf-8",
    )
    import_file(engine, ImportTarget(path, "csl-json"))
    rebuild(engine)
    with Session(engine) as session:
        guessed = session.scalars(select(Authorship.order_guessed)).all()
        records = session.scalars(select(AuthorshipLink.record_id)).all()
    assert guessed == [False, False]
    assert len(set(records)) == 2  # "Zhang" the given name is taken at its word
