"""Migration 0007: the drill-down indexes (responses by topic set and by segment set, with
time) exist on PostgreSQL and go again on a downgrade; SQLite gets none (see the migration).
That they make a drill-down of a rare topic fast is measured by
``benchmarks/bench_search.py --postgres``, not here."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from app.store.database import MIGRATIONS_DIR

NAMES = {"ix_responses_topic_set_id_created_at", "ix_responses_segment_set_id_created_at"}


def index_columns(store) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes("responses")}


def migrate(store, direction: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)


def test_postgresql_gets_the_drill_down_indexes_and_loses_them_on_downgrade(postgres_store):
    columns = index_columns(postgres_store)
    assert columns["ix_responses_topic_set_id_created_at"] == ["topic_set_id", "created_at"]
    assert columns["ix_responses_segment_set_id_created_at"] == ["segment_set_id", "created_at"]
    migrate(postgres_store, "downgrade", "0006")
    assert not NAMES & set(index_columns(postgres_store))
    migrate(postgres_store, "upgrade", "head")
    assert NAMES <= set(index_columns(postgres_store))


def test_sqlite_keeps_its_time_index_only(sqlite_store):
    assert not NAMES & set(index_columns(sqlite_store))
    assert "ix_responses_created_at" in index_columns(sqlite_store)
