"""Topic corrections by admins (they win over the tagger) and retag runs (a back-fill of every
response's topics that runs exactly once per tagger fingerprint, resumable).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "topic_corrections",
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("response_id", ID_TYPE, nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("who", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_topic_corrections"),
        sa.ForeignKeyConstraint(["response_id"], ["responses.id"], ondelete="CASCADE",
                                name="fk_topic_corrections_response_id_responses"),
        sa.UniqueConstraint("response_id", "topic",
                            name="uq_topic_corrections_response_id_topic"),
    )
    op.create_table(
        "topic_retag_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("scanned", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_topic_retag_runs"),
        sa.UniqueConstraint("fingerprint", name="uq_topic_retag_runs_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("topic_retag_runs")
    op.drop_table("topic_corrections")
