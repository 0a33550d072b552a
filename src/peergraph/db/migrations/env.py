"""Alembic environment: uses the engine handed over by peergraph.db.engine.migrate."""

from __future__ import annotations

from alembic import context

from peergraph.db.base import Base, load_all_models
from peergraph.db.engine import include_object

load_all_models()
config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
        include_object=include_object,
    )
    context.run_migrations()
