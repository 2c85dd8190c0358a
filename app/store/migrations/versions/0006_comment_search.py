"""The comment explorer's search index: words found inside comments.

SQLite: an FTS5 table with the trigram tokenizer over ``responses.comment`` (external
content: only the index is stored), kept in step by triggers; it finds any substring of three
characters or more, case-insensitively. PostgreSQL: a trigram GIN index on ``lower(comment)``
(extension pg_trgm), which serves ``LIKE '%word%'``. Where neither can be had (an SQLite built
without FTS5, a PostgreSQL role that may not create the extension) the search still works by
reading the rows; ``app/store/search.py`` checks which is there. (A topic drill-down walks
the ``created_at`` index newest first; an index by topic set and time made the all-time
drill-down slower, as the planner then sorted every hit.)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("nps_tv.store")
SQLITE_TRIGGERS = (
    """CREATE TRIGGER comment_search_ai AFTER INSERT ON responses
       WHEN new.comment IS NOT NULL BEGIN
         INSERT INTO comment_search(rowid, comment) VALUES (new.id, new.comment);
       END""",
    """CREATE TRIGGER comment_search_ad AFTER DELETE ON responses
       WHEN old.comment IS NOT NULL BEGIN
         INSERT INTO comment_search(comment_search, rowid, comment)
         VALUES ('delete', old.id, old.comment);
       END""",
    """CREATE TRIGGER comment_search_au AFTER UPDATE OF comment ON responses
       WHEN old.comment IS NOT new.comment BEGIN
         INSERT INTO comment_search(comment_search, rowid, comment)
         SELECT 'delete', old.id, old.comment WHERE old.comment IS NOT NULL;
         INSERT INTO comment_search(rowid, comment)
         SELECT new.id, new.comment WHERE new.comment IS NOT NULL;
       END""",
)


def upgrade() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():  # a savepoint: a refusal leaves the migration going
            if bind.dialect.name == "sqlite":
                op.execute("CREATE VIRTUAL TABLE comment_search USING fts5(comment, "
                           "content='responses', content_rowid='id', tokenize='trigram')")
                for trigger in SQLITE_TRIGGERS:
                    op.execute(trigger)
                op.execute("INSERT INTO comment_search(comment_search) VALUES ('rebuild')")
            elif bind.dialect.name == "postgresql":
                op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                op.execute("CREATE INDEX ix_responses_comment_trgm ON responses "
                           "USING gin (lower(comment) gin_trgm_ops)")
    except sa.exc.DBAPIError as exc:  # no FTS5 here, or a role that may not add extensions
        log.warning("comment search without an index (%s): it reads the rows instead",
                    type(exc).__name__)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("comment_search_ai", "comment_search_ad", "comment_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS comment_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_responses_comment_trgm")
