"""A partial index for the follow-up list and the wall's follow-up line: the responses that
can be followed up (a score up to 8, a comment, not excluded) by time, with their segment set
and score, so the wall's count of a window's candidates (``FollowUps.progress``) reads this
index alone, never the table (on PostgreSQL an index-only scan once vacuum has set the
visibility map; on SQLite the response id is the rowid, in every index).

PostgreSQL proves that the store's ``score <= 6`` (detractors only) lies inside the
predicate. SQLite uses a partial index only when the query repeats its WHERE word for word,
so the store's query adds exactly these terms there (``follow_ups.SQLITE_CANDIDATES``).
Measured at 1,000,000 responses (``benchmarks/bench_follow_ups.py``): on PostgreSQL the
line's count for 7 days, 30 days and all time went from 51 / 180 / 266 ms to 20 / 20 / 39 ms;
on SQLite 30 days from about a second to a fifth of one (figures under a load of 9-13).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = "ix_responses_follow_up_created_at"
WHERE = {"sqlite": "score <= 8 AND comment IS NOT NULL AND comment != '' AND excluded = 0",
         "postgresql": "score <= 8 AND comment IS NOT NULL AND comment <> '' "
                       "AND excluded IS false"}


def upgrade() -> None:
    where = WHERE.get(op.get_bind().dialect.name)
    if where is not None:
        op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON responses "
                   f"(created_at, segment_set_id, score) WHERE {where}")


def downgrade() -> None:
    if op.get_bind().dialect.name in WHERE:
        op.execute(f"DROP INDEX IF EXISTS {NAME}")
