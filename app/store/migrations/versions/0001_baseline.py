"""Baseline: responses and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for name in ("segment_sets", "topic_sets"):
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("key", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
            sa.UniqueConstraint("key", name=f"uq_{name}_key"),
        )
    op.create_table(
        "responses",
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("segment_set_id", sa.Integer(), nullable=False),
        sa.Column("topic_set_id", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
        sa.ForeignKeyConstraint(["segment_set_id"], ["segment_sets.id"],
                                name="fk_responses_segment_set_id_segment_sets"),
        sa.ForeignKeyConstraint(["topic_set_id"], ["topic_sets.id"],
                                name="fk_responses_topic_set_id_topic_sets"),
        sa.UniqueConstraint("source", "external_id", name="uq_responses_source_external_id"),
    )
    op.create_index("ix_responses_updated_at", "responses", ["updated_at"])
    op.create_index("ix_responses_created_at", "responses", ["created_at"])
    op.create_table(
        "events",
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("responses")
    op.drop_table("topic_sets")
    op.drop_table("segment_sets")
