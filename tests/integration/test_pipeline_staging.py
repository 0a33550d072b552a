"""Stage 6 on PostgreSQL: the executors stage the rows and one transaction publishes them
(pipeline/staging.py). A partition written twice (a retried task) is staged once; a store
that takes data while the run is staged refuses the load, keeps what it took, and keeps no
staging table, and takes the run once empty again, equal to the load through the driver.
That the published store equals `import` + `rebuild --full` is
test_pipeline_load.py's first test, which takes this path in the PostgreSQL run."""

from __future__ import annotations

import pytest
from pyspark.sql import Row
from sqlalchemy import Engine, insert, text

from peergraph.db.base import Base, utcnow
from peergraph.ingest.formats import expand_paths
from peergraph.pipeline.compare import differences, store_clusters, store_profiles, store_tables
from peergraph.pipeline.load import LoadRefused, load_output
from peergraph.pipeline.run import run_pipeline
from peergraph.pipeline.staging import Stage
from tests.stores import on_postgres, store_engine

pytestmark = [
    pytest.mark.skipif(not on_postgres(), reason="the staged load is PostgreSQL's"),
]


def staging_tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE tablename LIKE '\\_stage\\_%'")
            ).scalars()
        )


def test_a_partition_written_twice_is_staged_once(tmp_path):
    engine = store_engine(tmp_path / "store")
    stage = Stage.new(engine)
    stage.create(engine)
    assert len(staging_tables(engine)) > 10
    rows = [Row(work_id=w, scheme="doi", value=f"10.1/{w}") for w in range(1, 2_500)]
    write = stage.writer(
        "work_identifiers", ("work_identifiers",), lambda r: [("work_identifiers", r)]
    )
    write(iter(rows))
    write(iter(rows))  # a second attempt of partition 0
    with engine.connect() as conn:
        staged = conn.execute(
            text(f"SELECT work_id, scheme, value FROM {stage.name('work_identifiers')}")
        ).all()
        done = conn.execute(text(f"SELECT step, part FROM {stage.done}")).all()
    assert sorted(staged) == [tuple(r) for r in rows]
    assert done == [("work_identifiers", 0)]
    stage.drop(engine)
    assert staging_tables(engine) == []


@pytest.mark.slow
def test_a_store_that_takes_data_while_staging_refuses_the_load(spark, test_data, tmp_path):
    run_pipeline(spark, expand_paths([test_data / "openalex.jsonl"]), tmp_path / "out")
    engine = store_engine(tmp_path / "store")
    said: list[str] = []

    def meanwhile(message: str) -> None:
        said.append(message)
        if "publishing" in message:  # an import lands between staging and publishing
            with engine.begin() as conn:
                conn.execute(
                    insert(Base.metadata.tables["imports"]).values(
                        path="other.jsonl",
                        file_sha256="0" * 64,
                        file_size=1,
                        format="openalex",
                        status="completed",
                        started_at=utcnow(),
                    )
                )

    with pytest.raises(LoadRefused, match="took data while the run was being staged"):
        load_output(engine, spark, tmp_path / "out", report=meanwhile)
    assert any("staging authorships" in m for m in said)
    assert staging_tables(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM works")).scalar() == 0
        assert conn.execute(text("SELECT path FROM imports")).scalars().all() == ["other.jsonl"]

    # emptied again, it takes the run, as the load through the driver does
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM imports"))
    summary = load_output(engine, spark, tmp_path / "out")
    assert summary.works > 0 and summary.records > 0 and summary.merged is None
    assert staging_tables(engine) == []
    driven = store_engine(tmp_path / "driven")
    load_output(driven, spark, tmp_path / "out", through_driver=True)
    assert differences(store_tables(driven), store_tables(engine)) == {}
    assert store_clusters(driven) == store_clusters(engine)
    assert differences(store_profiles(driven), store_profiles(engine)) == {}
