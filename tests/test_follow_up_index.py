"""Migration 0008: the partial index of follow-up candidates exists on both databases, goes on
a downgrade, and the wall's count of candidates reads it (on SQLite the query repeats its
terms, as SQLite needs). The speed at 1,000,000 responses is measured by
``benchmarks/bench_follow_ups.py``, not here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app.store.follow_ups import RESPONSES, FollowUpFilter, FollowUps
from tests.conftest import make_record
from tests.test_drill_indexes import index_columns, migrate

NAME = "ix_responses_follow_up_created_at"


def test_the_index_is_made_and_goes_on_downgrade(store):
    assert index_columns(store)[NAME] == ["created_at", "segment_set_id", "score"]
    migrate(store, "downgrade", "0007")
    assert NAME not in index_columns(store)
    migrate(store, "upgrade", "head")
    assert NAME in index_columns(store)


def test_the_walls_count_reads_the_index_and_counts_right(store):
    sqlite_store = store  # both databases
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, when=now - timedelta(days=i % 9),
                                               comment="slow" if i % 3 else None,
                                               region="EMEA") for i in range(99)])
    book = FollowUps(sqlite_store)
    for passives in (False, True):
        # PostgreSQL may rightly pick 0007's segment index for a segment on a tiny table.
        segments = {"region": ("EMEA",)} if store.dialect == "sqlite" else None
        wanted = FollowUpFilter(created_from=now - timedelta(days=7), passives=passives,
                                segments=segments)
        stmt = select(func.count()).select_from(RESPONSES).where(*book._conditions(wanted))
        sql = stmt.compile(sqlite_store.engine, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN" if store.dialect == "sqlite" else "EXPLAIN"
        with sqlite_store.engine.connect() as conn:
            if store.dialect == "postgresql":  # a small table: make the planner show its index
                conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"{explain} {sql}")))
            top = 8 if passives else 6
            expected = conn.execute(text(
                "SELECT count(*) FROM responses WHERE comment IS NOT NULL AND comment != '' "
                f"AND score <= {top} AND created_at >= :start"),
                {"start": (now - timedelta(days=7)).replace(tzinfo=None)}).scalar_one()
        assert NAME in plan, plan
        assert book.progress(wanted)[0] == sum(book.counts(wanted).values()) == expected > 0
