"""Migration 0008: the follow-up index exists on PostgreSQL, goes on a downgrade, and the
planner can use it for the wall's count of detractors (score <= 6) and with passives; SQLite
gets none (see the migration). Its speed at 1,000,000 responses is measured by
``benchmarks/bench_follow_ups.py``, not here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app.store.follow_ups import FollowUpFilter, FollowUps
from tests.test_drill_indexes import index_columns, migrate

NAME = "ix_responses_follow_up_created_at"


def test_postgresql_gets_the_follow_up_index_and_loses_it_on_downgrade(postgres_store):
    assert index_columns(postgres_store)[NAME] == ["created_at", "segment_set_id", "score"]
    migrate(postgres_store, "downgrade", "0007")
    assert NAME not in index_columns(postgres_store)
    migrate(postgres_store, "upgrade", "head")
    assert NAME in index_columns(postgres_store)


def test_the_planner_may_answer_the_walls_count_from_the_index(postgres_store):
    book = FollowUps(postgres_store)
    week = datetime.now(UTC) - timedelta(days=7)
    for passives in (False, True):
        query = book._query(FollowUpFilter(created_from=week, passives=passives)).subquery()
        stmt = select(query.c.status, func.count()).group_by(query.c.status)
        compiled = stmt.compile(postgres_store.engine, compile_kwargs={"literal_binds": True})
        with postgres_store.engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))  # an empty table: force the choice
            plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
        assert NAME in plan, plan


def test_sqlite_has_no_follow_up_index(sqlite_store):
    assert NAME not in index_columns(sqlite_store)
