"""Migration 0008: SQLite's partial index of follow-up candidates exists, goes on a downgrade,
and the store's follow-up count reads it alone (the query repeats its terms, as SQLite
needs); PostgreSQL gets none (see the migration). The speed at 1,000,000 responses is
measured by ``benchmarks/bench_follow_ups.py``, not here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app.store.follow_ups import FollowUpFilter, FollowUps
from tests.conftest import make_record
from tests.test_drill_indexes import index_columns, migrate

NAME = "ix_responses_follow_up_created_at"


def test_sqlite_gets_the_index_and_loses_it_on_downgrade(sqlite_store):
    assert index_columns(sqlite_store)[NAME] == ["created_at", "segment_set_id", "score"]
    migrate(sqlite_store, "downgrade", "0007")
    assert NAME not in index_columns(sqlite_store)
    migrate(sqlite_store, "upgrade", "head")
    assert NAME in index_columns(sqlite_store)


def test_the_walls_count_reads_the_index_and_counts_right(sqlite_store):
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, when=now - timedelta(days=i % 9),
                                               comment="slow" if i % 3 else None,
                                               region="EMEA") for i in range(99)])
    book = FollowUps(sqlite_store)
    for passives in (False, True):
        wanted = FollowUpFilter(created_from=now - timedelta(days=7), passives=passives,
                                segments={"region": ("EMEA",)})
        query = book._query(wanted).subquery()
        stmt = select(query.c.status, func.count()).group_by(query.c.status)
        sql = stmt.compile(sqlite_store.engine, compile_kwargs={"literal_binds": True})
        with sqlite_store.engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            top = 8 if passives else 6
            expected = conn.execute(text(
                "SELECT count(*) FROM responses WHERE comment IS NOT NULL AND comment != '' "
                f"AND score <= {top} AND created_at >= :start"),
                {"start": (now - timedelta(days=7)).replace(tzinfo=None)}).scalar_one()
        assert f"INDEX {NAME}" in plan, plan
        assert sum(book.counts(wanted).values()) == expected > 0


def test_postgresql_has_no_follow_up_index(postgres_store):
    assert NAME not in index_columns(postgres_store)
