"""Disambiguation quality and profiles on the real shared data (slow)."""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from peergraph.authors.evaluation import evaluate_file
from peergraph.authors.models import AuthorRecord
from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import expand_paths
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.search.facts import SearchFacts
from peergraph.search.services import search_works
from peergraph.settings import Settings
from peergraph.web.app import create_app
from tests.stores import copied_store

# profile quality on the shared corpora, not about the database: run once, on SQLite
pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.once]

B3_ACL = 0.96  # issue 9: no regression (measured 0.968, model version 3)
B3_ORCID = 0.98  # measured 0.993; ORCIDs hidden 0.981 (version 3)
B3_COMMON_NAMES = 0.86  # measured 0.871 (version 3); the goal is 0.93 (issue 9, open)
TOPIC_NMI_FLOOR = 0.30  # measured 0.38 (LSA + k-means, 24 topics, 26 OpenAlex fields)


def test_acl_gold_person_ids(shared_data):
    folder = shared_data / "acl-anthology-2019"
    result = evaluate_file(folder / "works.csl.json.gz", folder / "gold-person-ids.tsv")
    assert result.matched == result.labelled == 1_417
    assert result.b3.f1 >= B3_ACL, result


def test_common_names_gold(shared_data):
    folder = shared_data / "and-common-names"
    result = evaluate_file(folder / "works.csl.json.gz", folder / "gold.tsv")
    assert result.matched == result.labelled == 4_619
    assert result.b3.f1 >= B3_COMMON_NAMES, result


def test_cross_validation_by_name_on_a_slice(shared_data):
    """Train on some common names (and nothing else), measure on the others: the whole
    training path, threshold search included, on a slice small enough for the suite."""
    from peergraph.authors import training

    folder = shared_data / "and-common-names"
    full = training.load_gold_set("cn", folder / "works.csl.json.gz", folder / "gold.tsv")
    keys = sorted(full.blocks())[:12]
    part = training.restricted(full, keys)
    result = training.cross_validate(part, [], k=2)
    assert len(result.folds) == 2
    assert all(0.0 < fold["f1"] <= 1.0 for fold in result.folds)
    # a model trained on other names must beat "every authorship alone" on these
    singles = sum(fold["recall"] for fold in result.folds) / 2
    assert result.mean_f1["cn"] > 0.6 and singles > 0.5, result


def write_orcid_gold(works: Path, gold: Path) -> int:
    """Gold person ids from the ORCIDs that OpenAlex asserts on authorships."""
    rows = ["record_id\tauthor_index\tperson_id"]
    with gzip.open(works, "rt") as handle:
        for line in handle:
            work = json.loads(line)
            if not (work.get("title") or work.get("display_name")):
                continue
            position = 0
            for authorship in work.get("authorships") or []:
                author = authorship.get("author") or {}
                if not (authorship.get("raw_author_name") or author.get("display_name")):
                    continue
                if author.get("orcid"):
                    rows.append(f"{work['id']}\t{position}\t{author['orcid']}")
                position += 1
    gold.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def test_openalex_orcid_gold_without_upstream_ids(shared_data, tmp_path):
    works = shared_data / "openalex-api-samples" / "works.jsonl.gz"
    gold = tmp_path / "orcid-gold.tsv"
    labelled = write_orcid_gold(works, gold)
    assert labelled > 5_000
    result = evaluate_file(works, gold, use_upstream_ids=False)
    assert result.matched == labelled
    assert result.b3.f1 >= B3_ORCID, result
    # the honest variant: the ORCIDs that are the gold are hidden from the model too
    hidden = evaluate_file(works, gold, use_upstream_ids=False, use_orcids=False)
    assert hidden.b3.f1 >= B3_ORCID, hidden


def test_inferred_topics_agree_with_openalex_fields(shared_data, tmp_path):
    from sklearn.metrics import normalized_mutual_info_score

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    for target in expand_paths([shared_data / "openalex-api-samples" / "works.jsonl.gz"]):
        import_file(engine, target)
    rebuild(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source.field, inferred.topic_id FROM work_topics p"
                " JOIN topics source ON source.id = p.topic_id AND source.taxonomy = 'openalex'"
                " JOIN work_topics inferred ON inferred.work_id = p.work_id"
                " JOIN topics it ON it.id = inferred.topic_id AND it.taxonomy = 'inferred'"
                " WHERE p.is_primary"
            )
        ).all()
        labels = [
            name
            for (name,) in conn.execute(text("SELECT name FROM topics WHERE taxonomy = 'inferred'"))
        ]
        titles_of: dict[str, list[str]] = {}
        for name, title in conn.execute(
            text(
                "SELECT t.name, w.title FROM topics t JOIN work_topics wt ON wt.topic_id = t.id"
                " JOIN works w ON w.id = wt.work_id WHERE t.taxonomy = 'inferred'"
            )
        ):
            titles_of.setdefault(name, []).append(
                unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
            )
    engine.dispose()
    assert len(rows) > 900
    nmi = normalized_mutual_info_score([r[0] for r in rows], [r[1] for r in rows])
    assert nmi >= TOPIC_NMI_FLOOR, nmi
    assert all(label and not label.lower().startswith("topic") for label in labels)
    assert len(titles_of) == len(labels)
    for label, titles in titles_of.items():
        # every label is a phrase (or two) found in the topic's own titles
        for phrase in re.sub(r" \(\d+\)$", "", label).split(", "):
            assert any(phrase.lower() in t for t in titles), (label, titles[:5])


