"""Share links in the store: create (the token is returned once, only its sha256 is kept),
list, find, revoke, look up by hash, batched "last seen" writes, and reload stamps.

Policy (caching, validation, rate limits) lives in ``app/links.py``; this module is SQL only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app.store.errors import translated
from app.store.models import FleetStamp, ShareLink

LINKS = ShareLink.__table__
STAMPS = FleetStamp.__table__
TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128
RELOAD_ALL = "reload"
# When an admin last signed out: every admin session issued before it is over (app.admin_session)
ADMIN_SESSIONS_ENDED = "admin-sessions-ended"
TOUCH_COLUMNS = ("last_seen_at", "last_user_agent", "last_build", "last_trouble")


class LinkConflict(ValueError):
    """A share link with that name exists already (the message names the field)."""


@dataclass(frozen=True)
class ShareLinkRow:
    """A stored share link (never its token)."""

    id: int
    name: str
    token_hash: str
    role: str
    screen: str
    comments: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None
    last_user_agent: str | None
    last_build: str | None
    last_trouble: str | None
    reload_requested_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"


COLUMNS = tuple(LINKS.c[name] for name in ShareLinkRow.__dataclass_fields__)


def new_token() -> str:
    """A fresh share-link token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The sha256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ShareLinks:
    """The share links of one ``Store`` (its engine and its write gate)."""

    def __init__(self, store) -> None:
        self.store = store

    def create(self, name: str, role: str, screen: str = "", comments: str = "show",
               expires_at: datetime | None = None,
               now: datetime | None = None) -> tuple[ShareLinkRow, str]:
        """Store a new link; returns it and its token (the only time the token exists)."""
        token = new_token()
        values = {"name": name, "token_hash": hash_token(token), "role": role, "screen": screen,
                  "comments": comments, "created_at": now or datetime.now(UTC),
                  "expires_at": expires_at}
        try:
            with self.store._writing() as conn:
                if conn.execute(select(LINKS.c.id).where(LINKS.c.name == name)).first():
                    raise LinkConflict(f"name: a share link named {name!r} exists already")
                link_id = conn.execute(insert(LINKS).values(**values)).inserted_primary_key[0]
        except IntegrityError:  # another process took the name between our check and insert
            raise LinkConflict(f"name: a share link named {name!r} exists already") from None
        return self.get(int(link_id)), token

    def list_links(self) -> list[ShareLinkRow]:
        """Every link, oldest first (revoked and expired ones too)."""
        return self._select(select(*COLUMNS).order_by(LINKS.c.id))

    def get(self, link_id: int) -> ShareLinkRow | None:
        """The link with this id, or None."""
        found = self._select(select(*COLUMNS).where(LINKS.c.id == link_id))
        return found[0] if found else None

    def find(self, name_or_id: str) -> ShareLinkRow | None:
        """The link with this name, else (for digits) this id; None when neither exists."""
        found = self._select(select(*COLUMNS).where(LINKS.c.name == name_or_id))
        if found:
            return found[0]
        if name_or_id.isascii() and name_or_id.isdigit() and len(name_or_id) < 12:
            return self.get(int(name_or_id))
        return None

    def by_hash(self, token_hash: str) -> ShareLinkRow | None:
        """The link stored under this token hash, or None."""
        found = self._select(select(*COLUMNS).where(LINKS.c.token_hash == token_hash))
        return found[0] if found else None

    def revoke(self, link_id: int, now: datetime | None = None) -> ShareLinkRow | None:
        """Mark a link revoked (a second revoke keeps the first time); None if unknown."""
        with self.store._writing() as conn:
            conn.execute(update(LINKS).where(LINKS.c.id == link_id,
                                             LINKS.c.revoked_at.is_(None))
                         .values(revoked_at=now or datetime.now(UTC)))
        return self.get(link_id)

    def write_touches(self, touches: Iterable[Mapping[str, Any]]) -> int:
        """Write last-seen facts, one row per link: ``{"id": ..., "last_seen_at": ..., ...}``."""
        rows = [{"link_id": t["id"], **{c: t.get(c) for c in TOUCH_COLUMNS}} for t in touches]
        if not rows:
            return 0
        stmt = (update(LINKS).where(LINKS.c.id == bindparam("link_id"))
                .values({c: bindparam(c) for c in TOUCH_COLUMNS}))
        with self.store._writing() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def request_reload(self, link_id: int | None, now: datetime | None = None) -> bool:
        """Ask one link's screens (or, with None, every screen) to reload; False if unknown."""
        now = now or datetime.now(UTC)
        with self.store._writing() as conn:
            if link_id is not None:
                return conn.execute(update(LINKS).where(LINKS.c.id == link_id)
                                    .values(reload_requested_at=now)).rowcount > 0
            self._write_stamp(conn, RELOAD_ALL, now)
        return True

    def set_stamp(self, name: str, now: datetime | None = None) -> None:
        """Write the fleet stamp ``name`` (``ADMIN_SESSIONS_ENDED``...) as ``now``."""
        with self.store._writing() as conn:
            self._write_stamp(conn, name, now or datetime.now(UTC))

    def _write_stamp(self, conn, name: str, now: datetime) -> None:
        dialect_insert = pg_insert if self.store.dialect == "postgresql" else sqlite_insert
        stmt = dialect_insert(STAMPS).values(name=name, at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                                set_={"at": stmt.excluded.at}))

    def reload_all_at(self) -> datetime | None:
        """When every screen was last asked to reload (None: never)."""
        return self.stamps().get(RELOAD_ALL)

    def stamps(self) -> dict[str, datetime]:
        """Every fleet stamp, by name."""
        with translated(), self.store.engine.connect() as conn:
            return dict(conn.execute(select(STAMPS.c.name, STAMPS.c.at)).all())

    def _select(self, stmt) -> list[ShareLinkRow]:
        with translated(), self.store.engine.connect() as conn:
            return [ShareLinkRow(*row) for row in conn.execute(stmt).all()]
