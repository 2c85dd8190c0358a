"""Share links (only token hashes are stored) and fleet-wide stamps such as 'reload all'.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("screen", sa.Text(), nullable=False),
        sa.Column("comments", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_user_agent", sa.String(300), nullable=True),
        sa.Column("last_build", sa.String(100), nullable=True),
        sa.Column("last_trouble", sa.Text(), nullable=True),
        sa.Column("reload_requested_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_share_links"),
        sa.UniqueConstraint("name", name="uq_share_links_name"),
        sa.UniqueConstraint("token_hash", name="uq_share_links_token_hash"),
    )
    op.create_table(
        "fleet_stamps",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_fleet_stamps"),
    )


def downgrade() -> None:
    op.drop_table("fleet_stamps")
    op.drop_table("share_links")
