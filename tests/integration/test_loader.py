"""The loader against a real SQLite store, through its service functions."""

from __future__ import annotations

import contextlib

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from peergraph.ingest.formats import ImportTarget, detect_format, expand_paths
from peergraph.ingest.loader import import_file
from peergraph.works.models import Authorship, Work, WorkIdentifier, WorkReference
from peergraph.works.services import count_tables
from tests.stores import store_engine

DATA_TABLES = (
    "works",
    "work_identifiers",
    "authorships",
    "sources",
    "institutions",
    "authorship_institutions",
    "topics",
    "work_topics",
    "work_references",
    "upstream_authors",
    "provenance",
)


def load(engine, path, fmt=None, **kwargs):
    return import_file(engine, ImportTarget(path, fmt or detect_format(path)), **kwargs)


TIMESTAMPS = ("created_at", "updated_at")


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every data table (timestamps left out), ordered, for exact comparison."""
    rows = {}
    with engine.connect() as conn:
        for table in DATA_TABLES:
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            keep = [i for i, name in enumerate(result.keys()) if name not in TIMESTAMPS]
            rows[table] = [tuple(row[i] for i in keep) for row in result]
    return rows


def test_import_openalex_sample(engine, test_data):
    summary = load(engine, test_data / "openalex.jsonl")
    assert summary.ok and summary.status == "completed"
    assert (summary.records_read, summary.imported, summary.merged, summary.skipped) == (8, 4, 0, 4)
    assert summary.skipped_by_reason == {
        "invalid-json": 1,
        "missing-title": 1,
        "wrong-type": 1,
        "unsupported-entity": 1,
    }
    with Session(engine) as session:
        counts = count_tables(session)
        assert counts["works"] == 2
        assert counts["institutions"] == 1  # the stub on the work and the entity are one row
        assert counts["upstream_authors"] == 1
        work = session.scalar(select(Work).where(Work.title == "Deep learning for deep learning"))
        assert work.source.name == "Journal of Examples" and work.pages == "10-20"
        first = work.authorships[0]
        assert first.institutions[0].domains == ["examples.ac.uk"]  # from the full entity record
        # the reference to W200 resolves to the work in the same file; W999 stays open
        refs = dict(
            session.execute(select(WorkReference.target_value, WorkReference.cited_work_id)).all()
        )
        assert refs["W999"] is None
        assert refs["W200"] == session.scalar(select(Work.id).where(Work.title == "A cited work"))


def test_reimport_is_a_no_op(engine, test_data, tmp_path):
    for name in (
        "openalex.jsonl",
        "sample.csl.json",
        "sample.bib",
        "arxiv.jsonl",
        "arxiv_atom.xml",
    ):
        load(engine, test_data / name)
    before = snapshot(engine)
    again = load(engine, test_data / "sample.bib")
    assert again.status == "already-imported" and again.ok
    # a different file (one more comment line) holding the same records: all duplicates
    copy = tmp_path / "copy.bib"
    copy.write_text("% exported again\n" + (test_data / "sample.bib").read_text())
    forced = load(engine, copy)
    assert forced.imported == 0 and forced.merged == 4
    assert load(engine, test_data / "sample.bib", force=True).merged == 4
    after = snapshot(engine)
    for table in DATA_TABLES:
        if table != "provenance":
            assert after[table] == before[table], table


def test_duplicates_merge_across_formats(engine, test_data):
    """CLIP appears in CSL (arXiv URL), BibTeX (eprint) and arXiv JSON: one work, all ids."""
    load(engine, test_data / "sample.csl.json")
    load(engine, test_data / "sample.bib")
    load(engine, test_data / "arxiv.jsonl")
    with Session(engine) as session:
        clip = session.scalars(select(Work).where(Work.title.like("Learning Transferable%"))).all()
        assert len(clip) == 1
        assert {(i.scheme, i.value) for i in clip[0].identifiers} == {("arxiv", "2103.00020")}
        assert clip[0].abstract == "CLIP."  # filled in from the arXiv record
        assert clip[0].source.short_name == "ICML"  # kept from the first record
        # t-SNE: CSL and BibTeX have no shared identifier; the title+year+author key merges
        tsne = session.scalars(select(Work).where(Work.title.like("Visualizing Data%"))).all()
        assert len(tsne) == 1 and tsne[0].volume == "9"
        # the diphoton paper: BibTeX and arXiv share a DOI; arXiv id added on merge
        diphoton = session.scalar(
            select(Work)
            .join(WorkIdentifier)
            .where(WorkIdentifier.value == "10.1103/physrevd.76.013009")
        )
        assert {i.scheme for i in diphoton.identifiers} == {"doi", "arxiv"}
        provenance = session.execute(
            text("SELECT count(*) FROM provenance WHERE entity_type='work' AND entity_id=:i"),
            {"i": clip[0].id},
        ).scalar()
        assert provenance == 3


def test_title_key_does_not_merge_works_with_different_dois(engine, tmp_path):
    path = tmp_path / "two.csl.json"
    path.write_text(
        '[{"id": "a", "title": "Same Title Twice", "author": [{"family": "Li", "given": "X"}],'
        ' "issued": {"date-parts": [[2020]]}, "DOI": "10.1234/a"},'
        ' {"id": "b", "title": "Same title twice.", "author": [{"family": "Li", "given": "Y"}],'
        ' "issued": {"date-parts": [[2020]]}, "DOI": "10.1234/b"},'
        ' {"id": "c", "title": "Same title twice", "author": [{"family": "LI", "given": "Z"}],'
        ' "issued": {"date-parts": [[2020]]}}]'
    )
    summary = load(engine, path)
    assert (summary.imported, summary.merged) == (2, 1)


def work_identifier_sets(engine) -> list[frozenset[tuple[str, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT w.id, i.scheme, i.value FROM works w"
                " LEFT JOIN work_identifiers i ON i.work_id = w.id"
            )
        ).all()
    works: dict[int, set[tuple[str, str]]] = {}
    for work_id, scheme, value in rows:
        works.setdefault(work_id, set()).update([(scheme, value)] if scheme else [])
    return sorted((frozenset(ids) for ids in works.values()), key=sorted)


def test_deduplication_does_not_depend_on_batch_boundaries(tmp_path):
    """C shares the key of A and B but conflicts with A only (two arXiv ids): it is B's
    copy, whether the three records come in one batch or in three."""
    path = tmp_path / "three.csl.json"
    record = (
        '{{"id": "{0}", "title": "A title long enough to be a key", "author": [{{"family":'
        ' "Li", "given": "{0}"}}], "issued": {{"date-parts": [[2020]]}}{1}}}'
    )
    path.write_text(
        "["
        + ", ".join(
            [
                record.format(
                    "a", ', "DOI": "10.1234/a", "URL": "https://arxiv.org/abs/2101.00001"'
                ),
                record.format("b", ', "DOI": "10.1234/b"'),
                record.format("c", ', "URL": "https://arxiv.org/abs/2101.00002"'),
            ]
        )
        + "]"
    )
    results = []
    for batch_size in (1, 2000):
        engine = store_engine(tmp_path / f"batch{batch_size}")
        summary = load(engine, path, batch_size=batch_size)
        assert (summary.imported, summary.merged) == (2, 1)
        results.append(work_identifier_sets(engine))
    assert results[0] == results[1]
    assert frozenset({("doi", "10.1234/b"), ("arxiv", "2101.00002")}) in results[0]


def test_copies_fill_authors_whatever_the_batch_size(tmp_path):
    """A: no authors; B: the author list; C: an affiliation for the first author. The work
    takes B's list and C's affiliation, in one batch or in three."""
    path = tmp_path / "copies.csl.json"
    head = '"title": "Copies of one paper", "issued": {"date-parts": [[2021]]}, "DOI": "10.1234/x"'
    path.write_text(
        f'[{{"id": "a", {head}}},'
        f' {{"id": "b", {head}, "author": [{{"family": "Li", "given": "Xia"}},'
        ' {"family": "Wang", "given": "Yu"}]},'
        f' {{"id": "c", {head}, "author": [{{"family": "Li", "given": "X.",'
        ' "affiliation": [{"name": "MIT"}]}, {"family": "Wang", "given": "Y."}]}]'
    )
    results = []
    for batch_size in (1, 2000):
        engine = store_engine(tmp_path / f"batch{batch_size}")
        assert load(engine, path, batch_size=batch_size).merged == 2
        with engine.connect() as conn:
            results.append(
                conn.execute(
                    select(
                        Authorship.work_id,
                        Authorship.position,
                        Authorship.raw_name,
                        Authorship.raw_affiliations,  # JSON: a list on either database
                    ).order_by(Authorship.work_id, Authorship.position)
                ).all()
            )
    assert results[0] == results[1]
    stored = [(name, affs) for *_, name, affs in results[0]]
    assert stored == [("Xia Li", ["MIT"]), ("Yu Wang", None)]


def test_bad_records_are_reported_and_good_ones_kept(engine, test_data):
    summary = load(engine, test_data / "bad_items.csl.json")
    assert summary.ok and (summary.imported, summary.skipped) == (2, 2)
    with engine.connect() as conn:
        issues = conn.execute(
            text("SELECT record_number, line, reason FROM import_issues ORDER BY record_number")
        ).all()
    assert [tuple(i) for i in issues] == [(2, 2, "invalid-utf8"), (3, 3, "invalid-json")]


def test_nothing_importable_fails(engine, tmp_path):
    path = tmp_path / "all-bad.jsonl"
    path.write_text('{"id": "https://openalex.org/W1", "title": null, "authorships": []}\n{oops\n')
    summary = load(engine, path, "openalex-jsonl")
    assert not summary.ok and summary.status == "failed"
    assert summary.message == "every record was skipped"


def test_batches_are_atomic_and_resume_from_the_checkpoint(engine, test_data, monkeypatch):
    """A crash inside a batch leaves no trace of that batch; the rerun completes it."""
    from peergraph.ingest import writer

    calls = {"n": 0}
    original = writer.BatchWriter._insert_links

    def crash_on_second_batch(self, conn, pairs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # what a Ctrl-C in the middle of a batch looks like
        return original(self, conn, pairs)

    monkeypatch.setattr(writer.BatchWriter, "_insert_links", crash_on_second_batch)
    target = ImportTarget(test_data / "sample.csl.json", "csl-json")
    with contextlib.suppress(KeyboardInterrupt):
        import_file(engine, target, batch_size=2)
    with Session(engine) as session:
        # batch 1 (two works) and batch 2 (two bad records) committed; batch 3 rolled back
        assert session.scalar(select(func.count()).select_from(Work)) == 2
        assert session.scalar(text("SELECT checkpoint FROM imports")) == 4
    monkeypatch.setattr(writer.BatchWriter, "_insert_links", original)
    resumed = import_file(engine, target, batch_size=2)
    assert resumed.resumed_from == 4 and resumed.status == "completed"
    assert (resumed.records_read, resumed.imported, resumed.skipped) == (7, 4, 3)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Work)) == 4
        assert session.scalar(text("SELECT count(*) FROM imports")) == 1


def test_snapshot_folder_imports_entities_before_works(engine, tmp_path, test_data):
    root = tmp_path / "snapshot"
    lines = (test_data / "openalex.jsonl").read_text().splitlines()
    for entity, picked in (("works", [lines[0]]), ("institutions", [lines[6]])):
        folder = root / entity / "updated_date=2024-01-01"
        folder.mkdir(parents=True)
        (folder / "part_000").write_text("\n".join(picked) + "\n")
    targets = expand_paths([root])
    assert [t.path.parent.parent.name for t in targets] == ["institutions", "works"]
    for target in targets:
        assert import_file(engine, target).ok
    with Session(engine) as session:
        authorship = session.scalar(select(Authorship).where(Authorship.position == 0))
        assert authorship.institutions[0].homepage_url == "https://www.examples.ac.uk/"
