"""Indexes for the workspace's drill-downs on PostgreSQL: responses by topic set and by
segment set, each with its time.

A drill-down asks for the newest comments of a few topic sets (a topic) or segment sets (a
manager's filter). When those sets are common, walking the ``created_at`` index newest first
fills a page at once; when they are rare or unused (a topic nobody mentioned, a value with a
handful of answers) that walk read every row: 240 ms for a topic without mentions at
1,000,000 responses. With these two indexes PostgreSQL's planner, which knows how common each
set is, looks the rare ones up directly (9 ms) and keeps the walk for the common ones
(``benchmarks/bench_search.py --postgres``). SQLite gets none: its planner then sorted every
hit of a common topic (see 0006), and its drill-downs stay within budget without them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = (("ix_responses_topic_set_id_created_at", "topic_set_id"),
           ("ix_responses_segment_set_id_created_at", "segment_set_id"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, column in INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON responses ({column}, created_at)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
