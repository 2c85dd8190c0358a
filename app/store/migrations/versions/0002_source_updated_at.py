"""Newest-wins updates: the sender's own time of each stored version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows stored before, and senders that give no version time, keep the old
    # behaviour (the latest delivery wins).
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("source_updated_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("source_updated_at")
