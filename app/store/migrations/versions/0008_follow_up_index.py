"""A partial index for the follow-up list and the wall's follow-up line on PostgreSQL: the
responses that can be followed up (a score up to 8, a comment, not excluded), by time, with
their segment set and score, so a window's count (and a page of the list) reads that slice
of the index instead of every response of the window.

The wall's line counts the follow-up list of a screen's window and segments once per
snapshot version (``app.parts.follow_up_progress``). Without this index PostgreSQL read
every response of the window, most of them promoters or without a comment; with it the
count reads only the candidates (``benchmarks/bench_follow_ups.py``). The predicate is
written as the store's query writes its conditions (``app/store/follow_ups.py``), so the
planner proves that a detractors-only list (score <= 6) falls inside it too. SQLite gets
none: its planner matches a partial index's terms only word for word, never score <= 6
against score <= 8, and its counts stay within budget without it (the same benchmark).

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


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON responses "
               "(created_at, segment_set_id, score) "
               "WHERE score <= 8 AND comment IS NOT NULL AND comment != '' "
               "AND excluded IS false")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {NAME}")
