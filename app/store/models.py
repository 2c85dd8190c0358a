"""SQLAlchemy table definitions of the response store.

Times are stored as naive UTC (``UTCDateTime`` converts on the way in and out), so the
same rows read identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A fixed naming convention keeps constraint names identical across SQLite and PostgreSQL,
# which Alembic needs to alter them later.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY, so BIGINT falls back to INTEGER there.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as naive UTC; returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; attach a time zone first")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SegmentSet(Base):
    """A distinct set of segment properties, as canonical JSON with sorted keys."""

    __tablename__ = "segment_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class TopicSet(Base):
    """A distinct set of topic names found in comments, comma-separated ("" for none)."""

    __tablename__ = "topic_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class Response(Base):
    """One survey answer: a 0-10 score, an optional comment and its segment properties."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    score: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Segment properties and topics point at small lookup tables: the poller reads whole
    # columns of integers, which is several times faster than a string per row.
    segment_set_id: Mapped[int] = mapped_column(ForeignKey("segment_sets.id"), nullable=False)
    topic_set_id: Mapped[int] = mapped_column(ForeignKey("topic_sets.id"), nullable=False)
    excluded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The sender's time of the stored version (a vendor's updated_at): an older delivery
    # never overwrites a newer one. NULL when the sender gave none.
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "updated_at"),
        Index(None, "created_at"),
    )


class Event(Base):
    """A tagged moment drawn on the trend: a launch, a price change, an outage."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False, default="note")
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ShareLink(Base):
    """A share link: who may view what. Only the sha256 of its token is stored."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    screen: Mapped[str] = mapped_column(Text, nullable=False, default="")
    comments: Mapped[str] = mapped_column(String(8), nullable=False, default="show")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_build: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_trouble: Mapped[str | None] = mapped_column(Text, nullable=True)
    reload_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FleetStamp(Base):
    """A named time the whole fleet of screens reads, e.g. 'reload' for 'reload all now'."""

    __tablename__ = "fleet_stamps"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TopicCorrection(Base):
    """An admin's word on one topic of one response: ``add`` (the tagger missed it),
    ``remove`` (the tagger was wrong) or ``keep`` (the tagger was right, confirmed).

    One row per (response, topic): a later correction replaces the earlier one.
    """

    __tablename__ = "topic_corrections"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"),
                                             nullable=False)
    topic: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    who: Mapped[str] = mapped_column(String(100), nullable=False, default="admin")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("response_id", "topic"),)


class TopicRetagRun(Base):
    """One back-fill of every stored response's topics for one tagger fingerprint (taxonomy
    and models): claimed by one process, resumable from ``last_id`` when its lease lapses."""

    __tablename__ = "topic_retag_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # running, done
    owner: Mapped[str] = mapped_column(String(100), nullable=False)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    scanned: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    changed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FollowUp(Base):
    """Calling back one respondent: its status (new, contacted, resolved) and owner. A
    response without a row here is "new"."""

    __tablename__ = "follow_ups"

    response_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(100), nullable=False)
