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


def test_a_topic_or_segment_no_set_holds_answers_without_reading_responses(store):
    """A drill-down of a topic nobody mentioned (or a segment value nobody answered with)
    matches nothing: answered from the small set tables, never by a walk of ``responses``
    (which read every row of the window: seconds at 1,000,000 on SQLite)."""
    from sqlalchemy import event

    from app.store.search import CommentQuery
    from tests.conftest import make_record

    store.upsert_responses([make_record(i, 9, comment="Too expensive", region="EMEA")
                            for i in range(3)])
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        for query in (CommentQuery(topic="No such topic"),
                      CommentQuery(segments={"region": ("Atlantis",)})):
            assert store.search_comments(query) == [] and store.count_comments(query) == 0
        assert store.count_comments(CommentQuery(segments={"region": ("EMEA",)})) == 3
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    walks = [s for s in seen if "FROM responses" in s]
    assert len(walks) == 1  # the last count only
