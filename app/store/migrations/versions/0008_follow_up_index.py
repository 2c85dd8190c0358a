"""A partial index for the follow-up list and the wall's follow-up line on SQLite: the
responses that can be followed up (a score up to 8, a comment, not excluded) by time, with
their segment set and score, so a window's count reads that slice of the index alone (the
response id is SQLite's rowid, so the join to ``follow_ups`` is in it too).

SQLite uses a partial index only when the query repeats its WHERE word for word; the store's
query adds exactly these terms on SQLite (``follow_ups.SQLITE_CANDIDATES``). At 1,000,000
responses the wall's 30-day count went from reading ~80,000 rows of the table through the
time index (a second under load) to the index alone (``benchmarks/bench_follow_ups.py``).
PostgreSQL gets none: the same index measured no faster there (its time index bounds the
read already, and all time still counts every candidate).

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
WHERE = "score <= 8 AND comment IS NOT NULL AND comment != '' AND excluded = 0"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON responses "
               f"(created_at, segment_set_id, score) WHERE {WHERE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP INDEX IF EXISTS {NAME}")