@pytest.fixture(scope="module")
def ml_store(ml_import, tmp_path_factory):
    folder, _summary = ml_import  # imported once (tests/conftest.py)
    settings = copied_store(folder, tmp_path_factory.mktemp("ml") / "store")
    engine = create_db_engine(settings)
    migrate(engine)
    rebuild(engine)
    yield settings, engine
    engine.dispose()


def records_named(session: Session, name: str) -> list[AuthorRecord]:
    return list(
        session.scalars(
            select(AuthorRecord)
            .where(AuthorRecord.display_name == name)
            .order_by(AuthorRecord.works_count.desc())
        )
    )


def titles_of(engine, record_id: int) -> list[str]:
    with engine.connect() as conn:
        return [
            t
            for (t,) in conn.execute(
                text(
                    "SELECT w.title FROM authorship_links l"
                    " JOIN authorships a ON a.id = l.authorship_id"
                    " JOIN works w ON w.id = a.work_id WHERE l.record_id = :r"
                ),
                {"r": record_id},
            )
        ]


def test_radford_and_neal_are_separate_people(ml_store):
    _settings, engine = ml_store
    with Session(engine) as session:
        radford = records_named(session, "Alec Radford")[0]
        neal = records_named(session, "Radford M. Neal")[0]
    assert radford.id != neal.id
    radford_titles = " | ".join(titles_of(engine, radford.id))
    for expected in (
        "Learning Transferable Visual Models From Natural Language Supervision",  # CLIP
        "Unsupervised Representation Learning with Deep Convolutional",  # DCGAN
        "Language Models are Few-Shot Learners",  # GPT-3
        "Robust Speech Recognition via Large-Scale Weak Supervision",  # Whisper
        "Improved Techniques for Training GANs",
        "Zero-Shot Text-to-Image Generation",
    ):
        assert expected in radford_titles, expected
    neal_titles = titles_of(engine, neal.id)
    assert neal_titles and not set(neal_titles) & set(titles_of(engine, radford.id))
    assert any("Markov" in t or "Bayesian" in t or "Monte Carlo" in t for t in neal_titles)


def test_bengio_has_about_360_works(ml_store):
    _settings, engine = ml_store
    with Session(engine) as session:
        bengio = records_named(session, "Yoshua Bengio")
        assert 330 <= bengio[0].works_count <= 380
        # whatever fragments remain are small
        assert sum(r.works_count for r in bengio[1:]) <= 15


def test_real_profile_page_parts(ml_store):
    settings, engine = ml_store
    with Session(engine) as session:
        radford = records_named(session, "Alec Radford")[0]
    with TestClient(create_app(settings), base_url="http://localhost") as client:
        page = client.get(f"/researchers/{radford.id}")
    assert page.status_code == 200
    for part in (
        "<h1>Alec Radford</h1>",
        "Affiliation not imported",
        "Verification L0",
        "Unclaimed author",
        "Log in to claim",
        "Research graph slice",
        "Published work",
        "Ilya Sutskever",
        "Learning Transferable Visual Models",
    ):
        assert part in page.text, part
    assert "Monte Carlo" not in page.text


def test_collaboration_counts_are_newman_weighted(ml_store):
    _settings, engine = ml_store
    with engine.connect() as conn:
        strengths = conn.execute(
            text("SELECT joint_works, strength FROM collaborations LIMIT 5000")
        ).all()
    assert all(0 < s <= j + 1e-9 for j, s in strengths)  # each joint work adds at most 1
    assert Counter(j for j, _ in strengths)[1] > 0


SEARCHES = [
    "generative adversarial networks",
    "reinforcement learning from human feedback",
    "Bengio",
    "variational inference",
    "graph neural networks",
    "attention is all you need",
    "kernel methods",
    "Bayesian optimization",
    "Hinton",
    "convolutional",
    "machine translation",
    "learning",
]


def test_search_facts_answer_as_the_database_does_on_the_ml_corpus(ml_store):
    """Researchers, topics and author counts from the mapped search facts (search/facts.py)
    equal the database's on a real corpus of 93k works."""
    _settings, engine = ml_store
    facts = SearchFacts.load(engine)
    assert facts is not None
    compared = 0
    with Session(engine) as session:
        for query in SEARCHES:
            asked = search_works(session, query, mode="keyword")
            mapped = search_works(session, query, mode="keyword", facts=facts)
            for part in ("researchers", "topics"):
                plain = [vars(hit) for hit in getattr(asked, part)]
                fast = [vars(hit) for hit in getattr(mapped, part)]
                assert len(fast) == len(plain), query
                for a, b in zip(plain, fast, strict=True):
                    assert a.keys() == b.keys()
                    for key in a:
                        if isinstance(a[key], float):
                            assert b[key] == pytest.approx(a[key], abs=1e-9), (query, key)
                        else:
                            assert b[key] == a[key], (query, key)
                compared += len(plain)
            assert [h.authors_count for h in mapped.hits] == [h.authors_count for h in asked.hits]
    assert compared >= 50
